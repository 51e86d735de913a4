"""``photoseek duplicates``: groups of near-identical photos in the collection."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``duplicates`` subcommand."""
    from photoseek.retrieval.duplicates import DEFAULT_DUPLICATE_THRESHOLD

    parser = subparsers.add_parser(
        "duplicates",
        help="list groups of near-identical photos",
        description="Find groups of near-identical photos (copies, resized, re-compressed or slightly "
        "cropped versions) by comparing the stored image vectors, every pair exactly; no model is loaded. "
        "The cost grows with the square of the number of photos compared (--where narrows it): "
        "see the README for the time at 10,000 and 100,000 photos.",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_DUPLICATE_THRESHOLD,
        help=f"cosine similarity from which two photos are near-identical (default {DEFAULT_DUPLICATE_THRESHOLD})",
    )
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help="a filter; repeatable")
    parser.add_argument("--json", action="store_true", help="one JSON object a line per group")
    parser.add_argument("--grid", metavar="DIR", type=Path, help="write a contact sheet per group into DIR")
    parser.add_argument("--columns", type=int, default=5, help="tiles per row of a contact sheet")
    parser.add_argument("--tile-size", type=int, default=200, help="thumbnail size in pixels on a contact sheet")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Find the groups, print them (and write a contact sheet per group)."""
    from photoseek.commands.search import write_grid
    from photoseek.config import load_settings
    from photoseek.errors import QueryError
    from photoseek.retrieval.duplicates import check_threshold, find_duplicates
    from photoseek.retrieval.filters import build_filter, parse_where
    from photoseek.retrieval.search import missing_collection
    from photoseek.retrieval.store import open_store

    threshold = check_threshold(args.threshold)
    if args.columns < 1 or not 16 <= args.tile_size <= 2048:
        raise QueryError("--columns must be >= 1 and --tile-size between 16 and 2048")
    query_filter = build_filter(None, parse_where(args.where))
    settings = load_settings()
    store = open_store(settings.qdrant)
    try:
        if not store.collection_exists():
            raise missing_collection(store)
        groups = find_duplicates(store, threshold=threshold, filter=query_filter)
    finally:
        store.close()
    for number, group in enumerate(groups, start=1):
        if args.json:
            record = {"group": number, "size": len(group.hits), "photos": [h.to_json_dict() for h in group.hits]}
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"group {number} ({len(group.hits)} photos)")
            for hit in group.hits:
                print(f"  {hit.score:.4f}  {hit.photo_id or hit.id}  {hit.image_url or hit.path or ''}")
    if not groups:
        print(f"no near-identical photos at cosine >= {threshold}", file=sys.stderr)
    if args.grid:
        args.grid.mkdir(parents=True, exist_ok=True)
        for number, group in enumerate(groups, start=1):
            out = args.grid / f"group-{number:03d}.jpg"
            write_grid(group.hits, out, settings, columns=args.columns, tile=args.tile_size)
    return 0
