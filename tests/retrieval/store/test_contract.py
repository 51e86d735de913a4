"""The VectorStore contract, checked on every backend (Qdrant Edge, local mode, a server)."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import models

from photoseek.errors import CollectionMismatch, CollectionNotFound, ConfigError, QueryError
from photoseek.retrieval.schema import INDEXED_FIELDS, point_id
from photoseek.retrieval.store.base import VectorStore

DIM = 8


def unit(*values: float) -> np.ndarray:
    """A unit vector of DIM values starting with ``values``."""
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


@pytest.fixture
def filled(store_factory):
    """A collection of 40 points: point i has views = i and colour 'red' when i is even."""
    store = store_factory()
    store.ensure_collection(DIM, {"photoseek": {"image_model": "tiny"}})
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((40, DIM)).astype(np.float32)
    ids = [point_id(f"photo{i}") for i in range(40)]
    store.upsert(ids, vectors, [{"views": i, "colors": ["red"] if i % 2 == 0 else ["blue"]} for i in range(40)])
    return store, ids, vectors


def test_every_backend_implements_the_protocol(any_store):
    assert isinstance(any_store, VectorStore)
    assert any_store.backend in {"embedded", "server"}


def test_missing_collection_says_which_command_creates_it(any_store):
    assert not any_store.collection_exists()
    with pytest.raises(CollectionNotFound, match="photoseek ingest"):
        any_store.info()
    with pytest.raises(CollectionNotFound):
        any_store.count()


def test_ensure_collection_creates_once_with_schema_indexes(store_factory):
    store = store_factory()
    assert store.ensure_collection(DIM) is True
    assert store.collection_exists()
    assert store.ensure_collection(DIM) is False
    info = store.info()
    assert (info.vector_size, info.distance, info.points_count) == (DIM, "Cosine", 0)
    if not store_factory.in_process:  # local mode keeps no payload indexes
        assert info.indexed_fields == {path: kind.value for path, kind in INDEXED_FIELDS.items()}


def test_a_collection_of_another_vector_size_is_refused(store_factory):
    store_factory().ensure_collection(DIM)
    with pytest.raises(CollectionMismatch, match=r"8-d.*16-d.*PHOTOSEEK_QDRANT__COLLECTION"):
        store_factory().ensure_collection(16)


def test_metadata_is_set_at_creation_and_merged(store_factory):
    store = store_factory()
    store.ensure_collection(DIM, {"photoseek": {"image_model": "tiny", "dim": DIM}})
    assert store.get_metadata() == {"photoseek": {"image_model": "tiny", "dim": DIM}}
    store.set_metadata({"note": "first"})
    store.set_metadata({"note": "second"})
    assert store.get_metadata() == {"photoseek": {"image_model": "tiny", "dim": DIM}, "note": "second"}
    assert store.info().metadata["note"] == "second"
    reopened = store_factory()
    assert reopened.get_metadata()["photoseek"]["image_model"] == "tiny"


def test_retrieve_returns_the_points_asked_in_order(filled):
    store, ids, vectors = filled
    missing = point_id("no such photo")
    got = store.retrieve([ids[5], missing, ids[2], ids[5]], with_vectors=True)
    assert [r.id for r in got] == [ids[5], ids[2]]
    assert got[0].payload == {"views": 5, "colors": ["blue"]}
    assert isinstance(got[0].id, str) and got[0].vector is not None and got[0].vector.dtype == np.float32
    # Cosine collections store unit vectors.
    np.testing.assert_allclose(got[1].vector, vectors[2] / np.linalg.norm(vectors[2]), atol=1e-6)
    assert store.retrieve([ids[1]])[0].vector is None
    # Ids are canonicalised on the way in: an upper-case UUID finds the point, under its canonical id.
    assert [r.id for r in store.retrieve([ids[5].upper()])] == [ids[5]]
    assert [r.id for r in store.retrieve([ids[5].upper(), ids[5]])] == [ids[5]], "each point once"


def test_upsert_of_the_same_id_replaces_the_point(filled):
    store, ids, _ = filled
    store.upsert([ids[0]], unit(1, 0).reshape(1, -1), [{"views": 999}])
    assert store.count() == 40
    assert store.retrieve([ids[0]])[0].payload == {"views": 999}
    assert store.query(unit(1, 0), limit=1)[0].id == ids[0]


def test_set_payloads_keeps_vectors_and_ignores_unknown_ids(filled):
    store, ids, _ = filled
    before = store.retrieve([ids[3]], with_vectors=True)[0].vector
    store.set_payloads([ids[3], point_id("ghost")], [{"views": -1}, {"views": -2}])
    after = store.retrieve([ids[3]], with_vectors=True)[0]
    assert after.payload == {"views": -1}
    np.testing.assert_allclose(after.vector, before)
    assert store.count() == 40


def test_query_ranks_by_cosine_with_limit_offset_and_threshold(filled):
    store, ids, vectors = filled
    hits = store.query(vectors[7], limit=5)
    assert hits[0].id == ids[7] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert len(hits) == 5 and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert [h.id for h in store.query(vectors[7], limit=4, offset=1)] == [h.id for h in hits[1:5]]
    threshold = hits[2].score - 1e-6
    assert [h.id for h in store.query(vectors[7], limit=10, score_threshold=threshold)] == [h.id for h in hits[:3]]
    exact = store.query(vectors[7], limit=5, exact=True, with_vectors=True)
    assert [h.id for h in exact] == [h.id for h in hits]
    assert exact[0].vector is not None and exact[0].vector.shape == (DIM,)


def test_query_with_a_filter(filled):
    store, ids, vectors = filled
    red_and_popular = models.Filter(
        must=[
            models.FieldCondition(key="colors", match=models.MatchValue(value="red")),
            models.FieldCondition(key="views", range=models.Range(gte=30)),
        ]
    )
    hits = store.query(vectors[0], limit=40, filter=red_and_popular)
    assert sorted(h.payload["views"] for h in hits) == [30, 32, 34, 36, 38]
    assert store.count(red_and_popular) == 5


def test_avoid_pushes_results_away_from_the_given_vectors(store_factory):
    store = store_factory()
    store.ensure_collection(DIM)
    # a is nearer the query than b, but nearer still to the vector to avoid.
    near_both, near_query_only = point_id("a"), point_id("b")
    store.upsert(
        [near_both, near_query_only],
        np.stack([unit(1, 0.6, 0), unit(1, 0, 0.8)]),
        [{"name": "a"}, {"name": "b"}],
    )
    query, avoid = unit(1, 0, 0), unit(1, 1, 0)
    assert store.query(query, limit=2)[0].id == near_both
    assert store.query(query, limit=2, avoid=[avoid])[0].id == near_query_only


def test_query_batch_equals_one_query_per_row(filled):
    store, _, vectors = filled
    flt = models.Filter(must=[models.FieldCondition(key="views", range=models.Range(lt=20))])
    batch = store.query_batch(vectors[:3], limit=4, filter=flt, exact=True)
    assert len(batch) == 3
    for row, hits in zip(vectors[:3], batch, strict=True):
        assert [h.id for h in hits] == [h.id for h in store.query(row, limit=4, filter=flt, exact=True)]
        assert all(h.payload["views"] < 20 for h in hits)


def test_existing_ids_answers_as_given(filled):
    store, ids, _ = filled
    ghost = point_id("ghost")
    assert store.existing_ids([ids[0], ghost, ids[9].upper()]) == {ids[0], ids[9].upper()}
    assert store.existing_ids([]) == set()


def test_delete_ignores_unknown_ids(filled):
    store, ids, _ = filled
    store.delete([ids[0], ids[1], point_id("ghost")])
    assert store.count() == 38
    assert store.info().points_count == 38, "info counts exactly, as count() does"
    assert store.existing_ids(ids[:3]) == {ids[2]}


def test_scroll_pages_through_every_point_once(filled):
    store, ids, _ = filled
    seen: list[str] = []
    offset = None
    while True:
        page, offset = store.scroll(limit=15, offset=offset)
        seen.extend(r.id for r in page)
        assert len(page) <= 15
        if offset is None:
            break
    assert sorted(seen) == sorted(ids)
    red, _ = store.scroll(
        limit=100,
        filter=models.Filter(must=[models.FieldCondition(key="colors", match=models.MatchValue(value="red"))]),
    )
    assert len(red) == 20


def test_bad_inputs_are_refused_with_clear_errors(filled):
    store, ids, vectors = filled
    with pytest.raises(ValueError, match="not a UUID"):
        store.retrieve(["photo-1"])
    with pytest.raises(QueryError, match="8 values"):
        store.query(np.ones(5, dtype=np.float32))
    with pytest.raises(QueryError, match="zeros"):
        store.query(np.zeros(DIM, dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        store.upsert(ids[:2], vectors[:3], [{}, {}])
    with pytest.raises(QueryError, match="limit"):
        store.query(vectors[0], limit=0)


def test_delete_collection_drops_everything(filled, store_factory):
    store, _, _ = filled
    store.delete_collection()
    assert not store.collection_exists()
    assert not store_factory().collection_exists()
    assert store.ensure_collection(DIM) is True
    assert store.count() == 0


def test_location_names_where_the_collection_lives(store_factory):
    store = store_factory()
    assert isinstance(store.location, str) and store.location
    if store_factory.backend == "edge":
        assert store.location == str(store_factory.data_dir.resolve())
    with pytest.raises(CollectionNotFound) as caught:
        store.count()
    assert store.location in str(caught.value) and store.backend in str(caught.value)


def test_same_collection_as_tells_handles_on_one_collection_apart(store_factory):
    store = store_factory()
    assert store.same_collection_as(store)
    assert store.same_collection_as(store_factory())  # a second handle, same place and name
    assert not store.same_collection_as(store_factory("other"))
    other_place = store_factory(path=store_factory.data_dir / "elsewhere")
    assert store.same_collection_as(other_place) is (store_factory.backend != "edge")


def test_what_is_left_to_index_and_who_builds_the_index(filled):
    store, _, _ = filled
    if store.index_threshold is None:
        # The engine indexes in the background: nothing for an ingest to build.
        assert store.unindexed_tail() == 0
        assert store.optimize() is False
    else:
        assert store.index_threshold > 0
        # Forty points are far below any segment Qdrant indexes: all of them stay a tail.
        assert store.unindexed_tail() == 40
        store.optimize()
        assert 0 <= store.unindexed_tail() <= 40


def test_snapshots_exist_only_on_a_server_over_the_network(filled):
    store, _, _ = filled
    if not store.supports_snapshots:
        with pytest.raises(ConfigError, match="PHOTOSEEK_QDRANT__URL"):
            store.create_snapshot()
        return
    snapshot = store.create_snapshot()
    assert snapshot.name and snapshot.size
    store.delete_snapshot(snapshot.name)
