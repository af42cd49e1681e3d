"""Persons of (large) person groups and their faces: one implementation for both kinds."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator

import attrs

import face_async._validation as v
from face_async._http import _operations as o
from face_async._http._operations import Operation
from face_async._images import ImageSource
from face_async._models import DetectionModel, PersistedFace, Person
from face_async._resources._base import FaceOps, Resource, Timeout, page_query
from face_async._resources._containers import name_and_user_data

__all__ = ["LargePersonGroupPersonOperations", "PersonGroupPersonOperations"]


@attrs.frozen
class PersonOps:
    """The person operations of one group kind."""

    group_id_name: str
    create: Operation
    get: Operation
    update: Operation
    delete: Operation
    list: Operation
    faces: FaceOps


class _PersonOperations(Resource):
    """Persons in a group: create, get, update, delete, list, iter and their faces."""

    __slots__ = ()
    _ops: PersonOps

    def _ids(self, group_id: str, *person_and_face: str) -> tuple[str, ...]:
        group = v.check_id(group_id, self._ops.group_id_name)
        if not person_and_face:
            return (group,)
        person = v.check_uuid(person_and_face[0], "person_id")
        if len(person_and_face) == 1:
            return (group, person)
        return (group, person, v.check_uuid(person_and_face[1], "persisted_face_id"))

    async def create(
        self,
        group_id: str,
        /,
        *,
        name: str,
        user_data: str | None = None,
        timeout: Timeout | None = None,
    ) -> Person:
        """Create a person (name 1-128 chars, userData <= 16 KB); returns it with its person_id.

        Not retried after an ambiguous failure (OutcomeUnknownError). Raises the group kind's
        NotFound subclass when the group does not exist, QuotaExceeded when it is full.
        """
        body = name_and_user_data(name, user_data, name_required=True)
        return await self._call_model(
            Person, self._ops.create, self._ids(group_id), json=body, timeout=timeout
        )

    async def get(
        self, group_id: str, person_id: str, /, *, timeout: Timeout | None = None
    ) -> Person:
        """A person's name, userData and persisted face ids.

        Raises PersonNotFound (or the group kind's NotFound subclass).
        """
        return await self._call_model(
            Person, self._ops.get, self._ids(group_id, person_id), timeout=timeout
        )

    async def update(
        self,
        group_id: str,
        person_id: str,
        /,
        *,
        name: str | None = None,
        user_data: str | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        """Change a person's name and/or userData; None leaves a field unchanged.

        Raises PersonNotFound (or the group kind's NotFound subclass).
        """
        body = name_and_user_data(name, user_data)
        await self._call(
            self._ops.update, self._ids(group_id, person_id), json=body, timeout=timeout
        )

    async def delete(
        self, group_id: str, person_id: str, /, *, timeout: Timeout | None = None
    ) -> None:
        """Delete a person and their faces. Raises PersonNotFound."""
        await self._call(self._ops.delete, self._ids(group_id, person_id), timeout=timeout)

    async def list(
        self,
        group_id: str,
        /,
        *,
        start: str | None = None,
        top: int | None = None,
        timeout: Timeout | None = None,
    ) -> builtins.list[Person]:
        """One page of persons in person_id order: up to ``top`` (1-1000) after ``start``."""
        query = page_query(start, top)
        return await self._call_list(
            Person, self._ops.list, self._ids(group_id), query=query, timeout=timeout
        )

    def iter(
        self,
        group_id: str,
        /,
        *,
        start: str | None = None,
        page_size: int = v.MAX_TOP,
        timeout: Timeout | None = None,
    ) -> AsyncIterator[Person]:
        """Every person after ``start``, fetched ``page_size`` (1-1000) per request."""
        return self._pages(
            Person, self._ops.list, self._ids(group_id), key=lambda person: person.person_id,
            start=start, page_size=page_size, timeout=timeout,
        )  # fmt: skip

    async def add_face(
        self,
        group_id: str,
        person_id: str,
        image: ImageSource,
        /,
        *,
        user_data: str | None = None,
        target_face: v.TargetFace | None = None,
        detection_model: DetectionModel | str = DetectionModel.DETECTION_01,
        timeout: Timeout | None = None,
    ) -> PersistedFace:
        """Add a face to a person from an image: bytes, a path, a binary file or an http(s) URL.

        ``target_face`` (a FaceRectangle or (left, top, width, height)) picks the face when the
        image has several. Not retried after an ambiguous failure (OutcomeUnknownError).
        Raises FaceValidationError on bad input, InvalidImage when no single face is found,
        PersonNotFound, and QuotaExceeded at 248 faces per person.
        """
        ops = self._ops
        path_args = (v.check_id(group_id, ops.group_id_name), v.check_uuid(person_id, "person_id"))
        return await self._add_face(
            ops.faces, path_args, image, user_data, target_face, detection_model, timeout
        )

    async def get_face(
        self,
        group_id: str,
        person_id: str,
        persisted_face_id: str,
        /,
        *,
        timeout: Timeout | None = None,
    ) -> PersistedFace:
        """A persisted face of a person (its id and userData). Raises PersistedFaceNotFound."""
        path_args = self._ids(group_id, person_id, persisted_face_id)
        return await self._get_face(self._ops.faces.get, path_args, timeout)

    async def update_face(
        self,
        group_id: str,
        person_id: str,
        persisted_face_id: str,
        /,
        *,
        user_data: str | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        """Change a persisted face's userData (<= 1 KB). Raises PersistedFaceNotFound."""
        path_args = self._ids(group_id, person_id, persisted_face_id)
        await self._update_face(self._ops.faces.update, path_args, user_data, timeout)

    async def delete_face(
        self,
        group_id: str,
        person_id: str,
        persisted_face_id: str,
        /,
        *,
        timeout: Timeout | None = None,
    ) -> None:
        """Delete a persisted face of a person. Raises PersistedFaceNotFound."""
        path_args = self._ids(group_id, person_id, persisted_face_id)
        await self._call(self._ops.faces.delete, path_args, timeout=timeout)


class PersonGroupPersonOperations(_PersonOperations):
    """Persons of person groups: ``client.person_group_persons``."""

    __slots__ = ()
    _ops = PersonOps(
        group_id_name="person_group_id",
        create=o.PERSON_GROUP_PERSON_CREATE,
        get=o.PERSON_GROUP_PERSON_GET,
        update=o.PERSON_GROUP_PERSON_UPDATE,
        delete=o.PERSON_GROUP_PERSON_DELETE,
        list=o.PERSON_GROUP_PERSON_LIST,
        faces=FaceOps(
            add_from_url=o.PERSON_GROUP_PERSON_ADD_FACE_FROM_URL,
            add_from_stream=o.PERSON_GROUP_PERSON_ADD_FACE_FROM_STREAM,
            delete=o.PERSON_GROUP_PERSON_DELETE_FACE,
            get=o.PERSON_GROUP_PERSON_GET_FACE,
            update=o.PERSON_GROUP_PERSON_UPDATE_FACE,
        ),
    )


class LargePersonGroupPersonOperations(_PersonOperations):
    """Persons of large person groups: ``client.large_person_group_persons``."""

    __slots__ = ()
    _ops = PersonOps(
        group_id_name="large_person_group_id",
        create=o.LARGE_PERSON_GROUP_PERSON_CREATE,
        get=o.LARGE_PERSON_GROUP_PERSON_GET,
        update=o.LARGE_PERSON_GROUP_PERSON_UPDATE,
        delete=o.LARGE_PERSON_GROUP_PERSON_DELETE,
        list=o.LARGE_PERSON_GROUP_PERSON_LIST,
        faces=FaceOps(
            add_from_url=o.LARGE_PERSON_GROUP_PERSON_ADD_FACE_FROM_URL,
            add_from_stream=o.LARGE_PERSON_GROUP_PERSON_ADD_FACE_FROM_STREAM,
            delete=o.LARGE_PERSON_GROUP_PERSON_DELETE_FACE,
            get=o.LARGE_PERSON_GROUP_PERSON_GET_FACE,
            update=o.LARGE_PERSON_GROUP_PERSON_UPDATE_FACE,
        ),
    )
