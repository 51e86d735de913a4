"""``photoseek facets``: how many photos hold each value of a field, among those matching filters."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``facets`` subcommand."""
    from photoseek.retrieval.facets import DEFAULT_FACET_LIMIT, facetable_fields

    parser = subparsers.add_parser(
        "facets",
        help="count the values of a field (countries, keywords, photographers, ...)",
        description="Count how many photos hold each value of a keyword field, most frequent first, "
        f"among the photos matching --where filters. Fields: {', '.join(facetable_fields())} "
        "(or country, city, camera_make, ...). No model is loaded.",
    )
    parser.add_argument("field", help="the field to count, e.g. location.country, keywords, photographer")
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help="a filter; repeatable")
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_FACET_LIMIT, help=f"how many values (default {DEFAULT_FACET_LIMIT})"
    )
    parser.add_argument("--exact", action="store_true", help="count point by point, not from the index (slower)")
    parser.add_argument("--json", action="store_true", help="one JSON object a line: value and count")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Count the values and print them."""
    from photoseek.config import load_settings
    from photoseek.retrieval.facets import count_values
    from photoseek.retrieval.filters import parse_where
    from photoseek.retrieval.store import open_store

    where = parse_where(args.where)
    settings = load_settings()
    store = open_store(settings.qdrant)
    try:
        counts = count_values(store, args.field, limit=args.limit, where=where, exact=args.exact)
    finally:
        store.close()
    if args.json:
        for facet in counts:
            print(json.dumps({"value": facet.value, "count": facet.count}, ensure_ascii=False))
        return 0
    if not counts:
        print("no photos matched")
        return 0
    width = max(len(str(f.value)) for f in counts)
    for facet in counts:
        print(f"{str(facet.value).ljust(width)}  {facet.count}")
    return 0
