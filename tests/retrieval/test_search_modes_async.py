"""AsyncImageSearch in keyword and hybrid mode gives what ImageSearch gives (threaded Edge, async local mode)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from qdrant_client import AsyncQdrantClient

from photoseek.config import QdrantSettings
from photoseek.errors import KeywordsMissing
from photoseek.retrieval import AsyncImageSearch, ImageSearch
from photoseek.retrieval.store.async_server import AsyncServerStore, ThreadedStore
from test_search_support import DIM, WordEncoder, fill, fill_async, make_photos, open_sync_store

QUERIES: list[tuple[str, Callable[[Any], Any]]] = [
    ("keyword", lambda s: s.search("dog on the beach", limit=8, mode="keyword")),
    ("keyword-where", lambda s: s.search("snow night", limit=8, mode="keyword", country=["Iceland", "Norway"])),
    ("keyword-page", lambda s: s.search("forest river", limit=5, offset=5, mode="keyword")),
    ("hybrid", lambda s: s.search("red car", limit=8, mode="hybrid", exact=True, prefetch=30)),
    ("hybrid-dbsf", lambda s: s.search("red car", limit=8, mode="hybrid", fusion="dbsf", exact=True)),
    ("hybrid-where", lambda s: s.search("sunset", limit=6, mode="hybrid", exact=True, orientation="landscape")),
    ("hybrid-avoid", lambda s: s.search("dog cat", limit=6, mode="hybrid", exact=True, avoid=["cat"])),
    ("hybrid-mmr", lambda s: s.search("beach", limit=5, mode="hybrid", exact=True, diversity=0.5, candidates=20)),
    ("batch", lambda s: s.search_batch(["dog", "sunset bridge"], limit=4, mode="keyword")),
]


def _ids(result: Any) -> Any:
    if result and isinstance(result[0], list):
        return [_ids(r) for r in result]
    return [(h.id, round(h.score, 4)) for h in result]


@pytest.fixture(scope="module")
def photos() -> Any:
    return make_photos(120)


@pytest.fixture(scope="module", params=["edge", "local"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, photos: Any) -> Any:
    """(a sync ImageSearch, a factory of the AsyncImageSearch over the same data)."""
    store = open_sync_store(request.param, tmp_path_factory.mktemp("async-modes"))
    fill(store, *photos)

    def make_async() -> AsyncImageSearch:
        if request.param == "edge":
            return AsyncImageSearch(ThreadedStore(store), WordEncoder())
        # local mode cannot share data between a sync and an async client: built again, by the async store
        settings = QdrantSettings(collection="photos")  # type: ignore[call-arg]
        async_store = AsyncServerStore(settings, client=AsyncQdrantClient(":memory:"))

        async def build() -> None:
            await async_store.ensure_collection(DIM)
            await async_store.upsert(*photos)

        asyncio.run(build())
        return AsyncImageSearch(async_store, WordEncoder())

    yield ImageSearch(store, WordEncoder()), make_async
    store.close()


def test_async_modes_give_the_same_hits_as_sync(pair: Any) -> None:
    sync, make_async = pair
    expected = [query(sync) for _, query in QUERIES]

    async def run_all(search: AsyncImageSearch) -> list[Any]:
        return [await query(search) for _, query in QUERIES]

    for (name, _), want, have in zip(QUERIES, expected, asyncio.run(run_all(make_async())), strict=True):
        assert have, name
        assert _ids(have) == _ids(want), name


def test_async_search_of_an_old_collection_names_the_command(photos: Any) -> None:
    async def main() -> None:
        client = AsyncQdrantClient(":memory:")
        await fill_async(client, "photos", *photos)  # one unnamed vector, as main's code made it
        search = AsyncImageSearch(AsyncServerStore(QdrantSettings(collection="photos"), client=client), WordEncoder())  # type: ignore[call-arg]
        assert await search.search("dog", limit=3)
        for mode in ("keyword", "hybrid"):
            with pytest.raises(KeywordsMissing, match="photoseek keywords add"):
                await search.search("dog", mode=mode)

    asyncio.run(main())
