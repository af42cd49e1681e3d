"""The operation table: one ``Operation`` per operationId of the Face API v1.0 (69 in all).

``idempotent=False`` marks the writes that must never be re-sent after an ambiguous failure:
adding a face (all variants), creating a person, taking and applying a snapshot. Training is
idempotent: re-sending a train request queues the same training again, which is harmless.
The stream and URL variants of an operation share the path; the resource method picks one.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Operation:
    """One Face API operation: spec operationId, HTTP method, path template, idempotency.

    ``idempotent=False`` means the request is never re-sent after an ambiguous failure.
    """

    operation_id: str
    method: str
    path: str
    idempotent: bool


# Face
FACE_DETECT_WITH_STREAM = Operation("Face_DetectWithStream", "POST", "/detect", idempotent=True)
FACE_DETECT_WITH_URL = Operation("Face_DetectWithUrl", "POST", "/detect", idempotent=True)
FACE_FIND_SIMILAR = Operation("Face_FindSimilar", "POST", "/findsimilars", idempotent=True)
FACE_GROUP = Operation("Face_Group", "POST", "/group", idempotent=True)
FACE_IDENTIFY = Operation("Face_Identify", "POST", "/identify", idempotent=True)
FACE_VERIFY_FACE_TO_FACE = Operation("Face_VerifyFaceToFace", "POST", "/verify", idempotent=True)
FACE_VERIFY_FACE_TO_PERSON = Operation(
    "Face_VerifyFaceToPerson", "POST", "/verify", idempotent=True
)

# FaceList
FACE_LIST_ADD_FACE_FROM_STREAM = Operation(
    "FaceList_AddFaceFromStream", "POST", "/facelists/{faceListId}/persistedfaces", idempotent=False
)
FACE_LIST_ADD_FACE_FROM_URL = Operation(
    "FaceList_AddFaceFromUrl", "POST", "/facelists/{faceListId}/persistedfaces", idempotent=False
)
FACE_LIST_CREATE = Operation("FaceList_Create", "PUT", "/facelists/{faceListId}", idempotent=True)
FACE_LIST_DELETE = Operation(
    "FaceList_Delete", "DELETE", "/facelists/{faceListId}", idempotent=True
)
FACE_LIST_DELETE_FACE = Operation(
    "FaceList_DeleteFace",
    "DELETE",
    "/facelists/{faceListId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)
FACE_LIST_GET = Operation("FaceList_Get", "GET", "/facelists/{faceListId}", idempotent=True)
FACE_LIST_LIST = Operation("FaceList_List", "GET", "/facelists", idempotent=True)
FACE_LIST_UPDATE = Operation("FaceList_Update", "PATCH", "/facelists/{faceListId}", idempotent=True)

# LargeFaceList
LARGE_FACE_LIST_ADD_FACE_FROM_STREAM = Operation(
    "LargeFaceList_AddFaceFromStream",
    "POST",
    "/largefacelists/{largeFaceListId}/persistedfaces",
    idempotent=False,
)
LARGE_FACE_LIST_ADD_FACE_FROM_URL = Operation(
    "LargeFaceList_AddFaceFromUrl",
    "POST",
    "/largefacelists/{largeFaceListId}/persistedfaces",
    idempotent=False,
)
LARGE_FACE_LIST_CREATE = Operation(
    "LargeFaceList_Create", "PUT", "/largefacelists/{largeFaceListId}", idempotent=True
)
LARGE_FACE_LIST_DELETE = Operation(
    "LargeFaceList_Delete", "DELETE", "/largefacelists/{largeFaceListId}", idempotent=True
)
LARGE_FACE_LIST_DELETE_FACE = Operation(
    "LargeFaceList_DeleteFace",
    "DELETE",
    "/largefacelists/{largeFaceListId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)
LARGE_FACE_LIST_GET = Operation(
    "LargeFaceList_Get", "GET", "/largefacelists/{largeFaceListId}", idempotent=True
)
LARGE_FACE_LIST_GET_FACE = Operation(
    "LargeFaceList_GetFace",
    "GET",
    "/largefacelists/{largeFaceListId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)
LARGE_FACE_LIST_GET_TRAINING_STATUS = Operation(
    "LargeFaceList_GetTrainingStatus",
    "GET",
    "/largefacelists/{largeFaceListId}/training",
    idempotent=True,
)
LARGE_FACE_LIST_LIST = Operation("LargeFaceList_List", "GET", "/largefacelists", idempotent=True)
LARGE_FACE_LIST_LIST_FACES = Operation(
    "LargeFaceList_ListFaces",
    "GET",
    "/largefacelists/{largeFaceListId}/persistedfaces",
    idempotent=True,
)
LARGE_FACE_LIST_TRAIN = Operation(
    "LargeFaceList_Train", "POST", "/largefacelists/{largeFaceListId}/train", idempotent=True
)
LARGE_FACE_LIST_UPDATE = Operation(
    "LargeFaceList_Update", "PATCH", "/largefacelists/{largeFaceListId}", idempotent=True
)
LARGE_FACE_LIST_UPDATE_FACE = Operation(
    "LargeFaceList_UpdateFace",
    "PATCH",
    "/largefacelists/{largeFaceListId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)

# PersonGroup
PERSON_GROUP_CREATE = Operation(
    "PersonGroup_Create", "PUT", "/persongroups/{personGroupId}", idempotent=True
)
PERSON_GROUP_DELETE = Operation(
    "PersonGroup_Delete", "DELETE", "/persongroups/{personGroupId}", idempotent=True
)
PERSON_GROUP_GET = Operation(
    "PersonGroup_Get", "GET", "/persongroups/{personGroupId}", idempotent=True
)
PERSON_GROUP_GET_TRAINING_STATUS = Operation(
    "PersonGroup_GetTrainingStatus",
    "GET",
    "/persongroups/{personGroupId}/training",
    idempotent=True,
)
PERSON_GROUP_LIST = Operation("PersonGroup_List", "GET", "/persongroups", idempotent=True)
PERSON_GROUP_TRAIN = Operation(
    "PersonGroup_Train", "POST", "/persongroups/{personGroupId}/train", idempotent=True
)
PERSON_GROUP_UPDATE = Operation(
    "PersonGroup_Update", "PATCH", "/persongroups/{personGroupId}", idempotent=True
)

# PersonGroupPerson
PERSON_GROUP_PERSON_ADD_FACE_FROM_STREAM = Operation(
    "PersonGroupPerson_AddFaceFromStream",
    "POST",
    "/persongroups/{personGroupId}/persons/{personId}/persistedfaces",
    idempotent=False,
)
PERSON_GROUP_PERSON_ADD_FACE_FROM_URL = Operation(
    "PersonGroupPerson_AddFaceFromUrl",
    "POST",
    "/persongroups/{personGroupId}/persons/{personId}/persistedfaces",
    idempotent=False,
)
PERSON_GROUP_PERSON_CREATE = Operation(
    "PersonGroupPerson_Create", "POST", "/persongroups/{personGroupId}/persons", idempotent=False
)
PERSON_GROUP_PERSON_DELETE = Operation(
    "PersonGroupPerson_Delete",
    "DELETE",
    "/persongroups/{personGroupId}/persons/{personId}",
    idempotent=True,
)
PERSON_GROUP_PERSON_DELETE_FACE = Operation(
    "PersonGroupPerson_DeleteFace",
    "DELETE",
    "/persongroups/{personGroupId}/persons/{personId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)
PERSON_GROUP_PERSON_GET = Operation(
    "PersonGroupPerson_Get",
    "GET",
    "/persongroups/{personGroupId}/persons/{personId}",
    idempotent=True,
)
PERSON_GROUP_PERSON_GET_FACE = Operation(
    "PersonGroupPerson_GetFace",
    "GET",
    "/persongroups/{personGroupId}/persons/{personId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)
PERSON_GROUP_PERSON_LIST = Operation(
    "PersonGroupPerson_List", "GET", "/persongroups/{personGroupId}/persons", idempotent=True
)
PERSON_GROUP_PERSON_UPDATE = Operation(
    "PersonGroupPerson_Update",
    "PATCH",
    "/persongroups/{personGroupId}/persons/{personId}",
    idempotent=True,
)
PERSON_GROUP_PERSON_UPDATE_FACE = Operation(
    "PersonGroupPerson_UpdateFace",
    "PATCH",
    "/persongroups/{personGroupId}/persons/{personId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)

# LargePersonGroup
LARGE_PERSON_GROUP_CREATE = Operation(
    "LargePersonGroup_Create", "PUT", "/largepersongroups/{largePersonGroupId}", idempotent=True
)
LARGE_PERSON_GROUP_DELETE = Operation(
    "LargePersonGroup_Delete", "DELETE", "/largepersongroups/{largePersonGroupId}", idempotent=True
)
LARGE_PERSON_GROUP_GET = Operation(
    "LargePersonGroup_Get", "GET", "/largepersongroups/{largePersonGroupId}", idempotent=True
)
LARGE_PERSON_GROUP_GET_TRAINING_STATUS = Operation(
    "LargePersonGroup_GetTrainingStatus",
    "GET",
    "/largepersongroups/{largePersonGroupId}/training",
    idempotent=True,
)
LARGE_PERSON_GROUP_LIST = Operation(
    "LargePersonGroup_List", "GET", "/largepersongroups", idempotent=True
)
LARGE_PERSON_GROUP_TRAIN = Operation(
    "LargePersonGroup_Train",
    "POST",
    "/largepersongroups/{largePersonGroupId}/train",
    idempotent=True,
)
LARGE_PERSON_GROUP_UPDATE = Operation(
    "LargePersonGroup_Update", "PATCH", "/largepersongroups/{largePersonGroupId}", idempotent=True
)

# LargePersonGroupPerson
LARGE_PERSON_GROUP_PERSON_ADD_FACE_FROM_STREAM = Operation(
    "LargePersonGroupPerson_AddFaceFromStream",
    "POST",
    "/largepersongroups/{largePersonGroupId}/persons/{personId}/persistedfaces",
    idempotent=False,
)
LARGE_PERSON_GROUP_PERSON_ADD_FACE_FROM_URL = Operation(
    "LargePersonGroupPerson_AddFaceFromUrl",
    "POST",
    "/largepersongroups/{largePersonGroupId}/persons/{personId}/persistedfaces",
    idempotent=False,
)
LARGE_PERSON_GROUP_PERSON_CREATE = Operation(
    "LargePersonGroupPerson_Create",
    "POST",
    "/largepersongroups/{largePersonGroupId}/persons",
    idempotent=False,
)
LARGE_PERSON_GROUP_PERSON_DELETE = Operation(
    "LargePersonGroupPerson_Delete",
    "DELETE",
    "/largepersongroups/{largePersonGroupId}/persons/{personId}",
    idempotent=True,
)
LARGE_PERSON_GROUP_PERSON_DELETE_FACE = Operation(
    "LargePersonGroupPerson_DeleteFace",
    "DELETE",
    "/largepersongroups/{largePersonGroupId}/persons/{personId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)
LARGE_PERSON_GROUP_PERSON_GET = Operation(
    "LargePersonGroupPerson_Get",
    "GET",
    "/largepersongroups/{largePersonGroupId}/persons/{personId}",
    idempotent=True,
)
LARGE_PERSON_GROUP_PERSON_GET_FACE = Operation(
    "LargePersonGroupPerson_GetFace",
    "GET",
    "/largepersongroups/{largePersonGroupId}/persons/{personId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)
LARGE_PERSON_GROUP_PERSON_LIST = Operation(
    "LargePersonGroupPerson_List",
    "GET",
    "/largepersongroups/{largePersonGroupId}/persons",
    idempotent=True,
)
LARGE_PERSON_GROUP_PERSON_UPDATE = Operation(
    "LargePersonGroupPerson_Update",
    "PATCH",
    "/largepersongroups/{largePersonGroupId}/persons/{personId}",
    idempotent=True,
)
LARGE_PERSON_GROUP_PERSON_UPDATE_FACE = Operation(
    "LargePersonGroupPerson_UpdateFace",
    "PATCH",
    "/largepersongroups/{largePersonGroupId}/persons/{personId}/persistedfaces/{persistedFaceId}",
    idempotent=True,
)

# Snapshot
SNAPSHOT_APPLY = Operation(
    "Snapshot_Apply", "POST", "/snapshots/{snapshotId}/apply", idempotent=False
)
SNAPSHOT_DELETE = Operation("Snapshot_Delete", "DELETE", "/snapshots/{snapshotId}", idempotent=True)
SNAPSHOT_GET = Operation("Snapshot_Get", "GET", "/snapshots/{snapshotId}", idempotent=True)
SNAPSHOT_GET_OPERATION_STATUS = Operation(
    "Snapshot_GetOperationStatus", "GET", "/operations/{operationId}", idempotent=True
)
SNAPSHOT_LIST = Operation("Snapshot_List", "GET", "/snapshots", idempotent=True)
SNAPSHOT_TAKE = Operation("Snapshot_Take", "POST", "/snapshots", idempotent=False)
SNAPSHOT_UPDATE = Operation("Snapshot_Update", "PATCH", "/snapshots/{snapshotId}", idempotent=True)

ALL_OPERATIONS: tuple[Operation, ...] = (
    FACE_DETECT_WITH_STREAM,
    FACE_DETECT_WITH_URL,
    FACE_FIND_SIMILAR,
    FACE_GROUP,
    FACE_IDENTIFY,
    FACE_LIST_ADD_FACE_FROM_STREAM,
    FACE_LIST_ADD_FACE_FROM_URL,
    FACE_LIST_CREATE,
    FACE_LIST_DELETE,
    FACE_LIST_DELETE_FACE,
    FACE_LIST_GET,
    FACE_LIST_LIST,
    FACE_LIST_UPDATE,
    FACE_VERIFY_FACE_TO_FACE,
    FACE_VERIFY_FACE_TO_PERSON,
    LARGE_FACE_LIST_ADD_FACE_FROM_STREAM,
    LARGE_FACE_LIST_ADD_FACE_FROM_URL,
    LARGE_FACE_LIST_CREATE,
    LARGE_FACE_LIST_DELETE,
    LARGE_FACE_LIST_DELETE_FACE,
    LARGE_FACE_LIST_GET,
    LARGE_FACE_LIST_GET_FACE,
    LARGE_FACE_LIST_GET_TRAINING_STATUS,
    LARGE_FACE_LIST_LIST,
    LARGE_FACE_LIST_LIST_FACES,
    LARGE_FACE_LIST_TRAIN,
    LARGE_FACE_LIST_UPDATE,
    LARGE_FACE_LIST_UPDATE_FACE,
    LARGE_PERSON_GROUP_CREATE,
    LARGE_PERSON_GROUP_DELETE,
    LARGE_PERSON_GROUP_GET,
    LARGE_PERSON_GROUP_GET_TRAINING_STATUS,
    LARGE_PERSON_GROUP_LIST,
    LARGE_PERSON_GROUP_PERSON_ADD_FACE_FROM_STREAM,
    LARGE_PERSON_GROUP_PERSON_ADD_FACE_FROM_URL,
    LARGE_PERSON_GROUP_PERSON_CREATE,
    LARGE_PERSON_GROUP_PERSON_DELETE,
    LARGE_PERSON_GROUP_PERSON_DELETE_FACE,
    LARGE_PERSON_GROUP_PERSON_GET,
    LARGE_PERSON_GROUP_PERSON_GET_FACE,
    LARGE_PERSON_GROUP_PERSON_LIST,
    LARGE_PERSON_GROUP_PERSON_UPDATE,
    LARGE_PERSON_GROUP_PERSON_UPDATE_FACE,
    LARGE_PERSON_GROUP_TRAIN,
    LARGE_PERSON_GROUP_UPDATE,
    PERSON_GROUP_CREATE,
    PERSON_GROUP_DELETE,
    PERSON_GROUP_GET,
    PERSON_GROUP_GET_TRAINING_STATUS,
    PERSON_GROUP_LIST,
    PERSON_GROUP_PERSON_ADD_FACE_FROM_STREAM,
    PERSON_GROUP_PERSON_ADD_FACE_FROM_URL,
    PERSON_GROUP_PERSON_CREATE,
    PERSON_GROUP_PERSON_DELETE,
    PERSON_GROUP_PERSON_DELETE_FACE,
    PERSON_GROUP_PERSON_GET,
    PERSON_GROUP_PERSON_GET_FACE,
    PERSON_GROUP_PERSON_LIST,
    PERSON_GROUP_PERSON_UPDATE,
    PERSON_GROUP_PERSON_UPDATE_FACE,
    PERSON_GROUP_TRAIN,
    PERSON_GROUP_UPDATE,
    SNAPSHOT_APPLY,
    SNAPSHOT_DELETE,
    SNAPSHOT_GET,
    SNAPSHOT_GET_OPERATION_STATUS,
    SNAPSHOT_LIST,
    SNAPSHOT_TAKE,
    SNAPSHOT_UPDATE,
)
