"""Issue 11, "the first hour": each item run as a user would, the CLI in a subprocess (with and
without a pseudo-terminal) against the test's emulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import socket
import sqlite3
import struct
import sys
import termios
from pathlib import Path

import pytest
from cli_helpers import cli_env, emu_env, run_cli, summary_value, write_photos

from face_async import AsyncFaceClient, enroll
from face_async.emulator import Emulator, Fault, make_face_image

SECRET = "s3cret-value-never-shown"


async def run_in_terminal(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin, stdout and stderr; all it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "face_async", *args, env={**env, "COLUMNS": "120"}, cwd=cwd,
            stdin=slave, stdout=slave, stderr=slave,
        )  # fmt: skip
    finally:
        os.close(slave)
    chunks: list[bytes] = []

    def read_all() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                return
            if not data:
                return
            chunks.append(data)

    try:
        await asyncio.wait_for(asyncio.to_thread(read_all), timeout)
        code = await asyncio.wait_for(proc.wait(), timeout)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


# 1. recognition models ---------------------------------------------------------------------


async def test_1_enroll_sets_the_models_and_identify_reads_the_group(
    emulator: Emulator, tmp_path: Path
) -> None:
    write_photos(tmp_path / "photos", 2, 2)
    env = emu_env(emulator)
    code, out, err = await run_cli(
        "enroll", str(tmp_path / "photos"), "--group", "modern", "--progress", "none",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert emulator.state.person_groups["modern"].recognition_model == "recognition_04"
    code, _, err = await run_cli(
        "enroll", str(tmp_path / "photos"), "--group", "legacy", "--progress", "none",
        "--recognition-model", "recognition_01", "--detection-model", "detection_01",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert emulator.state.person_groups["legacy"].recognition_model == "recognition_01"
    probes = []
    for name in ("Person 00", "Person 01"):
        probe = tmp_path / f"probe {name}.jpg"
        probe.write_bytes(make_face_image(name, variant=40))
        probes.append(str(probe))
    for group in ("modern", "legacy"):  # several images in one call, each group's own model
        code, out, err = await run_cli("identify", *probes, "--group", group, env=env)
        assert code == 0, err
        lines = out.splitlines()
        assert len(lines) == 2
        assert ": Person 00 (" in lines[0]
        assert ": Person 01 (" in lines[1]


# 2. no abbreviations, no secret echoed -------------------------------------------------------


async def test_2_a_mistyped_key_option_is_refused_without_echoing_the_secret(
    emulator: Emulator, tmp_path: Path
) -> None:
    probe = tmp_path / "x.jpg"
    probe.write_bytes(make_face_image("x"))
    env = emu_env(emulator)
    for args in (
        ("identify", str(probe), "--group", "staff", "--key", SECRET),
        ("identify", str(probe), "--group", "staff", f"--key={SECRET}"),
        ("identify", str(probe), "--group", "staff", "--key-env", SECRET),
        ("identify", str(probe), "--group", "staff", "--cand", "2"),  # no abbreviations
    ):
        code, out, err = await run_cli(*args, env=env)
        assert code == 2, err
        assert SECRET not in out + err
        assert "error:" in err
    _, _, err = await run_cli("identify", str(probe), "--group", "g", "--key", SECRET, env=env)
    assert "FACE_APIKEY" in err
    assert emulator.stats.total_requests == 0


# 3. empty folder, loose photos, files left out ---------------------------------------------


async def test_3_nothing_to_enroll_is_refused_before_any_request(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = emu_env(emulator)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = await run_cli("enroll", str(empty), "--group", "g", env=env, cwd=tmp_path)
    assert code == 2
    assert "no photos to enroll" in err
    assert "hint: expected" in err
    loose = tmp_path / "loose"
    loose.mkdir()
    for i in range(3):
        (loose / f"{i}.jpg").write_bytes(make_face_image(f"p{i}"))
    code, _, err = await run_cli("enroll", str(loose), "--group", "g", env=env, cwd=tmp_path)
    assert code == 2
    assert "3 photos but no person folders" in err
    assert "folder named after them" in err
    assert emulator.stats.total_requests == 0  # no group created for nothing
    assert len(emulator.state.person_groups) == 0


async def test_3_files_left_out_are_listed_and_counted(emulator: Emulator, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_photos(photos, 2, 2)
    (photos / "Person 00" / "face.webp").write_bytes(b"RIFF....WEBP" * 200)
    (photos / "Person 00" / "notes.txt").write_text("hello")
    (photos / "Person 01" / "old").mkdir()
    (photos / "Person 01" / "old" / "0.jpg").write_bytes(make_face_image("Person 01"))
    (photos / "group.jpg").write_bytes(make_face_image("everyone"))
    code, out, err = await run_cli(
        "enroll", str(photos), "--group", "g", "--progress", "lines",
        env=emu_env(emulator), cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert "skipping 4 files not enrolled:" in out
    assert "Person 00/face.webp  (not a bmp/gif/jpeg/jpg/png file)" in out
    assert "Person 00/notes.txt" in out
    assert "Person 01/old/  (a folder inside a person folder (not read))" in out
    assert "group.jpg  (not in a person folder)" in out
    assert summary_value(out, "files skipped") == 4
    assert summary_value(out, "faces added") == 4


# 4. logs through the bar, quiet by default -------------------------------------------------


async def test_4_logs_go_through_the_bar_and_only_with_verbose(
    emulator: Emulator, tmp_path: Path
) -> None:
    write_photos(tmp_path / "photos", 3, 4)
    args = ("enroll", str(tmp_path / "photos"), "--group", "g", "--timeout", "1")
    emulator.config.faults = [Fault("503", probability=1.0, operations="*AddFace*", count=2)]
    code, text = await run_in_terminal(*args, env=emu_env(emulator), cwd=tmp_path)
    assert code == 0, text
    assert "outcome unknown" not in text  # the summary says it; no warning without -v
    assert summary_value(text.replace("\r", "\n"), "ambiguous writes reconciled") >= 2

    emulator.config.faults = [Fault("503", probability=1.0, operations="*AddFace*", count=2)]
    code, text = await run_in_terminal(
        *args, "-v", "--group", "h", env=emu_env(emulator), cwd=tmp_path
    )
    assert code == 0, text
    warnings = [m.start() for m in re.finditer("WARNING: ", text)]
    assert len(warnings) >= 2
    for at in warnings:
        line_start = max(text.rfind("\r", 0, at), text.rfind("\n", 0, at)) + 1
        assert text[line_start:at].strip() == "", text[line_start : at + 80]  # not in the bar
    assert "request id None" not in text


# 5. exit codes ---------------------------------------------------------------------------------


async def test_5_exit_codes_and_hints(
    emulator: Emulator, client: AsyncFaceClient, tmp_path: Path
) -> None:
    env = emu_env(emulator)
    probe = tmp_path / "probe.jpg"
    probe.write_bytes(make_face_image("Person 1", variant=50))
    # 2: a missing image file, before any request
    code, _, err = await run_cli("identify", str(tmp_path / "nope.jpg"), "--group", "g", env=env)
    assert (code, emulator.stats.total_requests) == (2, 0)
    assert "no such image file" in err
    # 4: no group of that name
    code, _, err = await run_cli("identify", str(probe), "--group", "nobody", env=env)
    assert code == 4
    assert "404" in err
    assert "hint: run `face-async enroll" in err
    # 4: a large group of that name exists
    await enroll(client, "big", {"Person 1": [make_face_image("Person 1")]}, large=True)
    code, _, err = await run_cli("identify", str(probe), "--group", "big", env=env)
    assert code == 4
    assert "a large person group of that name exists: add --large" in err
    code, out, err = await run_cli("identify", str(probe), "--group", "big", "--large", env=env)
    assert code == 0, err
    assert ": Person 1 (" in out
    # 4: not trained
    await client.person_groups.create("untrained", name="u", recognition_model="recognition_04")
    code, _, err = await run_cli("identify", str(probe), "--group", "untrained", env=env)
    assert code == 4
    assert "NotTrained" in err
    assert "hint: train the group" in err
    # 3: the service keeps failing: rerun later
    emulator.config.faults = [Fault("503", probability=1.0, operations="PersonGroup_Get")]
    code, _, err = await run_cli(
        "identify", str(probe), "--group", "big", "--timeout", "5", env=env
    )
    assert code == 3
    assert "rerun" in err
    # 1: an image without a face (the run completed)
    emulator.config.faults = []
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(make_face_image("nobody", faces=0))
    code, out, _ = await run_cli(
        "identify", str(probe), str(empty), "--group", "big", "--large", env=env
    )
    assert code == 1
    assert "empty.jpg: no face found" in out
    assert emulator.key not in err + out


async def test_5_emulator_port_in_use_exits_2_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in (("-m", "face_async.emulator"), ("-m", "face_async", "emulator")):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, *command, "--port", str(port), env=cli_env(),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 2
            lines = err.decode().strip().splitlines()
            assert len(lines) == 1
            assert "port is in use" in lines[0]
            assert out == b""


# 6. one environment convention -------------------------------------------------------------


async def test_6_the_emulator_prints_what_the_cli_reads(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "face_async", "emulator", "--port", "0", env=cli_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    printed: dict[str, str] = {}
    try:
        for _ in range(2):  # FACE_ENDPOINT=..., FACE_APIKEY=...
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            name, _, value = line.decode().strip().partition("=")
            printed[name] = value
        assert printed["FACE_ENDPOINT"].startswith("http://127.0.0.1:")
        write_photos(tmp_path / "photos", 1, 2)
        env = cli_env(FACE_ENDPOINT=printed["FACE_ENDPOINT"], FACE_APIKEY=printed["FACE_APIKEY"])
        code, out, err = await run_cli(
            "enroll", str(tmp_path / "photos"), "--group", "g", "--progress", "none",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert code == 0, err
        assert summary_value(out, "faces added") == 2
    finally:
        proc.send_signal(2)
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0


# 8. progress -----------------------------------------------------------------------------------


async def test_8_bar_on_a_terminal(emulator: Emulator, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_photos(photos, 3, 3)
    (photos / "Person 00" / "broken.jpg").write_bytes(b"\x00" * 2000)
    code, text = await run_in_terminal(
        "enroll", str(photos), "--group", "g", env=emu_env(emulator), cwd=tmp_path
    )
    assert code == 1, text
    assert "enrolling 10 images of 3 persons into g" in text  # the header stays
    assert "enrolling: 100%" in text
    assert "10/10" in text
    assert "training:" not in text  # no image bar relabelled "training"
    assert "training g..." in text
    assert "failed  Person 00/broken.jpg  invalid_image: " in text  # with why
    assert "trained g: succeeded" in text


async def test_8_ticks_and_lines_without_a_terminal(emulator: Emulator, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_photos(photos, 2, 5)
    (photos / "Person 00" / "broken.jpg").write_bytes(b"\x00" * 2000)
    args = ("enroll", str(photos), "--group", "g", "--progress", "ticks")
    code, out, err = await run_cli(*args, env=emu_env(emulator), cwd=tmp_path)
    assert code == 1, err
    assert "done 11/11 images (10 added, 0 already enrolled, 1 failed)" in out
    assert "\x1b" not in out + err  # no bar without a terminal
    assert "\r" not in out + err
    # A resume: the faces already there are "already enrolled", not "skipped".
    code, out, err = await run_cli(*args, env=emu_env(emulator), cwd=tmp_path)
    assert code == 1, err
    assert "done 11/11 images (0 added, 10 already enrolled, 1 failed)" in out
    assert summary_value(out, "already enrolled") == 10
    assert summary_value(out, "faces added") == 0
    assert summary_value(out, "faces failed") == 1


# 9. help and options ---------------------------------------------------------------------------


async def test_9_help_describes_every_command_with_defaults() -> None:
    env = cli_env()
    code, top, _ = await run_cli("--help", env=env)
    assert code == 0
    for line in ("FACE_ENDPOINT", "FACE_APIKEY", "exit codes:", "130"):
        assert line in top
    for command in ("enroll", "identify", "demo", "emulator"):
        code, out, _ = await run_cli(command, "--help", env=env)
        assert code == 0
        description = out.split("\n\n")[1]
        assert len(description.split()) > 6, out  # a sentence, not just the usage
    _, out, _ = await run_cli("enroll", "--help", env=env)
    assert "(default: 16)" in out
    assert "(default: recognition_04)" in out
    assert "ticks" in out
    assert "-v, --verbose" in out
    assert "--report FILE" in out
    _, out, _ = await run_cli("identify", "--help", env=env)
    assert "IMAGE [IMAGE ...]" in out
    assert "(default: 1)" in out


async def test_9_option_errors_are_readable(tmp_path: Path) -> None:
    code, _, err = await run_cli("emulator", "--fault", "502:0.1", env=cli_env())
    assert code == 2
    assert "'kind' must be in" in err
    assert "Attribute(" not in err
    (tmp_path / "photos" / "p").mkdir(parents=True)
    (tmp_path / "photos" / "p" / "a.jpg").write_bytes(make_face_image("p"))
    env = cli_env(FACE_APIKEY="k")
    code, _, err = await run_cli(
        "enroll", str(tmp_path / "photos"), "--group", "g", "--endpoint", "http://10.1.2.3",
        env=env,
    )  # fmt: skip
    assert code == 2
    assert "--allow-insecure-http" in err
    assert "allow_insecure_http=True" not in err


# report ------------------------------------------------------------------------------------------


async def test_report_is_json_lines_ending_with_a_summary(
    emulator: Emulator, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    write_photos(photos, 2, 2)
    (photos / "Person 01" / "blank.jpg").write_bytes(make_face_image("nobody", faces=0))
    (photos / "Person 01" / "notes.txt").write_text("x")
    report = tmp_path / "report.jsonl"
    code, _, err = await run_cli(
        "enroll", str(photos), "--group", "g", "--progress", "none", "--report", str(report),
        env=emu_env(emulator), cwd=tmp_path,
    )  # fmt: skip
    assert code == 1, err
    records = [json.loads(line) for line in report.read_text().splitlines()]
    summary = records[-1]["summary"]
    images = records[:-1]
    by_source = {r["source"]: r for r in images}
    assert by_source["Person 01/notes.txt"]["status"] == "skipped"
    added = [r for r in images if r["status"] == "added"]
    assert len(added) == 4
    assert all(r["persisted_face_id"] and r["person"].startswith("Person") for r in added)
    failed = by_source["Person 01/blank.jpg"]
    assert failed["status"] == "failed"
    assert failed["reason"] == "no_face"
    assert failed["error_code"] == "InvalidImage"
    assert failed["request_id"]
    assert summary["added"] == 4
    assert summary["failed"] == 1
    assert summary["already_enrolled"] == 0
    assert summary["files_skipped"] == 1
    assert summary["completed"] is True
    assert summary["exit_code"] == 1
    assert summary["training"] == "succeeded"
    assert emulator.key not in report.read_text()


@pytest.mark.parametrize("mode", ["lines", "ticks", "none"])
async def test_report_counts_match_the_summary_in_every_mode(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    photos = tmp_path / "photos"
    write_photos(photos, 1, 3)
    report = tmp_path / "r.jsonl"
    code, out, err = await run_cli(
        "enroll", str(photos), "--group", "g", "--progress", mode, "--report", str(report),
        env=emu_env(emulator), cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(report.read_text().splitlines()[-1])["summary"]
    assert summary["added"] == summary_value(out, "faces added") == 3


async def test_5_journal_busy_exits_3(emulator: Emulator, tmp_path: Path) -> None:
    write_photos(tmp_path / "photos", 1, 1)
    journal = tmp_path / "busy.sqlite"
    holder = sqlite3.connect(journal, isolation_level=None)
    try:
        holder.execute("CREATE TABLE held (x)")
        holder.execute("BEGIN EXCLUSIVE")  # another enrollment holds the journal
        code, _, err = await run_cli(
            "enroll", str(tmp_path / "photos"), "--group", "g", "--journal", str(journal),
            env=emu_env(emulator), cwd=tmp_path,
        )  # fmt: skip
    finally:
        holder.close()
    assert code == 3
    assert "in use by another process" in err
    assert "--journal" in err


async def test_8_demo_on_a_terminal_keeps_its_header() -> None:
    code, text = await run_in_terminal(
        "demo", "--persons", "4", "--photos", "3", "--latency", "0", env=cli_env()
    )
    assert code == 0, text
    assert text.startswith("face-async demo: 4 persons x 3 photos")
    assert "planted bad images:" in text
    assert "enrolling 16 images of 4 persons into demo" in text
    assert "enrolling: 100%" in text
    assert "training:" not in text
    assert "images done (12 added, 0 already enrolled, 4 failed); training demo..." in text
    assert "new photo of a stranger" in text


async def test_5_a_file_that_is_not_a_journal_exits_2(emulator: Emulator, tmp_path: Path) -> None:
    write_photos(tmp_path / "photos", 1, 1)
    journal = tmp_path / "notes.txt"
    journal.write_text("not a journal " * 100)
    code, _, err = await run_cli(
        "enroll", str(tmp_path / "photos"), "--group", "g", "--journal", str(journal),
        env=emu_env(emulator), cwd=tmp_path,
    )  # fmt: skip
    assert code == 2
    assert "the journal cannot be used" in err
    assert "Traceback" not in err


async def test_5_images_in_doubt_exit_3_and_a_rerun_finishes(
    emulator: Emulator, tmp_path: Path
) -> None:
    # Every add-face answers 500: each write is in doubt (it may have been applied), which a
    # rerun settles. That is "rerun to continue" (3), not "some images cannot be enrolled" (1).
    write_photos(tmp_path / "photos", 1, 2)
    emulator.config.faults = [Fault("500", operations="*AddFace*")]
    args = ("enroll", str(tmp_path / "photos"), "--group", "g", "--progress", "none")
    code, out, err = await run_cli(*args, env=emu_env(emulator), cwd=tmp_path, timeout=120)
    assert code == 3, out + err
    emulator.config.faults = []
    code, out, err = await run_cli(*args, env=emu_env(emulator), cwd=tmp_path, timeout=120)
    assert code == 0, out + err
    [person] = emulator.state.groups(False)["g"].persons.values()
    assert len(person.faces) == 2
