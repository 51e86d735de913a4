"""The store protocol: what ingest and search need from a Qdrant collection, on either engine."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from qdrant_client import models

from photoseek.errors import CollectionNotFound, KeywordsMissing

# Key under which photoseek keeps its own record in the collection metadata
# (which image model built the collection, see retrieval/identity.py).
METADATA_KEY = "photoseek"


@dataclass
class Record:
    """A stored point: its id (a UUID string), payload and, when asked for, its vector."""

    id: str
    payload: dict[str, Any]
    vector: np.ndarray | None = None


@dataclass
class ScoredRecord(Record):
    """A query result: a stored point and its cosine similarity to the query."""

    score: float = 0.0


@dataclass
class CollectionInfo:
    """What ``photoseek info`` prints about a collection."""

    name: str
    backend: str
    location: str
    points_count: int
    indexed_vectors_count: int | None
    vector_size: int
    distance: str
    indexed_fields: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FacetCount:
    """One value of a payload field and the number of points that hold it (a point counts once)."""

    value: str | int | bool
    count: int


# Values a store asks the engine for, whatever the limit, before cutting to the limit itself.
# Qdrant's facet samples candidate values instead of counting every value when a field has more
# than ten times ``limit`` distinct values in a segment (measured on Edge: a top 20 of 3,000
# photographers skipped a 16 and a 15); asking for this many keeps every field of up to
# 100,000 distinct values on the full count, and the cut made here is exact and the same on
# every backend. The engine's cost is the counting, not the size of the answer (7 vs 7.6 ms
# for 3,000 values); ``top_facets`` keeps the Python side of a large answer cheap.
FACET_POOL = 10_000


def ordered_facets(counts: Sequence[FacetCount], limit: int) -> list[FacetCount]:
    """Counts most frequent first, ties by value, cut to ``limit``: one order on every backend."""
    return sorted(counts, key=lambda c: (-c.count, str(c.value)))[:limit]


def top_facets(hits: Sequence[Any], limit: int) -> list[FacetCount]:
    """The ``limit`` most frequent of an engine's facet hits (objects with ``value`` and ``count``).

    Reads every count but builds a ``FacetCount`` only for the hits that can make the cut (the
    ``limit``-th largest count and above, ties included), then orders them as
    :func:`ordered_facets` does. Converting all 3,000 hits of a photographer facet took 3 ms,
    more than the engine's count.
    """
    counts = [int(h.count) for h in hits]
    if len(counts) > limit:
        cut = heapq.nlargest(limit, counts)[-1]
        kept = [FacetCount(value=h.value, count=c) for h, c in zip(hits, counts, strict=True) if c >= cut]
    else:
        kept = [FacetCount(value=h.value, count=c) for h, c in zip(hits, counts, strict=True)]
    return ordered_facets(kept, limit)


@dataclass(frozen=True)
class Snapshot:
    """A snapshot a Qdrant server made of a collection: its name, size in bytes and SHA-256 (hex)."""

    name: str
    size: int | None = None
    checksum: str | None = None


def collection_not_found(collection: str, backend: str, location: str) -> CollectionNotFound:
    """The one error for a missing collection: where it was looked for, and which command creates it.

    Args:
        collection: the collection's name.
        backend: ``"embedded"`` or ``"server"``.
        location: the embedded data folder or the server's URL.
    """
    return CollectionNotFound(
        f"collection {collection!r} does not exist in the {backend} store at {location}; "
        "`photoseek ingest` creates it (or set PHOTOSEEK_QDRANT__COLLECTION to an existing one)"
    )


def keywords_missing(collection: str, location: str) -> KeywordsMissing:
    """The one error for a keyword or hybrid query on a collection without the keyword side.

    Args:
        collection: the collection's name.
        location: the embedded data folder or the server's URL.
    """
    return KeywordsMissing(
        f"collection {collection!r} at {location} was built without the keyword (BM25) side, so it has "
        "vector search only; `photoseek keywords add` adds it from the stored payloads without "
        "re-encoding any image (or search with mode='vector')"
    )


@runtime_checkable
class VectorStore(Protocol):
    """One Qdrant collection of photo points, on the embedded engine or on a server.

    Ids are UUID strings (``retrieval.schema.point_id``); vectors are float32 numpy arrays;
    filters are ``qdrant_client.models.Filter``. Every method raises ``StoreError``
    subclasses (``CollectionNotFound``, ``StoreUnavailable``, ...) and nothing else on purpose.
    """

    backend: str  # "embedded" or "server", for people to read: callers ask the methods below
    collection: str

    @property
    def location(self) -> str:
        """Where the collection lives: the embedded data folder (absolute) or the server's URL."""
        ...

    @property
    def index_threshold(self) -> int | None:
        """Unindexed points above which the store's first search builds the vector index itself.

        None when the engine indexes in the background on its own (a server), so that
        ``optimize()`` has nothing to do; an int when an ingest should call ``optimize()``.
        """
        ...

    @property
    def supports_snapshots(self) -> bool:
        """Whether ``create_snapshot`` works here (a Qdrant server reached over the network)."""
        ...

    def same_collection_as(self, other: VectorStore) -> bool:
        """Whether ``other`` is a handle on this very collection (same engine, place and name)."""
        ...

    def collection_exists(self) -> bool:
        """Whether the collection exists."""
        ...

    def ensure_collection(self, vector_size: int, metadata: Mapping[str, Any] | None = None) -> bool:
        """Create the collection (cosine, schema payload indexes) unless it exists.

        An existing collection is checked instead: a different vector size or distance
        raises ``CollectionMismatch``. Returns True when it was created now.
        """
        ...

    def info(self) -> CollectionInfo:
        """Size, vector size, distance, indexed fields and metadata of the collection."""
        ...

    def get_metadata(self) -> dict[str, Any]:
        """The collection's metadata (an empty dict when there is none)."""
        ...

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` into the collection's metadata."""
        ...

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace points; the same id twice is the same point."""
        ...

    def set_payloads(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> None:
        """Replace the payloads of existing points, keeping their vectors."""
        ...

    def query(
        self,
        vector: np.ndarray,
        *,
        limit: int = 10,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        exact: bool = False,
        avoid: Sequence[np.ndarray] = (),
        with_vectors: bool = False,
    ) -> list[ScoredRecord]:
        """Nearest neighbours of ``vector``, best first.

        ``avoid`` pushes results away from the given vectors (a recommend query with the
        query vector as the positive example and these as negatives).
        """
        ...

    def query_batch(
        self,
        vectors: np.ndarray,
        *,
        limit: int = 10,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        exact: bool = False,
    ) -> list[list[ScoredRecord]]:
        """``query`` for each row of ``vectors`` in one round trip."""
        ...

    def has_keywords(self) -> bool:
        """Whether the collection has the keyword side (the BM25 sparse vector ``keywords.KEYWORDS_VECTOR``).

        Collections created by ``ensure_collection`` have it; older ones get it from
        ``add_keywords_side`` and ``write_keywords``. Writes (``upsert``, ``set_payloads``)
        compute each point's keyword vector from its payload when the collection has it.
        """
        ...

    def add_keywords_side(self) -> bool:
        """Add the (empty) keyword sparse vector to an existing collection; True if added now.

        The points get their keyword vectors from ``write_keywords``; nothing else changes.
        """
        ...

    def write_keywords(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> None:
        """Set the keyword vectors of stored points from their payloads, keeping everything else."""
        ...

    def query_keywords(
        self,
        text: str,
        *,
        limit: int = 10,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
    ) -> list[ScoredRecord]:
        """Points whose words match ``text`` best by BM25 (``keywords.query_vector``), best first.

        Scores are BM25 scores (0 and up, no upper bound). A text of stop words only finds nothing.

        Raises:
            KeywordsMissing: the collection has no keyword side.
        """
        ...

    def query_hybrid(
        self,
        vector: np.ndarray,
        text: str,
        *,
        fusion: str = "rrf",
        prefetch: int = 50,
        limit: int = 10,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        exact: bool = False,
        avoid: Sequence[np.ndarray] = (),
        with_vectors: bool = False,
    ) -> list[ScoredRecord]:
        """One engine query: ``prefetch`` nearest neighbours of ``vector`` and ``prefetch`` BM25
        matches of ``text``, each under ``filter``, fused by ``fusion`` (``"rrf"``, k = 60, or
        ``"dbsf"``), best first; ``limit`` and ``offset`` cut the fused list.

        ``avoid`` applies to the vector side as in ``query``. Scores are the fusion's. The fused
        list holds at most ``2 * prefetch`` points: a page past ``prefetch`` may come out short
        (``ImageSearch`` asks for ``prefetch >= offset + limit``).

        Raises:
            KeywordsMissing: the collection has no keyword side.
            QueryError: ``prefetch`` below 1 or an unknown fusion.
        """
        ...

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        """The points with these ids that exist, in the order asked."""
        ...

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored already (for resuming an ingest)."""
        ...

    def count(self, filter: models.Filter | None = None) -> int:
        """Exact number of points (matching ``filter``)."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Delete points by id; unknown ids are ignored."""
        ...

    def facet(
        self, key: str, *, limit: int = 10, filter: models.Filter | None = None, exact: bool = False
    ) -> list[FacetCount]:
        """Counts of the values of the indexed field ``key`` among the points matching ``filter``.

        ``exact=False`` reads the counts from the payload index: fast, but with a filter on a
        large collection the engine may estimate them; ``exact=True`` counts point by point.
        Most frequent first (ties by value), at most ``limit`` values, cut from the engine's
        ``max(limit, FACET_POOL)`` most frequent; a point holding a value several times (in a
        list) counts once for it.
        """
        ...

    def scroll(
        self,
        *,
        limit: int = 256,
        offset: str | None = None,
        filter: models.Filter | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Record], str | None]:
        """One page of points in id order and the offset of the next page (None at the end)."""
        ...

    def check_space(self, points: int, dimension: int, what: str) -> None:
        """Raise ``StoreError`` unless there is room to write ``points`` more ``dimension``-d points (and index them).

        The embedded engine maps its files into memory, so a full disk would kill the process
        (SIGBUS); it checks its folder's free space. A server manages its own disk: a no-op.
        ``what`` names the step for the message (``write 256 photos``).
        """
        ...

    def unindexed_tail(self) -> int:
        """Points not in the vector index yet that ``optimize()`` would index (0 on a server)."""
        ...

    def optimize(self) -> bool:
        """Build the vector index now (embedded); a no-op on a server. True if work was done."""
        ...

    def create_snapshot(self) -> Snapshot:
        """Have the server snapshot the collection.

        Raises:
            ConfigError: the store has no snapshots (``supports_snapshots`` is False); the
                message says what to do instead.
        """
        ...

    def download_snapshot(self, snapshot: Snapshot, destination: Path) -> Path:
        """Download ``snapshot`` to the file ``destination``, checking its size and checksum."""
        ...

    def delete_snapshot(self, name: str) -> None:
        """Delete the snapshot ``name`` from the server."""
        ...

    def delete_collection(self) -> None:
        """Drop the collection and its data."""
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...
