"""``photoseek keywords``: the keyword (BM25) side of the collection: whether it has one, and adding it."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``keywords`` subcommand."""
    parser = subparsers.add_parser(
        "keywords",
        help="add the keyword (BM25) side that keyword and hybrid searches need to an older collection",
        description="Collections created by this version have a keyword side: a BM25 sparse vector of each "
        "photo's words (descriptions, keywords, places, landmark, photographer) next to its image vector, "
        "used by --mode keyword and --mode hybrid. `keywords add` gives it to a collection built before: it "
        "adds the sparse vector to the collection in place and computes each point's from its stored "
        "payload; no image is read or encoded, and vector search works throughout. Safe to run again "
        "(an interrupted run is finished by running it again). `keywords status` says whether the "
        "collection has the keyword side.",
    )
    parser.add_argument("action", choices=["add", "status"], help="add the keyword side, or say whether it is there")
    parser.add_argument("--batch-size", type=_positive, default=256, metavar="N", help="points per batch (default 256)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(run=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Add the keyword side (or report whether it is there) and print what was done."""
    from photoseek.config import load_settings
    from photoseek.retrieval.search import missing_collection
    from photoseek.retrieval.store import open_store
    from photoseek.retrieval.store.keywords_side import add_keywords

    settings = load_settings()
    store = open_store(settings.qdrant)
    try:
        if not store.collection_exists():
            raise missing_collection(store)
        if args.action == "status":
            present = store.has_keywords()
            if args.json:
                print(json.dumps({"collection": store.collection, "keywords": present}))
            elif present:
                print(f"collection {store.collection!r} has the keyword side: keyword and hybrid searches work")
            else:
                print(
                    f"collection {store.collection!r} has no keyword side (vector search only); "
                    "`photoseek keywords add` adds it"
                )
            return 0
        report = add_keywords(store, batch_size=args.batch_size, progress=not args.no_progress and not args.json)
    finally:
        store.close()
    if args.json:
        summary = {
            "collection": settings.qdrant.collection,
            "added_side": report.added_side,
            "points": report.points,
            "seconds": round(report.seconds, 3),
        }
        print(json.dumps(summary))
        return 0
    what = "added the keyword side and wrote" if report.added_side else "the keyword side was there; rewrote"
    print(f"{what} the keyword vectors of {report.points} points in {report.seconds:.1f} s")
    return 0
