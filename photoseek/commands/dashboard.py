"""``photoseek dashboard``: write the picture URL the Qdrant dashboard draws into every point's payload."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``dashboard`` subcommand."""
    parser = subparsers.add_parser(
        "dashboard",
        help="set the thumbnail URL the Qdrant dashboard shows on every point (no re-encoding)",
        description="Rewrite the payload field picture_url of every point for the address photoseek "
        "serve is reached at (--public-url, else PHOTOSEEK_SERVE__PUBLIC_URL): the Qdrant dashboard "
        "shows it as the photo. Vectors and the other payload fields stay. Run it for a collection "
        "ingested without a public address, or after the address changed; --clear removes the field.",
    )
    address = parser.add_mutually_exclusive_group()
    address.add_argument("--public-url", metavar="URL", help="e.g. https://photos.example.org or http://localhost:8000")
    address.add_argument("--clear", action="store_true", help="remove the field from every point")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Rewrite the field over the configured collection; 1 when no address is known."""
    import sys

    from photoseek.config import load_settings
    from photoseek.errors import CollectionNotFound
    from photoseek.ingest.picture_url import PICTURE_FIELD, rewrite_picture_urls
    from photoseek.retrieval.store import open_store

    overrides: dict[str, Any] = {}
    if args.public_url is not None:
        base = load_settings()
        overrides["serve"] = base.serve.model_dump() | {"public_url": args.public_url}
    settings = load_settings(**overrides)  # validates --public-url as the variable would be
    public_url = None if args.clear else settings.serve.public_url
    if public_url is None and not args.clear:
        print(
            "photoseek: error: no public address: give --public-url URL or set PHOTOSEEK_SERVE__PUBLIC_URL "
            "(the address browsers reach photoseek serve at), or --clear to remove the field",
            file=sys.stderr,
        )
        return 1
    store = open_store(settings.qdrant)
    try:
        if not store.collection_exists():
            raise CollectionNotFound(f"collection {settings.qdrant.collection!r} does not exist at {store.location}")
        changed = rewrite_picture_urls(store, public_url)
        total = store.count()
    finally:
        store.close()
    target = f"{public_url}/v1/photos/<point id>/thumbnail.jpg" if public_url else "removed"
    print(f"{PICTURE_FIELD}: {target}; {changed} of {total} points rewritten")
    return 0
