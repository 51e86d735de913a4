"""The folders a collection's local photos were ingested from, kept in its photoseek metadata.

``photoseek serve`` reads a local photo's file for its thumbnail only when the file lies under
one of these folders (or one named by ``PHOTOSEEK_SERVE__PHOTO_FOLDERS``): a path that a payload
records is never enough on its own, so a point written by hand cannot make the service read
an arbitrary file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from photoseek.retrieval.store.base import METADATA_KEY, VectorStore

FOLDERS_FIELD = "folders"


def folders_in_metadata(metadata: Mapping[str, Any]) -> list[Path]:
    """The ingested folders recorded in a collection's metadata (absolute paths), oldest first."""
    record = metadata.get(METADATA_KEY)
    folders = record.get(FOLDERS_FIELD) if isinstance(record, Mapping) else None
    if not isinstance(folders, list):
        return []
    return [Path(folder) for folder in folders if isinstance(folder, str) and Path(folder).is_absolute()]


def record_folder(store: VectorStore, folder: Path) -> None:
    """Add ``folder`` (resolved) to the collection's ingested folders, keeping the rest of its metadata.

    Args:
        store: the store holding the collection (it must exist).
        folder: the folder an ingest reads photos from.
    """
    metadata = store.get_metadata()
    resolved = str(Path(folder).resolve())
    known = [str(path) for path in folders_in_metadata(metadata)]
    if resolved in known:
        return
    record = metadata.get(METADATA_KEY)
    merged = dict(record) if isinstance(record, Mapping) else {}
    merged[FOLDERS_FIELD] = [*known, resolved]
    store.set_metadata({METADATA_KEY: merged})
