"""Create/get/update/delete/list of the four containers: (large) person groups and face lists.

PersonGroup, LargePersonGroup, FaceList and LargeFaceList share their metadata operations
(PUT with name/userData/recognitionModel, GET with returnRecognitionModel, PATCH, DELETE); one
implementation serves all four, parametrized by a ``ContainerOps`` record.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

import attrs

import face_async._validation as v
from face_async._http._operations import Operation
from face_async._models import MetaDataContract, NameAndUserDataContract, RecognitionModel
from face_async._resources._base import Resource, Timeout, page_query

M = TypeVar("M")


@attrs.frozen
class ContainerOps(Generic[M]):
    """The operations and model of one container kind."""

    id_name: str  # the parameter named in validation errors, e.g. "person_group_id"
    model: type[M]
    key: Callable[[M], str]  # the id of an item: the paging cursor
    create: Operation
    get: Operation
    update: Operation
    delete: Operation
    list: Operation


class ContainerOperations(Resource, Generic[M]):
    """create / get / update / delete of one container kind."""

    __slots__ = ()
    _ops: ContainerOps[M]

    def _id(self, value: str) -> str:
        return v.check_id(value, self._ops.id_name)

    async def create(
        self,
        resource_id: str,
        /,
        *,
        name: str,
        user_data: str | None = None,
        recognition_model: RecognitionModel | str = RecognitionModel.RECOGNITION_01,
        timeout: Timeout | None = None,
    ) -> None:
        """Create it with a display name (1-128 chars), optional userData (<= 16 KB) and the
        recognition model its faces are extracted with (fixed for its lifetime).

        Raises FaceValidationError on bad input and Conflict when the id is already taken.
        """
        checked = name_and_user_data(name, user_data, name_required=True)
        body = MetaDataContract(
            name=name, user_data=checked.user_data,
            recognition_model=v.recognition_model(recognition_model),
        )  # fmt: skip
        await self._call(self._ops.create, (self._id(resource_id),), json=body, timeout=timeout)

    async def get(
        self,
        resource_id: str,
        /,
        *,
        return_recognition_model: bool = False,
        timeout: Timeout | None = None,
    ) -> M:
        """Its name, userData and (when asked) recognition model.

        Raises the kind's NotFound subclass (e.g. PersonGroupNotFound) when it does not exist.
        """
        query = {"returnRecognitionModel": v.bool_param(return_recognition_model)}
        return await self._call_model(
            self._ops.model, self._ops.get, (self._id(resource_id),), query=query, timeout=timeout
        )

    async def update(
        self,
        resource_id: str,
        /,
        *,
        name: str | None = None,
        user_data: str | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        """Change its name and/or userData; arguments left as None are not changed.

        Raises the kind's NotFound subclass when it does not exist.
        """
        body = name_and_user_data(name, user_data)
        await self._call(self._ops.update, (self._id(resource_id),), json=body, timeout=timeout)

    async def delete(self, resource_id: str, /, *, timeout: Timeout | None = None) -> None:
        """Delete it and everything in it (persons, faces, training data).

        Raises the kind's NotFound subclass when it does not exist.
        """
        await self._call(self._ops.delete, (self._id(resource_id),), timeout=timeout)


class PagedContainerOperations(ContainerOperations[M]):
    """ContainerOperations plus ``list`` with start/top and ``iter`` over every page."""

    __slots__ = ()

    async def list(
        self,
        *,
        start: str | None = None,
        top: int | None = None,
        return_recognition_model: bool = False,
        timeout: Timeout | None = None,
    ) -> builtins.list[M]:
        """One page, in id order: up to ``top`` (1-1000) entries with ids after ``start``."""
        query = page_query(start, top)
        query["returnRecognitionModel"] = v.bool_param(return_recognition_model)
        return await self._call_list(self._ops.model, self._ops.list, query=query, timeout=timeout)

    def iter(
        self,
        *,
        start: str | None = None,
        page_size: int = v.MAX_TOP,
        return_recognition_model: bool = False,
        timeout: Timeout | None = None,
    ) -> AsyncIterator[M]:
        """Every entry after ``start``, in id order, fetched ``page_size`` (1-1000) per request.

        ``timeout`` applies to each page request.
        """
        query = {"returnRecognitionModel": v.bool_param(return_recognition_model)}
        return self._pages(
            self._ops.model, self._ops.list, (), key=self._ops.key, start=start,
            page_size=page_size, query=query, timeout=timeout,
        )  # fmt: skip


def name_and_user_data(
    name: str | None, user_data: str | None, *, name_required: bool = False
) -> NameAndUserDataContract:
    """The checked name/userData body of a create or update (None fields are not sent)."""
    return NameAndUserDataContract(
        name=v.check_name(name, required=name_required),
        user_data=v.check_user_data(user_data, v.GROUP_USER_DATA_MAX),
    )
