"""The server store: a collection on a Qdrant server (or cluster) through ``qdrant_client``.

The operations live in ``server_core`` (shared with the asyncio store); this is the blocking
shell around them. Every request goes through ``retry.call_with_retries``: transient failures
(connection, timeouts, 5xx, 429, gRPC UNAVAILABLE) are retried with backoff, then
``StoreUnavailable``; anything else is mapped once to photoseek's error tree. Writes use
``wait=True`` on stable ids, so a retried write lands on the same points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from qdrant_client import QdrantClient, models

from photoseek.config.settings import QdrantSettings
from photoseek.errors import PhotoseekError
from photoseek.retrieval.store.base import CollectionInfo, FacetCount, Record, ScoredRecord, Snapshot, VectorStore
from photoseek.retrieval.store.retry import call_with_retries
from photoseek.retrieval.store.server_core import IN_PROCESS, Operation, Request, ServerCore, client_options, drive

T = TypeVar("T")


class ServerStore:
    """A collection on a Qdrant server.

    Args:
        settings: the qdrant section (url, api_key, prefer_grpc, grpc_port, timeout, retries,
            shard_number, replication_factor, write_consistency_factor, hnsw_ef).
        client: a ready client to use instead of one built from ``settings`` (tests pass
            ``QdrantClient(":memory:")``); the caller keeps ownership and closes it.

    Raises:
        ConfigError: no client and no ``PHOTOSEEK_QDRANT__URL``.
    """

    backend = "server"
    # The server indexes in the background itself: an ingest has no index to build.
    index_threshold: int | None = None

    def __init__(self, settings: QdrantSettings, client: QdrantClient | None = None) -> None:
        self._owns_client = client is None
        self.client = client if client is not None else QdrantClient(**client_options(settings))
        self.collection = settings.collection
        self.location = settings.url or IN_PROCESS
        self._retries = settings.retries
        self._core = ServerCore(settings, self.location)

    def __enter__(self) -> ServerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, operation: Operation[T]) -> T:
        return drive(operation, self._send)

    def _send(self, request: Request) -> Any:
        """One request with retries, its errors mapped to photoseek's error tree."""
        try:
            return call_with_retries(lambda: request(self.client), retries=self._retries, target=self.location)
        except PhotoseekError:
            raise
        except Exception as exc:
            self._core.fail(exc)

    @property
    def supports_snapshots(self) -> bool:
        """True for a server reached over the network; False for an in-process client."""
        return self._core.supports_snapshots

    def same_collection_as(self, other: VectorStore) -> bool:
        """Whether ``other`` is a server store on this collection of the same server."""
        if not isinstance(other, ServerStore) or other.collection != self.collection:
            return False
        # Two in-process clients share a placeholder location but not their data.
        return other.client is self.client or (self.supports_snapshots and other.location == self.location)

    # -- the collection -----------------------------------------------------------------

    def collection_exists(self) -> bool:
        """Whether the collection exists on the server."""
        return self._run(self._core.collection_exists())

    def ensure_collection(self, vector_size: int, metadata: Mapping[str, Any] | None = None) -> bool:
        """Create the collection (cosine, schema payload indexes, cluster layout) unless it exists.

        Raises:
            CollectionMismatch: the existing collection's vectors differ in size or distance.
        """
        return self._run(self._core.ensure_collection(vector_size, metadata))

    def info(self) -> CollectionInfo:
        """Size, vector size, distance, payload indexes and metadata of the collection."""
        return self._run(self._core.info())

    def get_metadata(self) -> dict[str, Any]:
        """The collection's metadata (empty when none was set)."""
        return self._run(self._core.get_metadata())

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` (top-level keys) into the collection's metadata."""
        self._run(self._core.set_metadata(metadata))

    def delete_collection(self) -> None:
        """Drop the collection and its points (nothing happens when it does not exist)."""
        self._run(self._core.delete_collection())

    def check_space(self, points: int, dimension: int, what: str) -> None:
        """A no-op: a server manages its own disk."""

    def unindexed_tail(self) -> int:
        """0: the server indexes in the background itself."""
        return 0

    def optimize(self) -> bool:
        """A no-op: the server runs its optimizers itself. Returns False."""
        return False

    def close(self) -> None:
        """Close the client when this store built it."""
        if self._owns_client:
            self.client.close()

    # -- points -------------------------------------------------------------------------

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace points, waiting until the server has applied the write."""
        self._run(self._core.upsert(ids, vectors, payloads))

    def set_payloads(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> None:
        """Replace the payloads of stored points, keeping their vectors; unknown ids are ignored."""
        self._run(self._core.set_payloads(ids, payloads))

    def delete(self, ids: Sequence[str]) -> None:
        """Delete points by id; unknown ids are ignored."""
        self._run(self._core.delete(ids))

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        """The stored points among ``ids``, in the order asked (each id once)."""
        return self._run(self._core.retrieve(ids, with_vectors=with_vectors))

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored (as given), in one request without payloads or vectors."""
        return self._run(self._core.existing_ids(ids))

    def count(self, filter: models.Filter | None = None) -> int:
        """Exact number of points (matching ``filter``)."""
        return self._run(self._core.count(filter))

    def facet(
        self, key: str, *, limit: int = 10, filter: models.Filter | None = None, exact: bool = False
    ) -> list[FacetCount]:
        """Counts of the values of the indexed field ``key`` among the points matching ``filter``."""
        return self._run(self._core.facet(key, limit=limit, filter=filter, exact=exact))

    def scroll(
        self,
        *,
        limit: int = 256,
        offset: str | None = None,
        filter: models.Filter | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Record], str | None]:
        """One page of points in id order and the id the next page starts at (None at the end)."""
        return self._run(self._core.scroll(limit=limit, offset=offset, filter=filter, with_vectors=with_vectors))

    # -- queries ------------------------------------------------------------------------

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
        """Nearest neighbours of ``vector`` by cosine similarity, best first.

        With ``avoid``, a best-score recommend query: ``vector`` is the positive example and
        the ``avoid`` vectors the negatives, so points near them sink.
        """
        return self._run(
            self._core.query(
                vector,
                limit=limit,
                offset=offset,
                filter=filter,
                score_threshold=score_threshold,
                exact=exact,
                avoid=avoid,
                with_vectors=with_vectors,
            )
        )

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
        """``query`` for each row of ``vectors`` in one request."""
        return self._run(
            self._core.query_batch(
                vectors, limit=limit, offset=offset, filter=filter, score_threshold=score_threshold, exact=exact
            )
        )

    # -- the keyword side ---------------------------------------------------------------

    def has_keywords(self) -> bool:
        """Whether the collection has the keyword sparse vector (asked of the server)."""
        return self._run(self._core.has_keywords())

    def add_keywords_side(self) -> bool:
        """Add the keyword sparse vector to the collection in place; True if added now."""
        return self._run(self._core.add_keywords_side())

    def write_keywords(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> None:
        """Set the keyword vectors of stored points from their payloads, keeping the rest."""
        self._run(self._core.write_keywords(ids, payloads))

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
        """Points whose words match ``text`` best by BM25, best first (see ``VectorStore``)."""
        return self._run(
            self._core.query_keywords(
                text,
                limit=limit,
                offset=offset,
                filter=filter,
                score_threshold=score_threshold,
                with_vectors=with_vectors,
            )
        )

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
        """The image and keyword sides fused in one query, best first (see ``VectorStore``)."""
        return self._run(
            self._core.query_hybrid(
                vector,
                text,
                fusion=fusion,
                prefetch=prefetch,
                limit=limit,
                offset=offset,
                filter=filter,
                score_threshold=score_threshold,
                exact=exact,
                avoid=avoid,
                with_vectors=with_vectors,
            )
        )

    # -- snapshots ----------------------------------------------------------------------

    def create_snapshot(self) -> Snapshot:
        """Have the server snapshot the collection (in a cluster: the shards of the node asked).

        Raises:
            ConfigError: an in-process client (``supports_snapshots`` is False).
            CollectionNotFound: the collection does not exist.
        """
        return self._run(self._core.create_snapshot())

    def download_snapshot(self, snapshot: Snapshot, destination: Path) -> Path:
        """Download ``snapshot`` to ``destination`` (complete and checked, or no file at all)."""
        return self._core.download_snapshot(snapshot, destination)

    def delete_snapshot(self, name: str) -> None:
        """Delete the snapshot ``name`` from the server."""
        self._run(self._core.delete_snapshot(name))
