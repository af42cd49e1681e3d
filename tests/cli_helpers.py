"""What the command-line tests share: the CLI in a subprocess, photo folders, the service's faces.

Imported as ``cli_helpers`` (pytest puts ``tests/`` on ``sys.path`` for its conftest).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import face_async
from face_async._enroll import fingerprint
from face_async.emulator import Emulator, make_face_image

REPO = Path(face_async.__file__).resolve().parent.parent
PREFIX = "face-async:v1:"


def cli_env(**extra: str) -> dict[str, str]:
    """This process's environment without FACE_* (nor a Kubernetes job index), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACE_")}
    env.pop("JOB_COMPLETION_INDEX", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def emu_env(emulator: Emulator) -> dict[str, str]:
    return cli_env(FACE_ENDPOINT=emulator.url, FACE_APIKEY=emulator.key)


async def run_cli(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """``python -m face_async *args``: exit code, stdout, stderr (killed after ``timeout``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "face_async", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def summary_value(out: str, row: str) -> int:
    """The number in a row of the summary table."""
    match = re.search(rf"^  {row} +(\d+)$", out, re.M)
    assert match is not None, out
    return int(match.group(1))


def write_photos(root: Path, persons: int, photos: int) -> dict[str, list[bytes]]:
    """``root/Person NN/MM.jpg``; the images by person name."""
    source: dict[str, list[bytes]] = {}
    for i in range(persons):
        name = f"Person {i:02d}"
        (root / name).mkdir(parents=True)
        images = [make_face_image(name, variant=j) for j in range(photos)]
        for j, image in enumerate(images):
            (root / name / f"{j:02d}.jpg").write_bytes(image)
        source[name] = images
    return source


def service_faces(emu: Emulator, group_id: str) -> dict[str, list[str]]:
    """Person name -> the userData of its faces; fails on a duplicate person."""
    out: dict[str, list[str]] = {}
    for person in emu.state.person_groups[group_id].persons.values():
        assert person.name is not None
        assert person.name not in out, f"duplicate person {person.name}"
        out[person.name] = [face.user_data or "" for face in person.faces.values()]
    return out


def expected(source: dict[str, list[bytes]]) -> dict[str, list[str]]:
    """What :func:`service_faces` reads once ``source`` is enrolled exactly once."""
    return {name: [PREFIX + fingerprint(i) for i in images] for name, images in source.items()}
