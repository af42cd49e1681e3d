"""Scenario 2 — parsing: a 100-face detect response with every attribute and the landmarks.

Bytes to objects, in one worker process, the parsers interleaved per repetition:

- ``json.loads`` and ``orjson.loads`` alone (dicts, no models: the floor),
- face-async: ``structure_list(loads(raw), DetectedFace, consume=True)``, the client's own path
  for a body it just decoded (orjson when installed),
- msrest (azure-cognitiveservices-vision-face 0.6.1): its ``Deserializer`` on the bytes,
- azure-ai-vision-face 1.0.0b2: ``_deserialize(List[FaceDetectionResult], json.loads(raw))``,
  what its ``detect`` does with ``response.json()``.

The generated SDK models of azure-ai-vision-face are lazy (a dict wrapper; each attribute read
converts), so "parse" alone flatters them. Each parser is therefore also timed as
"parse + read every field" (a recursive walk over every model attribute), which is what an
application that uses the result pays. The garbage collector stays on (as in an application).
"""

from __future__ import annotations

import gc
import importlib
import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks import _harness
from benchmarks._harness import summarize

_LANDMARKS = [
    "pupilLeft",
    "pupilRight",
    "noseTip",
    "mouthLeft",
    "mouthRight",
    "eyebrowLeftOuter",
    "eyebrowLeftInner",
    "eyeLeftOuter",
    "eyeLeftTop",
    "eyeLeftBottom",
    "eyeLeftInner",
    "eyebrowRightInner",
    "eyebrowRightOuter",
    "eyeRightInner",
    "eyeRightTop",
    "eyeRightBottom",
    "eyeRightOuter",
    "noseRootLeft",
    "noseRootRight",
    "noseLeftAlarTop",
    "noseRightAlarTop",
    "noseLeftAlarOutTip",
    "noseRightAlarOutTip",
    "upperLipTop",
    "upperLipBottom",
    "underLipTop",
    "underLipBottom",
]


def detect_response(faces: int = 100, seed: int = 7) -> bytes:
    """A detect answer as the service sends it: every attribute, the 27 landmarks, faceIds."""
    rng = random.Random(seed)

    def r(lo: float = 0.0, hi: float = 1.0, nd: int = 3) -> float:
        return round(rng.uniform(lo, hi), nd)

    out = []
    for i in range(faces):
        left, top = 20 + (i % 10) * 90, 20 + (i // 10) * 90
        out.append(
            {
                "faceId": str(uuid.UUID(int=rng.getrandbits(128))),
                "recognitionModel": "recognition_04",
                "faceRectangle": {"width": 78, "height": 78, "left": left, "top": top},
                "faceLandmarks": {
                    name: {"x": r(left, left + 78, 1), "y": r(top, top + 78, 1)}
                    for name in _LANDMARKS
                },
                "faceAttributes": {
                    "age": r(5, 90, 1),
                    "gender": rng.choice(["male", "female"]),
                    "smile": r(),
                    "facialHair": {"moustache": r(), "beard": r(), "sideburns": r()},
                    "glasses": rng.choice(["NoGlasses", "ReadingGlasses", "Sunglasses"]),
                    "headPose": {"roll": r(-20, 20, 1), "yaw": r(-20, 20, 1), "pitch": r(-9, 9)},
                    "emotion": {
                        k: r()
                        for k in [
                            "anger",
                            "contempt",
                            "disgust",
                            "fear",
                            "happiness",
                            "neutral",
                            "sadness",
                            "surprise",
                        ]
                    },
                    "hair": {
                        "bald": r(),
                        "invisible": rng.random() < 0.1,
                        "hairColor": [
                            {"color": c, "confidence": r()}
                            for c in ("brown", "blond", "black", "other", "gray", "red")
                        ],
                    },
                    "makeup": {"eyeMakeup": rng.random() < 0.5, "lipMakeup": rng.random() < 0.5},
                    "occlusion": {
                        "foreheadOccluded": False,
                        "eyeOccluded": False,
                        "mouthOccluded": rng.random() < 0.2,
                    },
                    "accessories": [
                        {"type": "headWear", "confidence": r()},
                        {"type": "glasses", "confidence": r()},
                        {"type": "mask", "confidence": r()},
                    ],
                    "blur": {"blurLevel": rng.choice(["Low", "Medium", "High"]), "value": r()},
                    "exposure": {
                        "exposureLevel": rng.choice(
                            ["UnderExposure", "GoodExposure", "OverExposure"]
                        ),
                        "value": r(),
                    },
                    "noise": {"noiseLevel": rng.choice(["Low", "Medium", "High"]), "value": r()},
                    "mask": {"type": "noMask", "noseAndMouthCovered": False},
                    "qualityForRecognition": rng.choice(["Low", "Medium", "High"]),
                },
            }
        )
    return json.dumps(out, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------------------
# walkers: read every field of the parsed objects


_FIELDS: dict[type, tuple[str, ...]] = {}
_LEAF: tuple[str, ...] = ()


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        import attrs

        if attrs.has(cls):
            names = tuple(f.name for f in attrs.fields(cls))
        elif hasattr(cls, "_attribute_map"):  # msrest Model
            names = tuple(cls._attribute_map)
        elif hasattr(cls, "_attr_to_rest_field"):  # azure-core generated Model
            names = tuple(cls._attr_to_rest_field)
        else:
            names = _LEAF
        _FIELDS[cls] = names
    return names


def _walk_any(obj: Any) -> int:
    """Read every field of every object (names cached per class, so the walk itself is cheap)."""
    if isinstance(obj, list):
        return sum(_walk_any(x) for x in obj)
    if isinstance(obj, dict):
        return sum(_walk_any(v) for v in obj.values())
    names = _FIELDS.get(type(obj))
    if names is None:
        names = _field_names(type(obj))
    if not names:
        return 1
    return sum(_walk_any(getattr(obj, name)) for name in names)


def _with_walk(fn: Callable[[], object]) -> Callable[[], object]:
    def parse_and_walk() -> object:
        return _walk_any(fn())

    return parse_and_walk


def _parsers(raw: bytes) -> dict[str, tuple[Callable[[], object], str]]:
    """name -> (callable, reason it is n/a or '')."""
    parsers: dict[str, tuple[Callable[[], object], str]] = {}
    parsers["json.loads"] = (lambda: json.loads(raw), "")
    try:
        import orjson

        parsers["orjson.loads"] = (lambda: orjson.loads(raw), "")
    except ImportError:
        parsers["orjson.loads"] = (lambda: None, "orjson not installed")
    try:
        from face_async._converter import loads, structure_list
        from face_async._models import DetectedFace

        parsers["face-async"] = (
            lambda: structure_list(loads(raw), DetectedFace, consume=True),
            "",
        )
    except ImportError as exc:
        parsers["face-async"] = (lambda: None, f"import failed: {exc}")
    try:
        old_models: Any = importlib.import_module("azure.cognitiveservices.vision.face.models")
        msrest: Any = importlib.import_module("msrest")

        client_models = {k: v for k, v in old_models.__dict__.items() if isinstance(v, type)}
        deserializer = msrest.Deserializer(client_models)
        parsers["msrest"] = (
            lambda: deserializer("[DetectedFace]", raw, "application/json"),
            "",
        )
    except ImportError as exc:
        parsers["msrest"] = (lambda: None, f"not installed ({exc.name})")
    try:
        model_base: Any = importlib.import_module("azure.ai.vision.face._model_base")
        new_models: Any = importlib.import_module("azure.ai.vision.face.models")

        target = list[new_models.FaceDetectionResult]
        parsers["azure-ai-vision-face"] = (
            lambda: model_base._deserialize(target, json.loads(raw)),
            "",
        )
    except ImportError as exc:
        parsers["azure-ai-vision-face"] = (lambda: None, f"not installed ({exc.name})")
    return parsers


LABELS = {
    "json.loads": "json.loads (dicts only)",
    "orjson.loads": "orjson.loads (dicts only)",
    "face-async": "face-async (orjson + cattrs -> frozen attrs)",
    "msrest": "msrest Deserializer (azure-cognitiveservices-vision-face 0.6.1)",
    "azure-ai-vision-face": "azure-ai-vision-face 1.0.0b2 models (lazy)",
}


def task_parse(spec: dict[str, Any]) -> dict[str, Any]:
    """Worker side: time every parser, interleaved, ``repeats`` times."""
    raw = detect_response(spec["faces"])
    parsers = _parsers(raw)
    variants: dict[str, Callable[[], object]] = {}
    na: dict[str, str] = {}
    for name, (fn, why) in parsers.items():
        if why:
            na[name] = why
            continue
        # Check it works and produces 100 faces before timing anything.
        parsed = fn()
        if not isinstance(parsed, list) or len(parsed) != spec["faces"]:
            na[name] = f"unexpected result {type(parsed).__name__}"
            continue
        variants[name] = fn
        if name != "json.loads":
            variants[name + " +walk"] = _with_walk(fn)
    # Calibrate: iterations per batch so that one batch takes ~target seconds.
    batch: dict[str, int] = {}
    for name, fn in variants.items():
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < spec["calibrate_s"] and n < 100_000:
            fn()
            n += 1
        per = (time.perf_counter() - t0) / max(n, 1)
        batch[name] = max(3, int(spec["batch_s"] / per))
    samples: dict[str, list[float]] = {name: [] for name in variants}
    gc.collect()
    for rep in range(spec["repeats"]):
        for name in _harness.interleaved(list(variants), rep):
            fn, n = variants[name], batch[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n * 1e6)
    if spec.get("profile_path") and "face-async" in variants:
        _profile(variants["face-async"], spec["profile_path"], 50)
    return {"bytes": len(raw), "samples_us": samples, "batch": batch, "na": na}


def _profile(fn: Callable[[], object], path: str, iterations: int) -> None:
    """cProfile ``iterations`` calls of ``fn``; the top functions by own time, as text."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        fn()
    profiler.disable()
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("tottime").print_stats(25)
    with open(path, "w") as fh:
        fh.write(f"# face-async: {iterations} parses of a 100-face detect response, by own time\n")
        fh.write(buffer.getvalue())


def run(config: dict[str, Any]) -> dict[str, Any]:
    spec = {
        "task": "parse",
        "faces": config["faces"],
        "repeats": config["runs"],
        "batch_s": config["batch_s"],
        "calibrate_s": config["calibrate_s"],
        "profile_path": config.get("profile_path"),
    }
    out = _harness.run_worker(spec, timeout=config["timeout_s"])
    samples: dict[str, list[float]] = out["samples_us"]
    base = samples.get("orjson.loads") or []
    base_walk = samples.get("orjson.loads +walk") or []
    result: dict[str, Any] = {"config": dict(config), "bytes": out["bytes"], "na": out["na"]}
    rows: dict[str, Any] = {}
    for name, values in samples.items():
        ref = base_walk if name.endswith("+walk") else base
        ratios = [v / b for v, b in zip(values, ref, strict=False) if b]
        rows[name] = {
            "label": LABELS.get(name.replace(" +walk", ""), name)
            + (" + read every field" if name.endswith("+walk") else ""),
            "us": summarize(values),
            "ratio_to_orjson": summarize(ratios),
            "batch": out["batch"][name],
        }
    result["parsers"] = rows
    for name, row in rows.items():
        _harness.log(
            f"parse {name}: {row['us']['median']:.0f} us "
            f"({(row['ratio_to_orjson']['median'] or 0):.2f}x orjson)"
        )
    return result
