"""Face operations: detect, identify, verify, find similar, group.

Faces are recognised by the identity their image carries (see ``_images``): the same identity
scores a high confidence (0.90-0.99), different identities a low one (0.05-0.45).
"""

from __future__ import annotations

import hashlib
import heapq
from typing import Any

from aiohttp import web

from ._images import FaceRect
from ._routes_common import (
    DETECTION_MODELS,
    ID_RE,
    UUID_RE,
    ApiError,
    Context,
    bad_argument,
    json_response,
    not_found,
    query_bool,
    query_int,
    query_str,
    read_image,
    read_json,
    recognition_model_param,
)
from ._state import DetectedFaceRecord, FaceListRecord, PersonGroupRecord, new_id

ATTRIBUTES = (
    "age",
    "gender",
    "headPose",
    "smile",
    "facialHair",
    "glasses",
    "emotion",
    "hair",
    "makeup",
    "occlusion",
    "accessories",
    "blur",
    "exposure",
    "noise",
    "mask",
    "qualityForRecognition",
)
_ATTRIBUTE_BY_LOWER = {name.lower(): name for name in ATTRIBUTES}
# Microsoft's "specify a face detection model" page: detection_03 returns blur, headPose and mask
# (qualityForRecognition depends on the recognition model only).
_DETECTION_03_ATTRIBUTES = frozenset({"blur", "headPose", "mask", "qualityForRecognition"})

# (name, x, y) as fractions of the face rectangle.
_LANDMARKS = (
    ("pupilLeft", 0.31, 0.33),
    ("pupilRight", 0.69, 0.33),
    ("noseTip", 0.50, 0.56),
    ("mouthLeft", 0.34, 0.77),
    ("mouthRight", 0.66, 0.77),
    ("eyebrowLeftOuter", 0.12, 0.22),
    ("eyebrowLeftInner", 0.42, 0.20),
    ("eyeLeftOuter", 0.20, 0.34),
    ("eyeLeftTop", 0.31, 0.30),
    ("eyeLeftBottom", 0.31, 0.37),
    ("eyeLeftInner", 0.41, 0.34),
    ("eyebrowRightInner", 0.58, 0.20),
    ("eyebrowRightOuter", 0.88, 0.22),
    ("eyeRightInner", 0.59, 0.34),
    ("eyeRightTop", 0.69, 0.30),
    ("eyeRightBottom", 0.69, 0.37),
    ("eyeRightOuter", 0.80, 0.34),
    ("noseRootLeft", 0.45, 0.36),
    ("noseRootRight", 0.55, 0.36),
    ("noseLeftAlarTop", 0.43, 0.50),
    ("noseRightAlarTop", 0.57, 0.50),
    ("noseLeftAlarOutTip", 0.40, 0.58),
    ("noseRightAlarOutTip", 0.60, 0.58),
    ("upperLipTop", 0.50, 0.72),
    ("upperLipBottom", 0.50, 0.76),
    ("underLipTop", 0.50, 0.79),
    ("underLipBottom", 0.50, 0.84),
)

_SUPPORTED_ATTRIBUTES = (
    "Invalid argument returnFaceAttributes. Supported values are: age, gender, headPose, smile, "
    "facialHair, glasses, emotion, hair, makeup, occlusion, accessories, blur, exposure, noise, "
    "mask and qualityForRecognition in a comma-separated format."
)
_FACE_NOT_FOUND = "Face is not found. The faceId is expired or not exist."


def _unit(*parts: str) -> float:
    """A stable number in [0, 1) from the parts (attributes and scores must not flicker)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def same_confidence(*parts: str) -> float:
    return round(0.90 + 0.09 * _unit("same", *parts), 5)


def other_confidence(*parts: str) -> float:
    return round(0.05 + 0.40 * _unit("other", *parts), 5)


def score(identity_a: str, identity_b: str, *key: str) -> float:
    if identity_a == identity_b:
        return same_confidence(identity_a, *key)
    return other_confidence(identity_a, identity_b, *key)


# ---------------------------------------------------------------------------- detect


def _landmarks(rect: FaceRect) -> dict[str, dict[str, float]]:
    return {
        name: {
            "x": round(rect.left + fx * rect.width, 1),
            "y": round(rect.top + fy * rect.height, 1),
        }
        for name, fx, fy in _LANDMARKS
    }


_LEVELS = ("low", "medium", "high")
_EXPOSURES = ("underExposure", "goodExposure", "overExposure")


def _level(value: float, names: tuple[str, str, str]) -> str:
    return names[0] if value < 0.25 else names[1] if value < 0.75 else names[2]


def _attributes(identity: str, wanted: list[str]) -> dict[str, Any]:
    def u(name: str) -> float:
        return _unit(identity, name)

    emotions = ("anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness")
    raw = [u(e) ** 4 for e in (*emotions, "surprise")]
    total = sum(raw) or 1.0
    values: dict[str, Any] = {
        "age": float(round(18 + 60 * u("age"))),
        "gender": "female" if u("gender") < 0.5 else "male",
        "smile": round(u("smile"), 3),
        "facialHair": {
            "moustache": round(u("moustache") * 0.6, 2),
            "beard": round(u("beard") * 0.6, 2),
            "sideburns": round(u("sideburns") * 0.6, 2),
        },
        # Enum values as the live service spells them (see docs/conformance.md), not the spec's.
        "glasses": ("NoGlasses", "ReadingGlasses", "Sunglasses", "SwimmingGoggles")[
            int(u("glasses") ** 3 * 4)
        ],
        "headPose": {
            "roll": round(u("roll") * 20 - 10, 1),
            "yaw": round(u("yaw") * 30 - 15, 1),
            "pitch": round(u("pitch") * 10 - 5, 1),
        },
        "emotion": {
            name: round(v / total, 3) for name, v in zip((*emotions, "surprise"), raw, strict=True)
        },
        "hair": {
            "bald": round(u("bald") * 0.3, 2),
            "invisible": False,
            "hairColor": [
                {"color": color, "confidence": round(conf, 2)}
                for color, conf in sorted(
                    (
                        (c, u(c))
                        for c in ("brown", "blond", "black", "other", "gray", "red", "white")
                    ),
                    key=lambda pair: -pair[1],
                )
            ],
        },
        "makeup": {"eyeMakeup": u("eyeMakeup") < 0.4, "lipMakeup": u("lipMakeup") < 0.4},
        "occlusion": {"foreheadOccluded": False, "eyeOccluded": False, "mouthOccluded": False},
        "accessories": (
            [{"type": "glasses", "confidence": round(0.8 + 0.2 * u("acc"), 2)}]
            if u("glasses") > 0.6
            else []
        ),
        "blur": {"blurLevel": "low", "value": round(u("blur") * 0.2, 2)},
        "exposure": {"exposureLevel": "goodExposure", "value": round(0.3 + 0.4 * u("exp"), 2)},
        "noise": {"noiseLevel": "low", "value": round(u("noise") * 0.2, 2)},
        "mask": {"type": "noMask", "noseAndMouthCovered": False},
        "qualityForRecognition": "high" if u("quality") < 0.8 else "medium",
    }
    values["blur"]["blurLevel"] = _level(values["blur"]["value"], _LEVELS)
    values["noise"]["noiseLevel"] = _level(values["noise"]["value"], _LEVELS)
    values["exposure"]["exposureLevel"] = _level(values["exposure"]["value"], _EXPOSURES)
    return {name: values[name] for name in wanted}


def _requested_attributes(request: web.Request, detection: str, recognition: str) -> list[str]:
    raw = query_str(request, "returnFaceAttributes")
    if not raw:
        return []
    wanted: list[str] = []
    for part in raw.split(","):
        name = _ATTRIBUTE_BY_LOWER.get(part.strip().lower())
        if name is None:
            raise bad_argument(_SUPPORTED_ATTRIBUTES)
        if name not in wanted:
            wanted.append(name)
    if detection == "detection_02":
        raise bad_argument("'returnFaceAttributes' is not supported by detection_02.")
    if detection == "detection_03":
        if any(name not in _DETECTION_03_ATTRIBUTES for name in wanted):
            raise bad_argument("'returnFaceAttributes' is not supported by detection_03.")
    elif "mask" in wanted:
        raise bad_argument(f"'mask' is not supported by {detection}.")
    if "qualityForRecognition" in wanted and recognition not in (
        "recognition_03",
        "recognition_04",
    ):
        raise bad_argument(
            "'qualityForRecognition' is only supported by recognition_03 and recognition_04."
        )
    return wanted


async def detect(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Face_DetectWithUrl / Face_DetectWithStream."""
    return_face_id = query_bool(request, "returnFaceId", True)
    return_landmarks = query_bool(request, "returnFaceLandmarks", False)
    recognition = recognition_model_param(query_str(request, "recognitionModel") or None)
    return_model = query_bool(request, "returnRecognitionModel", False)
    detection = query_str(request, "detectionModel") or "detection_01"
    if detection not in DETECTION_MODELS:
        raise bad_argument("'detectionModel' is invalid.")
    ttl = query_int(
        request,
        "faceIdTimeToLive",
        ctx.limits.face_id_ttl_default,
        ctx.limits.face_id_ttl_min,
        ctx.limits.face_id_ttl_max,
    )
    # detection_03 returns the 27 landmarks too (live service); only detection_02 has none.
    if return_landmarks and detection == "detection_02":
        raise bad_argument(f"'returnLandmarks' is not supported by {detection}.")
    wanted = _requested_attributes(request, detection, recognition)
    _, parsed = await read_image(request, ctx)
    now = ctx.clock.now()
    answer = []
    for face in parsed.faces[: ctx.limits.detect_max_faces_returned]:
        item: dict[str, Any] = {}
        if return_face_id:
            record = DetectedFaceRecord(
                face_id=new_id(),
                identity=face.identity,
                recognition_model=recognition,
                expires=now + ttl,
                rect=face.rect,
            )
            ctx.state.remember_face(record)
            item["faceId"] = record.face_id
        item["faceRectangle"] = face.rect.as_json()
        if return_landmarks:
            item["faceLandmarks"] = _landmarks(face.rect)
        if wanted:
            item["faceAttributes"] = _attributes(face.identity, wanted)
        if return_model:
            item["recognitionModel"] = recognition  # last, as the live service orders it
        answer.append(item)
    return json_response(answer)


# ---------------------------------------------------------------------------- helpers


def _face_id(value: object, what: str = "faceId") -> str:
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise bad_argument(
            f"Face ID is invalid. {what} is invalid and valid faceId comes from Face - Detect."
        )
    return value.lower()


def _live(ctx: Context, face_id: str) -> DetectedFaceRecord:
    record = ctx.state.live_face(face_id)
    if record is None:
        raise ApiError(404, "FaceNotFound", _FACE_NOT_FOUND)
    return record


def _face_ids(body: dict[str, Any], limit: int, minimum: int = 1) -> list[str]:
    ids = body.get("faceIds")
    if not isinstance(ids, list) or not ids:
        raise bad_argument("Request body is invalid.")
    if len(ids) > limit:
        raise bad_argument(f"The length of faceIds must be no more than {limit}.")
    if len(ids) < minimum:
        raise bad_argument(f"The length of faceIds must be at least {minimum}.")
    return [_face_id(i, "faceIds") for i in ids]


def _one_group(ctx: Context, body: dict[str, Any]) -> tuple[PersonGroupRecord, str, str]:
    """The (large) person group a body names; returns (group, code prefix, label)."""
    pg, lpg = body.get("personGroupId"), body.get("largePersonGroupId")
    if (pg is None) == (lpg is None):
        raise bad_argument(
            "Request body is invalid. Exactly one of personGroupId and largePersonGroupId "
            "must be given."
        )
    large = lpg is not None
    group_id = lpg if large else pg
    if not isinstance(group_id, str) or not ID_RE.match(group_id):
        raise bad_argument(
            "Person group ID or Large Perosn Group ID is invalid. Valid format should be a "
            "string composed by numbers, English letters in lower case, '-', '_', and no longer "
            "than 64 characters."
        )
    prefix, label = (
        ("LargePersonGroup", "Large person group")
        if large
        else (
            "PersonGroup",
            "Person group",
        )
    )
    group = ctx.state.groups(large).get(group_id)
    if group is None:
        raise not_found(
            f"{prefix}NotFound", label, "largePersonGroupId" if large else "personGroupId"
        )
    return group, prefix, label


def _check_models(faces: list[DetectedFaceRecord], model: str | None = None) -> None:
    models = {face.recognition_model for face in faces}
    if model is not None:
        models.add(model)
    if len(models) > 1:
        raise bad_argument(
            "The recognition models of the faces and the target are not consistent: "
            + ", ".join(sorted(models))
            + "."
        )


def _trained_model(
    ctx: Context, target: PersonGroupRecord | FaceListRecord, prefix: str, label: str, name: str
) -> dict[str, list[str]]:
    now = ctx.clock.now()
    training = target.training
    model = training.usable_model(now) if training is not None else None
    if model is not None:
        return model
    if training is not None and training.status(now) in ("notstarted", "running"):
        raise ApiError(409, f"{prefix}TrainingNotFinished", f"{label} '{name}' is under training.")
    raise ApiError(400, f"{prefix}NotTrained", f"{label} '{name}' not trained.")


# ---------------------------------------------------------------------------- identify


async def identify(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Face_Identify: candidates are persons of the trained group with the same identity."""
    body = await read_json(request)
    ids = _face_ids(body, ctx.limits.identify_max_face_ids)
    max_candidates = body.get("maxNumOfCandidatesReturned", 1)
    if (
        not isinstance(max_candidates, int)
        or isinstance(max_candidates, bool)
        or not 1 <= max_candidates <= ctx.limits.identify_max_candidates
    ):
        raise bad_argument(
            "Invalid argument maxNumOfCandidatesReturned: must be between 1 and "
            f"{ctx.limits.identify_max_candidates}."
        )
    threshold = body.get("confidenceThreshold")
    if threshold is not None and (
        not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1
    ):
        raise bad_argument("Invalid argument confidenceThreshold: must be between 0 and 1.")
    group, prefix, label = _one_group(ctx, body)
    faces = [_live(ctx, face_id) for face_id in ids]
    _check_models(faces, group.recognition_model)
    model = _trained_model(ctx, group, prefix, label, group.group_id)
    floor = 0.5 if threshold is None else float(threshold)
    identity_of: dict[str, str] = {}
    if floor < 0.45:
        for identity, persons in model.items():
            for person_id in persons:
                identity_of.setdefault(person_id, identity)
    results = []
    for face in faces:
        scored: dict[str, float] = {}
        for person_id in model.get(face.identity, ()):
            scored[person_id] = same_confidence(face.identity, person_id)
        for person_id, identity in identity_of.items():
            if person_id not in scored:
                scored[person_id] = other_confidence(face.identity, identity, person_id)
        candidates = heapq.nlargest(
            max_candidates,
            ((conf, pid) for pid, conf in scored.items() if conf >= floor and pid in group.persons),
        )
        results.append(
            {
                "faceId": face.face_id,
                "candidates": [{"personId": pid, "confidence": conf} for conf, pid in candidates],
            }
        )
    return json_response(results)


# ---------------------------------------------------------------------------- verify


async def verify_face_to_face(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Face_VerifyFaceToFace."""
    body = await read_json(request)
    if "faceId1" not in body or "faceId2" not in body:
        raise bad_argument("Request body is invalid.")
    first = _face_id(body["faceId1"], "faceId1")
    second = _face_id(body["faceId2"], "faceId2")
    face1, face2 = _live(ctx, first), _live(ctx, second)
    _check_models([face1, face2])
    confidence = score(face1.identity, face2.identity, *sorted((first, second)))
    return json_response({"isIdentical": confidence >= 0.5, "confidence": confidence})


async def verify_face_to_person(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Face_VerifyFaceToPerson: compares with the person's current faces (no training needed)."""
    body = await read_json(request)
    face_id = _face_id(body.get("faceId"))
    person_id = body.get("personId")
    if not isinstance(person_id, str) or not UUID_RE.match(person_id):
        raise bad_argument(
            "Person ID is invalid. Valid personId is generated from PersonGroup Person - Create "
            "or LargePersonGroup Person - Create for existing person."
        )
    group, _, _ = _one_group(ctx, body)
    face = _live(ctx, face_id)
    person = group.persons.get(person_id.lower())
    if person is None:
        raise not_found("PersonNotFound", "Person", "personId")
    _check_models([face], group.recognition_model)
    identities = {f.identity for f in person.faces.values()}
    if face.identity in identities:
        confidence = same_confidence(face.identity, person.person_id)
    elif identities:
        confidence = other_confidence(face.identity, min(identities), person.person_id)
    else:
        confidence = 0.0
    return json_response({"isIdentical": confidence >= 0.5, "confidence": confidence})


# ---------------------------------------------------------------------------- find similar


async def find_similar(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Face_FindSimilar over faceIds, a face list, or a trained large face list."""
    body = await read_json(request)
    if "faceId" not in body:
        raise bad_argument("Request body is invalid.")
    query_id = _face_id(body["faceId"])
    sources = [k for k in ("faceIds", "faceListId", "largeFaceListId") if body.get(k) is not None]
    if len(sources) != 1:
        raise bad_argument(
            "Request body is invalid. Exactly one of faceIds, faceListId and largeFaceListId "
            "must be given."
        )
    mode = body.get("mode", "matchPerson")
    if mode not in ("matchPerson", "matchFace"):
        raise bad_argument("Invalid argument mode: must be matchPerson or matchFace.")
    top = body.get("maxNumOfCandidatesReturned", 20)
    top_limit = ctx.limits.find_similar_max_candidates
    if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= top_limit:
        raise bad_argument(
            f"Invalid argument maxNumOfCandidatesReturned: must be between 1 and {top_limit}."
        )
    source = sources[0]
    candidates: list[tuple[str, str]]  # (id, identity)
    key = "persistedFaceId"
    if source == "faceIds":
        ids = _face_ids(body, ctx.limits.find_similar_max_face_ids)
        query = _live(ctx, query_id)
        others = [_live(ctx, i) for i in ids]
        _check_models([query, *others])
        candidates = [(o.face_id, o.identity) for o in others]
        key = "faceId"
    else:
        large = source == "largeFaceListId"
        list_id = body[source]
        prefix, label = ("LargeFaceList", "Large face list") if large else ("FaceList", "Face list")
        if not isinstance(list_id, str) or not ID_RE.match(list_id):
            raise bad_argument(f"Invalid argument {source}.")
        face_list = ctx.state.lists(large).get(list_id)
        if face_list is None:
            raise not_found(f"{prefix}NotFound", label, source)
        query = _live(ctx, query_id)
        _check_models([query], face_list.recognition_model)
        if large:
            trained = _trained_model(ctx, face_list, prefix, label, list_id)
            # matchPerson keeps confidences >= 0.5, which only the same identity scores: the
            # other identities' faces (all but a few of a million) need not be scored at all.
            identities = [query.identity] if mode == "matchPerson" else list(trained)
            candidates = [
                (pfid, identity)
                for identity in identities
                for pfid in trained.get(identity, ())
                if pfid in face_list.faces
            ]
        else:
            candidates = [(f.persisted_face_id, f.identity) for f in face_list.faces.values()]
    scored = [(score(query.identity, identity, cid), cid) for cid, identity in candidates]
    if mode == "matchPerson":
        scored = [pair for pair in scored if pair[0] >= 0.5]
    best = heapq.nlargest(top, scored)
    return json_response([{key: cid, "confidence": conf} for conf, cid in best])


# ---------------------------------------------------------------------------- group


async def group(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Face_Group: faces of one identity form a group; identities seen once are messy."""
    body = await read_json(request)
    ids = _face_ids(body, ctx.limits.group_max_face_ids, ctx.limits.group_min_face_ids)
    faces = [_live(ctx, face_id) for face_id in ids]
    _check_models(faces)
    by_identity: dict[str, list[str]] = {}
    for face in faces:
        members = by_identity.setdefault(face.identity, [])
        if face.face_id not in members:
            members.append(face.face_id)
    groups = sorted((m for m in by_identity.values() if len(m) > 1), key=len, reverse=True)
    messy = [m[0] for m in by_identity.values() if len(m) == 1]
    return json_response({"groups": groups, "messyGroup": messy})
