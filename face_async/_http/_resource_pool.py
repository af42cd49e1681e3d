"""A pool of Face resources behind one client: routing by load, faceId and group; failover.

The transport asks :meth:`ResourcePool.route` where a call may go (a :class:`Route`: its
candidate members, and whether an attempt may move between them), :meth:`ResourcePool.pick`
for the member of each attempt, tells :meth:`ResourcePool.observe` what each attempt got,
and :meth:`ResourcePool.learn` the faceIds a detect returned. Nothing here does I/O.

Routing, by what the call carries:

- faceIds this pool detected: the resource that made them (they exist nowhere else); faceIds
  of two resources in one call raise FaceValidationError before anything is sent;
- a person group / large person group / face list id: the resources declared to hold it
  (``Resource(groups=...)``), else the default resource. Reads are spread over the holders;
  anything else (create, add face, train, delete, ...) goes to the first holder only;
- no faceId and no group (detect, verify face-to-face, find similar or group on faceIds
  detected elsewhere): the member whose gate would admit a call soonest, in proportion to its
  rate (inside :func:`near_group`, only the holders of that group);
- the rest (listings of groups, snapshots): the default resource.

A member that fails (a connection error, or ``failure_streak`` 5xx/timeouts in a row) is
cooled down for ``cool_down`` seconds: calls that may go elsewhere avoid it. Only calls whose
route is movable (idempotent operations routed by load or to a group's readers) change member
on a retry; a write never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import attrs

from face_async._errors import FaceConnectionError, FaceValidationError

from ._decide import Answer, NoAnswer
from ._endpoint import Endpoint, TokenProvider
from ._operations import Operation

__all__ = [
    "DEFAULT_FACE_ID_TTL",
    "Member",
    "Resource",
    "ResourcePool",
    "Route",
    "load_score",
    "near_group",
]

logger = logging.getLogger("face_async")

#: How long the service keeps a faceId when the detect does not say (seconds).
DEFAULT_FACE_ID_TTL = 86400.0
DEFAULT_COOL_DOWN = 30.0
DEFAULT_FAILURE_STREAK = 3
DEFAULT_MAX_FACE_IDS = 1_000_000

# The path prefixes whose first argument is a group or list id.
_GROUP_PATHS = ("/persongroups/{", "/largepersongroups/{", "/facelists/{", "/largefacelists/{")
# The request-model fields that name a group or list, and those that carry faceIds.
_GROUP_FIELDS = ("person_group_id", "large_person_group_id", "face_list_id", "large_face_list_id")
_FACE_ID_FIELDS = ("face_id", "face_id1", "face_id2")
_FACE_CALLS = frozenset({"/verify", "/findsimilars", "/group", "/identify"})

_near_group: ContextVar[str | None] = ContextVar("face_async_near_group", default=None)


@contextlib.contextmanager
def near_group(group_id: str | None) -> Iterator[None]:
    """Within this block, calls routed by load go only to resources that hold ``group_id``.

    This is how ``face.identify_image`` detects on a resource that can identify the faces.
    """
    token = _near_group.set(group_id)
    try:
        yield
    finally:
        _near_group.reset(token)


def _frozen_groups(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset((value,))
    return frozenset(str(group) for group in value)  # type: ignore[attr-defined]


@attrs.frozen(kw_only=True)
class Resource:
    """One Face resource of a pool: its endpoint (region name or URL) and credential.

    ``tps`` is its quota (calls per second; also its weight when calls are spread);
    ``groups`` the ids of the person groups, large person groups and face lists it holds;
    ``name`` labels it in stats and errors (default: the endpoint). Give exactly one of
    ``key`` and ``token_provider``; neither appears in the repr.
    """

    endpoint: str = attrs.field(kw_only=False)
    key: str | None = attrs.field(default=None, repr=False)
    token_provider: TokenProvider | None = attrs.field(default=None, repr=False)
    tps: float | None = None
    groups: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_groups)
    name: str | None = None


class Member:
    """One resource in a pool: its endpoint and its health counters."""

    __slots__ = (
        "assigned",
        "calls",
        "cool_downs",
        "cooled_down_until",
        "endpoint",
        "failures",
        "groups",
        "index",
        "name",
        "streak",
    )

    def __init__(self, index: int, name: str, endpoint: Endpoint, groups: frozenset[str]) -> None:
        self.index = index
        self.name = name
        self.endpoint = endpoint
        self.groups = groups
        self.calls = 0  #: attempts sent to this resource
        self.failures = 0  #: attempts that got no answer, a 5xx or a timeout
        self.cool_downs = 0  #: times it was taken out
        self.cooled_down_until = 0.0  #: pool-clock time before which it is avoided
        self.streak = 0  #: failures in a row
        self.assigned = 0  #: attempts picked for it by load (ties go to the least assigned)

    def as_dict(self) -> dict[str, Any]:
        """A snapshot of the counters."""
        return {
            "url": self.endpoint.base_url,
            "calls": self.calls,
            "failures": self.failures,
            "cool_downs": self.cool_downs,
            "cooled_down_until": self.cooled_down_until,
        }

    def __repr__(self) -> str:
        return (
            f"Member({self.name!r}, {self.endpoint.base_url!r}, calls={self.calls}, "
            f"failures={self.failures}, cooled_down_until={self.cooled_down_until:.3f})"
        )


@attrs.frozen
class Route:
    """Where one call may go: its candidates, and whether a retry may move between them.

    ``face_id_ttl`` is set for a detect (its faceIds are remembered for that long).
    """

    candidates: tuple[Member, ...]
    movable: bool
    face_id_ttl: float | None = None


def load_score(endpoint: Endpoint, now: float) -> float:
    """Seconds until the endpoint's gate would admit one more call (lower is freer).

    The gate's own wait (429 pause, rate spacing), plus the callers already queued at its
    rate; ``now`` is the event loop's time.
    """
    gate = endpoint.gate
    # The gate's wait for its next admission (same package: the pause and the rate spacing).
    delay = max(0.0, gate._delay(now))
    tps = gate.tps
    if tps:
        return delay + gate.waiting / tps
    return delay + gate.waiting * 1e-3


class ResourcePool:
    """Members (resources) with routing and health; shared by a client and its resource groups.

    ``default`` is the member that gets calls bound to no faceId, group or load (an index);
    ``cool_down`` seconds a failing member is avoided; ``failure_streak`` 5xx or timeouts in a
    row take a member out (a connection error does at once); ``max_face_ids`` bounds the faceId
    memory. ``clock`` (monotonic seconds) times cool-downs and faceId expiry.
    """

    def __init__(
        self,
        members: Sequence[Member],
        *,
        default: int = 0,
        cool_down: float = DEFAULT_COOL_DOWN,
        failure_streak: int = DEFAULT_FAILURE_STREAK,
        max_face_ids: int = DEFAULT_MAX_FACE_IDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not members:
            raise FaceValidationError("a pool needs at least one resource", parameter="resources")
        if not 0 <= default < len(members):
            raise FaceValidationError("default is not a member of the pool", parameter="default")
        if not (isinstance(cool_down, (int, float)) and cool_down >= 0):
            raise FaceValidationError("cool_down must be >= 0 seconds", parameter="cool_down")
        if not (isinstance(failure_streak, int) and failure_streak >= 1):
            raise FaceValidationError(
                "failure_streak must be an integer >= 1", parameter="failure_streak"
            )
        self.members = tuple(members)
        self.default = self.members[default]
        self.cool_down = float(cool_down)
        self.failure_streak = failure_streak
        self.max_face_ids = max_face_ids
        self.clock = clock
        self._face_ids: dict[str, tuple[Member, float]] = {}
        self._all = Route(self.members, movable=True)
        self._holders: dict[str, tuple[Member, ...]] = {}
        for member in self.members:
            for group in member.groups:
                self._holders[group] = (*self._holders.get(group, ()), member)

    # -- routing -----------------------------------------------------------------------------

    def holders(self, group_id: str) -> tuple[Member, ...]:
        """The members that hold a group or list (the default member when none declares it)."""
        return self._holders.get(group_id) or (self.default,)

    def member_of(self, face_id: str) -> Member | None:
        """The member that detected ``face_id``, if remembered and not expired."""
        entry = self._face_ids.get(face_id)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._face_ids[face_id]
            return None
        return entry[0]

    def route(
        self,
        op: Operation,
        path_args: tuple[str, ...],
        query: Mapping[str, object] | None,
        json: object,
    ) -> Route:
        """Where a call may go. Raises FaceValidationError (nothing sent) for faceIds of two
        resources, or faceIds of a resource that does not hold the call's group."""
        path = op.path
        if path == "/detect":
            ttl = DEFAULT_FACE_ID_TTL
            if query and "faceIdTimeToLive" in query:
                ttl = float(str(query["faceIdTimeToLive"]))
            near = _near_group.get()
            candidates = self.members if near is None else self.holders(near)
            return Route(candidates, movable=op.idempotent, face_id_ttl=ttl)
        if path in _FACE_CALLS:
            group = _group_in(json)
            pinned = self._pinned(json, group)
            if pinned is not None:
                return Route((pinned,), movable=False)
            if group is not None:
                return Route(self.holders(group), movable=op.idempotent)
            near = _near_group.get()
            if near is not None:
                return Route(self.holders(near), movable=op.idempotent)
            return self._all if op.idempotent else Route(self.members, movable=False)
        if path_args and path.startswith(_GROUP_PATHS):
            holders = self.holders(path_args[0])
            if op.method == "GET":
                return Route(holders, movable=op.idempotent)
            return Route(holders[:1], movable=False)  # a write goes to the first holder only
        return Route((self.default,), movable=False)

    def _pinned(self, json: object, group: str | None) -> Member | None:
        found: Member | None = None
        for face_id in _face_ids_in(json):
            member = self.member_of(face_id)
            if member is None:
                continue
            if found is not None and member is not found:
                raise FaceValidationError(
                    f"the faceIds come from two resources ({found.name!r} and {member.name!r}) "
                    "of the pool; detect them on one resource",
                    parameter="face_ids",
                )
            found = member
        if found is not None and group is not None and found not in self.holders(group):
            held_by = ", ".join(repr(m.name) for m in self.holders(group))
            raise FaceValidationError(
                f"the faceIds were detected on resource {found.name!r}, which does not hold "
                f"{group!r} (held by {held_by}); detect on a resource that holds it, for "
                "example with face.identify_image()",
                parameter="face_ids",
            )
        return found

    def pick(
        self, route: Route, *, avoid: Member | None = None, now: float | None = None
    ) -> Member:
        """The candidate for the next attempt: healthy (not cooled down, not ``avoid``) if any,
        then the one whose gate admits soonest for its rate; ties go to the fewest calls per
        unit of rate, then to pool order."""
        candidates = route.candidates
        if len(candidates) == 1:
            return candidates[0]
        clock_now = self.clock() if now is None else now
        healthy = (
            [m for m in candidates if m.cooled_down_until <= clock_now and m is not avoid]
            or [m for m in candidates if m.cooled_down_until <= clock_now]
            or list(candidates)
        )
        if len(healthy) == 1:
            chosen = healthy[0]
        else:
            loop_now = asyncio.get_running_loop().time() if now is None else now
            chosen = min(healthy, key=lambda m: _rank(m, loop_now))
        chosen.assigned += 1
        return chosen

    # -- outcomes ----------------------------------------------------------------------------

    def observe(self, member: Member, happened: Answer | NoAnswer) -> None:
        """Count one attempt's outcome; cool the member down on a connection error or after
        ``failure_streak`` failures in a row (a 5xx or a timeout)."""
        member.calls += 1
        if isinstance(happened, Answer):
            if happened.status < 500:
                member.streak = 0
                return
        elif isinstance(happened.error, FaceConnectionError):
            member.failures += 1
            self._cool(member)
            return
        member.failures += 1
        member.streak += 1
        if member.streak >= self.failure_streak:
            self._cool(member)

    def _cool(self, member: Member) -> None:
        until = self.clock() + self.cool_down
        was_healthy = member.cooled_down_until <= self.clock()
        member.cooled_down_until = max(member.cooled_down_until, until)
        member.streak = 0
        if was_healthy:
            member.cool_downs += 1
            logger.warning(
                "resource %r failing: cooled down for %.0f s", member.name, self.cool_down
            )

    def learn(self, route: Route, member: Member, value: object) -> None:
        """Remember which member made the faceIds of a detect's result (bounded, expiring)."""
        ttl = route.face_id_ttl
        if ttl is None or not isinstance(value, list):
            return
        face_ids = self._face_ids
        now = self.clock()
        expires = now + ttl
        for face in value:
            face_id = getattr(face, "face_id", None)
            if face_id:
                face_ids[face_id] = (member, expires)
        # Oldest first (insertion order): drop the expired and anything past the bound.
        while face_ids:
            oldest = next(iter(face_ids))
            if len(face_ids) <= self.max_face_ids and face_ids[oldest][1] > now:
                break
            del face_ids[oldest]

    def stats(self) -> dict[str, dict[str, Any]]:
        """Counters per member name: url, calls, failures, cool_downs, cooled_down_until."""
        return {member.name: member.as_dict() for member in self.members}

    def __repr__(self) -> str:
        names = ", ".join(f"{m.name}={m.endpoint.base_url}" for m in self.members)
        return f"<ResourcePool [{names}] default={self.default.name!r}>"


def _rank(member: Member, now: float) -> tuple[float, float, int]:
    tps = member.endpoint.gate.tps or 1.0
    return (load_score(member.endpoint, now), member.assigned / tps, member.index)


def _group_in(json: object) -> str | None:
    for field in _GROUP_FIELDS:
        value = getattr(json, field, None)
        if value is not None:
            return str(value)
    return None


def _face_ids_in(json: object) -> Iterator[str]:
    for field in _FACE_ID_FIELDS:
        value = getattr(json, field, None)
        if value is not None:
            yield str(value)
    many = getattr(json, "face_ids", None)
    if many is not None:
        yield from many
