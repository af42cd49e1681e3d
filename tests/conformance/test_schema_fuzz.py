"""schemathesis against the emulator: every operation of Face.json, with generated inputs.

The emulator runs in a background thread on 127.0.0.1; schemathesis generates requests from
``tests/fixtures/Face.json`` (a copy patched in memory, below) and checks each answer: never a
5xx, a status the spec documents, and a body that conforms to the spec's response schema.

Where the live service differs from Face.json the emulator follows the live service; those
differences are relaxed in one place, :func:`as_the_live_service`, and listed in
docs/conformance.md. The run is bounded (a fixed number of examples per operation, derandomized)
to about a minute on two cores.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from face_async.emulator import Emulator

SPEC_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "Face.json"
KEY = "fuzz-key"
EXAMPLES_PER_OPERATION = 6

# Azure's shared parameters, which Face.json references in another file of its repository.
_COMMON_PARAMETERS = {
    "../../../Common/Parameters.json#/parameters/ImageStream": {
        "name": "Image", "in": "body", "required": True, "description": "An image stream.",
        "schema": {"type": "string", "format": "binary"},
    },
    "../../../Common/Parameters.json#/parameters/ImageUrl": {
        "name": "ImageUrl", "in": "body", "required": True, "description": "The image's URL.",
        "schema": {"type": "object", "required": ["url"],
                   "properties": {"url": {"type": "string"}}},
    },
}  # fmt: skip

# The enum values the live service sends besides (or instead of) the spec's, per definition.
LIVE_ENUM_VALUES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("FaceAttributes", "glasses"): ("NoGlasses", "ReadingGlasses", "Sunglasses", "SwimmingGoggles"),
    ("FaceAttributes", "qualityForRecognition"): ("low", "medium", "high"),
    ("QualityForRecognition",): ("low", "medium", "high"),
    ("Blur", "blurLevel"): ("low", "medium", "high"),
    ("Noise", "noiseLevel"): ("low", "medium", "high"),
    ("Exposure", "exposureLevel"): ("underExposure", "goodExposure", "overExposure"),
    ("Accessory", "type"): ("headwear",),
    ("OperationStatus", "status"): ("notStarted",),
    # The spec's enum says "nonstarted"; its own description (and the service) "notstarted".
    ("TrainingStatus", "status"): ("notstarted",),
}  # fmt: skip
# Properties the live service sends as null although the spec types them as strings.
LIVE_NULLABLE = frozenset(
    {"userData", "message", "resourceLocation", "lastSuccessfulTrainingDateTime"}
)


def as_the_live_service(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` that schemathesis can load, relaxed where the live service differs.

    Loading: the shared image parameters inlined; the ``x-ms-paths`` variants (the same path
    with another body: stream uploads, verify face-to-person) moved to ``paths`` under the path
    with a trailing slash, which the emulator routes like the path itself.
    Live differences: enum values in the live spellings, nullable strings (``"userData": null``).
    Empty 200/202 bodies without a Content-Type are the live answers too: the content-type check
    is not run (the status and schema checks are).
    """
    patched = copy.deepcopy(spec)
    for methods in [*patched["paths"].values(), *patched["x-ms-paths"].values()]:
        for operation in methods.values():
            if isinstance(operation, dict):
                operation["parameters"] = [
                    _COMMON_PARAMETERS.get(p.get("$ref", ""), p)
                    for p in operation.get("parameters", [])
                ]
    for path, methods in patched.pop("x-ms-paths").items():
        patched["paths"][path.partition("?")[0] + "/"] = methods
    patched.pop("x-ms-parameterized-host")
    patched["basePath"] = "/face/v1.0"
    definitions = patched["definitions"]
    for where, values in LIVE_ENUM_VALUES.items():
        schema = definitions[where[0]]
        for name in where[1:]:
            schema = schema["properties"][name]
        schema["enum"] = [*schema["enum"], *values]
    for schema in definitions.values():
        for name, prop in schema.get("properties", {}).items():
            if name in LIVE_NULLABLE:
                prop["x-nullable"] = True
    return patched


SCHEMA = schemathesis.openapi.from_dict(as_the_live_service(json.loads(SPEC_FILE.read_text())))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


class _Served:
    """An emulator served from its own event loop on a background thread."""

    def __init__(self) -> None:
        self.emulator = Emulator(key=KEY)
        self.statuses: Counter[int] = Counter()  # answers schemathesis got, by status
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fuzzed-emulator", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self.emulator:
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> _Served:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the emulator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=30)
        if self._thread.is_alive():
            raise RuntimeError("the emulator thread did not stop")


@pytest.fixture(scope="module")
def served() -> Iterator[_Served]:
    with _Served() as running:
        yield running
        cases = sum(running.statuses.values())
        print(f"\nschema fuzz: {cases} cases, answers by status {dict(running.statuses)}")


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_answers_conform(
    case: schemathesis.Case[Any], served: _Served, http: requests.Session
) -> None:
    response = case.call_and_validate(
        base_url=f"{served.emulator.url}/face/v1.0",
        session=http,
        headers={"Ocp-Apim-Subscription-Key": KEY},
        checks=CHECKS,
        timeout=10,
    )
    served.statuses[response.status_code] += 1


def test_the_fuzzer_met_no_server_error(served: _Served) -> None:
    # Runs after the generated cases (same module); both sides counted the answers.
    assert sum(served.statuses.values()) > 0
    assert not [status for status in served.statuses if status >= 500], served.statuses
    responses = served.emulator.stats.as_json()["responses"]
    assert not [status for status in responses if int(status) >= 500], responses
