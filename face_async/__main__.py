"""``python -m face_async``: the ``face-async`` command line."""

from __future__ import annotations

import sys

from face_async._cli import main

if __name__ == "__main__":
    sys.exit(main())
