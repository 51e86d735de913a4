"""AsyncImageSearch gives the same hits as ImageSearch: AsyncQdrantClient for a server, a thread for Edge."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from qdrant_client import AsyncQdrantClient, models

from photoseek.config import QdrantSettings
from photoseek.errors import CollectionNotFound, QueryError, StoreUnavailable
from photoseek.retrieval import AsyncImageSearch, Hit, ImageSearch
from photoseek.retrieval.store.async_server import AsyncServerStore, ThreadedStore
from test_search_support import (
    WordEncoder,
    fill,
    fill_async,
    make_photos,
    open_sync_store,
)

QUERIES: list[tuple[str, Callable[[Any], Any]]] = [
    ("search", lambda s: s.search("a dog on the beach", limit=8, exact=True)),
    ("where", lambda s: s.search("snow at night", limit=8, exact=True, country=["Iceland", "Norway"], min_width=1500)),
    (
        "filter",
        lambda s: s.search(
            "red car",
            limit=8,
            exact=True,
            filter=models.Filter(
                must=[models.FieldCondition(key="photographer", match=models.MatchAny(any=["ana", "eli"]))]
            ),
            text_contains="dog",
        ),
    ),
    ("page", lambda s: s.search("forest river", limit=5, offset=5, exact=True)),
    ("avoid", lambda s: s.search("dog cat", limit=8, exact=True, avoid=["cat"])),
    ("similar", lambda s: s.similar("photo0003", limit=6, exact=True)),
    ("similar-folder", lambda s: s.similar("trips/0009.jpg", limit=6, exact=True, orientation="landscape")),
    ("batch", lambda s: s.search_batch(["dog", "sunset bridge"], limit=4, exact=True)),
    ("image", lambda s: s.search_by_image(Image.new("RGB", (16, 16), (5, 90, 200)), limit=4, exact=True)),
    ("threshold", lambda s: s.search("beach", limit=50, exact=True, score_threshold=0.3)),
]


def _ids(result: Any) -> Any:
    if result and isinstance(result[0], list):
        return [_ids(r) for r in result]
    return [(h.id, round(h.score, 4)) for h in result]


async def _run_all(search: AsyncImageSearch) -> list[Any]:
    out = []
    for _, query in QUERIES:
        out.append(await query(search))
    return out


@pytest.fixture(scope="module")
def photos() -> Any:
    return make_photos(120)


@pytest.fixture(scope="module", params=["edge", "local"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, photos: Any) -> Any:
    """(a sync ImageSearch, a factory of the AsyncImageSearch over the same data)."""
    store = open_sync_store(request.param, tmp_path_factory.mktemp("async"))
    fill(store, *photos)
    sync = ImageSearch(store, WordEncoder())

    def make_async() -> AsyncImageSearch:
        if request.param == "edge":
            return AsyncImageSearch(ThreadedStore(store), WordEncoder())
        # local mode cannot share data between a sync and an async client: build it twice
        client = AsyncQdrantClient(":memory:")
        asyncio.run(fill_async(client, "photos", *photos))
        return AsyncImageSearch(AsyncServerStore(QdrantSettings(collection="photos"), client=client), WordEncoder())  # type: ignore[call-arg]

    yield sync, make_async
    store.close()


def test_async_gives_the_same_hits_as_sync(pair: Any) -> None:
    sync, make_async = pair
    expected = [query(sync) for _, query in QUERIES]

    got = asyncio.run(_run_all(make_async()))
    for (name, _), want, have in zip(QUERIES, expected, got, strict=True):
        assert _ids(have) == _ids(want), name
        assert have, name
    assert all(isinstance(h, Hit) for h in got[0])


def test_concurrent_async_searches(pair: Any) -> None:
    sync, make_async = pair
    texts = ["dog", "cat", "snow", "beach", "night", "car", "forest", "river"]
    expected = [_ids(sync.search(t, limit=5, exact=True)) for t in texts]

    search = make_async()

    async def main() -> list[list[Hit]]:
        return await asyncio.gather(*(search.search(t, limit=5, exact=True) for t in texts))

    assert [_ids(r) for r in asyncio.run(main())] == expected


def _run(coro: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro())


def test_async_errors(tmp_path: Path) -> None:
    async def missing() -> None:
        settings = QdrantSettings(collection="gone")  # type: ignore[call-arg]
        search = AsyncImageSearch(AsyncServerStore(settings, client=AsyncQdrantClient(":memory:")), WordEncoder())
        with pytest.raises(QueryError, match="query text is empty"):
            await search.search(" ")
        gone = r"'gone' does not exist in the server store at in-process qdrant-client; `photoseek ingest` creates it"
        with pytest.raises(CollectionNotFound, match=gone):
            await search.search("dog")
        with pytest.raises(CollectionNotFound, match="photoseek ingest"):
            await search.similar("photo0001")

    _run(missing)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    async def unreachable() -> None:
        store = AsyncServerStore(QdrantSettings(url=url, retries=1, prefer_grpc=False, timeout=2))  # type: ignore[call-arg]
        with pytest.raises(StoreUnavailable, match=rf"{url} unavailable after 2 attempt\(s\)"):
            await AsyncImageSearch(store, WordEncoder()).search("dog")
        await store.close()

    _run(unreachable)


def test_async_server_store_checks_query_vectors() -> None:
    """Bad vectors are the caller's QueryError, as in the sync stores, not a server error."""

    async def check() -> None:
        client = AsyncQdrantClient(":memory:")
        await client.create_collection(
            "photos", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
        )
        await client.upsert("photos", points=[models.PointStruct(id=1, vector=[1.0, 0.0, 0.0, 0.0], payload={})])
        store = AsyncServerStore(QdrantSettings(collection="photos"), client=client)  # type: ignore[call-arg]
        for bad, message in [
            (np.zeros(4), "all zeros"),
            (np.array([1.0, np.nan, 0.0, 0.0]), "NaN"),
            (np.ones(3), "must have 4 values"),
        ]:
            with pytest.raises(QueryError, match=message):
                await store.query(bad)
        with pytest.raises(QueryError, match="all zeros"):
            await store.query(np.ones(4), avoid=[np.zeros(4)])
        with pytest.raises(QueryError, match="4 columns"):
            await store.query_batch(np.ones((2, 3)))
        with pytest.raises(QueryError, match="limit must be at least 1"):
            await store.query(np.ones(4), limit=0)
        assert await store.query_batch(np.empty((0, 4))) == []
        hits = await store.query(np.array([2.0, 0.0, 0.0, 0.0]))
        assert [round(h.score, 5) for h in hits] == [1.0]
        await store.close()

    _run(check)


def test_a_sync_store_is_wrapped_in_a_thread(tmp_path: Path) -> None:
    store = open_sync_store("edge", tmp_path)
    fill(store, *make_photos(30))
    search = AsyncImageSearch(store, WordEncoder())
    assert isinstance(search.store, ThreadedStore)
    hits = asyncio.run(search.search("dog", limit=3))
    assert len(hits) == 3
    store.close()
