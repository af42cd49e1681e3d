"""Fan-out enrollment (one read, several targets) and sharded workers under one Redis quota,
counted at emulators on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from pathlib import Path

import pytest
from cli_helpers import cli_env, expected, run_cli, service_faces, write_photos
from helpers_redis import RedisServer

import face_async._enroll._sources as sources
from face_async import (
    AsyncFaceClient,
    EnrollEvent,
    EnrollTarget,
    FaceAdded,
    FaceValidationError,
    enroll,
    shard_of,
)
from face_async._enroll import Journal, default_journal_path
from face_async._http._resource_pool import Resource
from face_async._images import read_path
from face_async.emulator import Emulator, Fault, RateLimit, make_face_image

# -- shards ------------------------------------------------------------------------------------


def test_shards_are_stable_disjoint_and_cover_every_name() -> None:
    names = [f"person-{i}" for i in range(20_000)] + ["Zoë", "李雷", ""]
    for count in (1, 2, 4, 7):
        shards = [shard_of(name, count) for name in names]
        assert all(0 <= s < count for s in shards)  # one shard each: disjoint, covering
        sizes = [shards.count(s) for s in range(count)]
        assert min(sizes) >= 0.9 * len(names) / count, sizes  # spread evenly
    # Stable: blake2b of the UTF-8 name, not the per-process salted hash().
    digest = hashlib.blake2b("Zoë".encode(), digest_size=8).digest()
    assert shard_of("Zoë", 4) == int.from_bytes(digest, "big") % 4


@pytest.mark.parametrize("shard", [(4, 4), (-1, 4), (0, 0), (1,), "0/4", (True, 2)])
async def test_a_bad_shard_is_refused_before_any_call(
    emulator: Emulator, client: AsyncFaceClient, shard: object
) -> None:
    with pytest.raises(FaceValidationError) as info:
        await enroll(client, "g", {"a": b"x"}, shard=shard, train=False)  # type: ignore[arg-type]
    assert info.value.parameter == "shard"
    assert emulator.stats.total_requests == 0


async def test_a_shard_must_not_train(emulator: Emulator, client: AsyncFaceClient) -> None:
    with pytest.raises(FaceValidationError) as info:
        await enroll(client, "g", {"a": b"x"}, shard=(0, 2))
    assert info.value.parameter == "train"
    assert emulator.stats.total_requests == 0


@pytest.mark.parametrize(
    ("options", "env_index", "message"),
    [
        (["--shard", "4/4"], None, "0-based"),
        (["--shard", "1-4"], None, "I/N"),
        (["--shards", "4"], None, "JOB_COMPLETION_INDEX"),
        (["--shards", "4"], "4", "JOB_COMPLETION_INDEX"),
        (["--shard", "1/4", "--shards", "4"], "1", "not both"),
        (["--redis-url", "redis://:hunter2@127.0.0.1:1/0"], None, "--tps"),
        (["--redis-url", "http://:hunter2@127.0.0.1:1/0", "--tps", "5"], None, "redis://"),
    ],
)
async def test_bad_shard_and_redis_options_exit_2_without_echoing_a_password(
    emulator: Emulator, tmp_path: Path, options: list[str], env_index: str | None, message: str
) -> None:
    (tmp_path / "photos" / "a").mkdir(parents=True)
    extra = {"FACE_APIKEY": emulator.key, "FACE_ENDPOINT": emulator.url}
    if env_index is not None:
        extra["JOB_COMPLETION_INDEX"] = env_index
    code, out, err = await run_cli(
        "enroll", str(tmp_path / "photos"), "--group", "g", *options,
        env=cli_env(**extra), cwd=tmp_path,
    )  # fmt: skip
    assert code == 2, (out, err)
    assert message in out + err
    assert "hunter2" not in out + err
    assert emulator.stats.total_requests == 0


async def test_four_shard_processes_under_one_redis_quota_enroll_each_person_once(
    emulator: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    """4 CLI processes at once, --shard i/4, one emulator rate-limited at 40 TPS and a shared
    quota of 30 TPS over Redis; then one --train-only. Counted at the emulator: every person
    once with all its faces, no 429 beyond a stray one, every shard its own journal."""
    source = write_photos(tmp_path / "photos", 24, 3)
    emulator.config.rate_limit = RateLimit(40)
    env = cli_env(
        FACE_APIKEY=emulator.key, FACE_ENDPOINT=emulator.url, FACE_REDIS_URL=redis_server.url
    )
    common = ("--group", "g", "--tps", "30", "--progress", "none")
    results = await asyncio.gather(*(
        run_cli("enroll", str(tmp_path / "photos"), *common, "--shard", f"{i}/4", env=env,
                cwd=tmp_path, timeout=120)
        for i in range(4)
    ))  # fmt: skip
    for code, out, err in results:
        assert code == 0, (out, err)
        assert "--train-only" in out  # the shard says how to train
    assert service_faces(emulator, "g") == expected(source)
    assert emulator.stats.rate_limited <= 2, emulator.stats.rate_limited
    # Each worker had its own journal; together they hold every face once.
    totals = 0
    for i in range(4):
        path = tmp_path / default_journal_path(emulator.url, "g", shard=(i, 4))
        assert path.exists()
        async with Journal(path) as journal:
            host = emulator.url.split("://", 1)[1].split("/", 1)[0]
            totals += await journal.count_faces(Journal.run_key(host, "g", False))
    assert totals == 72
    code, out, err = await run_cli(
        "enroll", str(tmp_path / "photos"), *common, "--train-only", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, (out, err)
    assert "trained g: succeeded" in out


async def test_shards_over_jobs_completion_index_cover_a_streamed_source(
    emulator: Emulator, client: AsyncFaceClient
) -> None:
    source = {f"p{i}": [make_face_image(f"p{i}", variant=0)] for i in range(12)}
    pairs = [(name, images[0]) for name, images in source.items()]
    for i in range(3):
        report = await enroll(client, "g", iter(pairs), shard=(i, 3), train=False)
        assert report.persons_created == sum(shard_of(n, 3) == i for n in source)
    assert service_faces(emulator, "g") == expected(source)


# -- fan-out ---------------------------------------------------------------------------------


async def test_fan_out_to_two_emulators_reads_each_photo_once(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_photos(tmp_path / "photos", 6, 4)
    reads: list[str] = []

    def counting(path: os.PathLike[str]) -> bytes:
        reads.append(os.fspath(path))
        return read_path(path)

    monkeypatch.setattr(sources, "read_path", counting)
    events: list[EnrollEvent] = []
    async with (
        Emulator(key="second-key") as second,
        AsyncFaceClient(emulator.url, key=emulator.key) as a,
        AsyncFaceClient(second.url, key=second.key) as b,
    ):
        report = await enroll(
            a, "g", tmp_path / "photos", targets=[EnrollTarget(b, "g2")],
            journal=tmp_path / "j.sqlite", on_event=events.append, max_concurrency=4,
        )  # fmt: skip
        assert service_faces(emulator, "g") == expected(source)
        assert service_faces(second, "g2") == expected(source)
    assert len(reads) == 24  # one read per photo for both targets
    assert len(set(reads)) == 24
    assert report.ok
    assert (report.faces_added, report.trained) == (24, True)
    (replica,) = report.replicas
    assert (replica.group_id, replica.faces_added, replica.trained) == ("g2", 24, True)
    added = [e for e in events if isinstance(e, FaceAdded)]
    assert sorted(e.target for e in added) == [0] * 24 + [1] * 24
    # Labels are the files, as without fan-out.
    assert {e.source for e in added if e.target == 1} == set(reads)


async def test_fan_out_interrupted_then_rerun_is_exact_in_both_groups(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Two groups of one emulator plus a second emulator whose add-face drops 20 % of the
    connections after committing; the first run stops after 20 faces, the rerun finishes."""
    source = write_photos(tmp_path / "photos", 8, 5)
    journal = tmp_path / "j.sqlite"
    async with (
        Emulator(key="second-key") as second,
        AsyncFaceClient(emulator.url, key=emulator.key) as a,
        AsyncFaceClient(second.url, key=second.key) as b,
    ):
        second.config.faults = [Fault("reset_after_commit", 0.2, "*AddFace*")]
        targets = [EnrollTarget(a, "g2"), EnrollTarget(b, "g")]
        added = 0

        class Stop(Exception):
            pass

        def stop_midway(event: EnrollEvent) -> None:
            nonlocal added
            if isinstance(event, FaceAdded):
                added += 1
                if added == 20:
                    raise Stop

        with pytest.raises(Stop):
            await enroll(
                a, "g", tmp_path / "photos", targets=targets, journal=journal,
                on_event=stop_midway, train=False, late_write_window=0.5,
            )  # fmt: skip
        partial = sum(len(f) for f in service_faces(emulator, "g").values())
        assert partial < 40  # really interrupted
        report = await enroll(
            a, "g", tmp_path / "photos", targets=targets, journal=journal, train=False,
            late_write_window=0.5,
        )  # fmt: skip
        assert report.ok, report
        assert service_faces(emulator, "g") == expected(source)
        assert service_faces(emulator, "g2") == expected(source)
        assert service_faces(second, "g") == expected(source)
        assert second.stats.faults["reset_after_commit"] > 0
        skipped = report.faces_skipped + sum(r.faces_skipped for r in report.replicas)
        assert skipped >= 20  # the rerun resumed: what the first run confirmed was not re-sent


async def test_fan_out_refuses_a_target_named_twice(
    emulator: Emulator, client: AsyncFaceClient
) -> None:
    with pytest.raises(FaceValidationError) as info:
        await enroll(client, "g", {"a": b"x"}, targets=[EnrollTarget(client, "g")])
    assert info.value.parameter == "targets"
    with pytest.raises(FaceValidationError):
        await enroll(client, "g", {"a": b"x"}, targets=[("g2",)])  # type: ignore[list-item]
    assert emulator.stats.total_requests == 0


async def test_a_pool_client_journals_and_paces_on_the_resource_holding_the_group(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = {f"p{i}": [make_face_image(f"p{i}", variant=j) for j in range(2)] for i in range(3)}
    async with Emulator(key="second-key") as second:
        pool = AsyncFaceClient.pool([
            Resource(emulator.url, key=emulator.key),
            Resource(second.url, key=second.key, groups={"g"}),
        ])  # fmt: skip
        async with pool:
            holder = pool.resource_pool.holders("g")[0]  # type: ignore[union-attr]
            seen: list[float | None] = []

            def on_event(event: EnrollEvent) -> None:
                seen.append(holder.endpoint.gate.tps)

            await enroll(
                pool, "g", source, journal=tmp_path / "j.sqlite", tps=7, train=False,
                on_event=on_event,
            )  # fmt: skip
            assert set(seen) == {7}  # the holder's gate was paced, not the default's
        assert service_faces(second, "g") == expected(source)
        assert "g" not in emulator.state.person_groups
        host = second.url.split("://", 1)[1].split("/", 1)[0]
        async with Journal(tmp_path / "j.sqlite") as journal:
            assert await journal.count_faces(Journal.run_key(host, "g", False)) == 6


async def test_an_unreachable_redis_falls_back_to_the_local_limit_without_the_password(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = write_photos(tmp_path / "photos", 2, 2)
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = cli_env(
        FACE_APIKEY=emulator.key, FACE_ENDPOINT=emulator.url,
        FACE_REDIS_URL=f"redis://:hunter2@127.0.0.1:{port}/0",
    )  # fmt: skip
    code, out, err = await run_cli(
        "enroll", str(tmp_path / "photos"), "--group", "g", "--tps", "50", "--shard", "0/1",
        "--progress", "lines", "-v", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, (out, err)
    assert "Redis quota unreachable" in out + err
    assert "hunter2" not in out + err
    assert service_faces(emulator, "g") == expected(source)
