"""The keyword side through the store protocol, on every contract backend (Edge, local mode, the asyncio store, and
the sync and asyncio stores side by side): created with the collection, written with every write, queried alike."""

from __future__ import annotations

import numpy as np
import pytest

from photoseek.errors import CollectionNotFound, QueryError
from photoseek.retrieval.schema import point_id

DIM = 8
TEXTS = [
    "lighthouse at dawn over the harbour",
    "red tram climbing a street in Lisbon",
    "snowy mountain hut under stars",
    "a cat asleep on a green sofa",
    "harbour boats and fishing nets",
    "lighthouse keeper's cottage",
]


@pytest.fixture
def words(store_factory):
    store = store_factory()
    store.ensure_collection(DIM)
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((len(TEXTS), DIM)).astype(np.float32)
    ids = [point_id(f"w{i}") for i in range(len(TEXTS))]
    store.upsert(ids, vectors, [{"description": t, "views": i} for i, t in enumerate(TEXTS)])
    return store, ids, vectors


def test_a_new_collection_has_the_keyword_side(words):
    store, ids, _ = words
    assert store.has_keywords()
    assert not store.add_keywords_side()  # there already: nothing to do


def test_keyword_queries_rank_by_bm25_and_filter(words):
    store, ids, _ = words
    hits = store.query_keywords("lighthouse harbour", limit=10)
    assert [h.id for h in hits][:1] == [ids[0]]  # both words, in a short text
    assert {h.id for h in hits} == {ids[0], ids[4], ids[5]}
    assert all(h.score > 0 for h in hits)
    from qdrant_client import models

    views = models.Filter(must=[models.FieldCondition(key="views", range=models.Range(gte=4))])
    assert {h.id for h in store.query_keywords("lighthouse harbour", filter=views)} == {ids[4], ids[5]}
    assert [h.id for h in store.query_keywords("lighthouse harbour", limit=1, offset=1)] == [hits[1].id]
    assert store.query_keywords("the of a") == []


@pytest.mark.parametrize("fusion", ["rrf", "dbsf"])
def test_hybrid_queries_fuse_both_sides(words, fusion):
    store, ids, vectors = words
    hits = store.query_hybrid(vectors[1], "lighthouse", fusion=fusion, prefetch=6, limit=6, exact=True)
    assert hits[0].id in {ids[1], ids[5], ids[0]}  # the picture's own, or a lighthouse
    assert {ids[1], ids[0], ids[5]} <= {h.id for h in hits[:3]}
    with_vectors = store.query_hybrid(vectors[1], "lighthouse", fusion=fusion, limit=1, with_vectors=True)
    assert with_vectors[0].vector is not None and with_vectors[0].vector.shape == (DIM,)
    with pytest.raises(QueryError, match="fusion must be one of rrf, dbsf"):
        store.query_hybrid(vectors[1], "lighthouse", fusion="max")


def test_every_write_keeps_the_keyword_vector_in_step(words):
    store, ids, vectors = words
    store.set_payloads([ids[2]], [{"description": "zeppelin over a snowy hut", "views": 2}])
    assert [h.id for h in store.query_keywords("zeppelin")] == [ids[2]]
    assert store.query_keywords("stars") == []
    store.write_keywords([ids[3]], [{"description": "airship"}])  # the keyword vector alone
    assert [h.id for h in store.query_keywords("airship")] == [ids[3]]
    store.write_keywords([ids[3]], [{"description": "the"}])  # no words left: no keyword vector
    assert store.query_keywords("airship") == []
    store.upsert([point_id("blank")], vectors[:1], [{"description": "of the"}])  # a photo without words
    assert {h.id for h in store.query_keywords("lighthouse", limit=10)} == {ids[0], ids[5]}
    assert store.retrieve([ids[3]])[0].payload["description"] == TEXTS[3]  # payload kept
    assert np.allclose(store.retrieve([ids[3]], with_vectors=True)[0].vector, vectors[3] / np.linalg.norm(vectors[3]))


def test_keyword_calls_on_a_missing_collection(any_store):
    with pytest.raises(CollectionNotFound):
        any_store.has_keywords()
