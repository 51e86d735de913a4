"""Search modes (vector, keyword, hybrid) on Qdrant Edge and local mode: filters, pages, both backends alike."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_search import CASES

from photoseek.errors import KeywordsMissing, QueryError
from photoseek.retrieval import ImageSearch
from photoseek.retrieval import keywords as kw
from photoseek.retrieval.schema import point_id
from test_search_support import DIM, WordEncoder, brute_force, filled_store, open_sync_store, photos, word_vector

__all__ = ["filled_store", "photos"]  # fixtures used by name

QUERY = "dog on the beach at sunset"
FUSIONS = ["rrf", "dbsf"]


def bm25_reference(
    ids: Sequence[str],
    payloads: Sequence[Mapping[str, Any]],
    text: str,
    keep: Callable[[Mapping[str, Any]], bool],
    limit: int,
) -> list[tuple[str, float]]:
    """The exact top ``limit`` (id, BM25) among the points ``keep`` accepts: the library's document
    vectors weighed by Qdrant's IDF, ln(1 + (N - n + 0.5) / (n + 0.5)), over the whole collection."""
    docs = [kw.document_vector(p) for p in payloads]
    query = set(kw.query_vector(text).indices)
    n = len(docs)
    df = {t: sum(t in d.indices for d in docs) for t in query}
    idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    scores = [sum(idf[t] * v for t, v in zip(d.indices, d.values, strict=True) if t in idf) for d in docs]
    ranked = sorted((i for i in range(n) if scores[i] > 0 and keep(payloads[i])), key=lambda i: -scores[i])
    return [(ids[i], scores[i]) for i in ranked[:limit]]


def same_ranking(hits: Sequence[Any], expected: Sequence[tuple[str, float]], scores: Mapping[str, float]) -> None:
    """Hits rank like ``expected``: the same scores in order, each hit at its own reference score
    (points of equal score may come in either order: the engines order ties their own way)."""
    assert [h.score for h in hits] == pytest.approx([s for _, s in expected], rel=1e-4)
    for hit in hits:
        assert hit.score == pytest.approx(scores[hit.id], rel=1e-4)


# -- keyword mode ----------------------------------------------------------------------------


@pytest.mark.parametrize(("where", "keep"), CASES, ids=[",".join(w) + f"-{i}" for i, (w, _) in enumerate(CASES)])
def test_keyword_mode_filters_like_a_brute_force_bm25(
    filled_store: Any, photos: Any, where: dict[str, Any], keep: Callable[[Mapping[str, Any]], bool]
) -> None:
    ids, _, payloads = photos
    search = ImageSearch(filled_store, WordEncoder())
    everything = dict(bm25_reference(ids, payloads, QUERY, lambda p: True, len(ids)))
    expected = bm25_reference(ids, payloads, QUERY, keep, 15)
    hits = search.search(QUERY, limit=15, mode="keyword", **where)
    if not expected:
        assert hits == []
        return
    same_ranking(hits, expected, everything)
    assert all(keep(h.payload) for h in hits)


def test_keyword_mode_skips_the_model(filled_store: Any) -> None:
    encoder = WordEncoder()
    hits = ImageSearch(filled_store, encoder).search("beach", mode="keyword")
    assert hits and encoder.calls == 0


def test_a_text_of_stop_words_finds_nothing_in_keyword_mode(filled_store: Any) -> None:
    assert ImageSearch(filled_store, WordEncoder()).search("the of and", mode="keyword") == []


# -- hybrid mode -----------------------------------------------------------------------------


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize(("where", "keep"), CASES, ids=[",".join(w) + f"-{i}" for i, (w, _) in enumerate(CASES)])
def test_hybrid_mode_keeps_the_filter_on_both_sides(
    filled_store: Any, photos: Any, fusion: str, where: dict[str, Any], keep: Callable[[Mapping[str, Any]], bool]
) -> None:
    """Every hit passes the filter, and none is missing: with a pool as large as the collection,
    the fused list holds every point the filter keeps (the vector side ranks them all)."""
    ids, vectors, payloads = photos
    kept = {i for i, p in zip(ids, payloads, strict=True) if keep(p)}
    search = ImageSearch(filled_store, WordEncoder())
    hits = search.search(QUERY, limit=len(ids), prefetch=len(ids), mode="hybrid", fusion=fusion, exact=True, **where)
    assert {h.id for h in hits} == kept
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_rrf_scores_are_reciprocal_ranks(filled_store: Any, photos: Any) -> None:
    """RRF with k = 60: a point's score is the sum over the two lists of 1 / (60 + its rank)."""
    ids, vectors, payloads = photos
    encoder = WordEncoder()
    dense = brute_force(vectors, ids, payloads, encoder.encode_text([QUERY])[0], lambda p: True, 30)
    sparse = bm25_reference(ids, payloads, QUERY, lambda p: True, 30)

    def ranks(side: list[tuple[str, float]], point: str) -> list[int]:
        """The ranks ``point`` may have in ``side``: any within its group of equal scores (ties)."""
        score = dict(side).get(point)
        return [r for r, (_, s) in enumerate(side) if score is not None and math.isclose(s, score, rel_tol=1e-6)]

    hits = ImageSearch(filled_store, encoder).search(QUERY, limit=5, prefetch=30, mode="hybrid", exact=True)
    assert hits
    for hit in hits:
        dense_part = [1 / (60 + r) for r in ranks(dense, hit.id)] or [0.0]
        sparse_part = [1 / (60 + r) for r in ranks(sparse, hit.id)] or [0.0]
        possible = [d + s for d in dense_part for s in sparse_part]
        assert any(math.isclose(hit.score, p, rel_tol=1e-4) for p in possible), (hit.score, possible)


# -- every mode ------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "extra"), [("vector", {}), ("keyword", {}), ("hybrid", {"prefetch": 60})])
def test_pages_in_every_mode_follow_one_list(filled_store: Any, mode: str, extra: dict[str, Any]) -> None:
    search = ImageSearch(filled_store, WordEncoder())
    whole = search.search(QUERY, limit=42, mode=mode, exact=True, **extra)
    pages = [
        h
        for start in range(0, 42, 6)
        for h in search.search(QUERY, limit=6, offset=start, mode=mode, exact=True, **extra)
    ]
    assert len(whole) == 42
    assert [h.id for h in pages] == [h.id for h in whole]


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_exclude_and_diversity_work_in_every_mode(filled_store: Any, photos: Any, mode: str) -> None:
    ids, _, payloads = photos
    search = ImageSearch(filled_store, WordEncoder())
    top = search.search(QUERY, limit=5, mode=mode)
    assert top
    similar = search.search(QUERY, limit=5, mode=mode, collapse_duplicates=0.3)
    unit = {i: v for i, v in zip(ids, photos[1], strict=True)}
    for a in range(len(similar)):
        for b in range(a):
            assert float(unit[similar[a].id] @ unit[similar[b].id]) < 0.3
    diverse = search.search(QUERY, limit=5, mode=mode, diversity=0.5, candidates=30)
    assert len(diverse) == 5 and len({h.id for h in diverse}) == 5


def test_score_threshold_applies_to_the_modes_own_score(filled_store: Any) -> None:
    search = ImageSearch(filled_store, WordEncoder())
    bm25 = search.search(QUERY, limit=50, mode="keyword")
    # Between two distinct scores: whether a score equal to the threshold stays is the engine's call.
    k = next(i for i in range(len(bm25) // 2, len(bm25) - 1) if bm25[i].score > bm25[i + 1].score)
    cut = (bm25[k].score + bm25[k + 1].score) / 2
    assert [h.id for h in search.search(QUERY, limit=50, mode="keyword", score_threshold=cut)] == [
        h.id for h in bm25 if h.score >= cut
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.search("dog", mode="fuzzy"), r"mode must be one of vector, keyword, hybrid"),
        (lambda s: s.search("dog", mode="hybrid", fusion="sum"), r"fusion must be one of rrf, dbsf"),
        (
            lambda s: s.search("dog", mode="hybrid", limit=10, offset=5, prefetch=12),
            r"prefetch .* >= offset \+ limit = 15",
        ),
        (lambda s: s.search("dog", mode="keyword", fusion="rrf"), r"fusion and prefetch are options of mode='hybrid'"),
        (lambda s: s.search("dog", mode="keyword", avoid="cat"), r"avoid pushes results away on the image side"),
        (lambda s: s.search_by_vector(word_vector("dog"), mode="keyword"), r"mode 'keyword' .* needs a text"),
        (lambda s: s.similar("photo0001", mode="hybrid"), r"mode 'hybrid' .* needs a text"),
    ],
)
def test_bad_mode_arguments_say_what_is_wrong(filled_store: Any, call: Any, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        call(ImageSearch(filled_store, WordEncoder()))


# -- both backends alike ---------------------------------------------------------------------

LIGHTHOUSE = "lighthouse harbour"


def _harbour_photos() -> tuple[list[str], np.ndarray, list[dict[str, Any]], dict[str, str]]:
    """A few photos around one query, no two of equal score on any side; returns ids by role too.

    both: its picture is the query's and its words match; words: its words match better than any
    other's, its picture is random; picture: its picture is next to the query's, its words do not
    match; one_word: one of the two words.
    """
    rng = np.random.default_rng(5)
    target = WordEncoder().encode_text([LIGHTHOUSE])[0]
    fillers = [
        "a quiet street with bikes",
        "mountain road in the rain",
        "green field and old barn",
        "city lights from a rooftop",
        "kids playing football",
        "snow on pine trees",
    ]
    roles = {
        "both": (target, "lighthouse over the harbour at dawn"),
        "words": (None, "harbour lighthouse"),
        "picture": (target + 0.15 * rng.standard_normal(DIM), "fishing nets drying"),
        "one_word": (None, "an old lighthouse keeper's cottage by a long empty windswept beach"),
    }
    ids, rows, payloads, by_role = [], [], [], {}
    for i in range(36):
        role = list(roles)[i] if i < len(roles) else None
        vector, text = roles[role] if role else (None, f"{fillers[i % len(fillers)]} number {i}")
        vector = rng.standard_normal(DIM) if vector is None else vector
        ids.append(point_id(f"h{i:03d}"))
        rows.append(vector / np.linalg.norm(vector))
        payloads.append(
            {
                "source": "unsplash",
                "photo_id": f"h{i:03d}",
                "description": text,
                "keywords": [],
                "photographer": f"p{i}",
            }
        )
        if role:
            by_role[role] = ids[-1]
    return ids, np.asarray(rows, dtype=np.float32), payloads, by_role


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data = _harbour_photos()
    stores = {}
    for kind in ("edge", "local"):
        store = open_sync_store(kind, tmp_path_factory.mktemp(f"harbour-{kind}"))
        store.ensure_collection(DIM)
        store.upsert(*data[:3])
        store.optimize()
        stores[kind] = store
    yield data, stores
    for store in stores.values():
        store.close()


def test_keyword_mode_finds_a_photo_by_a_word_only_in_its_metadata(harbour: Any) -> None:
    (ids, _, _, role), stores = harbour
    for store in stores.values():
        search = ImageSearch(store, WordEncoder())
        assert search.search("windswept", mode="keyword")[0].id == role["one_word"]
        assert role["one_word"] not in [h.id for h in search.search("windswept", limit=5, mode="vector")]
        assert [h.id for h in search.search("keeper", mode="keyword", photographer="p3")] == [role["one_word"]]
        assert search.search("keeper", mode="keyword", photographer="p2") == []


@pytest.mark.parametrize("fusion", FUSIONS)
def test_hybrid_ranks_a_photo_matching_both_first_and_the_backends_agree(harbour: Any, fusion: str) -> None:
    (ids, _, _, role), stores = harbour
    answers = {}
    for kind, store in stores.items():
        search = ImageSearch(store, WordEncoder())
        hybrid = search.search(LIGHTHOUSE, limit=10, prefetch=36, mode="hybrid", fusion=fusion, exact=True)
        assert hybrid[0].id == role["both"]
        assert {role["words"], role["picture"]} <= {h.id for h in hybrid[1:4]}
        keyword = search.search(LIGHTHOUSE, limit=10, mode="keyword")
        vector = search.search(LIGHTHOUSE, limit=10, mode="vector", exact=True)
        assert keyword[0].id == role["words"] and vector[0].id == role["both"]
        answers[kind] = [[(h.id, round(h.score, 4)) for h in hits] for hits in (hybrid, keyword, vector)]
    assert answers["edge"] == answers["local"]


# -- collections built before the keyword side ------------------------------------------------


def old_layout_store(kind: str, folder: Path) -> Any:
    """A collection as main's code made it (one unnamed vector, no keyword side), filled by the store."""
    store = open_sync_store(kind, folder)
    if kind == "edge":
        import qdrant_edge as qe

        store.folder.mkdir(parents=True)
        config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine))
        qe.EdgeShard.create(str(store.folder), config).close()
    else:
        from qdrant_client import models

        store.client.create_collection(
            store.collection, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
        )
    store.ensure_collection(DIM)  # an existing collection: checked and indexed, its layout kept
    return store


@pytest.mark.parametrize("kind", ["edge", "local"])
def test_an_old_collection_searches_by_vector_and_names_the_command_for_keywords(
    tmp_path: Path, photos: Any, kind: str
) -> None:
    ids, vectors, payloads = photos
    store = old_layout_store(kind, tmp_path)
    try:
        store.upsert(ids, vectors, payloads)
        assert not store.has_keywords()
        search = ImageSearch(store, WordEncoder())
        expected = brute_force(vectors, ids, payloads, WordEncoder().encode_text([QUERY])[0], lambda p: True, 5)
        assert [h.id for h in search.search(QUERY, limit=5, exact=True)] == [i for i, _ in expected]
        for mode in ("keyword", "hybrid"):
            with pytest.raises(KeywordsMissing, match=r"`photoseek keywords add`"):
                search.search(QUERY, mode=mode)
            with pytest.raises(KeywordsMissing):  # the store says so too
                store.query_keywords(QUERY)
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["edge", "local"])
def test_adding_the_keyword_side_gives_what_a_new_collection_gives(tmp_path: Path, photos: Any, kind: str) -> None:
    from photoseek.retrieval.store.keywords_side import add_keywords

    ids, vectors, payloads = photos
    old = old_layout_store(kind, tmp_path / "old")
    new = open_sync_store(kind, tmp_path / "new")
    try:
        old.upsert(ids, vectors, payloads)
        new.ensure_collection(DIM)
        new.upsert(ids, vectors, payloads)
        seen: list[int] = []
        report = add_keywords(old, batch_size=50, on_batch=seen.append)
        assert report.added_side and report.points == len(ids) and seen[-1] == len(ids) and len(seen) == 5
        again = add_keywords(old, batch_size=100)  # safe to re-run: the same vectors again
        assert not again.added_side and again.points == len(ids)
        before = old.retrieve(ids[:3], with_vectors=True)
        assert [r.vector.tolist() for r in before] == [v.tolist() for v in vectors[:3]]  # type: ignore[union-attr]
        # DBSF, and every point in both lists: RRF ranks the points of equal BM25 score in the engine's
        # own order, and a shorter list cuts a group of equal scores where the engine likes; either
        # may differ between two collections holding the same points.
        for mode, extra in (("keyword", {}), ("hybrid", {"prefetch": len(ids), "fusion": "dbsf"})):
            a = ImageSearch(old, WordEncoder()).search(QUERY, limit=20, mode=mode, exact=True, **extra)
            b = ImageSearch(new, WordEncoder()).search(QUERY, limit=20, mode=mode, exact=True, **extra)
            assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=1e-4)
        # Writes after the change carry the keyword vector too.
        extra_id = point_id("late-arrival")
        old.upsert(
            [extra_id], vectors[:1], [{"source": "unsplash", "photo_id": "late-arrival", "description": "zeppelin"}]
        )
        assert [h.id for h in ImageSearch(old, WordEncoder()).search("zeppelin", mode="keyword")] == [extra_id]
        old.set_payloads([extra_id], [{"source": "unsplash", "photo_id": "late-arrival", "description": "blimp"}])
        search = ImageSearch(old, WordEncoder())
        assert search.search("zeppelin", mode="keyword") == []
        assert [h.id for h in search.search("blimp", mode="keyword")] == [extra_id]
    finally:
        old.close()
        new.close()
