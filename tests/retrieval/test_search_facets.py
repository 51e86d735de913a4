"""ImageSearch.facets and AsyncImageSearch.facets on Qdrant Edge and local mode."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from photoseek.errors import QueryError
from photoseek.retrieval import AsyncImageSearch, ImageSearch
from photoseek.retrieval.store.async_server import ThreadedStore
from test_search_support import WordEncoder, filled_store, photos

__all__ = ["filled_store", "photos"]  # fixtures used by name


def _countries(payloads: list[dict[str, Any]], orientation: str | None = None) -> Counter[str]:
    return Counter(
        (p.get("location") or {}).get("country")
        for p in payloads
        if (p.get("location") or {}).get("country") and orientation in (None, p["orientation"])
    )


def test_facets_count_the_matching_photos(filled_store: Any, photos: Any) -> None:
    payloads = photos[2]
    search = ImageSearch(filled_store, WordEncoder())
    for field in ("country", "location.country"):  # the where key names the field too
        got = {c.value: c.count for c in search.facets(field, limit=50)}
        assert got == _countries(payloads)
    filtered = {c.value: c.count for c in search.facets("country", limit=50, orientation="portrait")}
    assert filtered == _countries(payloads, "portrait") and filtered != _countries(payloads)
    assert [c.count for c in search.facets("country", limit=2)] == sorted(_countries(payloads).values())[::-1][:2]


def test_an_unindexed_field_lists_the_fields_that_can_be_faceted(filled_store: Any) -> None:
    search = ImageSearch(filled_store, WordEncoder())
    with pytest.raises(QueryError, match=r"cannot count the values of 'width'.*location\.country.*keywords"):
        search.facets("width")
    with pytest.raises(QueryError, match="limit"):
        search.facets("keywords", limit=0)
    with pytest.raises(QueryError, match="unknown filter|not a filter|min_wdth"):
        search.facets("keywords", min_wdth=3)


def test_async_facets_equal_the_sync_ones(filled_store: Any) -> None:
    if filled_store.backend != "embedded":
        pytest.skip("the threaded async store wraps the embedded one; the asyncio server store is in test_facets")
    sync = ImageSearch(filled_store, WordEncoder())
    async_search = AsyncImageSearch(ThreadedStore(filled_store), WordEncoder())
    got = asyncio.run(async_search.facets("keywords", limit=20, orientation="landscape"))
    assert got == sync.facets("keywords", limit=20, orientation="landscape") and got
