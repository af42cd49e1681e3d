"""Tracing: OpenTelemetry's aiohttp instrumentation sees one span per attempt, named after the
operation (the client passes ``trace_request_ctx`` with the operation id and attempt number)."""

from __future__ import annotations

import types

import aiohttp
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from face_async import AsyncFaceClient, RetryPolicy
from face_async.emulator import Emulator, Fault


def span_namer() -> aiohttp.TraceConfig:
    """Names the current (instrumentation's) span after the operation of the attempt.

    Must come after the instrumentation's TraceConfig: its request-start signal makes the span
    current before this one runs.
    """

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: types.SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        request = context.trace_request_ctx
        if request is None:
            return
        span = trace.get_current_span()
        span.update_name(request.operation_id)
        span.set_attribute("face.operation_id", request.operation_id)
        span.set_attribute("face.attempt", request.attempt)

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_request_start)
    return config


async def test_one_span_per_attempt_named_after_the_operation(emulator: Emulator) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    emulator.config.faults = [Fault("503", probability=1.0, operations="PersonGroup_List", count=1)]
    configs = [create_trace_config(tracer_provider=provider), span_namer()]
    async with AsyncFaceClient(
        emulator.url, key=emulator.key, trace_configs=configs,
        retry=RetryPolicy(initial_delay=0.01, max_delay=0.01),
    ) as client:  # fmt: skip
        assert await client.person_groups.list() == []
        await client.person_groups.create("g", name="G")
    provider.shutdown()

    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == [
        "PersonGroup_List", "PersonGroup_List", "PersonGroup_Create",
    ]  # fmt: skip
    attempts = [span.attributes["face.attempt"] for span in spans if span.attributes]
    assert attempts == [1, 2, 1]
    statuses = [
        span.attributes.get("http.response.status_code", span.attributes.get("http.status_code"))
        for span in spans
        if span.attributes
    ]
    assert statuses == [503, 200, 200]
    assert all(span.kind is trace.SpanKind.CLIENT for span in spans)
    # The key is a header, never part of a span.
    assert not any(emulator.key in str(dict(span.attributes or {})) for span in spans)
