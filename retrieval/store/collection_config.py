"""How a collection is laid out for scale, and how a query is searched on it: one place for both backends.

Three choices, each measured with ``benchmarks/scale.py`` on clustered 512-d vectors (see
the README's "Sizing" section for the figures):

- **Payload-aware HNSW links only on the fields people filter on most** (``LINKED_FIELDS``:
  keywords, orientation, country, colours). The engine's default builds extra graph links for
  every value of every indexed field that holds more points than the full-scan threshold:
  with the schema's ~25 indexed fields that multiplies the index build time, while a
  filter on a field without links can still lose its hits (a graph search that only walks
  matching points gets stuck in the clusters it starts in). So the other fields get
  ``enable_hnsw=False`` and are searched another way (below).
- **Filters stay exact at any size**, automatically, per query (``plan_filtered``): when the
  engine's estimate of the matching points is at most ``QdrantSettings.exact_filter_limit``
  the query is an exact scan over those points (the payload index finds them; cost grows
  with the matches, not the collection); above it, the graph search, with ACORN when the
  filter names a field without links (ACORN looks two hops away when a neighbour does not
  match, which is what a field without links needs).
- **Scalar int8 quantization** (``QdrantSettings.quantization``): the int8 copy of the vectors
  stays in RAM, the float32 originals go to disk, and every search rescores its candidates
  with the originals (without the rescoring parameter the engine does not rescore).

Only new collections get this layout: an existing collection keeps what it was created with
(the engine persists it), and a query on it still asks for rescoring, which an unquantized
collection ignores.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import qdrant_edge as qe
from qdrant_client import models

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.schema import IndexKind

# Fields whose values get their own HNSW links: the filters of the search page and the CLI
# (orientation, country, keyword and colour chips). Every other indexed field is searched by an
# exact scan when its filter is small and with ACORN when it is not.
LINKED_FIELDS: frozenset[str] = frozenset({"keywords", "orientation", "location.country", "colors"})
# The engine's defaults (m 16, ef_construct 100, full scan below 10 MB of vectors).
HNSW_M = 16
EF_CONSTRUCT = 100
FULL_SCAN_THRESHOLD_KB = 10_000
# int8 scale from the 99th percentile (outliers clipped), as Qdrant's documentation advises.
INT8_QUANTILE = 0.99
# Candidates rescored with the original vectors, as a multiple of the limit.
OVERSAMPLING = 2.0


def quantized(settings: QdrantSettings) -> bool:
    """Whether a new collection made with ``settings`` stores int8 vectors (originals on disk)."""
    return settings.quantization == "int8"


def full_scan_threshold_kb(settings: QdrantSettings) -> int:
    """The engine's full-scan threshold (KB of vectors) for a new collection."""
    return settings.full_scan_threshold_kb or FULL_SCAN_THRESHOLD_KB


# -- creating a collection ------------------------------------------------------------------


def edge_config(
    vector_size: int, settings: QdrantSettings, indexing_threshold_kb: int | None, sparse_vectors: Any = None
) -> qe.EdgeConfig:
    """The ``EdgeConfig`` of a new embedded collection of ``vector_size``-d cosine vectors.

    ``sparse_vectors`` is the keyword side (``retrieval.keywords.edge_sparse_config()``), or None.
    """
    int8 = quantized(settings)
    optimizers = None
    if indexing_threshold_kb is not None:
        optimizers = qe.EdgeOptimizersConfig(indexing_threshold=indexing_threshold_kb)
    return qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(
            size=vector_size,
            distance=qe.Distance.Cosine,
            # The originals are read only to rescore a few candidates per query: on disk.
            memory=qe.Memory.Cold if int8 else None,
        ),
        hnsw_config=qe.HnswIndexConfig(
            m=HNSW_M,
            ef_construct=EF_CONSTRUCT,
            full_scan_threshold=full_scan_threshold_kb(settings),
            payload_m=HNSW_M,
        ),
        quantization_config=(
            qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=INT8_QUANTILE, memory=qe.Memory.Pinned)
            if int8
            else None
        ),
        sparse_vectors=sparse_vectors,
        optimizers=optimizers,
        wal_enabled=True,
    )


def edge_index(path: str, kind: IndexKind) -> Any:
    """The Edge payload index params of field ``path``: HNSW links only on ``LINKED_FIELDS``."""
    links = path in LINKED_FIELDS
    if kind is IndexKind.TEXT:
        # Word tokens, lowercased; phrase_matching so that MatchPhrase works as on a server.
        return qe.TextIndexParams(
            tokenizer=qe.TokenizerType.Word, lowercase=True, phrase_matching=True, enable_hnsw=False
        )
    params: dict[IndexKind, Any] = {
        IndexKind.KEYWORD: qe.KeywordIndexParams,
        IndexKind.INTEGER: qe.IntegerIndexParams,
        IndexKind.FLOAT: qe.FloatIndexParams,
        IndexKind.BOOL: qe.BoolIndexParams,
        IndexKind.DATETIME: qe.DatetimeIndexParams,
        IndexKind.GEO: qe.GeoIndexParams,
    }
    if kind is IndexKind.INTEGER:
        return qe.IntegerIndexParams(lookup=True, range=True, enable_hnsw=links)
    return params[kind](enable_hnsw=links)


def server_create_options(vector_size: int, settings: QdrantSettings) -> dict[str, Any]:
    """Keyword arguments of ``create_collection`` for a new server collection (vectors, HNSW, quantization)."""
    int8 = quantized(settings)
    return {
        "vectors_config": models.VectorParams(
            size=vector_size, distance=models.Distance.COSINE, on_disk=True if int8 else None
        ),
        "hnsw_config": models.HnswConfigDiff(
            m=HNSW_M,
            ef_construct=EF_CONSTRUCT,
            full_scan_threshold=full_scan_threshold_kb(settings),
            payload_m=HNSW_M,
        ),
        "quantization_config": (
            models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=INT8_QUANTILE, always_ram=True
                )
            )
            if int8
            else None
        ),
    }


def server_index(path: str, kind: IndexKind) -> Any:
    """The server payload index schema of field ``path``: HNSW links only on ``LINKED_FIELDS``."""
    links = path in LINKED_FIELDS
    if kind is IndexKind.TEXT:
        # The same tokenisation as the embedded engine: word tokens, lowercased, phrases on.
        return models.TextIndexParams(
            type=models.TextIndexType.TEXT,
            tokenizer=models.TokenizerType.WORD,
            lowercase=True,
            phrase_matching=True,
            enable_hnsw=False,
        )
    if kind is IndexKind.KEYWORD:
        return models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, enable_hnsw=links)
    if kind is IndexKind.INTEGER:
        return models.IntegerIndexParams(
            type=models.IntegerIndexType.INTEGER, lookup=True, range=True, enable_hnsw=links
        )
    if kind is IndexKind.FLOAT:
        return models.FloatIndexParams(type=models.FloatIndexType.FLOAT, enable_hnsw=links)
    if kind is IndexKind.BOOL:
        return models.BoolIndexParams(type=models.BoolIndexType.BOOL, enable_hnsw=links)
    if kind is IndexKind.DATETIME:
        return models.DatetimeIndexParams(type=models.DatetimeIndexType.DATETIME, enable_hnsw=links)
    return models.GeoIndexParams(type=models.GeoIndexType.GEO, enable_hnsw=links)


# -- searching ------------------------------------------------------------------------------


def _conditions(flt: models.Filter) -> Iterator[Any]:
    for clause in (flt.must, flt.should, flt.must_not):
        if clause is None:
            continue
        yield from clause if isinstance(clause, list) else [clause]
    if flt.min_should is not None:
        yield from flt.min_should.conditions


def filter_fields(flt: models.Filter) -> set[str]:
    """The payload keys a filter names (nested filters and nested conditions included)."""
    keys: set[str] = set()
    for condition in _conditions(flt):
        if isinstance(condition, models.Filter):
            keys |= filter_fields(condition)
        elif isinstance(condition, models.NestedCondition):
            keys.add(condition.nested.key)
        elif isinstance(condition, models.FieldCondition):
            keys.add(condition.key)
        elif isinstance(condition, models.IsEmptyCondition):
            keys.add(condition.is_empty.key)
        elif isinstance(condition, models.IsNullCondition):
            keys.add(condition.is_null.key)
    return keys


def needs_acorn(flt: models.Filter | None) -> bool:
    """Whether a graph search with ``flt`` should use ACORN: it names a field without HNSW links."""
    return flt is not None and not filter_fields(flt) <= LINKED_FIELDS


def edge_search_params(hnsw_ef: int | None, *, exact: bool, acorn: bool, originals: bool = False) -> qe.SearchParams:
    """Edge search params: rescoring with the originals always on (ignored by an unquantized collection).

    Args:
        hnsw_ef: the graph search's ef.
        exact: scan instead of walking the graph.
        acorn: walk the graph with ACORN.
        originals: score every point with the original vectors (an exact search the caller
            asked for, so the answer is the true nearest neighbours).
    """
    quantization = (
        qe.QuantizationSearchParams(ignore=True)
        if originals
        else qe.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING)
    )
    return qe.SearchParams(
        hnsw_ef=hnsw_ef,
        exact=exact,
        quantization=quantization,
        acorn=qe.AcornSearchParams(enable=True) if acorn else None,
    )


def server_search_params(hnsw_ef: int | None, *, exact: bool, flt: models.Filter | None) -> models.SearchParams:
    """Server search params: rescoring always on; ACORN when the filter names a field without links.

    A server plans each segment itself (exact scan below its full-scan threshold), so no count
    is asked first.
    """
    quantization = (
        models.QuantizationSearchParams(ignore=True)
        if exact
        else models.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING)
    )
    return models.SearchParams(
        hnsw_ef=hnsw_ef,
        exact=exact,
        quantization=quantization,
        acorn=models.AcornSearchParams(enable=True) if needs_acorn(flt) and not exact else None,
    )
