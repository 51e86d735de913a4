"""Give a collection built before the keyword side its BM25 vectors, in place, without re-encoding an image.

Both engines add a named sparse vector to an existing collection (Qdrant Edge's
``create_sparse_vector``; a server's ``create_vector_name``, which qdrant-client 1.20 speaks and
older servers lack), so nothing is copied: the keyword vector is added to the collection, then
every point gets its keyword vector computed from its stored payload (``update_vectors``: image
vectors and payloads stay as they are). A run killed half-way leaves a collection whose vector
search works as before and whose keyword side is partly filled; running it again writes every
point's keyword vector again (each write sets, never adds), so it is always safe to re-run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from photoseek.retrieval.store.base import VectorStore

__all__ = ["KeywordsReport", "add_keywords"]


@dataclass(frozen=True)
class KeywordsReport:
    """What ``add_keywords`` did: whether the sparse vector was added now, the points written, seconds."""

    added_side: bool
    points: int
    seconds: float


def add_keywords(
    store: VectorStore,
    *,
    batch_size: int = 256,
    progress: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> KeywordsReport:
    """Add the keyword side to ``store``'s collection and write every point's keyword vector.

    Args:
        store: the collection (it must exist).
        batch_size: points read and written per request.
        progress: show a progress bar on stderr.
        on_batch: called with the number of points written so far after each batch.

    Raises:
        CollectionNotFound: no such collection.
        StoreError: the engine cannot add a vector to a collection (a server too old for
            ``create_vector_name``: copy the collection instead with ``photoseek migrate``, whose
            target gets the keyword side from the payloads).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    started = time.monotonic()
    total = store.count()
    added = store.add_keywords_side()
    bar = _progress_bar(total, enabled=progress)
    written = 0
    offset: str | None = None
    try:
        while True:
            records, offset = store.scroll(limit=batch_size, offset=offset)
            if records:
                store.write_keywords([r.id for r in records], [r.payload for r in records])
                written += len(records)
                if bar is not None:
                    bar.update(len(records))
                if on_batch is not None:
                    on_batch(written)
            if offset is None:
                break
    finally:
        if bar is not None:
            bar.close()
    return KeywordsReport(added_side=added, points=written, seconds=time.monotonic() - started)


def _progress_bar(total: int, *, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="pt", desc="keywords", smoothing=0.1)
