"""Command line of the emulator: `python -m face_async.emulator` and `face-async emulator`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from ._config import CONFLICT_MODES, FAULT_KINDS, EmulatorConfig, Fault, Latency, RateLimit
from ._server import Emulator

__all__ = ["build_config", "configure_parser", "main", "run"]

_T = TypeVar("_T")


def _argument(parse: Callable[[str], _T], what: str) -> Callable[[str], _T]:
    def convert(text: str) -> _T:
        try:
            return parse(text)
        except (ValueError, TypeError) as exc:
            # attrs validators raise ValueError(message, attribute, options, value): show the
            # message only, not the Attribute(...) repr.
            first = exc.args[0] if exc.args else exc
            reason = first if isinstance(first, str) else str(exc)
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: {reason}") from None

    convert.__name__ = what  # argparse names the converter in its error messages
    return convert


def _latency_rule(text: str) -> tuple[str, Latency]:
    glob, sep, spec = text.partition("=")
    if not sep or not glob:
        raise ValueError("expected OPGLOB=SECONDS or OPGLOB=DIST:A:B")
    return glob, Latency.parse(spec)


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError("must be >= 0")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be >= 1")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be within 0..65535")
    return value


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to `parser` (shared with `face-async emulator`)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_argument(_port, "port"),
        default=8765,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--key",
        default=None,
        help="the only subscription key accepted (default: a random key, printed at start)",
    )
    parser.add_argument(
        "--latency",
        action="append",
        default=[],
        metavar="OPGLOB=SPEC",
        type=_argument(_latency_rule, "latency"),
        help="added latency for operationIds matching OPGLOB: SECONDS, uniform:LOW:HIGH, "
        "normal:MEAN:STDDEV or lognormal:MEDIAN:SIGMA (repeatable; first match wins)",
    )
    parser.add_argument(
        "--rate-limit",
        metavar="TPS[:BURST]",
        type=_argument(RateLimit.parse, "rate limit"),
        default=None,
        help="token bucket per key; excess calls get 429 with Retry-After",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND:PROB[:OPGLOB[:COUNT]]",
        type=_argument(Fault.parse, "fault"),
        help=f"inject a fault; KIND is one of {', '.join(FAULT_KINDS)} (repeatable)",
    )
    parser.add_argument(
        "--slow-seconds",
        type=_argument(_non_negative_float, "seconds"),
        default=30.0,
        help="delay of the 'slow' fault (default: %(default)s)",
    )
    parser.add_argument(
        "--conflict-mode",
        choices=CONFLICT_MODES,
        default="conflict",
        help="a second concurrent add/delete face on one person: 409 or wait "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--training-seconds",
        type=_argument(_non_negative_float, "seconds"),
        default=None,
        help="how long a training stays running",
    )
    parser.add_argument(
        "--max-persons-per-group",
        type=_argument(_positive_int, "count"),
        default=None,
        help="persons allowed in one PersonGroup",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of latency and fault draws (default: 0)"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")


def build_config(args: argparse.Namespace) -> EmulatorConfig:
    """The EmulatorConfig described by parsed command line `args`."""
    config = EmulatorConfig(
        latency=dict(args.latency),
        rate_limit=args.rate_limit,
        faults=list(args.fault),
        slow_seconds=args.slow_seconds,
        conflict_mode=args.conflict_mode,
        seed=args.seed,
    )
    if args.training_seconds is not None:
        config.limits.training_seconds = args.training_seconds
    if args.max_persons_per_group is not None:
        config.limits.max_persons_per_person_group = args.max_persons_per_group
    return config


async def _serve(emulator: Emulator) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows; Ctrl-C then arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with emulator:
        # The names the library (AsyncFaceClient.from_env) and the CLI read.
        print(f"FACE_ENDPOINT={emulator.url}", flush=True)
        print(f"FACE_APIKEY={emulator.key}", flush=True)
        print(
            f"Face API v1.0 emulator serving {emulator.url}/face/v1.0 (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
    print("Face API v1.0 emulator stopped", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Serve the emulator described by `args` until SIGINT/SIGTERM; the exit status."""
    if args.access_log:
        import logging

        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    emulator = Emulator(
        key=args.key,
        host=args.host,
        port=args.port,
        config=build_config(args),
        access_log=args.access_log,
    )
    try:
        asyncio.run(_serve(emulator))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        # A port in use or an address that cannot be bound is a configuration problem: exit 2,
        # one line, as for a bad option.
        why = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        print(
            f"face-async emulator: error: cannot listen on {args.host}:{args.port}: {why} "
            "(choose another --port, or --port 0 for a free one)",
            file=sys.stderr,
        )
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m face_async.emulator [options]`; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m face_async.emulator",
        description="Serve a local emulator of the Azure Face API v1.0 (for tests and "
        "benchmarks). When ready, prints FACE_ENDPOINT=... and FACE_APIKEY=... (the variables "
        "the library and face-async read).",
        epilog="exit codes: 0 stopped by Ctrl-C or SIGTERM; 2 usage or configuration error "
        "(bad option, port in use)",
        allow_abbrev=False,
    )
    configure_parser(parser)
    return run(parser.parse_args(argv))
