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
        "`photoseek ingest` encodes exactly them again. The count is also compared with photoseek's record of "
        "points written (missing points are listed as a number: their ids are gone); --repair sets that record "
        "to what is left. Exit status 0 when the collection is whole (or was repaired), 1 when damage remains.",
    )
    parser.add_argument("--repair", action="store_true", help="delete the damaged points and list them")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check (and repair) the configured collection."""
    from photoseek.config import load_settings
    from photoseek.retrieval.store import open_store
    from photoseek.retrieval.store.check import check_store, repair
    from photoseek.retrieval.written_count import set_written, shortfall_message, written_in_metadata

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
        written = written_in_metadata(store.get_metadata())
        missing = written is not None and report.counted < written
        if missing:
            advice = (
                "`photoseek check --repair` accepts the loss"
                if not args.repair
                else "the record is set to what is left"
            )
            print(
                shortfall_message(
                    settings.qdrant.collection,
                    report.counted,
                    written or 0,
                    advice=f"{advice}; the next `photoseek ingest` of the same photos re-encodes the missing ones",
                )
            )
        deleted = repair(store, report) if args.repair else []
        if args.repair and written is not None and (deleted or missing):
            # What the repair deletes, and what was lost before it, is meant to be gone now: the
            # next ingest must not warn about it (it re-encodes the missing photos all the same).
            set_written(store, store.count())
        if report.clean and not missing:
            return 0
        if args.repair and (report.damaged or missing):
            if deleted:
                print(f"deleted {len(deleted)} damaged points; the next `photoseek ingest` encodes them again")
            return 0 if report.listing_error is None else 1
        if report.damaged:
            print("run `photoseek check --repair` to delete them, then `photoseek ingest` to encode them again")
        return 1
    finally:
        store.close()
