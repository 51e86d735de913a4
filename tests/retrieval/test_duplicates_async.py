"""AsyncImageSearch.duplicates gives ImageSearch.duplicates' groups: on the asyncio server store
(AsyncQdrantClient, local mode) and on Qdrant Edge through a thread."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient

from photoseek.config import QdrantSettings
from photoseek.errors import CollectionNotFound, QueryError
from photoseek.retrieval import AsyncImageSearch, ImageSearch
from photoseek.retrieval.duplicates import DuplicateGroup
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.async_server import AsyncServerStore, ThreadedStore
from test_search_support import DIM, WordEncoder, fill, fill_async, open_sync_store


def _near(base: np.ndarray, rng: np.random.Generator, cosine: float) -> np.ndarray:
    """A unit vector at exactly ``cosine`` from the unit vector ``base``."""
    other = rng.standard_normal(DIM)
    other -= (other @ base) * base
    other /= np.linalg.norm(other)
    return (cosine * base + np.sqrt(1 - cosine**2) * other).astype(np.float32)


def _photos() -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    """Sixty loners at random, a group of three copies (one portrait) and a pair at 0.97."""
    rng = np.random.default_rng(21)
    vectors = list(rng.standard_normal((60, DIM)).astype(np.float32))
    vectors = [v / np.linalg.norm(v) for v in vectors]
    names = [f"loner{i}" for i in range(60)]
    vectors += [vectors[0], _near(vectors[0], rng, 0.99), _near(vectors[0], rng, 0.985)]
    names += ["a-copy", "a-edit", "a-crop"]
    vectors += [_near(vectors[1], rng, 0.97)]
    names += ["b-edit"]
    payloads = [
        {"source": "unsplash", "photo_id": n, "orientation": "portrait" if n == "a-crop" else "landscape"}
        for n in names
    ]
    return [point_id(n) for n in names], np.stack(vectors), payloads


def _shape(groups: list[DuplicateGroup]) -> list[list[tuple[str | None, float]]]:
    return [[(h.photo_id, round(h.score, 4)) for h in g.hits] for g in groups]


@pytest.fixture(scope="module", params=["edge", "async-local"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(a sync ImageSearch, the AsyncImageSearch over the same photos)."""
    photos = _photos()
    if request.param == "edge":
        store = open_sync_store("edge", tmp_path_factory.mktemp("dupes-async"))
        fill(store, *photos)
        yield ImageSearch(store, WordEncoder()), AsyncImageSearch(ThreadedStore(store), WordEncoder())
        store.close()
        return
    sync_store = open_sync_store("local", tmp_path_factory.mktemp("dupes-async"))
    fill(sync_store, *photos)
    client = AsyncQdrantClient(":memory:")
    asyncio.run(fill_async(client, "photos", *photos))
    store = AsyncServerStore(QdrantSettings(collection="photos"), client=client)  # type: ignore[call-arg]
    yield ImageSearch(sync_store, WordEncoder()), AsyncImageSearch(store, WordEncoder())
    sync_store.close()


def test_async_duplicates_equal_the_sync_ones(pair: Any) -> None:
    sync, async_search = pair
    want = sync.duplicates(threshold=0.96)
    got = asyncio.run(async_search.duplicates(threshold=0.96))
    assert _shape(got) == _shape(want)
    names = [[h.photo_id for h in g.hits] for g in got]
    assert [set(n) for n in names] == [{"loner0", "a-copy", "a-edit", "a-crop"}, {"loner1", "b-edit"}]
    assert got[0].hits[0].score == pytest.approx(1.0)
    # A where filter and a stricter threshold: the crop (portrait) and b's edit (0.97) fall out.
    strict = asyncio.run(async_search.duplicates(threshold=0.975, orientation="landscape"))
    assert _shape(strict) == _shape(sync.duplicates(threshold=0.975, orientation="landscape"))
    assert [{h.photo_id for h in g.hits} for g in strict] == [{"loner0", "a-copy", "a-edit"}]


def test_async_duplicates_refuse_bad_arguments_before_asking_the_store(tmp_path: Path) -> None:
    client = AsyncQdrantClient(":memory:")
    search = AsyncImageSearch(AsyncServerStore(QdrantSettings(collection="gone"), client=client), WordEncoder())  # type: ignore[call-arg]
    with pytest.raises(QueryError, match="threshold"):
        asyncio.run(search.duplicates(threshold=1.5))
    with pytest.raises(QueryError):
        asyncio.run(search.duplicates(min_wdth=3))
    with pytest.raises(CollectionNotFound):
        asyncio.run(search.duplicates())
