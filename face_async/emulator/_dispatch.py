"""The emulator's own dispatch table, behind one public aiohttp catch-all route.

aiohttp matches fixed path segments case-sensitively, while clients send both
``persistedFaces`` and ``persistedfaces`` (and ``/PersonGroups/...``). So aiohttp routes
everything to one catch-all handler, and the operation is found here: a path is split into
segments, and for each placeholder layout registered for its (method, segment count) the
lowercased fixed segments are one dict lookup. Operations sharing a method and path (the URL and
stream variants, the two verify operations) are told apart by ``accept``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from operator import itemgetter
from typing import Any, Final, NamedTuple, cast
from urllib.parse import unquote

import attrs
from aiohttp import web

__all__ = ["Accept", "Endpoint", "Route", "RouteMatch", "Router", "route_match"]

Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]
Accept = Callable[[web.Request], Awaitable[bool]]

# Where the match of a request is kept (aiohttp requests are mappings for per-request data);
# aiohttp releases before RequestKey take a string key.
_MATCH_KEY: Final[Any] = (
    web.RequestKey("face_emulator_route_match", object)
    if hasattr(web, "RequestKey")
    else "face_emulator_route_match"
)
_NO_MATCH: Final = object()


@attrs.frozen
class Route:
    """One operation: ``method`` and ``template`` (``{name}`` segments are placeholders)."""

    method: str
    template: str
    name: str
    endpoint: Endpoint
    accept: Accept | None = None


class RouteMatch(NamedTuple):
    """The operation a request resolved to, with its decoded path parameters."""

    route: Route
    params: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.route.name


def _split(path: str) -> list[str]:
    parts = path[1:].split("/")
    return [unquote(part) for part in parts] if "%" in path else parts


class _Layout(NamedTuple):
    """Where a path shape has its placeholders: getters of the fixed and variable segments."""

    fixed: Callable[[list[str]], tuple[str, ...]]
    variable: Callable[[list[str]], tuple[str, ...]]


def _getter(positions: tuple[int, ...]) -> Callable[[list[str]], tuple[str, ...]]:
    if not positions:
        return lambda _: ()
    pick = itemgetter(*positions)
    if len(positions) == 1:
        return lambda parts: (pick(parts),)
    return pick


class Router:
    """Routes by (method, fixed segments in any case, placeholders) to a named endpoint."""

    def __init__(self) -> None:
        self._registered: list[Route] = []
        # (method, segment count) -> placeholder layouts, fewest placeholders first
        self._layouts: dict[tuple[str, int], list[tuple[tuple[int, ...], _Layout]]] = {}
        # (method, placeholder positions, fixed segments lowercased) -> candidates
        self._table: dict[
            tuple[str, tuple[int, ...], tuple[str, ...]], list[tuple[Route, tuple[str, ...]]]
        ] = {}

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every route, in registration order."""
        return tuple(self._registered)

    def add(self, route: Route) -> None:
        """Register ``route``; among routes of one method and path, the first accepting wins."""
        segments = route.template.strip("/").split("/")
        names: list[str] = []
        variable: list[int] = []
        fixed: list[int] = []
        for index, segment in enumerate(segments):
            if segment.startswith("{") and segment.endswith("}"):
                names.append(segment[1:-1])
                variable.append(index)
            else:
                fixed.append(index)
        method = route.method.upper()
        layouts = self._layouts.setdefault((method, len(segments)), [])
        positions = tuple(variable)
        if all(known != positions for known, _ in layouts):
            layouts.append((positions, _Layout(_getter(tuple(fixed)), _getter(positions))))
            layouts.sort(key=lambda entry: len(entry[0]))
        key = (method, positions, tuple(segments[i].lower() for i in fixed))
        self._table.setdefault(key, []).append((route, tuple(names)))
        self._registered.append(route)

    async def resolve(self, request: web.Request) -> RouteMatch | None:
        """The operation ``request`` calls, or None (the service answers 404 then)."""
        path = request.rel_url.raw_path
        if len(path) > 1 and path[-1] == "/":
            path = path[:-1]
        method = request.method
        segments = _split(path)
        layouts = self._layouts.get((method, len(segments)))
        if layouts is None:
            return None
        lowered = _split(path.lower())
        for positions, layout in layouts:
            candidates = self._table.get((method, positions, layout.fixed(lowered)))
            if candidates is None:
                continue
            values = layout.variable(segments)
            if not all(values):
                continue
            for route, names in candidates:
                if route.accept is None or await route.accept(request):
                    return RouteMatch(route, dict(zip(names, values, strict=True)))
        return None


async def route_match(request: web.Request, router: Router) -> RouteMatch | None:
    """``router.resolve(request)``, worked out once per request and kept on it."""
    found = request.get(_MATCH_KEY, _NO_MATCH)
    if found is _NO_MATCH:
        resolved = await router.resolve(request)
        request[_MATCH_KEY] = resolved
        return resolved
    return cast("RouteMatch | None", found)


def matched(request: web.Request) -> RouteMatch:
    """The match already worked out for ``request``; raises LookupError before dispatch."""
    found = request.get(_MATCH_KEY)
    if not isinstance(found, RouteMatch):
        raise LookupError("the request has not been dispatched to an operation")
    return found
