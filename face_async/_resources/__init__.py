"""The resource groups of the Face API v1.0, one class per attribute of AsyncFaceClient."""

from face_async._resources._face import FaceOperations
from face_async._resources._face_lists import FaceListOperations, LargeFaceListOperations
from face_async._resources._groups import LargePersonGroupOperations, PersonGroupOperations
from face_async._resources._persons import (
    LargePersonGroupPersonOperations,
    PersonGroupPersonOperations,
)
from face_async._resources._snapshots import SnapshotOperations

__all__ = [
    "FaceListOperations",
    "FaceOperations",
    "LargeFaceListOperations",
    "LargePersonGroupOperations",
    "LargePersonGroupPersonOperations",
    "PersonGroupOperations",
    "PersonGroupPersonOperations",
    "SnapshotOperations",
]
