"""Filtered searches above the full-scan threshold return every hit that exists.

A graph search with a filter only walks points that match it; when the matching points are
spread over every cluster and the filtered field has no HNSW links of its own, the walk gets
stuck and returns fewer hits than exist (1 of 10 at 500k points for a 5 % filter). The store's
layout (``collection_config``) gives the most filtered fields links, scans small filters
exactly and uses ACORN for the rest. These tests build a real HNSW index on clustered vectors
with the thresholds lowered, so that each filter kind is searched through the graph (or
through the store's exact plan) as it would be at millions of points, and check each answer
against an exact search.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.store import EdgeStore, ServerStore
from photoseek.retrieval.store.base import VectorStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import scale_photos as photos  # noqa: E402 - the generator benchmarks/scale.py also uses

POINTS = 4_000
DIM = 32
QUERIES = 20
# 100 points per blob: graph links stay inside a blob, as at millions of points with 2,000
# blobs, so a 5 % filter leaves a few matching points per blob and, without links of their
# own, no matching path between blobs (measured: 20 of 20 queries short, recall@10 0.03).
CENTRE_COUNT = 40
# 2 KB of 32-d float vectors is 16 points: every filter kind but the rare keyword matches more
# points per segment, so the engine walks the graph for them instead of scanning.
FULL_SCAN_KB = 2
FEATURED = models.Filter(must=[models.FieldCondition(key="featured", match=models.MatchValue(value=True))])
KINDS = [(k.name, k.filter) for k in photos.filter_kinds()] + [("bool without links ~11%", FEATURED)]


def _fill(store: VectorStore) -> None:
    store.ensure_collection(DIM)
    for ids, vectors, payloads in photos.batches(0, POINTS, DIM, batch=1_000, centre_count=CENTRE_COUNT):
        store.upsert(ids, vectors, payloads)


@pytest.fixture(scope="module", params=["graph", "exact plan"])
def edge_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeStore]:
    """An embedded store of POINTS clustered photos with its HNSW index built.

    "graph": no filter is small enough for the store's exact plan, so every filtered query walks
    the graph (links or ACORN); "exact plan": the store's default limit, so they are scanned.
    """
    limit = 0 if request.param == "graph" else QdrantSettings().exact_filter_limit
    settings = QdrantSettings(
        path=tmp_path_factory.mktemp("recall"),
        collection="recall",
        full_scan_threshold_kb=FULL_SCAN_KB,
        exact_filter_limit=limit,
    )
    store = EdgeStore(settings, indexing_threshold_kb=1)
    _fill(store)
    store.optimize()
    assert store.unindexed_tail() == 0  # the index is really built: the graph is searched
    yield store
    store.close()


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerStore]:
    """The same photos in qdrant-client local mode (a brute-force engine: the reference)."""
    settings = QdrantSettings(collection="recall", full_scan_threshold_kb=FULL_SCAN_KB)
    store = ServerStore(settings, client=QdrantClient(path=str(tmp_path_factory.mktemp("local"))))
    _fill(store)
    yield store
    store.close()


def _check(store: VectorStore, name: str, flt: models.Filter) -> None:
    matching = store.count(flt)
    assert matching >= 1, f"{name}: the generated data must match some points"
    recalls = []
    for q in photos.query_vectors(QUERIES, DIM, seed=1, centre_count=CENTRE_COUNT):
        hits = store.query(q, limit=10, filter=flt)
        # The failure at scale: a graph search that returns fewer hits than exist.
        assert len(hits) == min(10, matching), f"{name}: {len(hits)} hits, {matching} points match"
        truth = {r.id for r in store.query(q, limit=10, filter=flt, exact=True)}
        recalls.append(len(truth & {h.id for h in hits}) / len(truth))
    assert np.mean(recalls) >= 0.99, f"{name}: recall@10 {np.mean(recalls):.3f}"


@pytest.mark.parametrize(("name", "flt"), KINDS, ids=[k[0] for k in KINDS])
def test_embedded_filtered_search_finds_every_hit(edge_store: EdgeStore, name: str, flt: models.Filter) -> None:
    _check(edge_store, name, flt)


@pytest.mark.parametrize(("name", "flt"), KINDS, ids=[k[0] for k in KINDS])
def test_local_mode_filtered_search_finds_every_hit(local_store: ServerStore, name: str, flt: models.Filter) -> None:
    _check(local_store, name, flt)


def test_existing_collection_keeps_its_layout(tmp_path: Path) -> None:
    """A collection made before (float32, no quantization) opens and answers as it was made."""
    old = EdgeStore(QdrantSettings(path=tmp_path, collection="old", quantization="none"))
    old.ensure_collection(DIM)
    ids, payloads = photos.photo_payloads(0, 50)
    old.upsert(ids, photos.clustered_vectors(0, 50, DIM), payloads)
    old.close()
    config_file = tmp_path / "old" / "edge_config.json"
    config = json.loads(config_file.read_text())
    reopened = EdgeStore(QdrantSettings(path=tmp_path, collection="old"))  # default: int8
    reopened.ensure_collection(DIM)
    assert reopened.count() == 50
    assert len(reopened.query(photos.query_vectors(1, DIM)[0], limit=5)) == 5
    reopened.close()
    # The engine adds its own defaults on load (payload placement); photoseek rewrites nothing.
    after = json.loads(config_file.read_text())
    assert "quantization_config" not in after
    assert (after["vectors"], after["hnsw_config"]) == (config["vectors"], config["hnsw_config"])
