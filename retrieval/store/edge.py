"""The embedded store: one Qdrant Edge shard per collection, shared by every thread of the process.

Layout: ``<settings.path>/<collection>/`` is the shard folder (Edge's ``edge_config.json``,
``segments/``, ``wal/``) plus ``photoseek_metadata.json``, photoseek's side record of the
collection metadata (Edge keeps none).

Qdrant Edge locks the write-ahead log of an open shard, so a folder can be open once per
machine: a second ``EdgeShard.load`` fails even in the same process. ``edge_shards.SHARDS``
keeps one handle per folder with a reference count, and every ``EdgeStore`` of the process
borrows it (searches from many threads run concurrently on it). Another process gets
``StoreLocked``: concurrent access from several processes is what the server backend is for.

Edge builds its HNSW index only when its optimizer runs. ``optimize()`` runs it (the ingest
calls it at the end); and the first search of a process runs it once when more than
``auto_optimize_tail`` points are still unindexed (a killed ingest, an upsert without the
final optimize), so that searches never brute-force a large collection for a whole session.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import qdrant_edge as qe
from qdrant_client import models

from photoseek.config.settings import QdrantSettings
from photoseek.errors import CollectionMismatch, ConfigError, QueryError
from photoseek.retrieval import keywords
from photoseek.retrieval.modes import check_fusion, check_prefetch
from photoseek.retrieval.schema import INDEXED_FIELDS, IndexKind
from photoseek.retrieval.store import collection_config
from photoseek.retrieval.store.base import (
    FACET_POOL,
    CollectionInfo,
    FacetCount,
    Record,
    ScoredRecord,
    Snapshot,
    VectorStore,
    keywords_missing,
    top_facets,
)
from photoseek.retrieval.store.damage import read_metadata_file
from photoseek.retrieval.store.disk_space import check_space, write_bytes_needed
from photoseek.retrieval.store.edge_filters import translate_filter
from photoseek.retrieval.store.edge_shards import CONFIG_FILE, SHARDS, OpenShard, data_folder, edge_call, not_found
from photoseek.retrieval.store.inputs import canonical_ids, check_page, query_matrix, query_vector, vector_batch

log = logging.getLogger(__name__)

T = TypeVar("T")

METADATA_FILE = "photoseek_metadata.json"
# Unindexed points above which the first search of a process builds the index first.
AUTO_OPTIMIZE_TAIL = 20_000

# The engine's payload type of each index kind (the engine's default params for each).
EDGE_SCHEMA_TYPES: dict[IndexKind, Any] = {
    IndexKind.KEYWORD: qe.PayloadSchemaType.Keyword,
    IndexKind.INTEGER: qe.PayloadSchemaType.Integer,
    IndexKind.FLOAT: qe.PayloadSchemaType.Float,
    IndexKind.BOOL: qe.PayloadSchemaType.Bool,
    IndexKind.DATETIME: qe.PayloadSchemaType.Datetime,
    IndexKind.GEO: qe.PayloadSchemaType.Geo,
}
_KIND_NAMES = {schema: kind.value for kind, schema in EDGE_SCHEMA_TYPES.items()} | {qe.PayloadSchemaType.Text: "text"}


def _point(key: str, vector: Any, payload: Mapping[str, Any]) -> qe.Point:
    """The engine's point for one upsert: its canonical id, and its image vector (a list of floats) or
    its named vectors (the image vector under "" and the keyword vector), and its payload."""
    # Edge copies a dict into its own values; any other mapping is made a dict first.
    return qe.Point(key, vector, payload if type(payload) is dict else dict(payload))


def _vector(value: Any) -> np.ndarray | None:
    if isinstance(value, dict):  # with the keyword side: the unnamed image vector and the sparse one
        value = value.get("")
    return None if value is None else np.asarray(value, dtype=np.float32)


# RRF's rank constant: each list contributes 1 / (60 + rank), the value of the RRF paper
# (Qdrant's own default is 2, which lets the first hit of either list dominate).
RRF_K = 60


class EdgeStore:
    """A collection in the embedded Qdrant Edge engine (the default backend).

    Args:
        settings: the qdrant section; ``path`` is the data folder, ``collection`` the name.
        auto_optimize_tail: unindexed points above which the first search builds the index.
        indexing_threshold_kb: segment size (KB) above which Edge builds HNSW for a new
            collection; None keeps the engine's default.
    """

    backend = "embedded"
    # Snapshots are a server's; the embedded store is a folder to copy (or ``photoseek migrate``).
    supports_snapshots = False

    def __init__(
        self,
        settings: QdrantSettings,
        *,
        auto_optimize_tail: int = AUTO_OPTIMIZE_TAIL,
        indexing_threshold_kb: int | None = None,
    ) -> None:
        self.collection = settings.collection
        self.folder = Path(settings.path) / settings.collection
        self._hnsw_ef = settings.hnsw_ef
        self._settings = settings
        self._auto_optimize_tail = auto_optimize_tail
        self._indexing_threshold_kb = indexing_threshold_kb
        self._entry: OpenShard | None = None
        self._vector_size: int | None = None
        self._keywords: bool | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def location(self) -> str:
        """The data folder (absolute) that holds the collection's folder."""
        return data_folder(self.folder)

    @property
    def index_threshold(self) -> int:
        """Unindexed points above which the first search of a process builds the index first."""
        return self._auto_optimize_tail

    def same_collection_as(self, other: VectorStore) -> bool:
        """Whether ``other`` is an embedded store on this collection folder."""
        return isinstance(other, EdgeStore) and os.path.realpath(other.folder) == os.path.realpath(self.folder)

    # -- the shard ----------------------------------------------------------------------

    def _open(self, create: Callable[[], qe.EdgeShard] | None = None) -> tuple[OpenShard, bool]:
        with self._lock:
            if self._entry is not None and not self._entry.closed:
                return self._entry, False
            self._entry = None  # a delete_collection elsewhere in the process closed it
            self._entry, created = SHARDS.acquire(self.folder, create)
            self._vector_size = None
            self._keywords = None
            return self._entry, created

    def _shard(self) -> qe.EdgeShard:
        return self._open()[0].shard

    def _call(self, call: Callable[[], T]) -> T:
        return edge_call(self.folder, call)

    def _update(self, op: qe.UpdateOperation, entry: OpenShard | None = None) -> None:
        """Apply one write to the shard. Every write goes through here: it drops cached facets."""
        entry = entry or self._open()[0]
        entry.facets.changed()
        try:
            self._call(partial(entry.shard.update, op))
        finally:
            entry.facets.changed()  # also drops an answer computed while the write ran

    def _stored_vectors(self) -> tuple[int, str]:
        """Size and distance of the stored vectors, from the shard's own config file."""
        try:
            config = json.loads((self.folder / CONFIG_FILE).read_text(encoding="utf-8"))
            params = config["vectors"][""]
            return int(params["size"]), str(params["distance"])
        except FileNotFoundError:
            raise not_found(self.folder) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise CollectionMismatch(
                f"collection {self.collection!r} at {self.folder} has no single unnamed vector ({exc}); "
                "use another collection (set PHOTOSEEK_QDRANT__COLLECTION)"
            ) from None

    def _size(self) -> int:
        if self._vector_size is None:
            self._vector_size = self._stored_vectors()[0]
        return self._vector_size

    # -- the collection -----------------------------------------------------------------

    def collection_exists(self) -> bool:
        """Whether the collection's shard folder exists."""
        return (self.folder / CONFIG_FILE).is_file()

    def ensure_collection(self, vector_size: int, metadata: Mapping[str, Any] | None = None) -> bool:
        """Create the collection (cosine, schema payload indexes) unless it exists; check it if it does.

        Raises:
            CollectionMismatch: the stored vectors differ in size or distance.
        """
        if vector_size < 1:
            raise ValueError(f"vector_size must be positive, got {vector_size}")

        def create() -> qe.EdgeShard:
            self.folder.mkdir(parents=True, exist_ok=True)
            config = collection_config.edge_config(
                vector_size, self._settings, self._indexing_threshold_kb, keywords.edge_sparse_config()
            )
            return qe.EdgeShard.create(str(self.folder), config)

        entry, created = self._open(create)
        if created and metadata:
            self.set_metadata(metadata)
        if not created:
            size, distance = self._stored_vectors()
            if size != vector_size or distance != "Cosine":
                raise CollectionMismatch(
                    f"collection {self.collection!r} at {self.folder} holds {size}-d {distance} vectors "
                    f"but the model makes {vector_size}-d Cosine vectors; use another collection "
                    "(set PHOTOSEEK_QDRANT__COLLECTION) or delete this one"
                )
        # Also on an existing collection: a run killed right after creating it left some out.
        have = self._call(lambda: entry.shard.info()).payload_schema
        for path, kind in INDEXED_FIELDS.items():
            if path not in have:
                op = qe.UpdateOperation.create_field_index(path, collection_config.edge_index(path, kind))
                self._update(op, entry)
        return created

    def info(self) -> CollectionInfo:
        """Size, vector size, distance, payload indexes and metadata of the collection."""
        shard = self._shard()
        shard_info = self._call(shard.info)
        size, distance = self._stored_vectors()
        return CollectionInfo(
            name=self.collection,
            backend=self.backend,
            location=str(self.folder),
            points_count=self.count(),
            indexed_vectors_count=int(shard_info.points_count) - self._unindexed(shard_info),  # image vectors only
            vector_size=size,
            distance=distance,
            indexed_fields={
                k: _KIND_NAMES.get(v.data_type, str(v.data_type)) for k, v in shard_info.payload_schema.items()
            },
            metadata=self.get_metadata(),
        )

    def _read_metadata(self) -> dict[str, Any]:
        return read_metadata_file(self.folder / METADATA_FILE)

    def get_metadata(self) -> dict[str, Any]:
        """The collection's metadata side record (empty when none was set)."""
        entry = self._open()[0]
        with entry.lock:
            return self._read_metadata()

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` (top-level keys) into the side record, atomically."""
        entry = self._open()[0]
        with entry.lock:
            merged = self._read_metadata() | dict(metadata)
            target = self.folder / METADATA_FILE
            tmp = target.with_name(f".{METADATA_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(merged, fh, ensure_ascii=False, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            # A crash leaves either the old record or the new one, never half of one.
            os.replace(tmp, target)

    def delete_collection(self) -> None:
        """Close the shard (for every store of the process) and delete its folder.

        Raises:
            StoreLocked: another process has the collection open; nothing is deleted.
        """
        if self.collection_exists():
            self._open()  # takes the WAL lock, so a folder in use elsewhere is never deleted
        with self._lock:
            SHARDS.discard(self.folder)
            self._entry = None
            if self.folder.exists():
                shutil.rmtree(self.folder)

    def check_space(self, points: int, dimension: int, what: str) -> None:
        """Raise ``NoSpaceError`` unless this store's disk has room to write ``points`` points."""
        check_space(self.folder, write_bytes_needed(points, dimension), what)

    def unindexed_tail(self) -> int:
        """Points stored but not in the HNSW index yet (a search scans them one by one)."""
        return self._unindexed(self._call(self._shard().info))

    def optimize(self) -> bool:
        """Build the HNSW index and merge segments now; True if there was work to do."""
        entry = self._open()[0]
        with entry.lock:
            entry.tail_checked = True
            return self._call(entry.shard.optimize)

    def close(self) -> None:
        """Return this store's handle; the last store of the process flushes and closes the shard."""
        with self._lock:
            entry, self._entry = self._entry, None
        if entry is not None:
            SHARDS.release(entry)

    # -- snapshots ----------------------------------------------------------------------

    def _no_snapshots(self) -> ConfigError:
        return ConfigError(
            "snapshots are made by a Qdrant server: set PHOTOSEEK_QDRANT__URL. The embedded store is "
            f"the folder {self.folder}: copy it while no photoseek process has it open, or move it to "
            "a server with `photoseek migrate --to URL`"
        )

    def create_snapshot(self) -> Snapshot:
        """Raises ``ConfigError``: the embedded store has no snapshots (the message says what to do)."""
        raise self._no_snapshots()

    def download_snapshot(self, snapshot: Snapshot, destination: Path) -> Path:
        """Raises ``ConfigError``: the embedded store has no snapshots."""
        raise self._no_snapshots()

    def delete_snapshot(self, name: str) -> None:
        """Raises ``ConfigError``: the embedded store has no snapshots."""
        raise self._no_snapshots()

    # -- points -------------------------------------------------------------------------

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace points (written to the WAL before this returns).

        Most of the time goes to Edge itself, with the GIL held: turning each payload into
        its own values (a few microseconds per value) and updating the payload indexes
        (``benchmarks/store.py --part writer`` measures both). This adds one ``tolist`` of
        the batch and a cheap check of ids that are canonical already.
        """
        keys = canonical_ids(ids)
        matrix = vector_batch(vectors, len(keys), self._size())
        if len(payloads) != len(keys):
            raise ValueError(f"got {len(keys)} ids but {len(payloads)} payloads")
        if not keys:
            return
        # One tolist for the batch: Edge reads a list of floats faster than a numpy row.
        rows = self._with_keywords(matrix.tolist(), payloads)
        points = [_point(key, row, payload) for key, row, payload in zip(keys, rows, payloads, strict=True)]
        self._update(qe.UpdateOperation.upsert_points(points))

    def set_payloads(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> None:
        """Replace the payloads of stored points, keeping their vectors; unknown ids are ignored."""
        keys = canonical_ids(ids)
        if len(payloads) != len(keys):
            raise ValueError(f"got {len(keys)} ids but {len(payloads)} payloads")
        stored = self.existing_ids(keys)
        for key, payload in zip(keys, payloads, strict=True):
            if key in stored:
                self._update(qe.UpdateOperation.overwrite_payload([key], dict(payload)))
        if self.has_keywords():  # the words changed: so does the keyword vector
            kept = [(k, p) for k, p in zip(keys, payloads, strict=True) if k in stored]
            self.write_keywords([k for k, _ in kept], [p for _, p in kept])

    # -- the keyword side ---------------------------------------------------------------

    def has_keywords(self) -> bool:
        """Whether the collection has the keyword sparse vector (read from the shard's config file)."""
        self._open()
        if self._keywords is None:
            try:
                config = json.loads((self.folder / CONFIG_FILE).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise not_found(self.folder) from None
            except ValueError:
                return False
            self._keywords = keywords.KEYWORDS_VECTOR in (config.get("sparse_vectors") or {})
        return self._keywords

    def add_keywords_side(self) -> bool:
        """Add the keyword sparse vector (IDF modifier) to the shard in place; True if added now."""
        if self.has_keywords():
            return False
        entry = self._open()[0]
        op = qe.UpdateOperation.create_sparse_vector(keywords.KEYWORDS_VECTOR, modifier=qe.Modifier.Idf)
        with entry.lock:
            self._update(op, entry)
        self._keywords = None
        return self.has_keywords()

    def write_keywords(self, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]]) -> None:
        """Set the keyword vectors of points from their payloads (one write), keeping the rest."""
        keys = canonical_ids(ids)
        if len(payloads) != len(keys):
            raise ValueError(f"got {len(keys)} ids but {len(payloads)} payloads")
        if not self.has_keywords():
            raise keywords_missing(self.collection, str(self.folder))
        name = keywords.KEYWORDS_VECTOR
        points: list[qe.PointVectors] = []
        wordless: list[int | uuid.UUID | str] = []
        for key, payload in zip(keys, payloads, strict=True):
            vector = keywords.document_vector(payload)
            if keywords.has_words(vector):
                points.append(qe.PointVectors(key, {name: vector}))
            else:
                wordless.append(key)
        if points:
            self._update(qe.UpdateOperation.update_vectors(points))
        if wordless:
            self._update(qe.UpdateOperation.delete_vectors(wordless, [name]))

    def _with_keywords(self, image_rows: list[list[float]], payloads: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Each point's vectors: the image vector, and its keyword vector when the collection has one."""
        if not self.has_keywords():
            return list(image_rows)
        name = keywords.KEYWORDS_VECTOR
        rows: list[Any] = []
        for row, payload in zip(image_rows, payloads, strict=True):
            vector = keywords.document_vector(payload)
            rows.append({"": row, name: vector} if keywords.has_words(vector) else row)
        return rows

    def _unindexed(self, shard_info: Any) -> int:
        """Points whose image vector is not in the HNSW index yet.

        Edge's ``indexed_vectors_count`` also counts the keyword vectors (a sparse index holds
        every one at once), one per point that has one: those are taken off.
        """
        indexed = int(shard_info.indexed_vectors_count or 0)
        if indexed and self.has_keywords():
            with_words = qe.Filter(must=[qe.HasVectorCondition(keywords.KEYWORDS_VECTOR)])
            indexed -= int(self._call(lambda: self._shard().count(qe.CountRequest(exact=True, filter=with_words))))
        return max(0, int(shard_info.points_count) - indexed)

    def delete(self, ids: Sequence[str]) -> None:
        """Delete points by id; unknown ids are ignored."""
        keys = canonical_ids(ids)
        if keys:
            self._update(qe.UpdateOperation.delete_points(list(keys)))

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        """The stored points among ``ids``, in the order asked (each id once)."""
        shard = self._shard()
        keys = list(dict.fromkeys(canonical_ids(ids)))
        found = {str(r.id): r for r in self._call(lambda: shard.retrieve(list(keys), True, with_vectors))}
        return [
            Record(id=k, payload=dict(found[k].payload or {}), vector=_vector(found[k].vector))
            for k in keys
            if k in found
        ]

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored (as given), in one lookup without payloads or vectors."""
        shard = self._shard()
        given = dict(zip(canonical_ids(ids), ids, strict=True))
        found = self._call(lambda: shard.retrieve(list(given), False, False))
        return {given[str(r.id)] for r in found}

    def count(self, filter: models.Filter | None = None) -> int:
        """Exact number of points (matching ``filter``)."""
        shard = self._shard()
        request = qe.CountRequest(exact=True, filter=translate_filter(filter))
        return int(self._call(lambda: shard.count(request)))

    def facet(
        self, key: str, *, limit: int = 10, filter: models.Filter | None = None, exact: bool = False
    ) -> list[FacetCount]:
        """Counts of the values of the indexed field ``key`` among the points matching ``filter``.

        Answers are kept until the collection's next write (``edge_shards.FacetCache``): a
        repeated facet costs a dictionary look-up instead of the engine's walk over the points.
        """
        if limit < 1:
            raise QueryError(f"limit must be at least 1, got {limit}")
        entry = self._open()[0]
        cache_key = (key, limit, bool(exact), filter.model_dump_json() if filter is not None else None)
        kept = entry.facets.get(cache_key)
        if kept is not None:
            return list(kept)
        generation = entry.facets.generation
        request = qe.FacetRequest(key=key, limit=max(limit, FACET_POOL), exact=exact, filter=translate_filter(filter))
        response = self._call(lambda: entry.shard.facet(request))
        answer = top_facets(response.hits, limit)
        entry.facets.keep(cache_key, generation, tuple(answer))
        return answer

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
        shard = self._shard()
        start = canonical_ids([offset])[0] if offset is not None else None
        request = qe.ScrollRequest(
            offset=start, limit=limit, filter=translate_filter(filter), with_payload=True, with_vector=with_vectors
        )
        records, next_id = self._call(lambda: shard.scroll(request))
        page = [Record(id=str(r.id), payload=dict(r.payload or {}), vector=_vector(r.vector)) for r in records]
        return page, (str(next_id) if next_id is not None else None)

    # -- queries ------------------------------------------------------------------------

    def _request(
        self,
        query: Any,
        limit: int,
        offset: int,
        edge_filter: qe.Filter | None,
        score_threshold: float | None,
        params: qe.SearchParams | None,
        with_vectors: bool,
    ) -> qe.QueryRequest:
        check_page(limit, offset)
        return qe.QueryRequest(
            limit=limit,
            offset=offset,
            query=query,
            filter=edge_filter,
            score_threshold=score_threshold,
            params=params,
            with_payload=True,
            with_vector=with_vectors,
        )

    def _search_params(self, entry: OpenShard, filter: models.Filter | None, exact: bool) -> qe.SearchParams:
        """Search params for a query with ``filter``: an exact scan when the filter matches few points.

        A graph search with a filter can miss matching points (see ``collection_config``); an
        exact scan over the points the payload index finds cannot, and costs in proportion to
        them. The engine's estimate of the count is cheap (no scan).
        """
        if exact:  # asked for: the true neighbours, scored with the original vectors
            return collection_config.edge_search_params(self._hnsw_ef, exact=True, acorn=False, originals=True)
        if filter is not None:
            edge_filter = translate_filter(filter)
            estimate = self._call(lambda: entry.shard.count(qe.CountRequest(exact=False, filter=edge_filter)))
            exact = int(estimate) <= self._settings.exact_filter_limit
        acorn = not exact and collection_config.needs_acorn(filter)
        return collection_config.edge_search_params(self._hnsw_ef, exact=exact, acorn=acorn)

    def _build_index_if_stale(self, entry: OpenShard) -> None:
        """On the first search of the process, build the index if a large tail is unindexed."""
        if entry.tail_checked:
            return
        with entry.lock:
            if entry.tail_checked:
                return
            entry.tail_checked = True
            tail = self._unindexed(self._call(entry.shard.info))
            if tail > self._auto_optimize_tail:
                log.info("building the vector index of %s: %d points unindexed", self.folder, tail)
                self._call(entry.shard.optimize)

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
        entry = self._open()[0]
        size = self._size()
        # Lists, as Edge's signature says: it also takes arrays but reads a list faster (35 vs 90 µs).
        target = query_vector(vector, size).tolist()
        if avoid:
            negatives = [query_vector(v, size).tolist() for v in avoid]
            query = qe.Query.RecommendBestScore(qe.RecommendQuery(positives=[target], negatives=negatives))
        else:
            query = qe.Query.Nearest(target)
        self._build_index_if_stale(entry)
        params = self._search_params(entry, filter, exact)
        request = self._request(query, limit, offset, translate_filter(filter), score_threshold, params, with_vectors)
        return [self._scored(p) for p in self._call(lambda: entry.shard.query(request))]

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
        """``query`` for each row of ``vectors``, planned and run as one batch."""
        entry = self._open()[0]
        matrix = query_matrix(vectors, self._size())
        edge_filter = translate_filter(filter)
        if not len(matrix):
            return []
        self._build_index_if_stale(entry)
        params = self._search_params(entry, filter, exact)
        requests = [
            self._request(qe.Query.Nearest(row), limit, offset, edge_filter, score_threshold, params, False)
            for row in matrix.tolist()
        ]
        batches = self._call(lambda: entry.shard.query_batch(qe.QueryBatchRequest(requests)))
        return [[self._scored(p) for p in points] for points in batches]

    def _keyword_query(self, text: str) -> Any:
        if not self.has_keywords():
            raise keywords_missing(self.collection, str(self.folder))
        return qe.Query.Nearest(keywords.query_vector(text), using=keywords.KEYWORDS_VECTOR)

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
        entry = self._open()[0]
        query = self._keyword_query(text)
        # No search params: the keyword side is an inverted index, searched exactly.
        request = self._request(query, limit, offset, translate_filter(filter), score_threshold, None, with_vectors)
        return [self._scored(p) for p in self._call(lambda: entry.shard.query(request))]

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
        """The image and keyword sides fused in one engine query, best first (see ``VectorStore``)."""
        check_page(limit, offset)
        how = check_fusion(fusion)
        candidates = check_prefetch(prefetch, 1, 0)
        entry = self._open()[0]
        size = self._size()
        target = query_vector(vector, size).tolist()
        dense: Any = qe.Query.Nearest(target)
        if avoid:
            negatives = [query_vector(v, size).tolist() for v in avoid]
            dense = qe.Query.RecommendBestScore(qe.RecommendQuery(positives=[target], negatives=negatives))
        edge_filter = translate_filter(filter)
        self._build_index_if_stale(entry)
        # The image side is searched as a plain query is: exact for a filter matching few points.
        params = self._search_params(entry, filter, exact)
        # Any: the stubs type Fusion's variants (Rrf, Dbsf) apart from the Fusion the request takes.
        fused: Any = qe.Fusion.Rrf(RRF_K) if how == "rrf" else qe.Fusion.Dbsf()
        request = qe.QueryRequest(
            prefetches=[
                qe.Prefetch(candidates, query=dense, params=params, filter=edge_filter),
                qe.Prefetch(candidates, query=self._keyword_query(text), filter=edge_filter),
            ],
            query=fused,
            limit=limit,
            offset=offset,
            filter=edge_filter,
            score_threshold=score_threshold,
            with_payload=True,
            with_vector=with_vectors,
        )
        return [self._scored(p) for p in self._call(lambda: entry.shard.query(request))]

    @staticmethod
    def _scored(point: Any) -> ScoredRecord:
        return ScoredRecord(
            id=str(point.id), payload=dict(point.payload or {}), vector=_vector(point.vector), score=float(point.score)
        )
