"""What the sync and the asyncio server stores share: every request they make, the answers, the errors.

Each store operation is written once here, as a generator: it yields *requests* (a function of
a qdrant-client client that makes one call), receives each answer at its ``yield`` (or the
request's error, thrown in there) and returns the operation's result. ``ServerStore`` runs the
operations with ``QdrantClient`` (``drive``), ``AsyncServerStore`` with ``AsyncQdrantClient``
(``drive_async``). The two clients take the same arguments, so the two stores make the same
requests, check inputs and convert answers the same way, and cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import numpy as np
from qdrant_client import models
from qdrant_client.http.exceptions import UnexpectedResponse

from photoseek.config.settings import QdrantSettings
from photoseek.errors import CollectionMismatch, CollectionNotFound, ConfigError, QueryError, StoreError
from photoseek.retrieval import keywords
from photoseek.retrieval.modes import check_fusion, check_prefetch
from photoseek.retrieval.schema import INDEXED_FIELDS
from photoseek.retrieval.store import collection_config
from photoseek.retrieval.store.base import (
    FACET_POOL,
    CollectionInfo,
    FacetCount,
    Record,
    ScoredRecord,
    Snapshot,
    collection_not_found,
    keywords_missing,
    top_facets,
)
from photoseek.retrieval.store.inputs import canonical_ids, check_page, query_matrix, query_vector, vector_batch
from photoseek.retrieval.store.snapshots import download_snapshot

T = TypeVar("T")

# One call on a client: ``lambda client: client.count(...)``; an awaitable with the async client.
Request = Callable[[Any], Any]
Operation = Generator[Request, Any, T]

# The location of a store on an in-process client (qdrant-client local mode, in tests).
IN_PROCESS = "in-process qdrant-client"

# RRF's rank constant, as on the embedded store (``edge.RRF_K``): 1 / (60 + rank) per list.
RRF_K = 60


def drive(operation: Operation[T], send: Callable[[Request], Any]) -> T:
    """Run ``operation`` to its end; ``send`` makes each request (with retries) and answers it."""
    answer: Any = None
    error: Exception | None = None
    while True:
        try:
            request = operation.throw(error) if error is not None else operation.send(answer)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return] # the generator's return value is T
        try:
            answer, error = send(request), None
        except Exception as exc:  # noqa: BLE001 - handed to the operation, which decides
            answer, error = None, exc


async def drive_async(operation: Operation[T], send: Callable[[Request], Awaitable[Any]]) -> T:
    """``drive`` for asyncio: ``send`` is a coroutine function."""
    answer: Any = None
    error: Exception | None = None
    while True:
        try:
            request = operation.throw(error) if error is not None else operation.send(answer)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return] # the generator's return value is T
        try:
            answer, error = await send(request), None
        except Exception as exc:  # noqa: BLE001 - handed to the operation, which decides
            answer, error = None, exc


def client_options(settings: QdrantSettings) -> dict[str, Any]:
    """Keyword arguments of ``QdrantClient`` / ``AsyncQdrantClient`` for the server ``settings`` name.

    Raises:
        ConfigError: no server URL is set.
    """
    if settings.url is None:
        raise ConfigError("the server store needs a server: set PHOTOSEEK_QDRANT__URL (e.g. http://localhost:6333)")
    return {
        "url": settings.url,
        "api_key": settings.api_key.get_secret_value() if settings.api_key is not None else None,
        "prefer_grpc": settings.prefer_grpc,
        "grpc_port": settings.grpc_port,
        "timeout": math.ceil(settings.timeout),
        # The version check is a request of its own at construction, outside the retry
        # policy; a version problem shows up on the first real request instead.
        "check_compatibility": False,
    }


# -- errors ---------------------------------------------------------------------------------


def describe_error(exc: BaseException) -> str:
    """One line saying what a server (or local mode) error is, without the request that made it."""
    if isinstance(exc, UnexpectedResponse):
        try:
            status = exc.structured().get("status", {})
            message = status.get("error") if isinstance(status, dict) else str(status)
        except Exception:  # noqa: BLE001 - a non-JSON body: show the raw start
            message = exc.content[:200].decode("utf-8", "replace")
        return f"HTTP {exc.status_code}: {message}"
    details, code = getattr(exc, "details", None), getattr(exc, "code", None)
    if callable(details) and callable(code):  # grpc.RpcError
        try:
            return f"gRPC {code().name}: {details()}"
        except Exception:  # noqa: BLE001 - fall back to the plain text
            pass
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_missing_collection(exc: BaseException) -> bool:
    """Whether ``exc`` says that the collection does not exist.

    Only a "not found" that speaks of a collection counts: a 404 for a snapshot, for a point or
    for a wrong URL path (a proxy in front of the server) is another error.
    """
    text = describe_error(exc).lower()
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code == 404 and "collection" in text
    code = getattr(exc, "code", None)
    if callable(code):  # grpc.RpcError
        try:
            name = getattr(code(), "name", "")
        except Exception:  # noqa: BLE001 - not an rpc error after all
            return False
        return name == "NOT_FOUND" and "collection" in text
    # Local mode says it with a ValueError: "Collection photos not found".
    return isinstance(exc, ValueError) and "collection" in text and "not found" in text


# -- answers --------------------------------------------------------------------------------


def point_id(value: Any) -> str:
    """A point id as the stores hand it out (the server answers UUIDs in canonical form)."""
    return str(value)


def to_vector(value: Any) -> np.ndarray | None:
    """A stored vector as float32, or None when it was not asked for."""
    if value is None:
        return None
    if isinstance(value, dict):  # a named-vector answer; photoseek stores the unnamed one
        value = value.get("", next(iter(value.values()), None))
    return None if value is None else np.asarray(value, dtype=np.float32)


def to_record(point: models.Record | models.ScoredPoint) -> Record:
    """A stored point as a ``Record``."""
    return Record(id=point_id(point.id), payload=dict(point.payload or {}), vector=to_vector(point.vector))


def to_scored(point: models.ScoredPoint) -> ScoredRecord:
    """A query result as a ``ScoredRecord``."""
    return ScoredRecord(
        id=point_id(point.id),
        payload=dict(point.payload or {}),
        vector=to_vector(point.vector),
        score=float(point.score),
    )


class ServerCore:
    """The server store's operations on one collection, for either client (see the module docstring).

    Args:
        settings: the qdrant section (collection, url, api_key, timeout, shard_number,
            replication_factor, write_consistency_factor, hnsw_ef).
        location: the server's URL, or ``IN_PROCESS``; named in every error.
    """

    def __init__(self, settings: QdrantSettings, location: str) -> None:
        self.collection = settings.collection
        self.location = location
        self._settings = settings
        self._vector_size: int | None = None
        self._keywords: bool | None = None

    # -- errors -------------------------------------------------------------------------

    def not_found(self) -> CollectionNotFound:
        """The error for this collection missing on the server."""
        return collection_not_found(self.collection, "server", self.location)

    def fail(self, exc: Exception) -> NoReturn:
        """Raise the permanent error ``exc`` of a request as photoseek's error."""
        if is_missing_collection(exc):
            raise self.not_found() from None
        raise StoreError(f"Qdrant server {self.location}: {describe_error(exc)}") from exc

    # -- the collection -----------------------------------------------------------------

    def _description(self) -> Operation[models.CollectionInfo]:
        description: models.CollectionInfo = yield lambda client: client.get_collection(self.collection)
        return description

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

    def _size(self) -> Operation[int]:
        if self._vector_size is None:
            description = yield from self._description()
            self._vector_size = self._stored_vectors(description)[0]
            self._keywords = _has_keywords(description)
        return self._vector_size

    def _cached_keywords(self) -> Operation[bool]:
        """Whether the collection has the keyword side, as last read (writes ask once per store)."""
        if self._keywords is None:
            self._keywords = _has_keywords((yield from self._description()))
        return self._keywords

    def collection_exists(self) -> Operation[bool]:
        """Whether the collection exists."""
        return bool((yield lambda client: client.collection_exists(self.collection)))

    def ensure_collection(self, vector_size: int, metadata: Mapping[str, Any] | None = None) -> Operation[bool]:
        """Create the collection (cosine, schema payload indexes, cluster layout) unless it exists.

        Raises:
            CollectionMismatch: the existing collection's vectors differ in size or distance.
        """
        if vector_size < 1:
            raise ValueError(f"vector_size must be positive, got {vector_size}")
        created = False
        if not (yield from self.collection_exists()):
            create = partial(
                _create_collection,
                self.collection,
                **collection_config.server_create_options(vector_size, self._settings),
                sparse_vectors_config=keywords.server_sparse_config(),
                shard_number=self._settings.shard_number,
                replication_factor=self._settings.replication_factor,
                write_consistency_factor=self._settings.write_consistency_factor,
                metadata=dict(metadata) if metadata else None,
            )
            try:
                yield create
                created = True
            except StoreError as exc:
                # Another worker (or our own retried request) created it first.
                if "already exists" not in str(exc):
                    raise
        description = yield from self._description()
        size, distance = self._stored_vectors(description)
        if size != vector_size or distance != "Cosine":
            raise CollectionMismatch(
                f"collection {self.collection!r} on {self.location} holds {size}-d {distance} vectors "
                f"but the model makes {vector_size}-d Cosine vectors; use another collection "
                "(set PHOTOSEEK_QDRANT__COLLECTION) or delete this one"
            )
        self._vector_size = size
        self._keywords = _has_keywords(description)
        have = description.payload_schema or {}
        for path, kind in INDEXED_FIELDS.items():
            if path not in have:
                yield partial(_create_index, self.collection, path, collection_config.server_index(path, kind))
        return created

    def info(self) -> Operation[CollectionInfo]:
        """Size (an exact count, as on every backend), vector size, distance, indexes and metadata."""
        description = yield from self._description()
        size, distance = self._stored_vectors(description)
        points = yield from self.count()
        return CollectionInfo(
            name=self.collection,
            backend="server",
            location=self.location,
            points_count=points,
            indexed_vectors_count=description.indexed_vectors_count,
            vector_size=size,
            distance=distance,
            indexed_fields={
                k: str(getattr(v.data_type, "value", v.data_type))
                for k, v in (description.payload_schema or {}).items()
            },
            metadata=dict(description.config.metadata or {}),
        )

    def get_metadata(self) -> Operation[dict[str, Any]]:
        """The collection's metadata (empty when none was set)."""
        return dict((yield from self._description()).config.metadata or {})

    def set_metadata(self, metadata: Mapping[str, Any]) -> Operation[None]:
        """Merge ``metadata`` (top-level keys) into the collection's metadata."""
        values = dict(metadata)
        yield lambda client: client.update_collection(self.collection, metadata=values)

    def delete_collection(self) -> Operation[None]:
        """Drop the collection and its points (nothing happens when it does not exist)."""
        yield lambda client: client.delete_collection(self.collection)
        self._vector_size = None
        self._keywords = None

    # -- points -------------------------------------------------------------------------

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[Mapping[str, Any]]) -> Operation[None]:
        """Insert or replace points, waiting until the server has applied the write."""
        keys = canonical_ids(ids)
        matrix = vector_batch(vectors, len(keys), (yield from self._size()))
        if len(payloads) != len(keys):
            raise ValueError(f"got {len(keys)} ids but {len(payloads)} payloads")
        if not keys:
            return
        points: Any = models.Batch(ids=list(keys), vectors=matrix.tolist(), payloads=[dict(p) for p in payloads])
        if (yield from self._cached_keywords()):
            # Points, not a batch: a photo without words has no keyword vector (see keywords.py).
            points = [
                models.PointStruct(id=k, vector=_vectors(row, p), payload=dict(p))
                for k, row, p in zip(keys, matrix.tolist(), payloads, strict=True)
            ]
        yield lambda client: client.upsert(self.collection, points=points, wait=True)

    def set_payloads(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> Operation[None]:
        """Replace the payloads of stored points, keeping their vectors; unknown ids are ignored."""
        keys = canonical_ids(ids)
        if len(payloads) != len(keys):
            raise ValueError(f"got {len(keys)} ids but {len(payloads)} payloads")
        stored = yield from self.existing_ids(keys)
        operations: list[Any] = [
            models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(payload=dict(p), points=[k]))
            for k, p in zip(keys, payloads, strict=True)
            if k in stored
        ]
        if operations and (yield from self._cached_keywords()):  # the words changed: so does the keyword vector
            kept = [(k, p) for k, p in zip(keys, payloads, strict=True) if k in stored]
            operations += _keyword_operations([k for k, _ in kept], [p for _, p in kept])
        if operations:
            yield lambda client: client.batch_update_points(self.collection, operations, wait=True)

    # -- the keyword side ---------------------------------------------------------------

    def has_keywords(self) -> Operation[bool]:
        """Whether the collection has the keyword sparse vector (asked of the server each time)."""
        self._keywords = _has_keywords((yield from self._description()))
        return self._keywords

    def add_keywords_side(self) -> Operation[bool]:
        """Add the keyword sparse vector (IDF modifier) to the collection in place; True if added now.

        Needs a server that can add a named vector to a collection (``create_vector_name``).
        """
        if (yield from self.has_keywords()):
            return False
        config = models.SparseVectorNameConfig(sparse=models.SparseVectorConfig(modifier=models.Modifier.IDF))
        try:
            yield lambda client: client.create_vector_name(
                self.collection, vector_name=keywords.KEYWORDS_VECTOR, vector_name_config=config, wait=True
            )
        except StoreError as exc:
            if "already exists" not in str(exc):
                raise
        return (yield from self.has_keywords())

    def write_keywords(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> Operation[None]:
        """Set the keyword vectors of points from their payloads (one request), keeping the rest."""
        keys = canonical_ids(ids)
        if len(payloads) != len(keys):
            raise ValueError(f"got {len(keys)} ids but {len(payloads)} payloads")
        if not (yield from self._cached_keywords()) and not (yield from self.has_keywords()):
            raise keywords_missing(self.collection, self.location)
        operations = _keyword_operations(keys, payloads)
        if operations:
            yield lambda client: client.batch_update_points(self.collection, operations, wait=True)

    def delete(self, ids: Sequence[str]) -> Operation[None]:
        """Delete points by id; unknown ids are ignored."""
        keys: list[Any] = canonical_ids(ids)
        if keys:
            selector = models.PointIdsList(points=keys)
            yield lambda client: client.delete(self.collection, points_selector=selector, wait=True)

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> Operation[list[Record]]:
        """The stored points among ``ids``, in the order asked, each once, under its canonical id."""
        keys: list[Any] = list(dict.fromkeys(canonical_ids(ids)))
        if not keys:
            return []
        points = yield lambda client: client.retrieve(
            self.collection, keys, with_payload=True, with_vectors=with_vectors
        )
        found = {point_id(p.id): p for p in points}
        return [to_record(found[k]) for k in keys if k in found]

    def existing_ids(self, ids: Sequence[str]) -> Operation[set[str]]:
        """Which of ``ids`` are stored (as given), in one request without payloads or vectors."""
        given = dict(zip(canonical_ids(ids), ids, strict=True))
        if not given:
            return set()
        keys: list[Any] = list(given)
        found = yield lambda client: client.retrieve(self.collection, keys, with_payload=False, with_vectors=False)
        return {given[point_id(p.id)] for p in found}

    def count(self, filter: models.Filter | None = None) -> Operation[int]:
        """Exact number of points (matching ``filter``)."""
        result = yield lambda client: client.count(self.collection, count_filter=filter, exact=True)
        return int(result.count)

    def facet(
        self, key: str, *, limit: int = 10, filter: models.Filter | None = None, exact: bool = False
    ) -> Operation[list[FacetCount]]:
        """Counts of the values of the indexed field ``key`` (qdrant-client's ``facet``;
        local mode computes them too, by reading the payloads)."""
        if limit < 1:
            raise QueryError(f"limit must be at least 1, got {limit}")
        response = yield lambda client: client.facet(
            self.collection, key=key, facet_filter=filter, limit=max(limit, FACET_POOL), exact=exact
        )
        return top_facets(response.hits, limit)

    def scroll(
        self,
        *,
        limit: int = 256,
        offset: str | None = None,
        filter: models.Filter | None = None,
        with_vectors: bool = False,
    ) -> Operation[tuple[list[Record], str | None]]:
        """One page of points in id order and the id the next page starts at (None at the end)."""
        if limit < 1:
            raise QueryError(f"limit must be at least 1, got {limit}")
        start = canonical_ids([offset])[0] if offset is not None else None
        records, next_id = yield lambda client: client.scroll(
            self.collection,
            scroll_filter=filter,
            limit=limit,
            offset=start,
            with_payload=True,
            with_vectors=with_vectors,
        )
        return [to_record(r) for r in records], (point_id(next_id) if next_id is not None else None)

    # -- queries ------------------------------------------------------------------------

    def _params(self, exact: bool, filter: models.Filter | None = None) -> models.SearchParams:
        # Rescoring on (a quantized collection does not rescore without it), ACORN for a filter
        # on a field without HNSW links; hnsw_ef None leaves the server's default.
        return collection_config.server_search_params(self._settings.hnsw_ef, exact=exact, flt=filter)

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
    ) -> Operation[list[ScoredRecord]]:
        """Nearest neighbours of ``vector`` by cosine similarity, best first.

        With ``avoid``, a best-score recommend query: ``vector`` is the positive example and
        the ``avoid`` vectors the negatives, so points near them sink.
        """
        check_page(limit, offset)
        size = yield from self._size()
        target = query_vector(vector, size).tolist()
        query: Any = target
        if len(avoid):
            query = models.RecommendQuery(
                recommend=models.RecommendInput(
                    positive=[target],
                    negative=[query_vector(v, size).tolist() for v in avoid],
                    strategy=models.RecommendStrategy.BEST_SCORE,
                )
            )
        response = yield lambda client: client.query_points(
            self.collection,
            query=query,
            query_filter=filter,
            search_params=self._params(exact, filter),
            limit=limit,
            offset=offset,
            with_payload=True,
            with_vectors=with_vectors,
            score_threshold=score_threshold,
        )
        return [to_scored(p) for p in response.points]

    def query_batch(
        self,
        vectors: np.ndarray,
        *,
        limit: int = 10,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        exact: bool = False,
    ) -> Operation[list[list[ScoredRecord]]]:
        """``query`` for each row of ``vectors`` in one request."""
        check_page(limit, offset)
        matrix = query_matrix(vectors, (yield from self._size()))
        requests = [
            models.QueryRequest(
                query=row.tolist(),
                filter=filter,
                params=self._params(exact, filter),
                limit=limit,
                offset=offset,
                with_payload=True,
                score_threshold=score_threshold,
            )
            for row in matrix
        ]
        if not requests:
            return []
        responses = yield lambda client: client.query_batch_points(self.collection, requests)
        return [[to_scored(p) for p in response.points] for response in responses]

    def _keyword_request(self, request: Request) -> Operation[Any]:
        """Send a query that uses the keyword vector; a collection without it raises ``KeywordsMissing``."""
        try:
            return (yield request)
        except StoreError as exc:
            # Local mode words a missing vector like a missing collection ("... is not found in the
            # collection"): asking for the description tells the two apart (it raises if the collection is gone).
            suspect = isinstance(exc, CollectionNotFound) or keywords.KEYWORDS_VECTOR in str(exc)
            if suspect and not (yield from self.has_keywords()):
                raise keywords_missing(self.collection, self.location) from None
            raise

    def query_keywords(
        self,
        text: str,
        *,
        limit: int = 10,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
    ) -> Operation[list[ScoredRecord]]:
        """Points whose words match ``text`` best by BM25, best first (see ``VectorStore``)."""
        check_page(limit, offset)
        sparse = keywords.to_server(keywords.query_vector(text))
        if not sparse.indices:  # only stop words: nothing matches (the engines disagree on an empty query)
            if not (yield from self.has_keywords()):
                raise keywords_missing(self.collection, self.location)
            return []
        response = yield from self._keyword_request(
            lambda client: client.query_points(
                self.collection,
                query=sparse,
                using=keywords.KEYWORDS_VECTOR,
                query_filter=filter,
                limit=limit,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
                score_threshold=score_threshold,
            )
        )
        return [to_scored(p) for p in response.points]

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
    ) -> Operation[list[ScoredRecord]]:
        """The image and keyword sides fused in one query, best first (see ``VectorStore``)."""
        check_page(limit, offset)
        how = check_fusion(fusion)
        candidates = check_prefetch(prefetch, 1, 0)
        size = yield from self._size()
        target = query_vector(vector, size).tolist()
        dense: Any = target
        if len(avoid):
            dense = models.RecommendQuery(
                recommend=models.RecommendInput(
                    positive=[target],
                    negative=[query_vector(v, size).tolist() for v in avoid],
                    strategy=models.RecommendStrategy.BEST_SCORE,
                )
            )
        sparse = keywords.to_server(keywords.query_vector(text))
        prefetches = [
            models.Prefetch(query=dense, filter=filter, params=self._params(exact, filter), limit=candidates),
            models.Prefetch(query=sparse, using=keywords.KEYWORDS_VECTOR, filter=filter, limit=candidates),
        ]
        fused: Any = (
            models.RrfQuery(rrf=models.Rrf(k=RRF_K)) if how == "rrf" else models.FusionQuery(fusion=models.Fusion.DBSF)
        )
        response = yield from self._keyword_request(
            lambda client: client.query_points(
                self.collection,
                prefetch=prefetches,
                query=fused,
                query_filter=filter,
                limit=limit,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
                score_threshold=score_threshold,
            )
        )
        return [to_scored(p) for p in response.points]

    # -- snapshots ----------------------------------------------------------------------

    @property
    def supports_snapshots(self) -> bool:
        """Snapshots are files a server makes and serves over REST: a client in-process has none."""
        return self._settings.url is not None

    def _check_snapshots(self) -> str:
        if self._settings.url is None:
            raise ConfigError(
                f"snapshots are made by a Qdrant server reached over the network, not by {self.location}; "
                "set PHOTOSEEK_QDRANT__URL"
            )
        return self._settings.url

    def create_snapshot(self) -> Operation[Snapshot]:
        """Have the server snapshot the collection (the node asked holds its shards only)."""
        self._check_snapshots()
        if not (yield from self.collection_exists()):
            raise self.not_found()
        made = yield lambda client: client.create_snapshot(self.collection, wait=True)
        if made is None:
            raise StoreError(f"Qdrant server {self.location} made no snapshot of {self.collection!r}")
        return Snapshot(name=made.name, size=made.size, checksum=made.checksum)

    def download_snapshot(self, snapshot: Snapshot, destination: Path) -> Path:
        """Download ``snapshot`` over REST (no client call: snapshots are files, streamed)."""
        return download_snapshot(
            self._check_snapshots(),
            self.collection,
            snapshot.name,
            destination,
            api_key=self._settings.api_key.get_secret_value() if self._settings.api_key is not None else None,
            size=snapshot.size,
            checksum=snapshot.checksum,
            timeout=self._settings.timeout,
        )

    def delete_snapshot(self, name: str) -> Operation[None]:
        """Delete the snapshot ``name`` of the collection from the server."""
        self._check_snapshots()
        yield lambda client: client.delete_snapshot(self.collection, name, wait=True)


def _has_keywords(description: models.CollectionInfo) -> bool:
    return keywords.KEYWORDS_VECTOR in (description.config.params.sparse_vectors or {})


def _vectors(row: list[float], payload: Mapping[str, Any]) -> dict[str, Any]:
    """A point's vectors: the image's, and its keyword vector when it has words."""
    vector = keywords.document_vector(payload)
    if not keywords.has_words(vector):
        return {"": row}
    return {"": row, keywords.KEYWORDS_VECTOR: keywords.to_server(vector)}


def _keyword_operations(keys: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Set the keyword vectors of points with words, delete those of points without."""
    name = keywords.KEYWORDS_VECTOR
    with_words, wordless = [], []
    for key, payload in zip(keys, payloads, strict=True):
        vector = keywords.document_vector(payload)
        if keywords.has_words(vector):
            with_words.append(models.PointVectors(id=key, vector={name: keywords.to_server(vector)}))
        else:
            wordless.append(key)
    operations: list[Any] = []
    if with_words:
        operations.append(models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=with_words)))
    if wordless:
        selector: list[Any] = wordless
        operations.append(
            models.DeleteVectorsOperation(delete_vectors=models.DeleteVectors(points=selector, vector=[name]))
        )
    return operations


def _create_collection(collection: str, client: Any, **arguments: Any) -> Any:
    return client.create_collection(collection, **arguments)


def _create_index(collection: str, path: str, schema: Any, client: Any) -> Any:
    return client.create_payload_index(collection, field_name=path, field_schema=schema, wait=True)
