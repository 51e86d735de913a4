"""``photoseek check [--repair]``: read every point back and list the damaged ones."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``check`` subcommand."""
    parser = subparsers.add_parser(
        "check",
        help="read every point back; list (and with --repair delete) the damaged ones",
        description="Read every point's vector and payload, compare with the store's count, and list the "
        "points that are unreadable or damaged. With --repair those points are deleted, so that the next "
        "`photoseek ingest` encodes exactly them again. Exit status 0 when the collection is whole (or "
        "was repaired), 1 when damage remains.",
    )
    parser.add_argument("--repair", action="store_true", help="delete the damaged points and list them")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check (and repair) the configured collection."""
    from photoseek.config import load_settings
    from photoseek.retrieval.store import open_store
    from photoseek.retrieval.store.check import check_store, repair

    settings = load_settings()
    store = open_store(settings.qdrant)
    try:
        report = check_store(store)
        print(
            f"collection {settings.qdrant.collection!r}: {report.counted} points counted, "
            f"{report.listed} listed, {report.read} read whole, {len(report.damaged)} damaged"
        )
        for point_id, why in report.damaged:
            print(f"  {point_id}  {why}")
        if report.listing_error:
            print(f"the listing stopped early: {report.listing_error}", file=sys.stderr)
        if report.clean:
            return 0
        if args.repair and report.damaged:
            deleted = repair(store, report)
            print(f"deleted {len(deleted)} damaged points; the next `photoseek ingest` encodes them again")
            return 0 if report.listing_error is None else 1
        if report.damaged:
            print("run `photoseek check --repair` to delete them, then `photoseek ingest` to encode them again")
        return 1
    finally:
        store.close()
