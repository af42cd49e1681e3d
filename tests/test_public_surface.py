"""The public surface: __all__ lists exactly the public names, and the README's quickstart runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import face_async

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(face_async).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)  # subpackages
    }
    public -= {"annotations"}  # from __future__
    assert face_async.__all__ == sorted(face_async.__all__)
    assert set(face_async.__all__) == public


def test_every_exported_name_is_documented() -> None:
    undocumented = [
        name
        for name in face_async.__all__
        if isinstance(getattr(face_async, name), type) and not getattr(face_async, name).__doc__
    ]
    assert undocumented == []


def test_package_is_typed() -> None:
    assert (Path(face_async.__file__).parent / "py.typed").exists()


def test_readme_quickstart_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    script = tmp_path / "quickstart.py"
    script.write_text(code.group(1), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "404 PersonGroupNotFound" in done.stdout
    assert "person_group_id" in done.stdout
