"""face-async: an asyncio-native client for the Azure Face API v1.0."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Development-time lazy re-exports; replaced by explicit imports at integration.
_MODULES = ("_client", "_errors", "_models", "_retry", "_ratelimit", "_scheduler", "_enroll")


def __getattr__(name: str) -> Any:
    for module_name in _MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ImportError:
            continue
        if hasattr(module, name):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
