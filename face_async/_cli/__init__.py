"""The ``face-async`` command line: enroll, identify, emulator, demo.

One module per job: ``_parser`` (argparse: no abbreviations, defaults shown, secrets never
echoed), ``_commands`` (the commands), ``_photos`` (the photos folder), ``_progress`` (bar,
lines, ticks; logs through the bar), ``_report`` (summary and ``--report`` JSON lines) and
``_exit`` (the exit codes, one meaning each, and the hint for an error).

The subscription key is read from an environment variable (``FACE_APIKEY``, or the one named
by ``--key-env``), never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from face_async._cli._commands import demo_command, enroll_command, identify_command
from face_async._cli._exit import EXIT_INTERRUPTED, outcome_of
from face_async._cli._parser import build_parser as _build_parser
from face_async._cli._progress import cli_logging

__all__ = ["build_parser", "console_main", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``face-async``."""
    return _build_parser(enroll=enroll_command, identify=identify_command, demo=demo_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``face-async``; returns the exit code (see ``face-async --help``)."""
    args = build_parser().parse_args(argv)
    with cli_logging(args.verbose):
        return _run(args)


def console_main() -> int:
    """The ``face-async`` program (and ``python -m face_async``): :func:`main` in a process
    of its own, whose start-up objects are moved out of the garbage collector's sight."""
    # The process is ours: a full collection over every module and class (~25 ms on a small
    # machine) would stall the event loop once per few thousand faces; frozen, a collection
    # walks only what the run made. A library must not do this to its host's process, so
    # ``enroll()`` does not (docs/enrollment.md, "Loop lag").
    gc.freeze()
    return main()


def _run(args: argparse.Namespace) -> int:
    sync_handler: Callable[[argparse.Namespace], int] | None = getattr(args, "sync_handler", None)
    try:
        if sync_handler is not None:
            return int(sync_handler(args))
        handler: Callable[[argparse.Namespace], Coroutine[Any, Any, int]] = args.handler
        return asyncio.run(handler(args))
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        outcome = outcome_of(exc, key_env=getattr(args, "key_env", "FACE_APIKEY"))
        print(f"face-async: error: {outcome.message}", file=sys.stderr)
        if outcome.hint:
            print(f"face-async: hint: {outcome.hint}", file=sys.stderr)
        return outcome.code


if __name__ == "__main__":
    sys.exit(console_main())
