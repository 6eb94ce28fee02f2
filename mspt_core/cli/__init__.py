"""The ``mspt`` command. Each subcommand lives in its own module with ``register(subparsers)``
that adds its parser and sets ``run``; heavy imports (torch) happen inside ``run`` so that
``--help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys

from mspt_core import __version__
from mspt_core.cli.common import print_error
from mspt_core.errors import MsptError

# Module names under mspt_core.cli, in the order they appear in ``mspt --help``.
SUBCOMMAND_MODULES = [
    "transcribe",
    "segment",
    "recognize",
    "train",
    "adapt",
    "linestore",
    "pretrain",
    "finetune",
    "synth",
    "eval",
    "models",
    "convert",
    "project",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mspt", description="Local document transcription.")
    parser.add_argument("--version", action="version", version=f"mspt {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"mspt_core.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except MsptError as error:
        print_error(error)
        return 2
    except OSError as error:  # the system refused a read or write: the user's to fix, not a bug
        print_error(os_error_text(error))
        return 2
    except KeyboardInterrupt:
        print("mspt: interrupted", file=sys.stderr)
        return 130


def os_error_text(error: OSError) -> str:
    """ "PATH: reason" for an OSError, e.g. "out/page.xml: No space left on device"."""
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    reason = error.strerror or str(error)
    return f"{' -> '.join(names)}: {reason}" if names else reason


if __name__ == "__main__":
    sys.exit(main())
