"""Downloading a collection snapshot from a Qdrant server: streamed, checked, never half a file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx

from photoseek.errors import StoreError, StoreUnavailable

CHUNK = 1 << 20


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
