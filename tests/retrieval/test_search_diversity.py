"""Diverse results on Qdrant Edge and local mode: MMR and collapsed near-duplicates, paged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from photoseek.errors import QueryError
from photoseek.retrieval import AsyncImageSearch, ImageSearch, diversity
from photoseek.retrieval.diversity import DEFAULT_COLLAPSE_THRESHOLD
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.async_server import ThreadedStore
from test_search_support import DIM, WordEncoder, open_sync_store

SCENES, COPIES, LONERS = 25, 5, 60


def _collection() -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    """Scenes of five near-identical shots (cosine about 0.98 to each other) and single photos."""
    rng = np.random.default_rng(4)
    query_side = rng.standard_normal(DIM)
    rows, ids, payloads = [], [], []
    for scene in range(SCENES):
        centre = rng.standard_normal(DIM) + 1.5 * query_side  # every scene leans towards the query
        centre /= np.linalg.norm(centre)
        for copy in range(COPIES):
            noise = rng.standard_normal(DIM)
            rows.append(centre + 0.1 * noise / np.linalg.norm(noise))
            ids.append(point_id(f"scene{scene}-{copy}"))
            orientation = "landscape" if copy % 2 else "portrait"
            payloads.append({"photo_id": f"scene{scene}-{copy}", "orientation": orientation})
    for n in range(LONERS):
        rows.append(rng.standard_normal(DIM) + 0.5 * query_side)
        ids.append(point_id(f"loner{n}"))
        payloads.append({"photo_id": f"loner{n}", "orientation": "square"})
    vectors = np.asarray(rows, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return ids, vectors, payloads


IDS, VECTORS, PAYLOADS = _collection()
BY_ID = dict(zip(IDS, VECTORS, strict=True))
QUERY = (VECTORS[:SCENES * COPIES].mean(axis=0)).astype(np.float32)


@pytest.fixture(scope="module", params=["edge", "local"])
def search(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageSearch]:
    store = open_sync_store(request.param, tmp_path_factory.mktemp(f"diverse-{request.param}"))
    store.ensure_collection(DIM)
    store.upsert(IDS, VECTORS, PAYLOADS)
    yield ImageSearch(store, WordEncoder())
    store.close()


def _max_pair(ids: list[str]) -> float:
    if len(ids) < 2:
        return -1.0
    m = np.stack([BY_ID[i] for i in ids])
    sims = m @ m.T
    np.fill_diagonal(sims, -1.0)
    return float(sims.max())


def _scenes(ids: list[str]) -> int:
    names = {PAYLOADS[IDS.index(i)]["photo_id"].split("-")[0] for i in ids}
    return len(names)


def _pages(search: ImageSearch, size: int, pages: int, **options: Any) -> list[str]:
    out: list[str] = []
    for page in range(pages):
        out += [h.id for h in search.search_by_vector(QUERY, limit=size, offset=page * size, exact=True, **options)]
    return out


def test_plain_search_returns_near_duplicates(search: ImageSearch) -> None:
    top = [h.id for h in search.search_by_vector(QUERY, limit=10, exact=True)]
    assert _max_pair(top) >= DEFAULT_COLLAPSE_THRESHOLD  # what the options below are for


@pytest.mark.parametrize(
    "options",
    [
        {"collapse_duplicates": True},
        {"diversity": 0.5, "collapse_duplicates": True, "candidates": SCENES * COPIES + LONERS},
        {"collapse_duplicates": 0.9},
    ],
    ids=["collapse", "mmr+collapse", "collapse-0.9"],
)
def test_never_two_hits_above_the_threshold_and_pages_have_no_gap_or_repeat(
    search: ImageSearch, options: dict[str, Any]
) -> None:
    threshold = DEFAULT_COLLAPSE_THRESHOLD if options["collapse_duplicates"] is True else options["collapse_duplicates"]
    whole = [h.id for h in search.search_by_vector(QUERY, limit=40, exact=True, **options)]
    assert len(whole) == 40
    assert _max_pair(whole) < threshold
    paged = _pages(search, 7, 6, **options)  # 42 asked: the last page runs past 40 on purpose
    assert paged[:40] == whole and len(paged) == len(set(paged))
    assert _max_pair(paged) < threshold
    if "diversity" not in options:
        # Collapsing keeps the best of each scene, in rank order.
        plain = [h.id for h in search.search_by_vector(QUERY, limit=len(IDS), exact=True)]
        kept: list[str] = []
        for i in plain:
            if all(float(BY_ID[i] @ BY_ID[k]) < threshold for k in kept):
                kept.append(i)
        assert whole == kept[:40]


def test_collapsing_reads_at_most_its_pool_and_its_pages_end_there(
    search: ImageSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    uncapped = _pages(search, 4, 20, collapse_duplicates=True)
    monkeypatch.setattr(diversity, "COLLAPSE_POOL", 12)
    capped = _pages(search, 4, 20, collapse_duplicates=True)
    plain = [h.id for h in search.search_by_vector(QUERY, limit=12, exact=True)]
    # The pages are the collapsed first 12 hits, whatever page asked: no gap, no repeat.
    expected = []
    for hit in plain:
        if all(float(BY_ID[hit] @ BY_ID[kept]) < DEFAULT_COLLAPSE_THRESHOLD for kept in expected):
            expected.append(hit)
    assert capped == expected
    assert len(capped) < len(uncapped) and capped == uncapped[: len(capped)]


def test_mmr_spreads_the_top_over_more_scenes_and_pages_cleanly(search: ImageSearch) -> None:
    plain = [h.id for h in search.search_by_vector(QUERY, limit=10, exact=True)]
    diverse = [h.id for h in search.search_by_vector(QUERY, limit=10, exact=True, diversity=0.5)]
    assert _scenes(diverse) > _scenes(plain)
    relevance = [h.id for h in search.search_by_vector(QUERY, limit=10, exact=True, diversity=1.0)]
    assert relevance == plain  # lambda 1 is plain relevance
    paged = _pages(search, 6, 5, diversity=0.5, candidates=24)  # pages end with the 24 candidates
    assert len(paged) == 24 and len(set(paged)) == 24
    assert paged == [h.id for h in search.search_by_vector(QUERY, limit=30, exact=True, diversity=0.5, candidates=24)]


def test_filters_hold_with_diversity(search: ImageSearch) -> None:
    hits = search.search_by_vector(
        QUERY, limit=20, exact=True, diversity=0.3, collapse_duplicates=True, orientation="landscape"
    )
    assert hits and all(h.orientation == "landscape" for h in hits)


def test_both_backends_give_the_same_pages(tmp_path: Path) -> None:
    results = []
    for kind in ("edge", "local"):
        store = open_sync_store(kind, tmp_path / kind)
        store.ensure_collection(DIM)
        store.upsert(IDS, VECTORS, PAYLOADS)
        s = ImageSearch(store, WordEncoder())
        results.append(
            [_pages(s, 5, 4, diversity=0.5), _pages(s, 5, 4, collapse_duplicates=True)]
        )
        store.close()
    assert results[0] == results[1]


def test_async_diversity_equals_sync(search: ImageSearch) -> None:
    if search.store.backend != "embedded":
        pytest.skip("the threaded async store wraps the embedded store")
    async_search = AsyncImageSearch(ThreadedStore(search.store), WordEncoder())
    options: dict[str, Any] = {"limit": 8, "offset": 3, "exact": True, "diversity": 0.5, "collapse_duplicates": True}
    got = asyncio.run(async_search.search_by_vector(QUERY, **options))
    assert [h.id for h in got] == [h.id for h in search.search_by_vector(QUERY, **options)]


@pytest.mark.parametrize(
    "options",
    [{"diversity": 1.5}, {"diversity": True}, {"candidates": 0, "diversity": 0.5}, {"candidates": 10},
     {"collapse_duplicates": 0}, {"collapse_duplicates": "yes"}],
)
def test_invalid_options_are_refused(search: ImageSearch, options: dict[str, Any]) -> None:
    with pytest.raises(QueryError):
        search.search_by_vector(QUERY, **options)
