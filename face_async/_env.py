"""Configuration from the environment: one convention for the library, the CLI and the emulator.

The names are the ones the Azure Face quickstarts use: ``FACE_ENDPOINT`` (a region name or an
endpoint URL) and ``FACE_APIKEY`` (the subscription key). ``face-async emulator`` prints both, so
``export $(face-async emulator ... | head -2)`` or ``eval`` points everything at the emulator.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["ENDPOINT_ENV", "KEY_ENV", "endpoint_from_env", "key_from_env"]

ENDPOINT_ENV = "FACE_ENDPOINT"
KEY_ENV = "FACE_APIKEY"


def endpoint_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The endpoint in ``FACE_ENDPOINT`` (stripped), or None when unset or empty."""
    value = (os.environ if environ is None else environ).get(ENDPOINT_ENV, "").strip()
    return value or None


def key_from_env(name: str = KEY_ENV, environ: Mapping[str, str] | None = None) -> str | None:
    """The key in the variable ``name`` (default ``FACE_APIKEY``), or None when unset or empty."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None
