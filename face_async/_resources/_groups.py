"""Person groups and large person groups: metadata, listing and training."""

from __future__ import annotations

from face_async._http import _operations as o
from face_async._models import LargePersonGroup, PersonGroup
from face_async._resources._base import TrainingMixin, TrainingOps
from face_async._resources._containers import ContainerOps, PagedContainerOperations

__all__ = ["LargePersonGroupOperations", "PersonGroupOperations"]

_PERSON_GROUPS = ContainerOps(
    id_name="person_group_id",
    model=PersonGroup,
    key=lambda group: group.person_group_id,
    create=o.PERSON_GROUP_CREATE,
    get=o.PERSON_GROUP_GET,
    update=o.PERSON_GROUP_UPDATE,
    delete=o.PERSON_GROUP_DELETE,
    list=o.PERSON_GROUP_LIST,
)
_LARGE_PERSON_GROUPS = ContainerOps(
    id_name="large_person_group_id",
    model=LargePersonGroup,
    key=lambda group: group.large_person_group_id,
    create=o.LARGE_PERSON_GROUP_CREATE,
    get=o.LARGE_PERSON_GROUP_GET,
    update=o.LARGE_PERSON_GROUP_UPDATE,
    delete=o.LARGE_PERSON_GROUP_DELETE,
    list=o.LARGE_PERSON_GROUP_LIST,
)


class PersonGroupOperations(PagedContainerOperations[PersonGroup], TrainingMixin):
    """Person groups (up to 10,000 persons in S0): ``client.person_groups``.

    create, get, update, delete, list, iter, train, get_training_status, wait_for_training.
    A missing group raises PersonGroupNotFound.
    """

    __slots__ = ()
    _ops = _PERSON_GROUPS
    _training = TrainingOps(
        o.PERSON_GROUP_TRAIN, o.PERSON_GROUP_GET_TRAINING_STATUS, "person_group_id"
    )


class LargePersonGroupOperations(PagedContainerOperations[LargePersonGroup], TrainingMixin):
    """Large person groups (up to 1,000,000 persons): ``client.large_person_groups``.

    create, get, update, delete, list, iter, train, get_training_status, wait_for_training.
    A missing group raises LargePersonGroupNotFound.
    """

    __slots__ = ()
    _ops = _LARGE_PERSON_GROUPS
    _training = TrainingOps(
        o.LARGE_PERSON_GROUP_TRAIN, o.LARGE_PERSON_GROUP_GET_TRAINING_STATUS,
        "large_person_group_id",
    )  # fmt: skip
