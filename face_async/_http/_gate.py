"""The fair gate every request to one (endpoint, credential) passes before it is sent."""

from __future__ import annotations

import contextvars

__all__ = ["request_priority"]

#: Priority of the requests the current task sends: a higher value is admitted first, equal
#: values in arrival order. Enrollment sets it to a person's remaining chain length.
request_priority: contextvars.ContextVar[int] = contextvars.ContextVar(
    "face_async_request_priority", default=0
)
