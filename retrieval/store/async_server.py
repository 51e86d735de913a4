"""The store seen from asyncio: a Qdrant server through ``AsyncQdrantClient``, or any store in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from qdrant_client import AsyncQdrantClient, models

from photoseek.config.settings import QdrantSettings
from photoseek.errors import PhotoseekError
from photoseek.retrieval.store.base import CollectionInfo, FacetCount, Record, ScoredRecord, Snapshot, VectorStore
from photoseek.retrieval.store.retry import call_with_retries_async
from photoseek.retrieval.store.server_core import (
    IN_PROCESS,
    Operation,
    Request,
    ServerCore,
    client_options,
    drive_async,
)

T = TypeVar("T")


class AsyncVectorStore(Protocol):
    """The read side of ``VectorStore`` as coroutines: what ``AsyncImageSearch`` needs."""

    backend: str
    collection: str

    @property
    def location(self) -> str:
        """Where the collection lives (see ``VectorStore.location``)."""
        ...

    async def collection_exists(self) -> bool:
        """Whether the collection exists."""
        ...

    async def info(self) -> CollectionInfo:
        """The collection's description (its vector size above all)."""
        ...

    async def query(
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
        """Nearest neighbours of ``vector``, best first (see ``VectorStore.query``)."""
        ...

    async def query_batch(
        self,
        vectors: np.ndarray,
        *,
        limit: int = 10,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        exact: bool = False,
    ) -> list[list[ScoredRecord]]:
        """``query`` for each row of ``vectors``."""
        ...

    async def has_keywords(self) -> bool:
        """Whether the collection has the keyword side (see ``VectorStore.has_keywords``)."""
        ...

    async def query_keywords(
        self,
        text: str,
        *,
        limit: int = 10,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
    ) -> list[ScoredRecord]:
        """BM25 matches of ``text``, best first (see ``VectorStore.query_keywords``)."""
        ...

    async def query_hybrid(
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
        """Both sides fused in one query, best first (see ``VectorStore.query_hybrid``)."""
        ...

    async def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        """The points with these ids that exist, in the order asked."""
        ...

    async def scroll(
        self,
        *,
        limit: int = 256,
        offset: str | None = None,
        filter: models.Filter | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Record], str | None]:
        """One page of points and the offset of the next one."""
        ...

    async def facet(
        self, key: str, *, limit: int = 10, filter: models.Filter | None = None, exact: bool = False
    ) -> list[FacetCount]:
        """Value counts of an indexed field (see ``VectorStore.facet``)."""
        ...

    async def close(self) -> None:
        """Release the store."""
        ...


class ThreadedStore:
    """A synchronous store driven from asyncio: each call runs in a worker thread.

    The embedded engine has no async API, and its queries take about a millisecond, so a
    thread per call keeps the event loop free without a second engine.
    """

    def __init__(self, store: VectorStore, *, owns_store: bool = False) -> None:
        self.store = store
        self.backend = store.backend
        self.collection = store.collection
        self._owns_store = owns_store

    @property
    def location(self) -> str:
        """The wrapped store's location."""
        return self.store.location

    async def collection_exists(self) -> bool:
        return await asyncio.to_thread(self.store.collection_exists)

    async def info(self) -> CollectionInfo:
        return await asyncio.to_thread(self.store.info)

    async def query(self, vector: np.ndarray, **kwargs: Any) -> list[ScoredRecord]:
        return await asyncio.to_thread(lambda: self.store.query(vector, **kwargs))

    async def query_batch(self, vectors: np.ndarray, **kwargs: Any) -> list[list[ScoredRecord]]:
        return await asyncio.to_thread(lambda: self.store.query_batch(vectors, **kwargs))

    async def has_keywords(self) -> bool:
        return await asyncio.to_thread(self.store.has_keywords)

    async def query_keywords(self, text: str, **kwargs: Any) -> list[ScoredRecord]:
        return await asyncio.to_thread(lambda: self.store.query_keywords(text, **kwargs))

    async def query_hybrid(self, vector: np.ndarray, text: str, **kwargs: Any) -> list[ScoredRecord]:
        return await asyncio.to_thread(lambda: self.store.query_hybrid(vector, text, **kwargs))

    async def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        return await asyncio.to_thread(lambda: self.store.retrieve(ids, with_vectors=with_vectors))

    async def scroll(self, **kwargs: Any) -> tuple[list[Record], str | None]:
        return await asyncio.to_thread(lambda: self.store.scroll(**kwargs))

    async def facet(self, key: str, **kwargs: Any) -> list[FacetCount]:
        return await asyncio.to_thread(lambda: self.store.facet(key, **kwargs))

    async def close(self) -> None:
        if self._owns_store:
            await asyncio.to_thread(self.store.close)


class AsyncServerStore:
    """A collection on a Qdrant server through ``AsyncQdrantClient``: every ``VectorStore`` method as a coroutine.

    The operations are those of ``ServerStore`` (``server_core``), so both give the same answers
    and errors: transient failures are retried with backoff and then raise ``StoreUnavailable``;
    a missing collection raises ``CollectionNotFound``.

    Args:
        settings: the qdrant section (url, api_key, prefer_grpc, grpc_port, timeout, retries,
            hnsw_ef, collection, and the cluster layout for a new collection).
        client: a ready ``AsyncQdrantClient`` to use instead (tests pass ``":memory:"``); the
            caller keeps ownership and closes it.

    Raises:
        ConfigError: no client and no ``PHOTOSEEK_QDRANT__URL``.
    """

    backend = "server"
    index_threshold: int | None = None

    def __init__(self, settings: QdrantSettings, client: AsyncQdrantClient | None = None) -> None:
        self._owns_client = client is None
        self.client = client if client is not None else AsyncQdrantClient(**client_options(settings))
        self.collection = settings.collection
        self.location = settings.url or IN_PROCESS
        self._retries = settings.retries
        self._core = ServerCore(settings, self.location)

    async def _run(self, operation: Operation[T]) -> T:
        return await drive_async(operation, self._send)

    async def _send(self, request: Request) -> Any:
        """One request with retries, its errors mapped to photoseek's error tree."""
        try:
            return await call_with_retries_async(
                lambda: request(self.client), retries=self._retries, target=self.location
            )
        except PhotoseekError:
            raise
        except Exception as exc:
            self._core.fail(exc)

    @property
    def supports_snapshots(self) -> bool:
        """True for a server reached over the network; False for an in-process client."""
        return self._core.supports_snapshots

    def same_collection_as(self, other: object) -> bool:
        """Whether ``other`` is an asyncio server store on this collection of the same server."""
        if not isinstance(other, AsyncServerStore) or other.collection != self.collection:
            return False
        return other.client is self.client or (self.supports_snapshots and other.location == self.location)

    async def collection_exists(self) -> bool:
        """Whether the collection exists on the server."""
        return await self._run(self._core.collection_exists())

    async def ensure_collection(self, vector_size: int, metadata: Mapping[str, Any] | None = None) -> bool:
        """Create the collection unless it exists (see ``ServerStore.ensure_collection``)."""
        return await self._run(self._core.ensure_collection(vector_size, metadata))

    async def info(self) -> CollectionInfo:
        """Size (exact), vector size, distance, payload indexes and metadata of the collection."""
        return await self._run(self._core.info())

    async def get_metadata(self) -> dict[str, Any]:
        """The collection's metadata (empty when none was set)."""
        return await self._run(self._core.get_metadata())

    async def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` (top-level keys) into the collection's metadata."""
        await self._run(self._core.set_metadata(metadata))

    async def delete_collection(self) -> None:
        """Drop the collection and its points (nothing happens when it does not exist)."""
        await self._run(self._core.delete_collection())

    async def check_space(self, points: int, dimension: int, what: str) -> None:
        """A no-op: a server manages its own disk."""

    async def unindexed_tail(self) -> int:
        """0: the server indexes in the background itself."""
        return 0

    async def optimize(self) -> bool:
        """A no-op: the server runs its optimizers itself. Returns False."""
        return False

    async def upsert(self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace points, waiting until the server has applied the write."""
        await self._run(self._core.upsert(ids, vectors, payloads))

    async def set_payloads(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> None:
        """Replace the payloads of stored points, keeping their vectors; unknown ids are ignored."""
        await self._run(self._core.set_payloads(ids, payloads))

    async def delete(self, ids: Sequence[str]) -> None:
        """Delete points by id; unknown ids are ignored."""
        await self._run(self._core.delete(ids))

    async def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        """The stored points among ``ids``, in the order asked (each id once)."""
        return await self._run(self._core.retrieve(ids, with_vectors=with_vectors))

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored (as given)."""
        return await self._run(self._core.existing_ids(ids))

    async def count(self, filter: models.Filter | None = None) -> int:
        """Exact number of points (matching ``filter``)."""
        return await self._run(self._core.count(filter))

    async def facet(
        self, key: str, *, limit: int = 10, filter: models.Filter | None = None, exact: bool = False
    ) -> list[FacetCount]:
        """Counts of the values of the indexed field ``key`` among the points matching ``filter``."""
        return await self._run(self._core.facet(key, limit=limit, filter=filter, exact=exact))

    async def scroll(
        self,
        *,
        limit: int = 256,
        offset: str | None = None,
        filter: models.Filter | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Record], str | None]:
        """One page of points in id order and the id the next page starts at (None at the end)."""
        return await self._run(self._core.scroll(limit=limit, offset=offset, filter=filter, with_vectors=with_vectors))

    async def query(
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
        """Nearest neighbours of ``vector``, best first (see ``ServerStore.query``)."""
        return await self._run(
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

    async def query_batch(
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
        return await self._run(
            self._core.query_batch(
                vectors, limit=limit, offset=offset, filter=filter, score_threshold=score_threshold, exact=exact
            )
        )

    # -- the keyword side ---------------------------------------------------------------

    async def has_keywords(self) -> bool:
        """Whether the collection has the keyword sparse vector (asked of the server)."""
        return await self._run(self._core.has_keywords())

    async def add_keywords_side(self) -> bool:
        """Add the keyword sparse vector to the collection in place; True if added now."""
        return await self._run(self._core.add_keywords_side())

    async def write_keywords(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> None:
        """Set the keyword vectors of stored points from their payloads, keeping the rest."""
        await self._run(self._core.write_keywords(ids, payloads))

    async def query_keywords(
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
        return await self._run(
            self._core.query_keywords(
                text,
                limit=limit,
                offset=offset,
                filter=filter,
                score_threshold=score_threshold,
                with_vectors=with_vectors,
            )
        )

    async def query_hybrid(
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
        return await self._run(
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

    async def create_snapshot(self) -> Snapshot:
        """Have the server snapshot the collection (see ``ServerStore.create_snapshot``)."""
        return await self._run(self._core.create_snapshot())

    async def download_snapshot(self, snapshot: Snapshot, destination: Path) -> Path:
        """Download ``snapshot`` to ``destination`` in a worker thread."""
        return await asyncio.to_thread(self._core.download_snapshot, snapshot, destination)

    async def delete_snapshot(self, name: str) -> None:
        """Delete the snapshot ``name`` from the server."""
        await self._run(self._core.delete_snapshot(name))

    async def close(self) -> None:
        """Close the client when this store built it."""
        if self._owns_client:
            await self.client.close()


def open_async_store(settings: QdrantSettings) -> AsyncVectorStore:
    """The configured store for asyncio: ``AsyncQdrantClient`` on a server, a worker thread when embedded."""
    if settings.url is None:
        from photoseek.retrieval.store import open_store

        return ThreadedStore(open_store(settings), owns_store=True)
    return AsyncServerStore(settings)
