"""Face operations: detect, identify, verify, find similar, group."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import face_async._validation as v
from face_async._http import _operations as o
from face_async._http._resource_pool import near_group
from face_async._images import ImageSource, load_image
from face_async._models import (
    DetectedFace,
    DetectionModel,
    FaceAttributeType,
    FindSimilarMatchMode,
    FindSimilarRequest,
    GroupRequest,
    GroupResult,
    IdentifyRequest,
    IdentifyResult,
    RecognitionModel,
    SimilarFace,
    VerifyFaceToFaceRequest,
    VerifyFaceToPersonRequest,
    VerifyResult,
)
from face_async._resources._base import Resource, Timeout, image_variant

__all__ = ["FaceOperations"]

_FIND_SIMILAR_MODES = frozenset(mode.value for mode in FindSimilarMatchMode)


class FaceOperations(Resource):
    """Face detection and recognition: ``client.face``."""

    __slots__ = ()

    async def detect(
        self,
        image: ImageSource,
        /,
        *,
        return_face_id: bool = True,
        return_face_landmarks: bool = False,
        return_face_attributes: Sequence[FaceAttributeType | str] | None = None,
        recognition_model: RecognitionModel | str = RecognitionModel.RECOGNITION_01,
        return_recognition_model: bool = False,
        detection_model: DetectionModel | str = DetectionModel.DETECTION_01,
        face_id_time_to_live: int = 86400,
        timeout: Timeout | None = None,
    ) -> builtins.list[DetectedFace]:
        """Detect up to 100 faces in an image (bytes, a path, a binary file or an http(s) URL).

        Returns the faces, largest first, with faceIds (kept ``face_id_time_to_live`` seconds,
        60-86400), landmarks and the requested attributes. detection_02 supports neither
        landmarks nor attributes; detection_03 supports only the mask and
        qualityForRecognition attributes (qualityForRecognition needs recognition_03 or later).
        Raises FaceValidationError on bad input (nothing is sent), InvalidImage,
        InvalidImageSize or InvalidURL when the service refuses the image.
        """
        detection = v.detection_model(detection_model)
        recognition = v.recognition_model(recognition_model)
        attributes = v.check_face_attributes(return_face_attributes or ())
        v.check_detect_options(
            detection=detection, recognition=recognition,
            return_face_landmarks=return_face_landmarks, attributes=attributes,
        )  # fmt: skip
        query = {
            "returnFaceId": v.bool_param(return_face_id),
            "returnFaceLandmarks": v.bool_param(return_face_landmarks),
            "recognitionModel": recognition,
            "returnRecognitionModel": v.bool_param(return_recognition_model),
            "detectionModel": detection,
            "faceIdTimeToLive": str(v.check_face_id_time_to_live(face_id_time_to_live)),
        }
        if attributes:
            query["returnFaceAttributes"] = ",".join(attributes)
        loaded = await load_image(image)
        op, body = image_variant(loaded, o.FACE_DETECT_WITH_URL, o.FACE_DETECT_WITH_STREAM)
        return await self._call_list(
            DetectedFace, op, query=query, json=body, data=loaded.data, timeout=timeout
        )

    async def identify(
        self,
        face_ids: Sequence[str],
        /,
        *,
        person_group_id: str | None = None,
        large_person_group_id: str | None = None,
        max_num_of_candidates_returned: int = 1,
        confidence_threshold: float | None = None,
        timeout: Timeout | None = None,
    ) -> builtins.list[IdentifyResult]:
        """Identify 1-10 detected faces against a trained person group or large person group.

        Give exactly one of ``person_group_id`` / ``large_person_group_id``. Each result lists
        up to ``max_num_of_candidates_returned`` (1-100) candidates above
        ``confidence_threshold`` (0-1). Raises FaceValidationError on bad input, the group
        kind's NotFound subclass, FaceNotFound for an expired faceId, and BadRequest when the
        group has not been trained.
        """
        face_ids = v.check_uuid_list(face_ids, "face_ids", min_items=1, max_items=10)
        top_n = v.check_int_range(
            max_num_of_candidates_returned, "max_num_of_candidates_returned", 1, 100
        )
        group_id, large_group_id = _one_group(person_group_id, large_person_group_id)
        if confidence_threshold is not None:
            confidence_threshold = v.check_confidence(confidence_threshold, "confidence_threshold")
        body = IdentifyRequest(
            face_ids=face_ids, person_group_id=group_id, large_person_group_id=large_group_id,
            max_num_of_candidates_returned=top_n, confidence_threshold=confidence_threshold,
        )  # fmt: skip
        return await self._call_list(IdentifyResult, o.FACE_IDENTIFY, json=body, timeout=timeout)

    async def verify_face_to_face(
        self, face_id1: str, face_id2: str, /, *, timeout: Timeout | None = None
    ) -> VerifyResult:
        """Whether two detected faces belong to the same person, with a confidence (0-1).

        Raises FaceValidationError for ids that are not UUIDs and FaceNotFound for expired ones.
        """
        body = VerifyFaceToFaceRequest(
            face_id1=v.check_uuid(face_id1, "face_id1"),
            face_id2=v.check_uuid(face_id2, "face_id2"),
        )
        return await self._call_model(
            VerifyResult, o.FACE_VERIFY_FACE_TO_FACE, json=body, timeout=timeout
        )

    async def verify_face_to_person(
        self,
        face_id: str,
        person_id: str,
        /,
        *,
        person_group_id: str | None = None,
        large_person_group_id: str | None = None,
        timeout: Timeout | None = None,
    ) -> VerifyResult:
        """Whether a detected face belongs to a person of a (large) person group.

        Give exactly one of ``person_group_id`` / ``large_person_group_id``. Raises
        FaceValidationError on bad input, PersonNotFound, the group kind's NotFound subclass,
        and FaceNotFound for an expired faceId.
        """
        face_id = v.check_uuid(face_id, "face_id")
        person_id = v.check_uuid(person_id, "person_id")
        group_id, large_group_id = _one_group(person_group_id, large_person_group_id)
        body = VerifyFaceToPersonRequest(
            face_id=face_id, person_id=person_id, person_group_id=group_id,
            large_person_group_id=large_group_id,
        )  # fmt: skip
        return await self._call_model(
            VerifyResult, o.FACE_VERIFY_FACE_TO_PERSON, json=body, timeout=timeout
        )

    async def find_similar(
        self,
        face_id: str,
        /,
        *,
        face_list_id: str | None = None,
        large_face_list_id: str | None = None,
        face_ids: Sequence[str] | None = None,
        max_num_of_candidates_returned: int = 20,
        mode: FindSimilarMatchMode | str = FindSimilarMatchMode.MATCH_PERSON,
        timeout: Timeout | None = None,
    ) -> builtins.list[SimilarFace]:
        """Faces similar to a detected face, from a face list, a large face list or up to 1000
        detected faceIds (give exactly one).

        Returns up to ``max_num_of_candidates_returned`` (1-1000) matches in ``mode``
        "matchPerson" (same person, thresholded) or "matchFace" (similarity ranking).
        Raises FaceValidationError on bad input, FaceListNotFound / LargeFaceListNotFound,
        and FaceNotFound for an expired faceId.
        """
        candidates = {
            "face_list_id": face_list_id, "large_face_list_id": large_face_list_id,
            "face_ids": face_ids,
        }  # fmt: skip
        given = v.check_exactly_one(candidates)
        mode_value = v.enum_value(mode, "mode")
        if mode_value not in _FIND_SIMILAR_MODES:
            raise v.invalid("mode", f"expected one of {', '.join(sorted(_FIND_SIMILAR_MODES))}")
        face_id = v.check_uuid(face_id, "face_id")
        top_n = v.check_int_range(
            max_num_of_candidates_returned, "max_num_of_candidates_returned", 1, 1000
        )
        if given == "face_ids":
            body = FindSimilarRequest(
                face_id=face_id, max_num_of_candidates_returned=top_n, mode=mode_value,
                face_ids=v.check_uuid_list(face_ids, "face_ids", min_items=1, max_items=1000),
            )  # fmt: skip
        elif given == "face_list_id":
            body = FindSimilarRequest(
                face_id=face_id, max_num_of_candidates_returned=top_n, mode=mode_value,
                face_list_id=v.check_id(face_list_id, "face_list_id"),
            )  # fmt: skip
        else:
            body = FindSimilarRequest(
                face_id=face_id, max_num_of_candidates_returned=top_n, mode=mode_value,
                large_face_list_id=v.check_id(large_face_list_id, "large_face_list_id"),
            )  # fmt: skip
        return await self._call_list(SimilarFace, o.FACE_FIND_SIMILAR, json=body, timeout=timeout)

    async def group(
        self, face_ids: Sequence[str], /, *, timeout: Timeout | None = None
    ) -> GroupResult:
        """Divide 2-1000 detected faces into groups of similar faces plus a messy group.

        Raises FaceValidationError on bad input and FaceNotFound for expired faceIds.
        """
        body = GroupRequest(
            face_ids=v.check_uuid_list(face_ids, "face_ids", min_items=2, max_items=1000)
        )
        return await self._call_model(GroupResult, o.FACE_GROUP, json=body, timeout=timeout)

    async def identify_image(
        self,
        image: ImageSource,
        /,
        *,
        person_group_id: str | None = None,
        large_person_group_id: str | None = None,
        max_num_of_candidates_returned: int = 1,
        confidence_threshold: float | None = None,
        recognition_model: RecognitionModel | str = RecognitionModel.RECOGNITION_01,
        detection_model: DetectionModel | str = DetectionModel.DETECTION_01,
        timeout: Timeout | None = None,
    ) -> builtins.list[IdentifyResult]:
        """Detect the faces of an image and identify the 10 largest against a trained group.

        On a pool the detect runs on a resource that holds the group, so the identify can use
        its faceIds there. The recognition model must be the group's. Returns [] for an image
        without faces. Raises as :meth:`detect` and :meth:`identify`.
        """
        group_id, large_group_id = _one_group(person_group_id, large_person_group_id)
        with near_group(group_id or large_group_id):
            faces = await self.detect(
                image, recognition_model=recognition_model, detection_model=detection_model,
                timeout=timeout,
            )  # fmt: skip
        face_ids = [face.face_id for face in faces if face.face_id][:10]
        if not face_ids:
            return []
        return await self.identify(
            face_ids, person_group_id=group_id, large_person_group_id=large_group_id,
            max_num_of_candidates_returned=max_num_of_candidates_returned,
            confidence_threshold=confidence_threshold, timeout=timeout,
        )  # fmt: skip


def _one_group(
    person_group_id: str | None, large_person_group_id: str | None
) -> tuple[str | None, str | None]:
    """(person_group_id, large_person_group_id) with exactly one given and checked."""
    given = v.check_exactly_one(
        {"person_group_id": person_group_id, "large_person_group_id": large_person_group_id}
    )
    if given == "person_group_id":
        return v.check_id(person_group_id, given), None
    return None, v.check_id(large_person_group_id, given)
