"""`python -m face_async.emulator`: serve the Face API v1.0 emulator."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
