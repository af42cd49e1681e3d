"""Models of the Face API v1.0: frozen attrs classes named after the spec's definitions.

Fields are snake_case; the converter (``_converter``) maps them to the service's camelCase.
Enum fields the service keeps extending are typed ``SomeEnum | str``: a known value becomes
the member, an unknown one stays a plain string. This module never imports cattrs.
"""

import enum
from datetime import datetime

import attrs

__all__ = [
    "APIErrorDetail",
    "APIErrorResponse",
    "Accessory",
    "AccessoryType",
    "ApplySnapshotRequest",
    "Blur",
    "BlurLevel",
    "Coordinate",
    "DetectedFace",
    "DetectionModel",
    "Emotion",
    "Exposure",
    "ExposureLevel",
    "FaceAttributeType",
    "FaceAttributes",
    "FaceLandmarks",
    "FaceList",
    "FaceRectangle",
    "FacialHair",
    "FindSimilarMatchMode",
    "FindSimilarRequest",
    "Gender",
    "GlassesType",
    "GroupRequest",
    "GroupResult",
    "Hair",
    "HairColor",
    "HairColorType",
    "HeadPose",
    "IdentifyCandidate",
    "IdentifyRequest",
    "IdentifyResult",
    "ImageUrl",
    "LargeFaceList",
    "LargePersonGroup",
    "Makeup",
    "Mask",
    "MaskType",
    "MetaDataContract",
    "NameAndUserDataContract",
    "Noise",
    "NoiseLevel",
    "NonNullableNameAndNullableUserDataContract",
    "Occlusion",
    "OperationStatus",
    "OperationStatusType",
    "PersistedFace",
    "Person",
    "PersonGroup",
    "QualityForRecognition",
    "RecognitionModel",
    "SimilarFace",
    "Snapshot",
    "SnapshotApplyMode",
    "SnapshotObjectType",
    "TakeSnapshotRequest",
    "TrainingStatus",
    "TrainingStatusType",
    "UpdateFaceRequest",
    "UpdateSnapshotRequest",
    "VerifyFaceToFaceRequest",
    "VerifyFaceToPersonRequest",
    "VerifyResult",
]


# --- enums -------------------------------------------------------------------------------------


class DetectionModel(str, enum.Enum):
    """Face detection model (``detectionModel``)."""

    DETECTION_01 = "detection_01"
    DETECTION_02 = "detection_02"
    DETECTION_03 = "detection_03"


class RecognitionModel(str, enum.Enum):
    """Face recognition model (``recognitionModel``)."""

    RECOGNITION_01 = "recognition_01"
    RECOGNITION_02 = "recognition_02"
    RECOGNITION_03 = "recognition_03"
    RECOGNITION_04 = "recognition_04"


class FaceAttributeType(str, enum.Enum):
    """A face attribute that Detect can return (``returnFaceAttributes``)."""

    AGE = "age"
    GENDER = "gender"
    HEAD_POSE = "headPose"
    SMILE = "smile"
    FACIAL_HAIR = "facialHair"
    GLASSES = "glasses"
    EMOTION = "emotion"
    HAIR = "hair"
    MAKEUP = "makeup"
    OCCLUSION = "occlusion"
    ACCESSORIES = "accessories"
    BLUR = "blur"
    EXPOSURE = "exposure"
    NOISE = "noise"
    MASK = "mask"
    QUALITY_FOR_RECOGNITION = "qualityForRecognition"


class TrainingStatusType(str, enum.Enum):
    """Training status of a group or large face list."""

    # The spec spells "nonstarted" here and "notstarted" for operations; accept both.
    NONSTARTED = "nonstarted"
    NOTSTARTED = "notstarted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class OperationStatusType(str, enum.Enum):
    """Status of a snapshot take/apply operation."""

    NOTSTARTED = "notstarted"
    NONSTARTED = "nonstarted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Gender(str, enum.Enum):
    """Gender attribute value."""

    MALE = "male"
    FEMALE = "female"


class GlassesType(str, enum.Enum):
    """Glasses attribute value."""

    NO_GLASSES = "noGlasses"
    READING_GLASSES = "readingGlasses"
    SUNGLASSES = "sunglasses"
    SWIMMING_GOGGLES = "swimmingGoggles"


class HairColorType(str, enum.Enum):
    """Hair color value."""

    UNKNOWN = "unknown"
    WHITE = "white"
    GRAY = "gray"
    BLOND = "blond"
    BROWN = "brown"
    RED = "red"
    BLACK = "black"
    OTHER = "other"


class AccessoryType(str, enum.Enum):
    """Accessory type."""

    HEAD_WEAR = "headWear"
    GLASSES = "glasses"
    MASK = "mask"


class BlurLevel(str, enum.Enum):
    """Blur level."""

    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class ExposureLevel(str, enum.Enum):
    """Exposure level."""

    UNDER_EXPOSURE = "UnderExposure"
    GOOD_EXPOSURE = "GoodExposure"
    OVER_EXPOSURE = "OverExposure"


class NoiseLevel(str, enum.Enum):
    """Noise level."""

    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class MaskType(str, enum.Enum):
    """Mask type."""

    NO_MASK = "noMask"
    FACE_MASK = "faceMask"
    OTHER_MASK_OR_OCCLUSION = "otherMaskOrOcclusion"
    UNCERTAIN = "uncertain"


class QualityForRecognition(str, enum.Enum):
    """Quality of the image for recognition."""

    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class FindSimilarMatchMode(str, enum.Enum):
    """Find Similar matching mode."""

    MATCH_PERSON = "matchPerson"
    MATCH_FACE = "matchFace"


class SnapshotApplyMode(str, enum.Enum):
    """Snapshot apply mode."""

    CREATE_NEW = "CreateNew"


class SnapshotObjectType(str, enum.Enum):
    """Type of the object a snapshot holds."""

    FACE_LIST = "FaceList"
    LARGE_FACE_LIST = "LargeFaceList"
    LARGE_PERSON_GROUP = "LargePersonGroup"
    PERSON_GROUP = "PersonGroup"


# --- errors ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class APIErrorDetail:
    """The ``error`` object of an error response (spec ``Error``)."""

    code: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class APIErrorResponse:
    """An error response body (spec ``APIError``)."""

    error: APIErrorDetail | None = None


# --- detection ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FaceRectangle:
    """A rectangle within which a face can be found."""

    width: int
    height: int
    left: int
    top: int


@attrs.frozen(kw_only=True)
class Coordinate:
    """A point, in pixels."""

    x: float
    y: float


@attrs.frozen(kw_only=True)
class FaceLandmarks:
    """The 27 landmarks of a face."""

    pupil_left: Coordinate | None = None
    pupil_right: Coordinate | None = None
    nose_tip: Coordinate | None = None
    mouth_left: Coordinate | None = None
    mouth_right: Coordinate | None = None
    eyebrow_left_outer: Coordinate | None = None
    eyebrow_left_inner: Coordinate | None = None
    eye_left_outer: Coordinate | None = None
    eye_left_top: Coordinate | None = None
    eye_left_bottom: Coordinate | None = None
    eye_left_inner: Coordinate | None = None
    eyebrow_right_inner: Coordinate | None = None
    eyebrow_right_outer: Coordinate | None = None
    eye_right_inner: Coordinate | None = None
    eye_right_top: Coordinate | None = None
    eye_right_bottom: Coordinate | None = None
    eye_right_outer: Coordinate | None = None
    nose_root_left: Coordinate | None = None
    nose_root_right: Coordinate | None = None
    nose_left_alar_top: Coordinate | None = None
    nose_right_alar_top: Coordinate | None = None
    nose_left_alar_out_tip: Coordinate | None = None
    nose_right_alar_out_tip: Coordinate | None = None
    upper_lip_top: Coordinate | None = None
    upper_lip_bottom: Coordinate | None = None
    under_lip_top: Coordinate | None = None
    under_lip_bottom: Coordinate | None = None


@attrs.frozen(kw_only=True)
class FacialHair:
    """Facial hair confidences (0..1)."""

    moustache: float | None = None
    beard: float | None = None
    sideburns: float | None = None


@attrs.frozen(kw_only=True)
class HeadPose:
    """Head pose angles, in degrees."""

    roll: float | None = None
    yaw: float | None = None
    pitch: float | None = None


@attrs.frozen(kw_only=True)
class Emotion:
    """Emotion confidences (0..1)."""

    anger: float | None = None
    contempt: float | None = None
    disgust: float | None = None
    fear: float | None = None
    happiness: float | None = None
    neutral: float | None = None
    sadness: float | None = None
    surprise: float | None = None


@attrs.frozen(kw_only=True)
class HairColor:
    """A hair color and its confidence."""

    color: HairColorType | str | None = None
    confidence: float | None = None


@attrs.frozen(kw_only=True)
class Hair:
    """Hair properties."""

    bald: float | None = None
    invisible: bool | None = None
    hair_color: list[HairColor] | None = None


@attrs.frozen(kw_only=True)
class Makeup:
    """Whether eye and lip makeup are present."""

    eye_makeup: bool | None = None
    lip_makeup: bool | None = None


@attrs.frozen(kw_only=True)
class Occlusion:
    """Whether the forehead, eyes and mouth are occluded."""

    forehead_occluded: bool | None = None
    eye_occluded: bool | None = None
    mouth_occluded: bool | None = None


@attrs.frozen(kw_only=True)
class Accessory:
    """An accessory and its confidence."""

    type: AccessoryType | str | None = None
    confidence: float | None = None


@attrs.frozen(kw_only=True)
class Blur:
    """Blur level and value."""

    blur_level: BlurLevel | str | None = None
    value: float | None = None


@attrs.frozen(kw_only=True)
class Exposure:
    """Exposure level and value."""

    exposure_level: ExposureLevel | str | None = None
    value: float | None = None


@attrs.frozen(kw_only=True)
class Noise:
    """Noise level and value."""

    noise_level: NoiseLevel | str | None = None
    value: float | None = None


@attrs.frozen(kw_only=True)
class Mask:
    """Mask type and whether nose and mouth are covered."""

    type: MaskType | str | None = None
    nose_and_mouth_covered: bool | None = None


@attrs.frozen(kw_only=True)
class FaceAttributes:
    """Face attributes returned by Detect (only those requested are set)."""

    age: float | None = None
    gender: Gender | str | None = None
    smile: float | None = None
    facial_hair: FacialHair | None = None
    glasses: GlassesType | str | None = None
    head_pose: HeadPose | None = None
    emotion: Emotion | None = None
    hair: Hair | None = None
    makeup: Makeup | None = None
    occlusion: Occlusion | None = None
    accessories: list[Accessory] | None = None
    blur: Blur | None = None
    exposure: Exposure | None = None
    noise: Noise | None = None
    mask: Mask | None = None
    quality_for_recognition: QualityForRecognition | str | None = None


@attrs.frozen(kw_only=True)
class DetectedFace:
    """A face found by Detect."""

    face_rectangle: FaceRectangle
    face_id: str | None = None
    recognition_model: RecognitionModel | str | None = None
    face_landmarks: FaceLandmarks | None = None
    face_attributes: FaceAttributes | None = None


# --- find similar, group, identify, verify -----------------------------------------------------


@attrs.frozen(kw_only=True)
class FindSimilarRequest:
    """Body of Find Similar."""

    face_id: str
    face_list_id: str | None = None
    large_face_list_id: str | None = None
    face_ids: list[str] | None = None
    max_num_of_candidates_returned: int | None = None
    mode: FindSimilarMatchMode | str | None = None


@attrs.frozen(kw_only=True)
class SimilarFace:
    """A Find Similar match."""

    confidence: float
    face_id: str | None = None
    persisted_face_id: str | None = None


@attrs.frozen(kw_only=True)
class GroupRequest:
    """Body of Group."""

    face_ids: list[str]


@attrs.frozen(kw_only=True)
class GroupResult:
    """Groups of similar faces, plus the faces that matched none."""

    groups: list[list[str]]
    messy_group: list[str] | None = None


@attrs.frozen(kw_only=True)
class IdentifyRequest:
    """Body of Identify."""

    face_ids: list[str]
    person_group_id: str | None = None
    large_person_group_id: str | None = None
    max_num_of_candidates_returned: int | None = None
    confidence_threshold: float | None = None


@attrs.frozen(kw_only=True)
class IdentifyCandidate:
    """A person who may own a query face."""

    person_id: str
    confidence: float


@attrs.frozen(kw_only=True)
class IdentifyResult:
    """Identify result for one query face."""

    face_id: str
    candidates: list[IdentifyCandidate]


@attrs.frozen(kw_only=True)
class VerifyFaceToPersonRequest:
    """Body of Verify (face to person)."""

    face_id: str
    person_id: str
    person_group_id: str | None = None
    large_person_group_id: str | None = None


@attrs.frozen(kw_only=True)
class VerifyFaceToFaceRequest:
    """Body of Verify (face to face)."""

    face_id1: str
    face_id2: str


@attrs.frozen(kw_only=True)
class VerifyResult:
    """Whether two faces belong to the same person."""

    is_identical: bool
    confidence: float


# --- lists, groups, persons --------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ImageUrl:
    """Body of the URL variants of Detect and Add Face."""

    url: str


@attrs.frozen(kw_only=True)
class PersistedFace:
    """A face stored in a face list or person."""

    persisted_face_id: str
    user_data: str | None = None


@attrs.frozen(kw_only=True)
class FaceList:
    """A face list."""

    face_list_id: str
    name: str
    user_data: str | None = None
    recognition_model: RecognitionModel | str | None = None
    persisted_faces: list[PersistedFace] | None = None


@attrs.frozen(kw_only=True)
class LargeFaceList:
    """A large face list."""

    large_face_list_id: str
    name: str
    user_data: str | None = None
    recognition_model: RecognitionModel | str | None = None


@attrs.frozen(kw_only=True)
class PersonGroup:
    """A person group."""

    person_group_id: str
    name: str
    user_data: str | None = None
    recognition_model: RecognitionModel | str | None = None


@attrs.frozen(kw_only=True)
class LargePersonGroup:
    """A large person group."""

    large_person_group_id: str
    name: str
    user_data: str | None = None
    recognition_model: RecognitionModel | str | None = None


@attrs.frozen(kw_only=True)
class Person:
    """A person in a (large) person group."""

    person_id: str
    name: str | None = None
    user_data: str | None = None
    persisted_face_ids: list[str] | None = None


@attrs.frozen(kw_only=True)
class NameAndUserDataContract:
    """Name and user data (body of person create/update and group update)."""

    name: str | None = None
    user_data: str | None = None


@attrs.frozen(kw_only=True)
class NonNullableNameAndNullableUserDataContract:
    """A required name and optional user data."""

    name: str
    user_data: str | None = None


@attrs.frozen(kw_only=True)
class MetaDataContract:
    """Name, user data and recognition model (body of group and list create)."""

    name: str
    user_data: str | None = None
    recognition_model: RecognitionModel | str | None = None


@attrs.frozen(kw_only=True)
class UpdateFaceRequest:
    """Body of Update Face."""

    user_data: str | None = None


@attrs.frozen(kw_only=True)
class TrainingStatus:
    """Training status of a group or large face list."""

    status: TrainingStatusType | str
    created_date_time: datetime
    last_action_date_time: datetime | None = None
    last_successful_training_date_time: datetime | None = None
    message: str | None = None
    #: Sent by the live service, not in the spec.
    last_successful_training_id: str | None = None


# --- snapshots ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Snapshot:
    """A snapshot of a face list or person group."""

    id: str
    account: str
    type: SnapshotObjectType | str
    apply_scope: list[str]
    created_time: datetime
    last_update_time: datetime
    user_data: str | None = None


@attrs.frozen(kw_only=True)
class TakeSnapshotRequest:
    """Body of Snapshot - Take."""

    type: SnapshotObjectType | str
    object_id: str
    apply_scope: list[str]
    user_data: str | None = None


@attrs.frozen(kw_only=True)
class ApplySnapshotRequest:
    """Body of Snapshot - Apply."""

    object_id: str
    mode: SnapshotApplyMode | str | None = None


@attrs.frozen(kw_only=True)
class UpdateSnapshotRequest:
    """Body of Snapshot - Update."""

    apply_scope: list[str] | None = None
    user_data: str | None = None


@attrs.frozen(kw_only=True)
class OperationStatus:
    """Status of a snapshot take/apply operation."""

    status: OperationStatusType | str
    created_time: datetime
    last_action_time: datetime | None = None
    resource_location: str | None = None
    message: str | None = None
    #: Sent by the live service, not in the spec.
    finished_time: datetime | None = None
