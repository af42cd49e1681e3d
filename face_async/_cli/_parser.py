"""The argparse parser of ``face-async``: no abbreviations, defaults shown, secrets never echoed."""

from __future__ import annotations

import argparse
import re
import textwrap
from collections.abc import Callable
from typing import Any, NoReturn

from face_async._cli._exit import exit_codes_text
from face_async._cli._progress import MODES
from face_async._env import ENDPOINT_ENV, KEY_ENV

__all__ = ["REDIS_URL_ENV", "SHARD_INDEX_ENV", "build_parser"]

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SHARD_INDEX_ENV = "JOB_COMPLETION_INDEX"
REDIS_URL_ENV = "FACE_REDIS_URL"
RECOGNITION_MODELS = ("recognition_01", "recognition_02", "recognition_03", "recognition_04")
DETECTION_MODELS = ("detection_01", "detection_02", "detection_03")

ENVIRONMENT = f"""\
environment:
  {ENDPOINT_ENV:<13} endpoint URL or region name (when --endpoint is not given)
  {KEY_ENV:<13} the subscription key (another variable: --key-env NAME); never on the command line
  {REDIS_URL_ENV:<13} enroll: the Redis URL of a shared quota (when --redis-url is not given)
  {SHARD_INDEX_ENV}  enroll --shards N: this worker's shard index (0-based)
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's table as written and shows each option's default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and "default:" not in text
            and action.option_strings
            and default not in (None, False, [], argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that never echoes the values of unknown arguments (a mistyped
    ``--key s3cret`` must not print the secret) and never abbreviates options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        marker = "unrecognized arguments: "
        if marker in message:
            words = message.split(marker, 1)[1].split()
            options = [w.split("=", 1)[0] for w in words if w.startswith("-")]
            hidden = len(words) - len(options)
            message = marker + " ".join(options)
            if hidden:
                message += f" (and {hidden} value{'s' if hidden > 1 else ''}, not shown)"
            if any(o in ("--key", "--api-key", "--apikey") for o in options):
                message += (
                    f"; the key is read from the environment: set {KEY_ENV} "
                    "(or name another variable with --key-env)"
                )
        super().error(message)


def _wrap(text: str) -> str:
    """A description wrapped for the terminal (the formatter keeps text as written, for the
    epilog's tables)."""
    return textwrap.fill(text, width=78)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _env_name(text: str) -> str:
    # A key pasted here by mistake must not be echoed back: say what is wrong, not the value.
    if not _ENV_NAME.match(text):
        raise argparse.ArgumentTypeError(
            "expects the NAME of an environment variable (like FACE_APIKEY: capitals, digits "
            "and _), not the key itself"
        )
    return text


def _shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected I/N (like 0/4), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"I must be 0 to N-1 (0-based), got {text}")
    return index, count


for _convert, _name in (
    (_shard, "shard"),
    (_positive_int, "count"),
    (_positive_float, "number"),
    (_non_negative_float, "seconds"),
    (_env_name, "variable name"),
):
    _convert.__name__ = _name


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="show retries and warnings; twice: every request",
    )  # fmt: skip


def _add_connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", required=True, metavar="ID", help="person group id")
    parser.add_argument("--large", action="store_true", help="a LargePersonGroup")
    parser.add_argument(
        "--endpoint",
        metavar="URL|REGION",
        help=f"endpoint URL or region name (default: ${ENDPOINT_ENV})",
    )
    parser.add_argument(
        "--key-env", default=KEY_ENV, metavar="NAME", type=_env_name,
        help="environment variable holding the subscription key",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=_positive_float, default=30.0, metavar="SECONDS",
        help="timeout of each request attempt",
    )  # fmt: skip
    parser.add_argument(
        "--allow-insecure-http", action="store_true",
        help="allow a plain http:// endpoint that is not on this machine",
    )  # fmt: skip
    _add_common(parser)


def build_parser(
    enroll: Callable[..., Any] | None = None,
    identify: Callable[..., Any] | None = None,
    demo: Callable[..., Any] | None = None,
) -> argparse.ArgumentParser:
    """The parser of ``face-async``; the handlers are set as ``args.handler``."""
    from face_async import __version__

    epilog = ENVIRONMENT + "\n" + exit_codes_text()
    parser = _Parser(
        prog="face-async",
        description=_wrap(
            "Azure Face API v1.0 from the command line: bulk enrollment, "
            "identification, a local emulator and a demo."
        ),
        epilog=epilog,
    )
    parser.add_argument("--version", action="version", version=f"face-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "enroll",
        help="enroll a folder of photos, one folder per person",
        description=_wrap(
            "Enroll PHOTOS_DIR/<person name>/*.{jpg,jpeg,png,gif,bmp} into a person "
            "group, exactly once: creates the group (with --recognition-model) and the persons, "
            "adds the faces, trains. Rerun the same command to resume after an interruption."
        ),
        epilog=epilog,
    )
    p.add_argument("photos_dir", metavar="PHOTOS_DIR", help="one folder per person inside")
    _add_connection(p)
    p.add_argument(
        "--journal", default=None, metavar="FILE",
        help="sqlite journal that makes reruns resume (default: "
        ".face-async-journal-<host>-<group>.sqlite in the current folder)",
    )  # fmt: skip
    p.add_argument(
        "--report", default=None, metavar="FILE",
        help="write a JSON-lines report: one line per image, then a summary line",
    )  # fmt: skip
    p.add_argument(
        "--recognition-model", choices=RECOGNITION_MODELS, default="recognition_04",
        help="recognition model of the group when it is created",
    )  # fmt: skip
    p.add_argument(
        "--detection-model", choices=DETECTION_MODELS, default="detection_03",
        help="detection model used to add faces",
    )  # fmt: skip
    p.add_argument(
        "--max-concurrency", type=_positive_int, default=16, metavar="N",
        help="writes in flight at once, one per person",
    )  # fmt: skip
    p.add_argument(
        "--tps", type=_positive_float, default=None, metavar="N",
        help="client-side calls per second limit (default: none)",
    )  # fmt: skip
    p.add_argument("--no-train", action="store_true", help="do not train the group")
    p.add_argument(
        "--train-only", action="store_true",
        help="only train the group and wait (after every --shard is done); reads no photo",
    )  # fmt: skip
    p.add_argument(
        "--shard", type=_shard, default=None, metavar="I/N",
        help="enroll only the persons whose name hashes to shard I of N (0-based); each "
        "shard has its own default journal and does not train",
    )  # fmt: skip
    p.add_argument(
        "--shards", type=_positive_int, default=None, metavar="N",
        help=f"like --shard I/N with I read from {SHARD_INDEX_ENV} (a Kubernetes Indexed Job)",
    )  # fmt: skip
    p.add_argument(
        "--redis-url", default=None, metavar="URL",
        help=f"share the --tps quota over Redis with every worker using the same URL (default: "
        f"{REDIS_URL_ENV}); the URL may carry a password, which is never printed",
    )  # fmt: skip
    p.add_argument(
        "--progress", choices=MODES, default="auto",
        help="progress display (default: bar on a terminal, else lines)",
    )  # fmt: skip
    p.set_defaults(handler=enroll)

    p = commands.add_parser(
        "identify",
        help="identify the faces of photos in a group",
        description=_wrap(
            "Detect the faces of each IMAGE (with the group's recognition model) and "
            "identify them among the group's persons. Prints one line per face."
        ),
        epilog=epilog,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image file or http(s) URL")
    _add_connection(p)
    p.add_argument(
        "--candidates", type=_positive_int, default=1, metavar="N",
        help="candidates per face",
    )  # fmt: skip
    p.add_argument(
        "--detection-model", choices=DETECTION_MODELS, default="detection_03",
        help="detection model for the images",
    )  # fmt: skip
    p.set_defaults(handler=identify)

    from face_async.emulator import _cli as emulator_cli

    p = commands.add_parser(
        "emulator",
        help="run the local Face API emulator",
        description=_wrap(
            "Run the local Face API v1.0 emulator. Prints FACE_ENDPOINT=... and "
            "FACE_APIKEY=... when ready; export them to point face-async at it."
        ),
        epilog="exit codes:\n  0    stopped (Ctrl-C or SIGTERM)\n"
        "  2    usage or configuration error (bad option, port in use)",
    )
    emulator_cli.configure_parser(p)
    p.set_defaults(sync_handler=emulator_cli.run, verbose=0)

    p = commands.add_parser(
        "demo",
        help="enroll and identify a generated photo set locally (no key, no network)",
        description=_wrap(
            "Start the embedded emulator, generate a photo set (with a few bad images), "
            "enroll it with progress, train, and identify new photos. Needs no key and no network."
        ),
        epilog=epilog,
    )
    p.add_argument("--persons", type=_positive_int, default=20, help="persons to generate")
    p.add_argument("--photos", type=_positive_int, default=5, help="photos per person")
    p.add_argument(
        "--latency", type=_non_negative_float, default=0.02, metavar="SECONDS",
        help="emulated seconds per add-face call",
    )  # fmt: skip
    p.add_argument(
        "--progress", choices=MODES, default="auto",
        help="progress display (default: bar on a terminal, else ticks)",
    )  # fmt: skip
    _add_common(p)
    p.set_defaults(handler=demo)
    return parser
