"""A pool of resources behind one client: routing (pure, no sockets), then three real
emulators at 10 TPS each: load spread, faceIds followed, failover and cool-down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from face_async import (
    AsyncFaceClient,
    FaceConnectionError,
    FaceTimeoutError,
    FaceValidationError,
    OutcomeUnknownError,
    PersonGroupNotFound,
    Resource,
    ResourcePool,
    RetryPolicy,
)
from face_async._http import _operations as o
from face_async._http._decide import Answer, NoAnswer
from face_async._http._endpoint import Endpoint
from face_async._http._gate import Gate
from face_async._http._resource_pool import Member, near_group
from face_async._models import (
    DetectedFace,
    FaceRectangle,
    FindSimilarRequest,
    IdentifyRequest,
    VerifyFaceToFaceRequest,
)
from face_async.emulator import Emulator, make_face_image
from face_async.emulator._config import EmulatorConfig, Fault, RateLimit

KEY = "k" * 32
FACE_A = "11111111-1111-4111-8111-111111111111"
FACE_B = "22222222-2222-4222-8222-222222222222"
FACE_C = "33333333-3333-4333-8333-333333333333"

# -- pure routing and health ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pool(**kwargs: Any) -> tuple[ResourcePool, Clock]:
    clock = Clock()
    members = [
        Member(index, name, Endpoint(f"http://127.0.0.1:{index + 1}/face/v1.0", key=KEY,
                                     gate=Gate(tps)), frozenset(groups))
        for index, (name, tps, groups) in enumerate(
            [("a", 10, ()), ("b", 10, ("staff",)), ("c", 20, ("staff", "guests"))]
        )
    ]  # fmt: skip
    return ResourcePool(members, clock=clock, **kwargs), clock


def detected(*face_ids: str) -> list[DetectedFace]:
    box = FaceRectangle(top=0, left=0, width=10, height=10)
    return [DetectedFace(face_id=face_id, face_rectangle=box) for face_id in face_ids]


def test_detect_routes_by_load_and_remembers_its_face_ids_until_they_expire() -> None:
    pool, clock = make_pool()
    route = pool.route(o.FACE_DETECT_WITH_STREAM, (), {"faceIdTimeToLive": "60"}, None)
    assert route.movable
    assert route.face_id_ttl == 60.0
    assert [m.name for m in route.candidates] == ["a", "b", "c"]
    b = pool.members[1]
    pool.learn(route, b, detected(FACE_A, FACE_B))
    assert pool.member_of(FACE_A) is b
    verify = VerifyFaceToFaceRequest(face_id1=FACE_A, face_id2=FACE_B)
    pinned = pool.route(o.FACE_VERIFY_FACE_TO_FACE, (), None, verify)
    assert pinned.candidates == (b,)
    assert not pinned.movable
    clock.now += 61
    assert pool.member_of(FACE_A) is None
    assert pool.route(o.FACE_VERIFY_FACE_TO_FACE, (), None, verify).movable


def test_face_ids_of_two_resources_in_one_call_are_refused_before_sending() -> None:
    pool, _ = make_pool()
    route = pool.route(o.FACE_DETECT_WITH_STREAM, (), None, None)
    pool.learn(route, pool.members[0], detected(FACE_A))
    pool.learn(route, pool.members[1], detected(FACE_B))
    body = FindSimilarRequest(face_id=FACE_A, face_ids=[FACE_C, FACE_B])
    with pytest.raises(FaceValidationError, match="two resources"):
        pool.route(o.FACE_FIND_SIMILAR, (), None, body)
    # an unknown faceId (FACE_C) does not bind the call
    one = FindSimilarRequest(face_id=FACE_C, face_ids=[FACE_B])
    assert pool.route(o.FACE_FIND_SIMILAR, (), None, one).candidates == (pool.members[1],)


def test_identify_needs_face_ids_from_a_resource_that_holds_the_group() -> None:
    pool, _ = make_pool()
    route = pool.route(o.FACE_DETECT_WITH_STREAM, (), None, None)
    pool.learn(route, pool.members[0], detected(FACE_A))
    body = IdentifyRequest(face_ids=[FACE_A], person_group_id="staff")
    with pytest.raises(FaceValidationError, match="does not hold 'staff'"):
        pool.route(o.FACE_IDENTIFY, (), None, body)
    with near_group("staff"):
        near = pool.route(o.FACE_DETECT_WITH_STREAM, (), None, None)
    assert [m.name for m in near.candidates] == ["b", "c"]
    unknown = IdentifyRequest(face_ids=[FACE_C], person_group_id="staff")
    assert [m.name for m in pool.route(o.FACE_IDENTIFY, (), None, unknown).candidates] == [
        "b",
        "c",
    ]


def test_group_reads_spread_over_holders_and_writes_go_to_the_first_holder_only() -> None:
    pool, _ = make_pool()
    read = pool.route(o.PERSON_GROUP_GET, ("staff",), None, None)
    assert [m.name for m in read.candidates] == ["b", "c"]
    assert read.movable
    for op in (o.PERSON_GROUP_PERSON_CREATE, o.PERSON_GROUP_TRAIN, o.PERSON_GROUP_DELETE):
        write = pool.route(op, ("staff",), None, None)
        assert [m.name for m in write.candidates] == ["b"]
        assert not write.movable
    undeclared = pool.route(o.LARGE_FACE_LIST_ADD_FACE_FROM_STREAM, ("other",), None, None)
    assert undeclared.candidates == (pool.default,)
    assert not undeclared.movable
    assert pool.route(o.PERSON_GROUP_LIST, (), None, None).candidates == (pool.default,)


def test_pick_weights_by_rate_avoids_cooled_members_and_takes_them_back_after() -> None:
    pool, clock = make_pool(cool_down=30.0)
    route = pool.route(o.FACE_DETECT_WITH_STREAM, (), None, None)
    a, b, c = pool.members
    a.assigned, b.assigned, c.assigned = 10, 10, 10  # c has twice the rate: fewest per tps
    c.calls = 10
    assert pool.pick(route, now=clock.now) is c
    connection_error = NoAnswer(FaceConnectionError("refused", request_sent=False))
    pool.observe(c, connection_error)
    assert c.cooled_down_until == clock.now + 30
    assert c.cool_downs == 1
    assert pool.pick(route, now=clock.now) is a
    assert pool.pick(route, avoid=a, now=clock.now) is b
    clock.now += 30.5
    assert pool.pick(route, now=clock.now) is c
    assert pool.stats()["c"]["failures"] == 1
    assert pool.stats()["c"]["calls"] == 11


def test_a_streak_of_server_errors_cools_a_member_down_and_a_success_resets_it() -> None:
    pool, clock = make_pool(failure_streak=3)
    a = pool.members[0]
    error = Answer(503, {}, b"")  # type: ignore[arg-type]
    ok = Answer(200, {}, b"[]")  # type: ignore[arg-type]
    for happened in (error, error, ok, error, error):
        pool.observe(a, happened)
    assert a.cooled_down_until == 0.0
    assert a.failures == 4
    pool.observe(a, NoAnswer(FaceTimeoutError("timed out", request_sent=True)))
    assert a.cooled_down_until == clock.now + pool.cool_down


def test_face_id_memory_is_bounded() -> None:
    pool, _ = make_pool(max_face_ids=2)
    route = pool.route(o.FACE_DETECT_WITH_STREAM, (), None, None)
    pool.learn(route, pool.members[0], detected(FACE_A, FACE_B, FACE_C))
    assert pool.member_of(FACE_A) is None
    assert pool.member_of(FACE_C) is pool.members[0]


def test_reprs_and_stats_never_show_keys() -> None:
    resource = Resource("http://127.0.0.1:1", key=KEY, tps=10, groups={"staff"})
    pool, _ = make_pool()
    assert KEY not in repr(resource)
    assert KEY not in repr(pool)
    assert KEY not in str(pool.stats())
    assert resource.groups == frozenset({"staff"})


# -- three emulators at 10 TPS ----------------------------------------------------------------

TPS = 10.0
IMAGE = make_face_image("pool-alice")


async def start_emulator(key: str | None = None, port: int = 0) -> Emulator:
    emulator = Emulator(key, port=port, config=EmulatorConfig(rate_limit=RateLimit(tps=TPS)))
    await emulator.start()
    return emulator


@pytest.fixture
async def emulators() -> AsyncIterator[list[Emulator]]:
    started: list[Emulator] = []
    try:
        for _ in range(3):
            started.append(await start_emulator())
        yield started
    finally:
        for emulator in started:
            await emulator.close()


def pool_client(emulators: list[Emulator], staff: str = "ab", **kwargs: Any) -> AsyncFaceClient:
    """A pool over the emulators named a, b, c; those in ``staff`` declare the group."""
    resources = [
        Resource(e.url, key=e.key, tps=TPS, name=name, groups={"staff"} if name in staff else ())
        for e, name in zip(emulators, "abc", strict=True)
    ]
    return AsyncFaceClient.pool(resources, **kwargs)


def no_rate_limits(emulators: list[Emulator]) -> None:
    """Routing tests count requests per operation: no 429 (and its retry) may add one."""
    for emulator in emulators:
        emulator.config.rate_limit = None


def detects(emulator: Emulator) -> int:
    return emulator.stats.requests["Face_DetectWithStream"]


async def run_bounded(
    n: int, concurrency: int, call: Callable[[int], Awaitable[object]]
) -> list[Any]:
    """``n`` calls, at most ``concurrency`` at once; every outcome (value or exception)."""
    limit = asyncio.Semaphore(concurrency)

    async def one(i: int) -> object:
        async with limit:
            return await call(i)

    return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)


async def test_detects_spread_over_three_resources_near_the_summed_quota(
    emulators: list[Emulator],
) -> None:
    async with pool_client(emulators) as client:
        start = time.monotonic()
        results = await run_bounded(150, 40, lambda _: client.face.detect(IMAGE))
        elapsed = time.monotonic() - start
    assert [r for r in results if isinstance(r, BaseException)] == []
    answered = [e.stats.responses[200] for e in emulators]
    assert sum(answered) == 150
    assert min(answered) >= 40, answered
    # Arrival jitter against a bucket of the same rate gives a few 429s; each pauses its gate.
    assert sum(e.stats.rate_limited for e in emulators) <= 15
    assert 150 / elapsed >= 0.9 * 3 * TPS, elapsed


async def test_face_id_calls_follow_the_resource_that_detected_the_face(
    emulators: list[Emulator],
) -> None:
    no_rate_limits(emulators)
    async with pool_client(emulators) as client:
        faces = await asyncio.gather(*(client.face.detect(IMAGE) for _ in range(12)))
        pool = client.resource_pool
        assert pool is not None
        face_ids = [found[0].face_id for found in faces]
        owners = [pool.member_of(face_id) for face_id in face_ids if face_id]
        assert len(owners) == 12
        assert len({m.name for m in owners if m}) == 3
        for face_id in face_ids:
            assert face_id is not None
            await client.face.verify_face_to_face(face_id, face_id)
            await client.face.find_similar(face_id, face_ids=[face_id])
        by_owner = {name: sum(1 for m in owners if m and m.name == name) for name in "abc"}
        for emulator, name in zip(emulators, "abc", strict=True):
            assert emulator.stats.requests["Face_VerifyFaceToFace"] == by_owner[name]
            assert emulator.stats.requests["Face_FindSimilar"] == by_owner[name]
        first, other = face_ids[0], next(f for f, m in zip(face_ids, owners, strict=True)
                                         if m is not owners[0])  # fmt: skip
        assert first is not None
        assert other is not None
        before = sum(e.stats.total_requests for e in emulators)
        with pytest.raises(FaceValidationError, match="two resources"):
            await client.face.verify_face_to_face(first, other)
        assert sum(e.stats.total_requests for e in emulators) == before


async def test_identify_image_detects_on_a_resource_that_holds_the_group(
    emulators: list[Emulator],
) -> None:
    no_rate_limits(emulators)
    async with pool_client(emulators, staff="a") as client:
        await client.person_groups.create("staff", name="Staff")
        person = await client.person_group_persons.create("staff", name="Alice")
        await client.person_group_persons.add_face("staff", person.person_id, IMAGE)
        await client.person_groups.train("staff")
        await client.person_groups.wait_for_training("staff", poll_interval=0.05)
        for _ in range(6):
            [result] = await client.face.identify_image(IMAGE, person_group_id="staff")
            assert result.candidates[0].person_id == person.person_id
    a, b, c = emulators
    assert a.stats.requests["Face_Identify"] == detects(a) == 6
    assert a.stats.requests["PersonGroupPerson_Create"] == 1
    assert b.stats.total_requests == c.stats.total_requests == 0


async def test_a_dead_resource_loses_no_idempotent_call_and_comes_back_after_its_cool_down(
    emulators: list[Emulator],
) -> None:
    a, b, c = emulators
    async with pool_client(emulators, cool_down=5.0) as client:
        pool = client.resource_pool
        assert pool is not None
        clock = Clock()
        pool.clock = clock
        done = 0
        half = asyncio.Event()

        async def detect(_: int) -> object:
            nonlocal done
            result = await client.face.detect(IMAGE)
            done += 1
            if done == 45:
                half.set()
            return result

        async def kill_b() -> tuple[int, int, int]:
            await half.wait()
            before = (detects(a), detects(c), detects(b))
            await b.close()
            return before

        killer = asyncio.create_task(kill_b())
        results = await run_bounded(120, 40, detect)
        a_before, c_before, b_at_kill = await killer
        assert [r for r in results if isinstance(r, BaseException)] == []
        b_member = pool.members[1]
        assert b_member.cool_downs == 1
        assert b_member.cooled_down_until > clock.now
        # b answered nothing after it died: a and c answered every other call, in shares
        assert detects(a) + detects(c) >= 120 - b_at_kill
        assert detects(a) - a_before >= 20
        assert detects(c) - c_before >= 20
        # still cooled down: the next calls avoid b
        sent_to_b = b_member.calls
        results = await run_bounded(6, 6, lambda _: client.face.detect(IMAGE))
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert b_member.calls == sent_to_b

        revived = await start_emulator(b.key, b.port)
        try:
            clock.now += 5.1
            results = await run_bounded(30, 30, lambda _: client.face.detect(IMAGE))
            assert [r for r in results if isinstance(r, BaseException)] == []
            assert detects(revived) >= 5
            assert client.resource_pool is not None
            assert client.resource_pool.stats()["b"]["cool_downs"] == 1
        finally:
            await revived.close()


async def test_a_write_to_a_dead_resource_raises_and_is_never_sent_elsewhere(
    emulators: list[Emulator],
) -> None:
    a, b, c = emulators
    retry = RetryPolicy(max_tries=3, initial_delay=0.01, max_delay=0.02)
    async with pool_client(emulators, retry=retry) as client:
        await client.person_groups.create("staff", name="Staff")  # on a, its first holder
        person = await client.person_group_persons.create("staff", name="Alice")
        await a.close()
        sent_elsewhere = (b.stats.total_requests, c.stats.total_requests)
        with pytest.raises((OutcomeUnknownError, FaceConnectionError)):
            await client.person_group_persons.add_face("staff", person.person_id, IMAGE)
        with pytest.raises((OutcomeUnknownError, FaceConnectionError)):
            await client.person_group_persons.create("staff", name="Bob")
        assert (b.stats.total_requests, c.stats.total_requests) == sent_elsewhere
        # an idempotent read of the same group moves to its other holder
        with pytest.raises(PersonGroupNotFound):
            await client.person_groups.get("staff")
        assert b.stats.requests["PersonGroup_Get"] == 1


async def test_a_single_endpoint_client_has_no_pool(emulators: list[Emulator]) -> None:
    emulator = emulators[0]
    async with AsyncFaceClient(emulator.url, key=emulator.key) as client:
        assert client.resource_pool is None
        assert len(await client.face.detect(IMAGE)) == 1
    with pytest.raises(FaceValidationError):
        AsyncFaceClient.pool([])
    with pytest.raises(FaceValidationError, match="no resource named"):
        pool_client(emulators, default="zz")


async def test_a_streak_of_503s_cools_a_resource_down_and_a_503_write_stays_unknown(
    emulators: list[Emulator],
) -> None:
    no_rate_limits(emulators)
    a, b, c = emulators
    b.config.faults = [Fault("503", operations="*")]
    retry = RetryPolicy(max_tries=4, initial_delay=0.01, max_delay=0.02)
    async with pool_client(emulators, staff="b", retry=retry) as client:
        pool = client.resource_pool
        assert pool is not None
        results = await run_bounded(30, 10, lambda _: client.face.detect(IMAGE))
        assert [r for r in results if isinstance(r, BaseException)] == []
        b_member = pool.members[1]
        assert b_member.cool_downs == 1
        assert b_member.failures == b.stats.faults["503"] >= pool.failure_streak
        assert detects(a) + detects(c) == 30  # every 503 moved to another resource
        # a write to the group's holder: a 503 after sending is ambiguous, never re-sent
        others = (a.stats.total_requests, c.stats.total_requests)
        hits = b.stats.faults["503"]
        with pytest.raises(OutcomeUnknownError):
            await client.person_group_persons.create("staff", name="Bob")
        assert b.stats.faults["503"] == hits + 1
        assert (a.stats.total_requests, c.stats.total_requests) == others
