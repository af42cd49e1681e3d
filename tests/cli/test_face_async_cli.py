"""The face-async command line, run as a real subprocess against the test's emulator."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
from cli_helpers import (
    cli_env,
    expected,
    run_cli,
    service_faces,
    summary_value,
    write_photos,
)

from face_async import AsyncFaceClient
from face_async._cli import main
from face_async._enroll import enroll
from face_async.emulator import Emulator, Latency, make_face_image


async def test_enroll_command_then_rerun_verifies(emulator: Emulator, tmp_path: Path) -> None:
    source = write_photos(tmp_path / "photos", 3, 2)
    (tmp_path / "photos" / "Person 00" / "broken.jpg").write_bytes(b"\x00" * 2000)
    env = cli_env(FACE_APIKEY=emulator.key, FACE_ENDPOINT=emulator.url)
    args = (
        "enroll",
        str(tmp_path / "photos"),
        "--group",
        "g",
        "--progress",
        "lines",
        "--journal",
        str(tmp_path / "j.sqlite"),
    )
    code, out, err = await run_cli(*args, env=env)
    assert code == 1, err  # one image failed
    assert out.count("\nadded ") + out.startswith("added ") == 6
    assert "Person 00/broken.jpg  invalid_image" in out
    assert "faces added                  6" in out
    assert emulator.key not in out + err
    assert service_faces(emulator, "g") == expected(source)
    code, out, _ = await run_cli(*args, env=env)
    assert code == 1
    assert "already enrolled             6" in out
    assert "faces added                  0" in out
    assert service_faces(emulator, "g") == expected(source)


def test_usage_errors_exit_2_without_leaking_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FACE_APIKEY", "FACE_ENDPOINT", "MY_FACE_KEY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "photos").mkdir()
    base = ["enroll", str(tmp_path / "photos"), "--group", "g", "--endpoint", "http://127.0.0.1:9"]
    assert main(base) == 2
    assert "FACE_APIKEY" in capsys.readouterr().err
    assert main([*base, "--key-env", "MY_FACE_KEY"]) == 2
    assert "MY_FACE_KEY" in capsys.readouterr().err
    monkeypatch.setenv("FACE_APIKEY", "s3cret-value")
    assert main(base[:4]) == 2
    err = capsys.readouterr().err
    assert "FACE_ENDPOINT" in err
    assert "s3cret-value" not in err
    assert main(["enroll", str(tmp_path / "nope"), *base[2:]]) == 2
    assert "not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["enroll", "--group", "g"])
    assert exc.value.code == 2
    assert "PHOTOS_DIR" in capsys.readouterr().err


async def test_wrong_key_exits_4_with_a_hint(emulator: Emulator, tmp_path: Path) -> None:
    write_photos(tmp_path / "photos", 1, 1)
    env = cli_env(FACE_APIKEY="wrong-key")
    code, out, err = await run_cli(
        "enroll",
        str(tmp_path / "photos"),
        "--group",
        "g",
        "--endpoint",
        emulator.url,
        "--journal",
        str(tmp_path / "j.sqlite"),
        env=env,
    )
    assert code == 4  # a rerun cannot fix a wrong key
    assert "401" in err
    assert "hint: check FACE_APIKEY" in err
    assert "wrong-key" not in out + err


async def test_identify_command(
    emulator: Emulator, client: AsyncFaceClient, tmp_path: Path
) -> None:
    source = {
        f"Person {i}": [make_face_image(f"Person {i}", variant=j) for j in range(2)]
        for i in range(3)
    }
    await enroll(client, "g", source)
    probe = tmp_path / "probe.jpg"
    probe.write_bytes(make_face_image("Person 1", variant=50))
    env = cli_env(FACE_APIKEY=emulator.key)
    code, out, err = await run_cli(
        "identify", str(probe), "--group", "g", "--endpoint", emulator.url, env=env
    )
    assert code == 0, err
    assert ": Person 1 (" in out
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(make_face_image("nobody", faces=0))
    code, out, _ = await run_cli(
        "identify", str(empty), "--group", "g", "--endpoint", emulator.url, env=env
    )
    assert code == 1
    assert "no face found" in out


async def test_demo_needs_no_key_or_network() -> None:
    code, out, err = await run_cli(
        "demo", "--persons", "5", "--photos", "3", "--latency", "0", env=cli_env(), timeout=60
    )
    assert code == 0, err
    assert "faces added                  15" in out
    assert "faces failed                 4" in out
    # Without a terminal: ticks with exact counts (not "enrolled 19/19" when 4 failed).
    assert "done 19/19 images (15 added, 0 already enrolled, 4 failed)" in out
    for reason in ("multiple_faces", "no_face", "invalid_image", "image_size"):
        assert reason in out
    identified = [line for line in out.splitlines() if "new photo of" in line]
    assert len(identified) == 4
    for line in identified[:-1]:
        name = line.split("new photo of", 1)[1].split("->")[0].strip()
        assert line.split("->")[1].strip().startswith(name + " (confidence")
    assert identified[-1].endswith("-> unknown")


async def test_emulator_command_is_delegated() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "face_async", "emulator", "--port", "0", env=cli_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 20)).decode() for _ in range(2)]
        assert lines[0].startswith("FACE_ENDPOINT=http://127.0.0.1:")
        assert lines[1].startswith("FACE_APIKEY=")
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


def enroll_args(tmp_path: Path, url: str, max_concurrency: int) -> tuple[str, ...]:
    """The `face-async enroll` arguments of the interruption tests (photos, journal in tmp)."""
    return (
        "enroll", str(tmp_path / "photos"), "--group", "g", "--endpoint", url,
        "--journal", str(tmp_path / "j.sqlite"), "--max-concurrency", str(max_concurrency),
        "--progress", "lines", "--timeout", "2",
    )  # fmt: skip


async def start_enroll(
    args: tuple[str, ...], env: dict[str, str], *, stderr: int
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "face_async", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=stderr,
    )  # fmt: skip


async def read_until_added(proc: asyncio.subprocess.Process, count: int, *, why: str) -> None:
    """Read the command's progress lines until ``count`` faces were reported added."""
    assert proc.stdout is not None
    confirmed = 0
    while confirmed < count:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line, f"the enroll command ended before {why}"
        confirmed += line.startswith(b"added ")


async def test_resume_after_sigkill(emulator: Emulator, tmp_path: Path) -> None:
    """kill -9 the enroll command mid-run, rerun it: exactly the intended faces, once each."""
    emulator.config.latency = {"*AddFace*": Latency.fixed(0.05)}
    source = write_photos(tmp_path / "photos", 6, 5)
    env = cli_env(FACE_APIKEY=emulator.key)
    args = enroll_args(tmp_path, emulator.url, 3)
    proc = await start_enroll(args, env, stderr=asyncio.subprocess.DEVNULL)
    try:
        await read_until_added(proc, 8, why="it was killed")
    finally:
        proc.kill()  # SIGKILL: no cleanup, no final journal write
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Writes the killed process had sent still complete at the service.
    await emulator.stats.wait_for(lambda stats: stats.in_flight == 0)
    on_service = sum(len(faces) for faces in service_faces(emulator, "g").values())
    assert 8 <= on_service < 30
    code, out, err = await run_cli(*args, env=env)
    assert code == 0, err
    added = summary_value(out, "faces added")
    skipped = summary_value(out, "already enrolled")
    assert added + skipped == 30
    assert added == 30 - on_service
    assert service_faces(emulator, "g") == expected(source)
    assert emulator.stats.max_concurrent_writes_per_person == 1


async def test_ctrl_c_exits_130_and_rerun_completes(emulator: Emulator, tmp_path: Path) -> None:
    emulator.config.latency = {"*AddFace*": Latency.fixed(0.05)}
    source = write_photos(tmp_path / "photos", 4, 4)
    env = cli_env(FACE_APIKEY=emulator.key)
    args = enroll_args(tmp_path, emulator.url, 2)
    proc = await start_enroll(args, env, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    await read_until_added(proc, 3, why="Ctrl-C")
    proc.send_signal(signal.SIGINT)
    err = await asyncio.wait_for(proc.stderr.read(), 20)
    assert await asyncio.wait_for(proc.wait(), 20) == 130
    assert b"run the same command again" in err
    await emulator.stats.wait_for(lambda stats: stats.in_flight == 0)
    code, _, err_text = await run_cli(*args, env=env)
    assert code == 0, err_text
    assert service_faces(emulator, "g") == expected(source)
