"""Face lists and large face lists: metadata, faces, listing and (large lists) training."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator

import face_async._validation as v
from face_async._http import _operations as o
from face_async._images import ImageSource
from face_async._models import DetectionModel, FaceList, LargeFaceList, PersistedFace
from face_async._resources._base import (
    FaceOps,
    Resource,
    Timeout,
    TrainingMixin,
    TrainingOps,
    page_query,
)
from face_async._resources._containers import (
    ContainerOperations,
    ContainerOps,
    PagedContainerOperations,
)

__all__ = ["FaceListOperations", "LargeFaceListOperations"]


class _ListFaces(Resource):
    """add_face / delete_face, shared by face lists and large face lists."""

    __slots__ = ()
    _faces: FaceOps
    _list_id_name: str

    async def add_face(
        self,
        list_id: str,
        image: ImageSource,
        /,
        *,
        user_data: str | None = None,
        target_face: v.TargetFace | None = None,
        detection_model: DetectionModel | str = DetectionModel.DETECTION_01,
        timeout: Timeout | None = None,
    ) -> PersistedFace:
        """Add a face from an image: bytes, a path, a binary file object or an http(s) URL.

        ``target_face`` (a FaceRectangle or (left, top, width, height)) picks the face when the
        image has several. Not retried after an ambiguous failure (OutcomeUnknownError).
        Raises FaceValidationError on bad input, InvalidImage when no single face is found,
        the list kind's NotFound subclass, and QuotaExceeded when the list is full.
        """
        list_id = v.check_id(list_id, self._list_id_name)
        return await self._add_face(
            self._faces, (list_id,), image, user_data=user_data, target_face=target_face,
            detection_model=detection_model, timeout=timeout,
        )  # fmt: skip

    async def delete_face(
        self, list_id: str, persisted_face_id: str, /, *, timeout: Timeout | None = None
    ) -> None:
        """Delete a persisted face from the list. Raises PersistedFaceNotFound."""
        await self._call(self._faces.delete, self._face_ids(list_id, persisted_face_id),
                         timeout=timeout)  # fmt: skip

    def _face_ids(self, list_id: str, persisted_face_id: str) -> tuple[str, str]:
        return (
            v.check_id(list_id, self._list_id_name),
            v.check_uuid(persisted_face_id, "persisted_face_id"),
        )


class FaceListOperations(ContainerOperations[FaceList], _ListFaces):
    """Face lists (up to 1,000 faces, for find_similar): ``client.face_lists``.

    create, get, update, delete, list, add_face, delete_face. A missing list raises
    FaceListNotFound.
    """

    __slots__ = ()
    _ops = ContainerOps(
        id_name="face_list_id",
        model=FaceList,
        key=lambda face_list: face_list.face_list_id,
        create=o.FACE_LIST_CREATE,
        get=o.FACE_LIST_GET,
        update=o.FACE_LIST_UPDATE,
        delete=o.FACE_LIST_DELETE,
        list=o.FACE_LIST_LIST,
    )
    _list_id_name = "face_list_id"
    _faces = FaceOps(
        add_from_url=o.FACE_LIST_ADD_FACE_FROM_URL,
        add_from_stream=o.FACE_LIST_ADD_FACE_FROM_STREAM,
        delete=o.FACE_LIST_DELETE_FACE,
    )

    async def list(
        self, *, return_recognition_model: bool = False, timeout: Timeout | None = None
    ) -> builtins.list[FaceList]:
        """Every face list (id, name, userData; recognition model when asked)."""
        query = {"returnRecognitionModel": v.bool_param(return_recognition_model)}
        return await self._call_list(FaceList, self._ops.list, query=query, timeout=timeout)


class LargeFaceListOperations(PagedContainerOperations[LargeFaceList], TrainingMixin, _ListFaces):
    """Large face lists (up to 1,000,000 faces): ``client.large_face_lists``.

    create, get, update, delete, list, iter, train, get_training_status, wait_for_training,
    add_face, get_face, update_face, delete_face, list_faces, iter_faces. A missing list
    raises LargeFaceListNotFound.
    """

    __slots__ = ()
    _ops = ContainerOps(
        id_name="large_face_list_id",
        model=LargeFaceList,
        key=lambda face_list: face_list.large_face_list_id,
        create=o.LARGE_FACE_LIST_CREATE,
        get=o.LARGE_FACE_LIST_GET,
        update=o.LARGE_FACE_LIST_UPDATE,
        delete=o.LARGE_FACE_LIST_DELETE,
        list=o.LARGE_FACE_LIST_LIST,
    )
    _list_id_name = "large_face_list_id"
    _faces = FaceOps(
        add_from_url=o.LARGE_FACE_LIST_ADD_FACE_FROM_URL,
        add_from_stream=o.LARGE_FACE_LIST_ADD_FACE_FROM_STREAM,
        delete=o.LARGE_FACE_LIST_DELETE_FACE,
        get=o.LARGE_FACE_LIST_GET_FACE,
        update=o.LARGE_FACE_LIST_UPDATE_FACE,
    )
    _training = TrainingOps(
        o.LARGE_FACE_LIST_TRAIN, o.LARGE_FACE_LIST_GET_TRAINING_STATUS, "large_face_list_id"
    )

    async def get_face(
        self, list_id: str, persisted_face_id: str, /, *, timeout: Timeout | None = None
    ) -> PersistedFace:
        """A persisted face of the list (its id and userData). Raises PersistedFaceNotFound."""
        path_args = self._face_ids(list_id, persisted_face_id)
        return await self._get_face(self._faces.get, path_args, timeout)

    async def update_face(
        self,
        list_id: str,
        persisted_face_id: str,
        /,
        *,
        user_data: str | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        """Change a persisted face's userData (<= 1 KB). Raises PersistedFaceNotFound."""
        path_args = self._face_ids(list_id, persisted_face_id)
        await self._update_face(self._faces.update, path_args, user_data, timeout)

    async def list_faces(
        self,
        list_id: str,
        /,
        *,
        start: str | None = None,
        top: int | None = None,
        timeout: Timeout | None = None,
    ) -> builtins.list[PersistedFace]:
        """One page of persisted faces: up to ``top`` (1-1000) with ids after ``start``."""
        query = page_query(start, top)
        list_id = v.check_id(list_id, self._list_id_name)
        return await self._call_list(
            PersistedFace, o.LARGE_FACE_LIST_LIST_FACES, (list_id,), query=query, timeout=timeout
        )

    def iter_faces(
        self,
        list_id: str,
        /,
        *,
        start: str | None = None,
        page_size: int = v.MAX_TOP,
        timeout: Timeout | None = None,
    ) -> AsyncIterator[PersistedFace]:
        """Every persisted face after ``start``, fetched ``page_size`` (1-1000) per request."""
        list_id = v.check_id(list_id, self._list_id_name)
        return self._pages(
            PersistedFace, o.LARGE_FACE_LIST_LIST_FACES, (list_id,),
            key=lambda face: face.persisted_face_id, start=start, page_size=page_size,
            timeout=timeout,
        )  # fmt: skip
