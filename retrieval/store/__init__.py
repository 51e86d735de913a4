"""The vector store: one protocol (``VectorStore``), two real Qdrant engines, and ``open_store``."""

from __future__ import annotations

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.store.base import (
    METADATA_KEY,
    CollectionInfo,
    Record,
    ScoredRecord,
    Snapshot,
    VectorStore,
    collection_not_found,
)
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.store.edge_filters import translate_filter
from photoseek.retrieval.store.server import ServerStore

__all__ = [
    "METADATA_KEY",
    "CollectionInfo",
    "EdgeStore",
    "Record",
    "ScoredRecord",
    "ServerStore",
    "Snapshot",
    "VectorStore",
    "collection_not_found",
    "open_store",
    "translate_filter",
]


def open_store(settings: QdrantSettings) -> VectorStore:
    """The store the settings name: a Qdrant server when ``url`` is set, else embedded Qdrant Edge.

    Nothing is opened or contacted yet: the embedded shard opens on first use (and raises
    ``StoreLocked`` if another process holds it), the server is reached on the first request.

    Args:
        settings: the qdrant section of ``Settings``.
    """
    if settings.embedded:
        return EdgeStore(settings)
    return ServerStore(settings)
