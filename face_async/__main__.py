"""``python -m face_async``: the ``face-async`` command line."""

from __future__ import annotations

import sys

from face_async._cli import console_main

if __name__ == "__main__":
    sys.exit(console_main())
