"""What every resource group shares: the call, structuring, paging, faces, training waits."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TypeVar

import attrs

import face_async._validation as v
from face_async._errors import (
    FaceTimeoutError,
    FaceValidationError,
    ResponseError,
    TrainingFailed,
    TrainingTimeout,
)
from face_async._http._endpoint import Endpoint
from face_async._http._operations import Operation
from face_async._http._transport import Timeout, Transport
from face_async._images import ImageInput, check_image_bytes, load_image
from face_async._models import (
    DetectionModel,
    ImageUrl,
    PersistedFace,
    TrainingStatus,
    TrainingStatusType,
    UpdateFaceRequest,
)

__all__ = [
    "FaceOps",
    "Resource",
    "Timeout",
    "TrainingMixin",
    "TrainingOps",
    "face_query",
    "image_variant",
    "page_query",
]

T = TypeVar("T")

DEFAULT_TRAINING_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_MAX_POLL_INTERVAL = 30.0
# The detection model the service uses when the request names none (add face, detect).
SERVICE_DETECTION_MODEL = DetectionModel.DETECTION_01


def page_query(start: str | None, top: int | None) -> dict[str, str]:
    """The start/top query of one page of a listing."""
    query: dict[str, str] = {}
    if start is not None:
        query["start"] = v.check_start(start)
    if top is not None:
        query["top"] = str(v.check_top(top))
    return query


def face_query(
    detection_model: str, user_data: str | None, target_face: v.TargetFace | None
) -> dict[str, str]:
    """The query of an add-face request; the service's default detection model is left out."""
    query: dict[str, str] = {}
    detection = v.detection_model(detection_model)
    if detection != SERVICE_DETECTION_MODEL:
        query["detectionModel"] = detection
    face_user_data = v.check_user_data(user_data, v.FACE_USER_DATA_MAX)
    if face_user_data is not None:
        query["userData"] = face_user_data
    if target_face is not None:
        query["targetFace"] = v.target_face(target_face)
    return query


def image_variant(
    image: ImageInput, url_op: Operation, stream_op: Operation
) -> tuple[Operation, ImageUrl | None]:
    """The operation variant for an image and, for the URL variant, its JSON body."""
    if image.url is not None:
        return url_op, ImageUrl(url=image.url)
    return stream_op, None


@attrs.frozen
class TrainingOps:
    """The train / get-training-status pair of one trainable resource kind."""

    train: Operation
    status: Operation
    id_name: str


@attrs.frozen
class FaceOps:
    """Add (URL and stream variants), get, update and delete of one kind of persisted face."""

    add_from_url: Operation
    add_from_stream: Operation
    delete: Operation
    get: Operation | None = None
    update: Operation | None = None


class Resource:
    """Base of the resource groups: one transport, one endpoint.

    JSON bodies are request models (``IdentifyRequest``, ``MetaDataContract``, ...): the
    transport unstructures them with ``_converter`` (camelCase keys, None fields left out), so
    wire names live in the models alone. Responses are structured by the transport too
    (``model=``), which maps any misfit to ``ResponseError``; resources never do.

    The helpers return the transport's awaitable (no coroutine of their own).
    """

    __slots__ = ("_endpoint", "_transport")

    def __init__(self, transport: Transport, endpoint: Endpoint) -> None:
        self._transport = transport
        self._endpoint = endpoint

    def _call(
        self,
        op: Operation,
        path_args: tuple[str, ...] = (),
        *,
        query: Mapping[str, str] | None = None,
        json: object = None,
        data: bytes | None = None,
        timeout: Timeout | None = None,
    ) -> Awaitable[object]:
        return self._transport.call(
            self._endpoint, op, path_args, query=query, json=json, data=data, timeout=timeout
        )

    def _call_model(
        self,
        cls: type[T],
        op: Operation,
        path_args: tuple[str, ...] = (),
        *,
        query: Mapping[str, str] | None = None,
        json: object = None,
        data: bytes | None = None,
        timeout: Timeout | None = None,
    ) -> Awaitable[T]:
        return self._transport.call(
            self._endpoint, op, path_args, query=query, json=json, data=data, timeout=timeout,
            model=cls,
        )  # fmt: skip

    def _call_list(
        self,
        cls: type[T],
        op: Operation,
        path_args: tuple[str, ...] = (),
        *,
        query: Mapping[str, str] | None = None,
        json: object = None,
        data: bytes | None = None,
        timeout: Timeout | None = None,
    ) -> Awaitable[builtins.list[T]]:
        model: type[builtins.list[T]] = builtins.list[cls]  # type: ignore[valid-type]
        return self._call_model(
            model, op, path_args, query=query, json=json, data=data, timeout=timeout
        )

    def _call_for_operation_location(
        self, op: Operation, path_args: tuple[str, ...], *, json: object, timeout: Timeout | None
    ) -> Awaitable[str]:
        """Send a 202-accepted operation; the operation id from its Operation-Location."""
        return self._transport.call_for_operation_location(
            self._endpoint, op, path_args, json=json, timeout=timeout
        )

    def _pages(
        self,
        cls: type[T],
        op: Operation,
        path_args: tuple[str, ...],
        *,
        key: Callable[[T], str],
        start: str | None,
        page_size: int,
        query: Mapping[str, str] | None = None,
        timeout: Timeout | None,
    ) -> AsyncIterator[T]:
        """Every item of a start/top listing, fetching ``page_size`` items per request."""
        # Checked here, not in the generator, so bad arguments fail at the call.
        v.check_top(page_size, "page_size")
        cursor = None if start is None else v.check_start(start)
        return self._page_items(cls, op, path_args, key, cursor, page_size, query, timeout)

    async def _page_items(
        self,
        cls: type[T],
        op: Operation,
        path_args: tuple[str, ...],
        key: Callable[[T], str],
        cursor: str | None,
        page_size: int,
        query: Mapping[str, str] | None,
        timeout: Timeout | None,
    ) -> AsyncIterator[T]:
        while True:
            params = dict(query or {}, top=str(page_size))
            if cursor:
                params["start"] = cursor
            page = await self._call_list(cls, op, path_args, query=params, timeout=timeout)
            for item in page:
                yield item
            if len(page) < page_size:
                return
            following = key(page[-1])
            if not following or following == cursor:
                # A server that ignores ``start`` (or a full page ending in an empty id) would
                # page forever; say so instead.
                raise ResponseError(
                    200,
                    "",
                    reason=f"{op.operation_id}: paging did not advance past start={cursor!r}",
                )
            cursor = following

    def _add_face(
        self,
        ops: FaceOps,
        path_args: tuple[str, ...],
        image: object,
        user_data: str | None,
        target_face: v.TargetFace | None,
        detection_model: str,
        timeout: Timeout | None,
    ) -> Awaitable[PersistedFace]:
        """Check every argument now; return the request for the caller to await at once.

        A plain method, not a coroutine: for bytes (the common case) all the checks are
        synchronous, so the transport's call is returned as is, one coroutine less per call.
        Other image inputs are read (files off the event loop) by ``_add_face_loading``.
        """
        defaults = (
            detection_model is SERVICE_DETECTION_MODEL and user_data is None and target_face is None
        )
        query = None if defaults else face_query(detection_model, user_data, target_face)
        if image.__class__ is bytes:
            return self._call_model(
                PersistedFace, ops.add_from_stream, path_args, query=query,
                data=check_image_bytes(image), timeout=timeout,
            )  # fmt: skip
        return self._add_face_loading(ops, path_args, image, query, timeout)

    async def _add_face_loading(
        self,
        ops: FaceOps,
        path_args: tuple[str, ...],
        image: object,
        query: dict[str, str] | None,
        timeout: Timeout | None,
    ) -> PersistedFace:
        loaded = await load_image(image)
        op, body = image_variant(loaded, ops.add_from_url, ops.add_from_stream)
        return await self._call_model(
            PersistedFace, op, path_args, query=query, json=body, data=loaded.data,
            timeout=timeout,
        )  # fmt: skip

    async def _get_face(
        self, op: Operation | None, path_args: tuple[str, ...], timeout: Timeout | None
    ) -> PersistedFace:
        assert op is not None
        return await self._call_model(PersistedFace, op, path_args, timeout=timeout)

    async def _update_face(
        self,
        op: Operation | None,
        path_args: tuple[str, ...],
        user_data: str | None,
        timeout: Timeout | None,
    ) -> None:
        assert op is not None
        body = UpdateFaceRequest(user_data=v.check_user_data(user_data, v.FACE_USER_DATA_MAX))
        await self._call(op, path_args, json=body, timeout=timeout)


class TrainingMixin(Resource):
    """train / get_training_status / wait_for_training, shared by every trainable kind."""

    __slots__ = ()
    _training: TrainingOps

    async def train(self, resource_id: str, /, *, timeout: Timeout | None = None) -> None:
        """Queue a training task (202 Accepted); poll with wait_for_training().

        Raises the kind's NotFound subclass when the resource does not exist.
        """
        resource_id = v.check_id(resource_id, self._training.id_name)
        await self._call(self._training.train, (resource_id,), timeout=timeout)

    async def get_training_status(
        self, resource_id: str, /, *, timeout: Timeout | None = None
    ) -> TrainingStatus:
        """The status of the last training (``nonstarted``, ``running``, ``succeeded``, ``failed``).

        Raises the kind's NotFound subclass when the resource does not exist or was never
        trained.
        """
        resource_id = v.check_id(resource_id, self._training.id_name)
        return await self._call_model(
            TrainingStatus, self._training.status, (resource_id,), timeout=timeout
        )

    async def wait_for_training(
        self,
        resource_id: str,
        /,
        *,
        timeout: float = DEFAULT_TRAINING_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        request_timeout: Timeout | None = None,
    ) -> TrainingStatus:
        """Poll the training status until it settles, waiting longer between polls each time.

        Delays start at ``poll_interval`` seconds and double up to ``max_poll_interval``;
        ``request_timeout`` overrides the client's timeout of each status request.
        Returns the final TrainingStatus when training succeeded. Raises TrainingFailed (with
        the service's message) when it failed, and TrainingTimeout when it has not settled
        within ``timeout`` seconds.
        """
        resource_id = v.check_id(resource_id, self._training.id_name)
        bounds = {
            "timeout": timeout, "poll_interval": poll_interval,
            "max_poll_interval": max_poll_interval,
        }  # fmt: skip
        for name, value in bounds.items():
            if not value > 0:
                raise FaceValidationError(f"{name}: must be > 0", parameter=name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = poll_interval
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                status = await asyncio.wait_for(
                    self.get_training_status(resource_id, timeout=request_timeout),
                    timeout=remaining,
                )
            except FaceTimeoutError:
                raise  # one status request timed out: the transport's verdict, not ours
            except asyncio.TimeoutError:
                break
            state = _status_value(status.status)
            if state == TrainingStatusType.SUCCEEDED.value:
                return status
            if state == TrainingStatusType.FAILED.value:
                raise TrainingFailed(status.message or "training failed")
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, max_poll_interval)
        raise TrainingTimeout(
            f"training of {self._training.id_name} {resource_id!r} did not finish "
            f"within {timeout} seconds"
        )


def _status_value(status: object) -> str:
    return str(status.value) if isinstance(status, TrainingStatusType) else str(status)
