"""Every route of the Face API v1.0 (and the v1.2-preview.1 LargePersonGroup subset).

Each route is named with the spec's operationId; the middlewares read the request's operation
with :func:`resolve` (worked out once per request). Routes registered under the v1.2-preview.1
prefix (for azure-ai-vision-face) are named ``<operationId>:v1_2``; :func:`operation_id` strips
the suffix.
Fixed path segments match case-insensitively (``persistedFaces`` and ``persistedfaces``): aiohttp
sends every request to one catch-all route and the emulator's own table (``_dispatch``) finds the
operation.
"""

from __future__ import annotations

from aiohttp import web

from . import _routes_face as face
from . import _routes_groups as groups
from . import _routes_lists as lists
from . import _routes_snapshots as snapshots
from ._clock import Clock
from ._dispatch import Accept, Route, RouteMatch, Router, route_match
from ._limits import ServiceLimits
from ._routes_common import (
    Context,
    Handler,
    bind,
    is_face_to_person,
    is_stream,
    json_response,
)
from ._state import EmulatorState

__all__ = [
    "API_PREFIX",
    "NOT_FOUND_ROUTE",
    "OPERATION_IDS",
    "ROUTER_KEY",
    "V12_PREFIX",
    "add_routes",
    "operation_id",
    "resolve",
]

API_PREFIX = "/face/v1.0"
V12_PREFIX = "/face/v1.2-preview.1"
_V12_SUFFIX = ":v1_2"

_Route = tuple[str, str, str, Handler, Accept | None]


def _face_routes() -> list[_Route]:
    return [
        ("POST", "/detect", "Face_DetectWithStream", face.detect, is_stream),
        ("POST", "/detect", "Face_DetectWithUrl", face.detect, None),
        ("POST", "/findsimilars", "Face_FindSimilar", face.find_similar, None),
        ("POST", "/group", "Face_Group", face.group, None),
        ("POST", "/identify", "Face_Identify", face.identify, None),
        ("POST", "/verify", "Face_VerifyFaceToPerson", face.verify_face_to_person,
         is_face_to_person),
        ("POST", "/verify", "Face_VerifyFaceToFace", face.verify_face_to_face, None),
    ]  # fmt: skip


def _group_routes(kind: groups.GroupKind, op: str, coll: str) -> list[_Route]:
    h = groups.handlers(kind)
    one = f"/{coll}/{{{kind.id_key}}}"
    person = f"{one}/persons/{{personId}}"
    face_ = f"{person}/persistedfaces/{{persistedFaceId}}"
    return [
        ("PUT", one, f"{op}_Create", h["create"], None),
        ("GET", one, f"{op}_Get", h["get"], None),
        ("PATCH", one, f"{op}_Update", h["update"], None),
        ("DELETE", one, f"{op}_Delete", h["delete"], None),
        ("GET", f"/{coll}", f"{op}_List", h["list"], None),
        ("POST", f"{one}/train", f"{op}_Train", h["train"], None),
        ("GET", f"{one}/training", f"{op}_GetTrainingStatus", h["training"], None),
        ("POST", f"{one}/persons", f"{op}Person_Create", h["person_create"], None),
        ("GET", f"{one}/persons", f"{op}Person_List", h["person_list"], None),
        ("GET", person, f"{op}Person_Get", h["person_get"], None),
        ("PATCH", person, f"{op}Person_Update", h["person_update"], None),
        ("DELETE", person, f"{op}Person_Delete", h["person_delete"], None),
        ("POST", f"{person}/persistedfaces", f"{op}Person_AddFaceFromStream", h["add_face"],
         is_stream),
        ("POST", f"{person}/persistedfaces", f"{op}Person_AddFaceFromUrl", h["add_face"], None),
        ("GET", face_, f"{op}Person_GetFace", h["face_get"], None),
        ("PATCH", face_, f"{op}Person_UpdateFace", h["face_update"], None),
        ("DELETE", face_, f"{op}Person_DeleteFace", h["face_delete"], None),
    ]  # fmt: skip


def _list_routes(kind: lists.ListKind, op: str, coll: str) -> list[_Route]:
    h = lists.handlers(kind)
    one = f"/{coll}/{{{kind.id_key}}}"
    faces = f"{one}/persistedfaces"
    face_ = f"{faces}/{{persistedFaceId}}"
    routes: list[_Route] = [
        ("PUT", one, f"{op}_Create", h["create"], None),
        ("GET", one, f"{op}_Get", h["get"], None),
        ("PATCH", one, f"{op}_Update", h["update"], None),
        ("DELETE", one, f"{op}_Delete", h["delete"], None),
        ("GET", f"/{coll}", f"{op}_List", h["list"], None),
        ("POST", faces, f"{op}_AddFaceFromStream", h["add_face"], is_stream),
        ("POST", faces, f"{op}_AddFaceFromUrl", h["add_face"], None),
        ("DELETE", face_, f"{op}_DeleteFace", h["face_delete"], None),
    ]
    if kind.large:
        routes += [
            ("POST", f"{one}/train", f"{op}_Train", h["train"], None),
            ("GET", f"{one}/training", f"{op}_GetTrainingStatus", h["training"], None),
            ("GET", face_, f"{op}_GetFace", h["face_get"], None),
            ("PATCH", face_, f"{op}_UpdateFace", h["face_update"], None),
            ("GET", faces, f"{op}_ListFaces", h["face_list"], None),
        ]
    return routes


def _snapshot_routes() -> list[_Route]:
    return [
        ("POST", "/snapshots", "Snapshot_Take", snapshots.take, None),
        ("GET", "/snapshots", "Snapshot_List", snapshots.list_snapshots, None),
        ("GET", "/snapshots/{snapshotId}", "Snapshot_Get", snapshots.get, None),
        ("PATCH", "/snapshots/{snapshotId}", "Snapshot_Update", snapshots.update, None),
        ("DELETE", "/snapshots/{snapshotId}", "Snapshot_Delete", snapshots.delete, None),
        ("POST", "/snapshots/{snapshotId}/apply", "Snapshot_Apply", snapshots.apply, None),
        ("GET", "/operations/{operationId}", "Snapshot_GetOperationStatus",
         snapshots.operation_status, None),
    ]  # fmt: skip


def v1_routes() -> list[_Route]:
    """Every Face API v1.0 operation, relative to ``/face/v1.0``."""
    return [
        *_face_routes(),
        *_group_routes(groups.PERSON_GROUP, "PersonGroup", "persongroups"),
        *_group_routes(groups.LARGE_PERSON_GROUP, "LargePersonGroup", "largepersongroups"),
        *_list_routes(lists.FACE_LIST, "FaceList", "facelists"),
        *_list_routes(lists.LARGE_FACE_LIST, "LargeFaceList", "largefacelists"),
        *_snapshot_routes(),
    ]


# What azure-ai-vision-face (which speaks v1.2-preview.1) calls to enroll into a large person
# group and train it; its train answers 202 with an operation-Location to poll.
_V12_OPERATIONS = frozenset(
    {
        "Face_DetectWithStream",
        "Face_DetectWithUrl",
        "Face_Identify",
        "LargePersonGroup_Create",
        "LargePersonGroup_Get",
        "LargePersonGroup_Delete",
        "LargePersonGroup_Train",
        "LargePersonGroup_GetTrainingStatus",
        "LargePersonGroupPerson_Create",
        "LargePersonGroupPerson_Get",
        "LargePersonGroupPerson_List",
        "LargePersonGroupPerson_AddFaceFromStream",
        "LargePersonGroupPerson_AddFaceFromUrl",
        "Snapshot_GetOperationStatus",
    }
)

OPERATION_IDS: tuple[str, ...] = tuple(name for _, _, name, _, _ in v1_routes())


def operation_id(route_name: str) -> str:
    """The spec operationId of a route name (drops the ``:v1_2`` suffix)."""
    return route_name.removesuffix(_V12_SUFFIX)


ROUTER_KEY = web.AppKey("face_emulator_router", Router)
NOT_FOUND_ROUTE = "ResourceNotFound"
_CATCH_ALL = "face_api"


def add_routes(
    app: web.Application, *, state: EmulatorState, limits: ServiceLimits, clock: Clock
) -> Router:
    """Register every operation on ``app``; ``state.clock`` becomes ``clock``.

    Add the application's other routes before: the catch-all added here answers the service's
    JSON 404 for any path no operation matches.
    """
    state.clock = clock
    ctx = Context(state=state, limits=limits, clock=clock)
    router = Router()
    for method, path, name, handler, accept in v1_routes():
        router.add(Route(method, API_PREFIX + path, name, bind(ctx, handler), accept))
    for method, path, name, handler, accept in v1_routes():
        if name in _V12_OPERATIONS:
            router.add(
                Route(method, V12_PREFIX + path, name + _V12_SUFFIX, bind(ctx, handler), accept)
            )
    app[ROUTER_KEY] = router
    app.router.add_route("*", "/{tail:.*}", _dispatch, name=_CATCH_ALL)
    return router


async def resolve(request: web.Request) -> RouteMatch | None:
    """The operation ``request`` calls (worked out once per request), or None."""
    return await route_match(request, request.app[ROUTER_KEY])


async def _dispatch(request: web.Request) -> web.StreamResponse:
    found = await resolve(request)
    if found is None:
        return json_response({"error": {"code": "404", "message": "Resource not found"}}, 404)
    return await found.route.endpoint(request)
