"""``photoseek snapshot``: have the Qdrant server snapshot the collection, and download the file."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


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


def download_snapshot(
    url: str,
    collection: str,
    name: str,
    destination: Path,
    *,
    api_key: str | None = None,
    size: int | None = None,
    checksum: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download a collection snapshot from a Qdrant server to ``destination``.

    The file appears under its final name only once it is complete and checked.

    Args:
        url: the server's REST URL (``http://host:6333``).
        collection: the collection name.
        name: the snapshot name the server gave.
        destination: the file to write.
        api_key: the server's API key, if it has one.
        size: the size the server announced, checked when given.
        checksum: the SHA-256 the server announced (hex), checked when given.
        timeout: seconds to wait for each network read.

    Raises:
        StoreUnavailable: the server cannot be reached.
        StoreError: the server refused, or the file is short or corrupt.
    """
    import httpx

    from photoseek.errors import StoreError, StoreUnavailable

    partial = destination.with_name(destination.name + ".part")
    headers = {"api-key": api_key} if api_key else {}
    address = f"{url.rstrip('/')}/collections/{collection}/snapshots/{name}"
    digest = hashlib.sha256()
    written = 0
    try:
        with httpx.stream("GET", address, headers=headers, timeout=timeout) as response:
            if response.status_code != 200:
                response.read()
                raise StoreError(f"snapshot download {address}: HTTP {response.status_code} {response.text[:200]}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
    except httpx.TransportError as exc:
        partial.unlink(missing_ok=True)
        raise StoreUnavailable(f"snapshot download {address}: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if size is not None and written != size:
        partial.unlink(missing_ok=True)
        raise StoreError(f"snapshot download {address}: got {written} bytes, the server announced {size}")
    if checksum and digest.hexdigest() != checksum.lower():
        partial.unlink(missing_ok=True)
        raise StoreError(f"snapshot download {address}: SHA-256 {digest.hexdigest()} is not the announced {checksum}")
    os.replace(partial, destination)
    return destination


def run(args: argparse.Namespace) -> int:
    """Create, download and (unless ``--keep``) delete a snapshot of the configured collection."""
    from photoseek.config import load_settings
    from photoseek.errors import CollectionNotFound, ConfigError, StoreError
    from photoseek.retrieval.store import ServerStore
    from photoseek.retrieval.store.retry import call_with_retries

    settings = load_settings().qdrant
    if settings.embedded or settings.url is None:
        raise ConfigError(
            "snapshots are made by a Qdrant server: set PHOTOSEEK_QDRANT__URL. The embedded store is "
            f"the folder {Path(settings.path) / settings.collection}: copy it while no photoseek process "
            "has it open, or move it to a server with `photoseek migrate --to URL`"
        )
    store = ServerStore(settings)
    api_key = settings.api_key.get_secret_value() if settings.api_key is not None else None

    def request(call: Any) -> Any:
        try:
            return call_with_retries(call, retries=settings.retries, target=settings.url or "?")
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Qdrant server {settings.url}: {exc}") from None

    try:
        if not store.collection_exists():
            raise CollectionNotFound(f"collection {settings.collection!r} not found on {settings.url}")
        snapshot = request(lambda: store.client.create_snapshot(settings.collection, wait=True))
        if snapshot is None:
            raise StoreError(f"Qdrant server {settings.url} made no snapshot of {settings.collection!r}")
        output = args.output or Path(".")
        destination = output / snapshot.name if output.is_dir() else output
        try:
            download_snapshot(
                settings.url,
                settings.collection,
                snapshot.name,
                destination,
                api_key=api_key,
                size=snapshot.size,
                checksum=snapshot.checksum,
                timeout=settings.timeout,
            )
        finally:
            if not args.keep:
                request(lambda: store.client.delete_snapshot(settings.collection, snapshot.name, wait=True))
    finally:
        store.close()
    if args.json:
        print(json.dumps({"file": str(destination), "name": snapshot.name, "size": snapshot.size, "kept": args.keep}))
    else:
        print(f"snapshot {snapshot.name} ({snapshot.size} bytes) written to {destination}")
    return 0
