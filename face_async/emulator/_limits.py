"""The documented limits of the Face API v1.0 that the emulator enforces."""

from __future__ import annotations

import attrs


@attrs.define
class ServiceLimits:
    """Limits from the Face API v1.0 reference; tests and benchmarks may lower or raise them.

    ``training_seconds`` is how long a training stays ``running`` (real event-loop time),
    ``snapshot_seconds`` how long a snapshot take/apply operation takes (``notStarted`` for
    its first fifth, then ``running``). Quotas are the S0 tier's;
    ``snapshot_takes_per_day``/``snapshot_applies_per_day`` count the operations accepted in
    the last 24 hours of the emulator's clock.
    """

    max_faces_per_person: int = 248
    max_persons_per_person_group: int = 10_000
    max_persons_per_large_person_group: int = 1_000_000
    max_faces_per_face_list: int = 1_000
    max_faces_per_large_face_list: int = 1_000_000
    max_person_groups: int = 1_000_000
    max_face_lists: int = 64
    max_large_face_lists: int = 1_000_000
    snapshot_takes_per_day: int = 100
    snapshot_applies_per_day: int = 100
    min_image_bytes: int = 1024
    max_image_bytes: int = 6 * 1024 * 1024
    max_name_length: int = 128
    max_face_user_data: int = 1024
    max_user_data: int = 16 * 1024
    identify_max_face_ids: int = 10
    identify_max_candidates: int = 100
    find_similar_max_candidates: int = 1000
    find_similar_max_face_ids: int = 1000
    group_min_face_ids: int = 2
    group_max_face_ids: int = 1000
    detect_max_faces_returned: int = 100
    list_max_top: int = 1000
    face_id_ttl_default: int = 86_400
    face_id_ttl_min: int = 60
    face_id_ttl_max: int = 86_400
    training_seconds: float = 0.05
    snapshot_seconds: float = 0.05
    snapshot_ttl_seconds: int = 48 * 3600
