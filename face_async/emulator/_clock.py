"""The emulator's clock: wall time plus an offset that tests can advance."""

from __future__ import annotations

import time
from datetime import datetime, timezone


class Clock:
    """Seconds since the epoch, shifted by :meth:`advance` (faceId expiry, timestamps)."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        """Return the emulated time in seconds since the epoch."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the emulated time forward; raises ValueError for a negative step."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    def isoformat(self, at: float | None = None) -> str:
        """Format ``at`` (default: now) the way the service does: ISO 8601 UTC with ``Z``."""
        moment = datetime.fromtimestamp(self.now() if at is None else at, tz=timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
