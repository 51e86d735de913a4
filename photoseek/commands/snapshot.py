"""``photoseek snapshot``: have the Qdrant server snapshot the collection, and download the file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``snapshot`` subcommand."""
    parser = subparsers.add_parser(
        "snapshot",
        help="snapshot the collection on the Qdrant server and download it",
        description="Ask the Qdrant server (PHOTOSEEK_QDRANT__URL) for a snapshot of the collection, "
        "download it to a file, check its size and checksum, and delete it from the server (unless "
        "--keep). Restore it with Qdrant's snapshot upload API. In a cluster a snapshot holds the "
        "shards of the node asked: take one per node. The embedded store has no snapshots: it is a "
        "folder to copy while no photoseek process has it open.",
    )
    parser.add_argument("-o", "--output", type=Path, metavar="PATH", help="file or folder to write (default: .)")
    parser.add_argument("--keep", action="store_true", help="keep the snapshot on the server too")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Create, download and (unless ``--keep``) delete a snapshot of the configured collection."""
    from photoseek.config import load_settings
    from photoseek.retrieval.store import open_store

    store = open_store(load_settings().qdrant)
    try:
        snapshot = store.create_snapshot()  # the embedded store says what to do instead
        output = args.output or Path(".")
        destination = output / snapshot.name if output.is_dir() else output
        try:
            store.download_snapshot(snapshot, destination)
        finally:
            if not args.keep:
                store.delete_snapshot(snapshot.name)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"file": str(destination), "name": snapshot.name, "size": snapshot.size, "kept": args.keep}))
    else:
        print(f"snapshot {snapshot.name} ({snapshot.size} bytes) written to {destination}")
    return 0
