"""``photoseek info``: the collection, its size, vector size and indexed fields."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info",
        help="show the collection: size, vector size, indexed fields, model",
        description="Show the configured collection: where it is, how many points it holds, "
        "its vector size and distance, its payload indexes and which model built it.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the collection's description."""
    from dataclasses import asdict

    from photoseek.config import load_settings
    from photoseek.retrieval.identity import identity_in_metadata
    from photoseek.retrieval.store import open_store
    from photoseek.retrieval.written_count import shortfall_message, written_in_metadata

    settings = load_settings()
    store = open_store(settings.qdrant)
    try:
        info = store.info()
        written = written_in_metadata(info.metadata)
        # The exact count: the one in the description may be an estimate.
        stored = store.count() if written is not None else info.points_count
    finally:
        store.close()
    if written is not None and stored < written:
        print(f"warning: {shortfall_message(info.name, stored, written)}", file=sys.stderr)
    if args.json:
        print(json.dumps(asdict(info), default=str))
        return 0
    print(f"collection      {info.name}")
    print(f"backend         {info.backend} ({info.location})")
    print(f"points          {stored}")
    if written is not None:
        print(f"points written  {written} (the most it has held after a photoseek write)")
    if info.indexed_vectors_count is not None:
        print(f"indexed vectors {info.indexed_vectors_count}")
    print(f"vector size     {info.vector_size} ({info.distance})")
    model = identity_in_metadata(info.metadata)
    if model is not None:
        print(f"image model     {model.name} ({model.dimension}-d)")
    print("payload indexes " + (", ".join(f"{k} ({v})" for k, v in sorted(info.indexed_fields.items())) or "none"))
    return 0
