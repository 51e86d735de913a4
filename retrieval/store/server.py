"""The server store: a collection on a Qdrant server (or cluster) through ``qdrant_client``.

Every request goes through ``retry.call_with_retries``: transient failures (connection,
timeouts, 5xx, 429, gRPC UNAVAILABLE) are retried with backoff, then ``StoreUnavailable``;
anything else is mapped once to photoseek's error tree. Writes use ``wait=True`` on stable
ids, so a retried write lands on the same points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from photoseek.config.settings import QdrantSettings
from photoseek.errors import (
    CollectionMismatch,
    CollectionNotFound,
    ConfigError,
    PhotoseekError,
    QueryError,
    StoreError,
)
from photoseek.retrieval.schema import INDEXED_FIELDS, IndexKind
from photoseek.retrieval.store.base import CollectionInfo, Record, ScoredRecord
from photoseek.retrieval.store.inputs import canonical_ids, check_page, query_matrix, query_vector, vector_batch
from photoseek.retrieval.store.retry import call_with_retries

T = TypeVar("T")


def _server_index(kind: IndexKind) -> Any:
    if kind is IndexKind.TEXT:
        # The same tokenisation as the embedded engine: word tokens, lowercased, phrases on.
        return models.TextIndexParams(
            type=models.TextIndexType.TEXT,
            tokenizer=models.TokenizerType.WORD,
            lowercase=True,
            phrase_matching=True,
        )
    return models.PayloadSchemaType(kind.value)


def _vector(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, dict):  # a named-vector answer; photoseek stores the unnamed one
        value = value.get("", next(iter(value.values()), None))
    return None if value is None else np.asarray(value, dtype=np.float32)


def _point_id(value: Any) -> str:
    return str(value)


class ServerStore:
    """A collection on a Qdrant server.

    Args:
        settings: the qdrant section (url, api_key, prefer_grpc, grpc_port, timeout, retries,
            shard_number, replication_factor, write_consistency_factor, hnsw_ef).
        client: a ready client to use instead of one built from ``settings`` (tests pass
            ``QdrantClient(":memory:")``); the caller keeps ownership and closes it.
    """

    backend = "server"

    def __init__(self, settings: QdrantSettings, client: QdrantClient | None = None) -> None:
        self.collection = settings.collection
        self._settings = settings
        self._owns_client = client is None
        if client is None:
            if settings.url is None:
                raise ConfigError(
                    "the server store needs a server: set PHOTOSEEK_QDRANT__URL (e.g. http://localhost:6333)"
                )
            client = QdrantClient(
                url=settings.url,
                api_key=settings.api_key.get_secret_value() if settings.api_key is not None else None,
                prefer_grpc=settings.prefer_grpc,
                grpc_port=settings.grpc_port,
                timeout=math.ceil(settings.timeout),
                # The version check is a request of its own at construction, outside the
                # retry policy; a version problem shows up on the first real request instead.
                check_compatibility=False,
            )
        self.client = client
        self.location = settings.url or "in-process qdrant-client"
        self._vector_size: int | None = None

    def __enter__(self) -> ServerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------

    def _call(self, call: Callable[[], T]) -> T:
        """One server request with retries, its errors mapped to photoseek's error tree."""
        try:
            return call_with_retries(call, retries=self._settings.retries, target=self.location)
        except PhotoseekError:
            raise
        except Exception as exc:
            if self._is_missing_collection(exc):
                raise self._not_found() from None
            raise StoreError(f"Qdrant server {self.location}: {_describe(exc)}") from exc

    def _is_missing_collection(self, exc: Exception) -> bool:
        text = _describe(exc)
        if isinstance(exc, UnexpectedResponse) and exc.status_code == 404:
            return "ollection" in text
        code = getattr(exc, "code", None)
        if callable(code) and getattr(code(), "name", "") == "NOT_FOUND":
            return "ollection" in text
        # Local mode says it with a ValueError.
        return isinstance(exc, ValueError) and f"Collection {self.collection} not found" in text

    def _not_found(self) -> CollectionNotFound:
        return CollectionNotFound(
            f"collection {self.collection!r} not found on {self.location}; create it with `photoseek ingest ...` "
            "(or check PHOTOSEEK_QDRANT__COLLECTION)"
        )

    def _describe_collection(self) -> models.CollectionInfo:
        return self._call(lambda: self.client.get_collection(self.collection))

    def _stored_vectors(self, description: models.CollectionInfo) -> tuple[int, str]:
        params = description.config.params.vectors
        if isinstance(params, dict):
            params = params.get("") if len(params) == 1 else None
        if not isinstance(params, models.VectorParams):
            raise CollectionMismatch(
                f"collection {self.collection!r} on {self.location} has no single unnamed vector; "
                "use another collection (set PHOTOSEEK_QDRANT__COLLECTION)"
            )
        return params.size, str(getattr(params.distance, "value", params.distance))

    def _size(self) -> int:
        if self._vector_size is None:
            self._vector_size = self._stored_vectors(self._describe_collection())[0]
        return self._vector_size

    # -- the collection -----------------------------------------------------------------

    def collection_exists(self) -> bool:
        """Whether the collection exists on the server."""
        return bool(self._call(lambda: self.client.collection_exists(self.collection)))

    def ensure_collection(self, vector_size: int, metadata: Mapping[str, Any] | None = None) -> bool:
        """Create the collection (cosine, schema payload indexes, cluster layout) unless it exists.

        Raises:
            CollectionMismatch: the existing collection's vectors differ in size or distance.
        """
        if vector_size < 1:
            raise ValueError(f"vector_size must be positive, got {vector_size}")
        created = False
        if not self.collection_exists():
            try:
                self._call(
                    lambda: self.client.create_collection(
                        self.collection,
                        vectors_config=models.VectorParams(size=vector_size, distance=models.Distance.COSINE),
                        shard_number=self._settings.shard_number,
                        replication_factor=self._settings.replication_factor,
                        write_consistency_factor=self._settings.write_consistency_factor,
                        metadata=dict(metadata) if metadata else None,
                    )
                )
                created = True
            except StoreError as exc:
                # Another worker (or our own retried request) created it first.
                if "already exists" not in str(exc):
                    raise
        description = self._describe_collection()
        size, distance = self._stored_vectors(description)
        if size != vector_size or distance != "Cosine":
            raise CollectionMismatch(
                f"collection {self.collection!r} on {self.location} holds {size}-d {distance} vectors "
                f"but the model makes {vector_size}-d Cosine vectors; use another collection "
                "(set PHOTOSEEK_QDRANT__COLLECTION) or delete this one"
            )
        self._vector_size = size
        have = description.payload_schema or {}
        for path, kind in INDEXED_FIELDS.items():
            if path not in have:
                create_index = partial(
                    self.client.create_payload_index,
                    self.collection,
                    field_name=path,
                    field_schema=_server_index(kind),
                    wait=True,
                )
                self._call(create_index)
        return created

    def info(self) -> CollectionInfo:
        """Size, vector size, distance, payload indexes and metadata of the collection."""
        description = self._describe_collection()
        size, distance = self._stored_vectors(description)
        return CollectionInfo(
            name=self.collection,
            backend=self.backend,
            location=self.location,
            points_count=self.count(),
            indexed_vectors_count=description.indexed_vectors_count,
            vector_size=size,
            distance=distance,
            indexed_fields={
                k: str(getattr(v.data_type, "value", v.data_type))
                for k, v in (description.payload_schema or {}).items()
            },
            metadata=dict(description.config.metadata or {}),
        )

    def get_metadata(self) -> dict[str, Any]:
        """The collection's metadata (empty when none was set)."""
        return dict(self._describe_collection().config.metadata or {})

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` (top-level keys) into the collection's metadata."""
        self._call(lambda: self.client.update_collection(self.collection, metadata=dict(metadata)))

    def delete_collection(self) -> None:
        """Drop the collection and its points (nothing happens when it does not exist)."""
        self._call(lambda: self.client.delete_collection(self.collection))
        self._vector_size = None

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
        keys = canonical_ids(ids)
        matrix = vector_batch(vectors, len(keys), self._size())
        if len(payloads) != len(keys):
            raise ValueError(f"got {len(keys)} ids but {len(payloads)} payloads")
        if not keys:
            return
        batch = models.Batch(ids=list(keys), vectors=matrix.tolist(), payloads=[dict(p) for p in payloads])
        self._call(lambda: self.client.upsert(self.collection, points=batch, wait=True))

    def set_payloads(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> None:
        """Replace the payloads of stored points, keeping their vectors; unknown ids are ignored."""
        keys = canonical_ids(ids)
        if len(payloads) != len(keys):
            raise ValueError(f"got {len(keys)} ids but {len(payloads)} payloads")
        stored = self.existing_ids(keys)
        operations: list[Any] = [
            models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(payload=dict(p), points=[k]))
            for k, p in zip(keys, payloads, strict=True)
            if k in stored
        ]
        if operations:
            self._call(lambda: self.client.batch_update_points(self.collection, operations, wait=True))

    def delete(self, ids: Sequence[str]) -> None:
        """Delete points by id; unknown ids are ignored."""
        keys: list[Any] = canonical_ids(ids)
        if keys:
            selector = models.PointIdsList(points=keys)
            self._call(lambda: self.client.delete(self.collection, points_selector=selector, wait=True))

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        """The stored points among ``ids``, in the order asked (each id once)."""
        keys: list[Any] = list(dict.fromkeys(canonical_ids(ids)))
        if not keys:
            return []
        found = {
            _point_id(r.id): r
            for r in self._call(
                lambda: self.client.retrieve(self.collection, keys, with_payload=True, with_vectors=with_vectors)
            )
        }
        return [
            Record(id=k, payload=dict(found[k].payload or {}), vector=_vector(found[k].vector))
            for k in keys
            if k in found
        ]

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored (as given), in one request without payloads or vectors."""
        given = dict(zip(canonical_ids(ids), ids, strict=True))
        if not given:
            return set()
        keys: list[Any] = list(given)
        found = self._call(lambda: self.client.retrieve(self.collection, keys, with_payload=False, with_vectors=False))
        return {given[_point_id(r.id)] for r in found}

    def count(self, filter: models.Filter | None = None) -> int:
        """Exact number of points (matching ``filter``)."""
        result = self._call(lambda: self.client.count(self.collection, count_filter=filter, exact=True))
        return int(result.count)

    def scroll(
        self,
        *,
        limit: int = 256,
        offset: str | None = None,
        filter: models.Filter | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[Record], str | None]:
        """One page of points in id order and the id the next page starts at (None at the end)."""
        if limit < 1:
            raise QueryError(f"limit must be at least 1, got {limit}")
        start = canonical_ids([offset])[0] if offset is not None else None
        records, next_id = self._call(
            lambda: self.client.scroll(
                self.collection,
                scroll_filter=filter,
                limit=limit,
                offset=start,
                with_payload=True,
                with_vectors=with_vectors,
            )
        )
        page = [Record(id=_point_id(r.id), payload=dict(r.payload or {}), vector=_vector(r.vector)) for r in records]
        return page, (_point_id(next_id) if next_id is not None else None)

    # -- queries ------------------------------------------------------------------------

    def _params(self, exact: bool) -> models.SearchParams | None:
        if not exact and self._settings.hnsw_ef is None:
            return None  # the server's defaults
        return models.SearchParams(hnsw_ef=self._settings.hnsw_ef, exact=exact)

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
        check_page(limit, offset)
        size = self._size()
        target = query_vector(vector, size).tolist()
        query: Any = target
        if avoid:
            query = models.RecommendQuery(
                recommend=models.RecommendInput(
                    positive=[target],
                    negative=[query_vector(v, size).tolist() for v in avoid],
                    strategy=models.RecommendStrategy.BEST_SCORE,
                )
            )
        response = self._call(
            lambda: self.client.query_points(
                self.collection,
                query=query,
                query_filter=filter,
                search_params=self._params(exact),
                limit=limit,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
                score_threshold=score_threshold,
            )
        )
        return [_scored(p) for p in response.points]

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
        check_page(limit, offset)
        matrix = query_matrix(vectors, self._size())
        requests = [
            models.QueryRequest(
                query=row.tolist(),
                filter=filter,
                params=self._params(exact),
                limit=limit,
                offset=offset,
                with_payload=True,
                score_threshold=score_threshold,
            )
            for row in matrix
        ]
        if not requests:
            return []
        responses = self._call(lambda: self.client.query_batch_points(self.collection, requests))
        return [[_scored(p) for p in response.points] for response in responses]


def _scored(point: models.ScoredPoint) -> ScoredRecord:
    return ScoredRecord(
        id=_point_id(point.id),
        payload=dict(point.payload or {}),
        vector=_vector(point.vector),
        score=float(point.score),
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnexpectedResponse):
        try:
            status = exc.structured().get("status", {})
            message = status.get("error") if isinstance(status, dict) else str(status)
        except Exception:  # noqa: BLE001 - a non-JSON body: show the raw start
            message = exc.content[:200].decode("utf-8", "replace")
        return f"HTTP {exc.status_code}: {message}"
    details, code = getattr(exc, "details", None), getattr(exc, "code", None)
    if callable(details) and callable(code):
        try:
            return f"gRPC {code().name}: {details()}"
        except Exception:  # noqa: BLE001 - fall back to the plain text
            pass
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
