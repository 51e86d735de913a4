"""``photoseek info``: the collection, its size, vector size and indexed fields."""

from __future__ import annotations

import argparse
import json
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

    settings = load_settings()
    store = open_store(settings.qdrant)
    try:
        info = store.info()
    finally:
        store.close()
    if args.json:
        print(json.dumps(asdict(info), default=str))
        return 0
    print(f"collection      {info.name}")
    print(f"backend         {info.backend} ({info.location})")
    print(f"points          {info.points_count}")
    if info.indexed_vectors_count is not None:
        print(f"indexed vectors {info.indexed_vectors_count}")
    print(f"vector size     {info.vector_size} ({info.distance})")
    model = identity_in_metadata(info.metadata)
    if model is not None:
        print(f"image model     {model.name} ({model.dimension}-d)")
    print("payload indexes " + (", ".join(f"{k} ({v})" for k, v in sorted(info.indexed_fields.items())) or "none"))
    return 0
