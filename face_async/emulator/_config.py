"""The emulator's knobs: latency, rate limit, faults, conflict mode, seed.

`EmulatorConfig` is mutable while the emulator runs; the middleware reads it on every request,
so a test can change `emu.config.faults` between two calls and the next call sees it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Literal

import attrs

from ._limits import ServiceLimits

__all__ = [
    "CONFLICT_MODES",
    "DISTRIBUTIONS",
    "FAULT_KINDS",
    "RATE_LIMIT_FORMS",
    "ConflictMode",
    "EmulatorConfig",
    "Fault",
    "FaultKind",
    "Latency",
    "RateLimit",
    "apply_json",
    "glob_match",
]

FaultKind = Literal["429", "500", "503", "408", "reset_before", "reset_after_commit", "slow"]
FAULT_KINDS: tuple[str, ...] = (
    "429",
    "500",
    "503",
    "408",
    "reset_before",
    "reset_after_commit",
    "slow",
)
ConflictMode = Literal["conflict", "wait"]
# The two 429 bodies the live service sends: the API gateway's (`{"error": {"code": "429", ...}}`,
# no Retry-After header, the delay only in the message) and the service's (`"statusCode": 429`
# with Retry-After); "mix" alternates them, starting with the gateway's.
RATE_LIMIT_FORMS: tuple[str, ...] = ("mix", "gateway", "status")
CONFLICT_MODES: tuple[str, ...] = ("conflict", "wait")
DISTRIBUTIONS: tuple[str, ...] = ("fixed", "uniform", "normal", "lognormal")


@lru_cache(maxsize=4096)
def glob_match(pattern: str, operation_id: str) -> bool:
    """Whether `operation_id` matches the shell-style `pattern` (case-sensitive; cached)."""
    return fnmatchcase(operation_id, pattern)


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


@attrs.frozen
class Latency:
    """Added latency for an operation, in seconds, drawn from a distribution.

    fixed: always `a`; uniform: between `a` and `b`; normal: mean `a`, standard deviation `b`;
    lognormal: median `a`, shape (sigma of the log) `b`. Samples below 0 count as 0.
    """

    distribution: str = attrs.field(default="fixed", validator=attrs.validators.in_(DISTRIBUTIONS))
    a: float = attrs.field(default=0.0, converter=float, validator=_non_negative)
    b: float = attrs.field(default=0.0, converter=float, validator=_non_negative)

    @classmethod
    def fixed(cls, seconds: float) -> Latency:
        return cls("fixed", seconds)

    @classmethod
    def uniform(cls, low: float, high: float) -> Latency:
        if high < low:
            raise ValueError(f"uniform latency needs low <= high, got {low}..{high}")
        return cls("uniform", low, high)

    @classmethod
    def normal(cls, mean: float, stddev: float) -> Latency:
        return cls("normal", mean, stddev)

    @classmethod
    def lognormal(cls, median: float, sigma: float) -> Latency:
        return cls("lognormal", median, sigma)

    @classmethod
    def parse(cls, text: str) -> Latency:
        """Parse `SECONDS` or `DIST:A:B` (e.g. `uniform:0.01:0.05`); raises ValueError."""
        parts = text.strip().split(":")
        if len(parts) == 1:
            return cls.fixed(float(parts[0]))
        if len(parts) == 2 and parts[0] == "fixed":
            return cls.fixed(float(parts[1]))
        if len(parts) != 3 or parts[0] not in DISTRIBUTIONS:
            kinds = "|".join(DISTRIBUTIONS[1:])
            raise ValueError(f"latency must be SECONDS or {kinds}:A:B, got {text!r}")
        low, high = float(parts[1]), float(parts[2])
        if parts[0] == "uniform":
            return cls.uniform(low, high)
        return cls(parts[0], low, high)

    def sample(self, rng: random.Random) -> float:
        """Draw one delay in seconds (>= 0) from `rng`."""
        if self.distribution == "fixed":
            return self.a
        if self.distribution == "uniform":
            return rng.uniform(self.a, self.b)
        if self.distribution == "normal":
            return max(0.0, rng.gauss(self.a, self.b))
        return self.a * math.exp(rng.gauss(0.0, self.b))

    def to_text(self) -> str:
        if self.distribution == "fixed":
            return repr(self.a)
        return f"{self.distribution}:{self.a!r}:{self.b!r}"


def _to_latency(value: object) -> Latency:
    if isinstance(value, Latency):
        return value
    if isinstance(value, str):
        return Latency.parse(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Latency.fixed(float(value))
    if isinstance(value, Mapping):
        return Latency(**value)
    raise TypeError(f"cannot make a Latency from {value!r}")


def _to_latency_map(value: Mapping[str, object] | None) -> dict[str, Latency]:
    if value is None:
        return {}
    return {str(glob): _to_latency(latency) for glob, latency in value.items()}


@attrs.frozen
class RateLimit:
    """A token bucket per subscription key: `tps` calls per second, bursts up to `burst`."""

    tps: float = attrs.field(converter=float)
    burst: int | None = None

    @tps.validator
    def _check_tps(self, _: attrs.Attribute[float], value: float) -> None:
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"rate limit tps must be > 0, got {value!r}")

    @property
    def capacity(self) -> float:
        """The bucket size: `burst`, or one second's worth of calls (at least 1)."""
        if self.burst is not None:
            return float(max(1, self.burst))
        return float(max(1, math.ceil(self.tps)))

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse `TPS` or `TPS:BURST`; raises ValueError."""
        tps, _, burst = text.strip().partition(":")
        return cls(float(tps), int(burst) if burst else None)

    def to_text(self) -> str:
        return f"{self.tps!r}" if self.burst is None else f"{self.tps!r}:{self.burst}"


def _to_rate_limit(value: object) -> RateLimit | None:
    if value is None or isinstance(value, RateLimit):
        return value
    if isinstance(value, str):
        return RateLimit.parse(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return RateLimit(float(value))
    if isinstance(value, Mapping):
        return RateLimit(**value)
    raise TypeError(f"cannot make a RateLimit from {value!r}")


def _check_probability(_: object, __: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"fault probability must be within [0, 1], got {value!r}")


# eq=False: rules are compared and hashed by identity, so two equal rules keep separate counts.
@attrs.frozen(eq=False)
class Fault:
    """Inject `kind` into calls whose operationId matches `operations`.

    Each matching call draws from the seeded RNG and is hit with `probability`; after `count`
    hits (when given) the rule stops firing. Kinds: "429" (in the form `rate_limit_form` picks),
    "500", "503", "408" (error answers),
    "reset_before" (connection dropped before handling), "reset_after_commit" (handled, the write
    committed, then the connection dropped without a response), "slow" (handled after
    `EmulatorConfig.slow_seconds`).
    """

    kind: str = attrs.field(validator=attrs.validators.in_(FAULT_KINDS))
    probability: float = attrs.field(default=1.0, converter=float, validator=_check_probability)
    operations: str = "*"
    count: int | None = None

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse `KIND:PROB[:OPGLOB[:COUNT]]`, e.g. `500:0.1:*AddFace*`; raises ValueError."""
        parts = text.strip().split(":")
        if len(parts) < 2 or len(parts) > 4:
            raise ValueError(f"fault must be KIND:PROB[:OPGLOB[:COUNT]], got {text!r}")
        return cls(
            parts[0],
            float(parts[1]),
            parts[2] if len(parts) > 2 and parts[2] else "*",
            int(parts[3]) if len(parts) > 3 else None,
        )

    def to_text(self) -> str:
        text = f"{self.kind}:{self.probability!r}:{self.operations}"
        return text if self.count is None else f"{text}:{self.count}"


def _to_fault(value: object) -> Fault:
    if isinstance(value, Fault):
        return value
    if isinstance(value, str):
        return Fault.parse(value)
    if isinstance(value, Mapping):
        return Fault(**value)
    raise TypeError(f"cannot make a Fault from {value!r}")


def _to_faults(value: Iterable[object] | None) -> list[Fault]:
    return [] if value is None else [_to_fault(item) for item in value]


@attrs.define
class EmulatorConfig:
    """Everything a test or benchmark can turn; assignments are converted and validated.

    `latency` maps an operationId glob to a `Latency` (floats and "uniform:0.01:0.05" strings are
    accepted); the first matching glob, in insertion order, applies. `rate_limit` is per key.
    `rate_limit_form` is the body of the 429s (of the rate limit and of "429" faults): "gateway",
    "status" or "mix" (alternating). `faults` are tried in order; the first rule that fires
    wins. `conflict_mode` decides what a second concurrent add/delete face on one person (or
    face list) gets: "conflict" answers 409 ConcurrentOperationConflict, "wait" queues it.
    `seed` seeds the RNG of latency and faults.
    """

    limits: ServiceLimits = attrs.field(factory=ServiceLimits)
    latency: dict[str, Latency] = attrs.field(factory=dict, converter=_to_latency_map)
    rate_limit: RateLimit | None = attrs.field(default=None, converter=_to_rate_limit)
    rate_limit_form: str = attrs.field(
        default="mix", validator=attrs.validators.in_(RATE_LIMIT_FORMS)
    )
    faults: list[Fault] = attrs.field(factory=list, converter=_to_faults)
    slow_seconds: float = attrs.field(default=30.0, converter=float, validator=_non_negative)
    conflict_mode: str = attrs.field(
        default="conflict", validator=attrs.validators.in_(CONFLICT_MODES)
    )
    seed: int = attrs.field(default=0, converter=int)

    def latency_for(self, operation_id: str) -> Latency | None:
        """The latency rule for `operation_id`, or None."""
        for glob, latency in self.latency.items():
            if glob_match(glob, operation_id):
                return latency
        return None

    def to_json(self) -> dict[str, Any]:
        """The knobs as JSON, in the form `apply_json` accepts."""
        return {
            "limits": attrs.asdict(self.limits),
            "latency": {glob: latency.to_text() for glob, latency in self.latency.items()},
            "rate_limit": None if self.rate_limit is None else self.rate_limit.to_text(),
            "rate_limit_form": self.rate_limit_form,
            "faults": [fault.to_text() for fault in self.faults],
            "slow_seconds": self.slow_seconds,
            "conflict_mode": self.conflict_mode,
            "seed": self.seed,
        }


_JSON_FIELDS = (
    "latency",
    "rate_limit",
    "rate_limit_form",
    "faults",
    "slow_seconds",
    "conflict_mode",
    "seed",
)


def _limit_values(limits: ServiceLimits, data: object) -> dict[str, int | float]:
    if not isinstance(data, Mapping):
        raise TypeError("limits must be a JSON object")
    known = attrs.fields_dict(ServiceLimits)
    values: dict[str, int | float] = {}
    for name, value in data.items():
        if name not in known:
            raise ValueError(f"unknown limit {name!r}")
        current = getattr(limits, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"limit {name!r} must be a number")
        converted = type(current)(value)
        if converted != value or converted < 0:
            raise ValueError(f"limit {name!r} must be a non-negative {type(current).__name__}")
        values[name] = converted
    return values


def apply_json(config: EmulatorConfig, data: object) -> None:
    """Set the knobs named in `data` (a JSON object) on `config`.

    Keys: latency, rate_limit, rate_limit_form, faults, slow_seconds, conflict_mode, seed, in the
    command line forms or as objects, and limits (an object of ServiceLimits fields, changed in
    place so the routes see them). Raises ValueError (or TypeError) on an unknown key or a bad
    value, in which case nothing is changed.
    """
    if not isinstance(data, Mapping):
        raise TypeError("the config must be a JSON object")
    unknown = sorted(set(data) - set(_JSON_FIELDS) - {"limits"})
    if unknown:
        raise ValueError(f"unknown config keys: {', '.join(map(str, unknown))}")
    knobs = {name: value for name, value in data.items() if name != "limits"}
    limits = _limit_values(config.limits, data.get("limits", {}))
    # Validate everything on a copy first so a bad value changes nothing.
    candidate = attrs.evolve(config, **knobs)
    for name in knobs:
        setattr(config, name, getattr(candidate, name))
    for name, value in limits.items():
        setattr(config.limits, name, value)
