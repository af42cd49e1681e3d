"""`python -m face_async.emulator` in a subprocess: endpoint line, key, clean shutdown."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from face_async.emulator import Fault, Latency, RateLimit
from face_async.emulator._cli import build_config, configure_parser

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20.0  # generous: two cores are shared with other test runs


@asynccontextmanager
async def emulator_process(
    *args: str,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, str]]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "face_async.emulator",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        printed: dict[str, str] = {}
        while len(printed) < 2:
            line = await asyncio.wait_for(proc.stdout.readline(), WAIT)
            assert line, "the emulator exited before printing its endpoint"
            name, _, value = line.decode().strip().partition("=")
            printed[name] = value
        yield proc, printed
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        # Drain the pipes so their transports close inside the test.
        await proc.communicate()


async def stop(proc: asyncio.subprocess.Process, signum: int) -> int:
    proc.send_signal(signum)
    return await asyncio.wait_for(proc.wait(), WAIT)


async def test_cli_serves_with_the_given_key_and_stops_on_sigterm() -> None:
    async with emulator_process("--port", "0", "--key", "k") as (proc, printed):
        endpoint = printed["FACE_ENDPOINT"]
        assert printed["FACE_APIKEY"] == "k"
        assert endpoint.startswith("http://127.0.0.1:")
        url = f"{endpoint}/face/v1.0/persongroups"
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers={"Ocp-Apim-Subscription-Key": "k"}) as resp:
                assert resp.status == 200
                assert await resp.json() == []
            async with session.get(url, headers={"Ocp-Apim-Subscription-Key": "other"}) as resp:
                assert resp.status == 401
                assert (await resp.json())["error"]["code"] == "Unspecified"
            async with session.get(
                f"{endpoint}/_emulator/stats", headers={"Ocp-Apim-Subscription-Key": "k"}
            ) as resp:
                stats = await resp.json()
        assert stats["requests"] == {"PersonGroup_List": 1}
        assert stats["unauthorized"] == 1
        assert await stop(proc, signal.SIGTERM) == 0


async def test_cli_applies_knobs_and_generates_a_key_when_none_is_given() -> None:
    async with emulator_process(
        "--port", "0", "--fault", "503:1:PersonGroup_List:1", "--rate-limit", "100:50"
    ) as (proc, printed):
        key = printed["FACE_APIKEY"]
        assert len(key) >= 16
        url = f"{printed['FACE_ENDPOINT']}/face/v1.0/persongroups"
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(2):
                async with session.get(url, headers={"Ocp-Apim-Subscription-Key": key}) as resp:
                    statuses.append(resp.status)
        assert statuses == [503, 200]
        assert await stop(proc, signal.SIGINT) == 0


async def test_cli_rejects_bad_knobs() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "face_async.emulator",
        "--fault",
        "teapot:1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode == 2
    assert out == b""
    assert b"invalid fault 'teapot:1'" in err


def test_parser_builds_the_config() -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(
        [
            "--latency", "*AddFace*=0.05",
            "--latency", "Face_Detect*=uniform:0.01:0.05",
            "--rate-limit", "10:20",
            "--fault", "500:0.1:*AddFace*",
            "--fault", "reset_after_commit:0.05",
            "--slow-seconds", "3",
            "--conflict-mode", "wait",
            "--training-seconds", "0.5",
            "--max-persons-per-group", "7",
            "--seed", "9",
        ]
    )  # fmt: skip
    assert (args.host, args.port, args.key) == ("127.0.0.1", 8765, None)
    config = build_config(args)
    assert config.latency == {
        "*AddFace*": Latency.fixed(0.05),
        "Face_Detect*": Latency.uniform(0.01, 0.05),
    }
    assert config.rate_limit == RateLimit(10, 20)
    assert [fault.to_text() for fault in config.faults] == [
        "500:0.1:*AddFace*",
        "reset_after_commit:0.05:*",
    ]
    assert isinstance(config.faults[0], Fault)
    assert (config.slow_seconds, config.conflict_mode, config.seed) == (3.0, "wait", 9)
    assert config.limits.training_seconds == 0.5
    assert config.limits.max_persons_per_person_group == 7


@pytest.mark.parametrize(
    "argv",
    [
        ["--latency", "nope"],
        ["--latency", "*=uniform:2:1"],
        ["--rate-limit", "0"],
        ["--port", "70000"],
        ["--conflict-mode", "maybe"],
        ["--slow-seconds", "-1"],
        ["--max-persons-per-group", "0"],
    ],
)
def test_parser_rejects_bad_values(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err
