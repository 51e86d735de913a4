"""The store seen from asyncio: a Qdrant server through ``AsyncQdrantClient``, or any store in a worker thread."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse
from tenacity import AsyncRetrying, RetryError, retry_if_exception, stop_after_attempt

from photoseek.config.settings import QdrantSettings
from photoseek.errors import (
    CollectionNotFound,
    ConfigError,
    PhotoseekError,
    StoreError,
    StoreUnavailable,
)
from photoseek.retrieval.store.base import (
    CollectionInfo,
    Record,
    ScoredRecord,
    VectorStore,
)
from photoseek.retrieval.store.inputs import check_page, query_matrix, query_vector
from photoseek.retrieval.store.retry import BackoffWait, is_transient

T = TypeVar("T")


class AsyncVectorStore(Protocol):
    """The read side of ``VectorStore`` as coroutines: what ``AsyncImageSearch`` needs."""

    backend: str
    collection: str

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

    async def collection_exists(self) -> bool:
        return await asyncio.to_thread(self.store.collection_exists)

    async def info(self) -> CollectionInfo:
        return await asyncio.to_thread(self.store.info)

    async def query(self, vector: np.ndarray, **kwargs: Any) -> list[ScoredRecord]:
        return await asyncio.to_thread(lambda: self.store.query(vector, **kwargs))

    async def query_batch(self, vectors: np.ndarray, **kwargs: Any) -> list[list[ScoredRecord]]:
        return await asyncio.to_thread(lambda: self.store.query_batch(vectors, **kwargs))

    async def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        return await asyncio.to_thread(lambda: self.store.retrieve(ids, with_vectors=with_vectors))

    async def scroll(self, **kwargs: Any) -> tuple[list[Record], str | None]:
        return await asyncio.to_thread(lambda: self.store.scroll(**kwargs))

    async def close(self) -> None:
        if self._owns_store:
            await asyncio.to_thread(self.store.close)


def _not_found(exc: BaseException) -> bool:
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code == 404
    code = getattr(exc, "code", None)
    if callable(code):  # grpc.RpcError
        try:
            return getattr(code(), "name", "") == "NOT_FOUND"
        except Exception:  # noqa: BLE001 - not an rpc error after all
            return False
    # local mode says so in a ValueError
    return isinstance(exc, ValueError) and "not found" in str(exc).lower()


def _vector(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, dict):  # named vectors: photoseek uses the unnamed one
        value = next(iter(value.values()), None)
    return None if value is None else np.asarray(value, dtype=np.float32)


def _scored(point: models.ScoredPoint) -> ScoredRecord:
    return ScoredRecord(
        id=str(point.id), payload=dict(point.payload or {}), vector=_vector(point.vector), score=float(point.score)
    )


class AsyncServerStore:
    """A collection on a Qdrant server through ``AsyncQdrantClient`` (the read calls of a search).

    Transient failures are retried with backoff and then raise ``StoreUnavailable``; a missing
    collection raises ``CollectionNotFound``.
    """

    backend = "server"

    def __init__(self, settings: QdrantSettings, client: AsyncQdrantClient | None = None) -> None:
        """Connect to the server ``settings.url`` names, or wrap a ready client.

        Args:
            settings: the qdrant section (url, api_key, prefer_grpc, grpc_port, timeout,
                retries, hnsw_ef, collection).
            client: a ready ``AsyncQdrantClient`` to use instead (tests pass ``":memory:"``);
                :meth:`close` closes it too.

        Raises:
            ConfigError: no client and no ``PHOTOSEEK_QDRANT__URL``.
        """
        if client is None:
            if settings.url is None:
                raise ConfigError("the server store needs a server: set PHOTOSEEK_QDRANT__URL (e.g. http://localhost:6333)")
            client = AsyncQdrantClient(
                url=settings.url,
                api_key=settings.api_key.get_secret_value() if settings.api_key is not None else None,
                prefer_grpc=settings.prefer_grpc,
                grpc_port=settings.grpc_port,
                timeout=math.ceil(settings.timeout),
                check_compatibility=False,
            )
        self.client = client
        self.collection = settings.collection
        self._retries = settings.retries
        self._hnsw_ef = settings.hnsw_ef
        self._target = settings.url or "in-process qdrant-client"
        self._vector_size: int | None = None

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self._retries + 1),
            wait=BackoffWait(0.2, 10.0),  # a 429's Retry-After is honoured, as in the sync store
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await make()
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise StoreUnavailable(
                f"Qdrant server {self._target} unavailable after {self._retries + 1} attempt(s): "
                f"{type(last).__name__}: {last}; check that it runs and that PHOTOSEEK_QDRANT__URL points at it"
            ) from last
        except PhotoseekError:
            raise
        except Exception as exc:
            if _not_found(exc):
                raise CollectionNotFound(
                    f"collection {self.collection!r} not found on {self._target}; create it with `photoseek ingest ...`"
                ) from None
            raise StoreError(f"Qdrant server {self._target}: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # AsyncRetrying either returns or raises

    async def collection_exists(self) -> bool:
        return await self._call(lambda: self.client.collection_exists(self.collection))

    async def info(self) -> CollectionInfo:
        described = await self._call(lambda: self.client.get_collection(self.collection))
        params = described.config.params.vectors
        if isinstance(params, dict):
            params = next(iter(params.values()))
        assert params is not None
        return CollectionInfo(
            name=self.collection,
            backend=self.backend,
            location=self._target,
            points_count=described.points_count or 0,
            indexed_vectors_count=described.indexed_vectors_count,
            vector_size=params.size,
            distance=str(params.distance.value if hasattr(params.distance, "value") else params.distance),
            indexed_fields={
                k: str(getattr(v.data_type, "value", v.data_type)) for k, v in described.payload_schema.items()
            },
            metadata=dict(described.config.metadata or {}),
        )

    async def _size(self) -> int:
        if self._vector_size is None:
            self._vector_size = (await self.info()).vector_size
        return self._vector_size

    def _request(
        self,
        vector: np.ndarray,
        limit: int,
        offset: int,
        filter: models.Filter | None,
        score_threshold: float | None,
        exact: bool,
        avoid: Sequence[np.ndarray] = (),
        with_vectors: bool = False,
    ) -> models.QueryRequest:
        """One query request; the callers check the vectors first (``query_vector``)."""
        check_page(limit, offset)
        query: Any = np.asarray(vector, dtype=np.float32).tolist()
        if len(avoid):
            query = models.RecommendQuery(
                recommend=models.RecommendInput(
                    positive=[query],
                    negative=[np.asarray(v, dtype=np.float32).tolist() for v in avoid],
                    strategy=models.RecommendStrategy.BEST_SCORE,  # as the sync stores do
                )
            )
        return models.QueryRequest(
            query=query,
            limit=limit,
            offset=offset,
            filter=filter,
            score_threshold=score_threshold,
            params=models.SearchParams(hnsw_ef=self._hnsw_ef, exact=exact),
            with_payload=True,
            with_vector=with_vectors,
        )

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
        size = await self._size()
        avoid = [query_vector(v, size) for v in avoid]
        request = self._request(
            query_vector(vector, size), limit, offset, filter, score_threshold, exact, avoid, with_vectors
        )
        answer = await self._call(lambda: self.client.query_batch_points(self.collection, requests=[request]))
        return [_scored(p) for p in answer[0].points]

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
        if len(vectors) == 0:
            return []
        matrix = query_matrix(vectors, await self._size())
        requests = [self._request(v, limit, offset, filter, score_threshold, exact) for v in matrix]
        answers = await self._call(lambda: self.client.query_batch_points(self.collection, requests=requests))
        return [[_scored(p) for p in answer.points] for answer in answers]

    async def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        points = await self._call(
            lambda: self.client.retrieve(self.collection, ids=list(ids), with_payload=True, with_vectors=with_vectors)
        )
        found = {
            str(p.id): Record(id=str(p.id), payload=dict(p.payload or {}), vector=_vector(p.vector)) for p in points
        }
        return [found[i] for i in ids if i in found]

    async def scroll(
        self,
        *,
        limit: int = 256,
        offset: str | None = None,
        filter: models.Filter | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Record], str | None]:
        points, next_offset = await self._call(
            lambda: self.client.scroll(
                self.collection,
                scroll_filter=filter,
                limit=limit,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
            )
        )
        records = [Record(id=str(p.id), payload=dict(p.payload or {}), vector=_vector(p.vector)) for p in points]
        return records, None if next_offset is None else str(next_offset)

    async def close(self) -> None:
        await self.client.close()


def open_async_store(settings: QdrantSettings) -> AsyncVectorStore:
    """The configured store for asyncio: ``AsyncQdrantClient`` on a server, a worker thread when embedded."""
    if settings.url is None:
        from photoseek.retrieval.store import open_store

        return ThreadedStore(open_store(settings), owns_store=True)
    return AsyncServerStore(settings)
