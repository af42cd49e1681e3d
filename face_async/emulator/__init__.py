"""A local emulator of the Azure Face API v1.0 on aiohttp.web, with knobs for tests.

```python
async with Emulator(key="k") as emu:      # serves http://127.0.0.1:PORT/face/v1.0
    emu.config.faults = [Fault("500", operations="*AddFace*", count=1)]
```
From the command line: `python -m face_async.emulator --port 8765 --key KEY [knobs]`.
"""

from __future__ import annotations

from ._config import EmulatorConfig, Fault, Latency, RateLimit
from ._images import make_face_image
from ._limits import ServiceLimits
from ._server import Emulator, create_app
from ._stats import EmulatorStats

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "EmulatorStats",
    "Fault",
    "Latency",
    "RateLimit",
    "ServiceLimits",
    "create_app",
    "make_face_image",
]
