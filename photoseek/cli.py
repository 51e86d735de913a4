"""The ``photoseek`` command line: one parser, one module per subcommand under ``commands/``.

Subcommand modules import their heavy dependencies (torch, models) inside ``run`` so that
``photoseek --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from photoseek import __version__
from photoseek.errors import PhotoseekError

# Each module defines ``register(subparsers)``, which adds its parser and sets ``run``.
COMMAND_MODULES = (
    "info", "ingest", "search", "facets", "duplicates", "eval", "migrate", "snapshot", "check", "serve", "dashboard",
    "keywords",
)


class CommandLoadError(ImportError):
    """A module of ``COMMAND_MODULES`` cannot be imported (a broken or partial install)."""


def build_parser() -> argparse.ArgumentParser:
    """The full ``photoseek`` argument parser.

    Raises:
        CommandLoadError: a command module cannot be imported; the message names it.
    """
    parser = argparse.ArgumentParser(
        prog="photoseek",
        description=(
            "Text-to-image search over photo collections: ingest photos into a Qdrant "
            "collection with CLIP, then search them by text, by image or by similarity. "
            "Settings come from PHOTOSEEK_* variables or a .env file (see .env.example)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"photoseek {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module_name = f"photoseek.commands.{name}"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - re-raised below, naming the module
            # A listed command that cannot load is a broken install (a missing dependency, a
            # syntax error): say which one, never drop it from the parser.
            raise CommandLoadError(
                f"photoseek cannot load the {name!r} command: importing {module_name} failed with "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``photoseek``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except PhotoseekError as exc:
        print(f"photoseek: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("photoseek: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
