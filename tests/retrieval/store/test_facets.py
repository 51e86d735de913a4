"""Facet counts on every backend against a brute-force count of the stored payloads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from photoseek.errors import QueryError
from photoseek.retrieval.facets import facetable_fields
from photoseek.retrieval.filters import build_filter
from photoseek.retrieval.store.base import FacetCount


def _value(payload: Mapping[str, Any], path: str) -> Any:
    value: Any = payload
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def brute_counts(payloads: list[dict[str, Any]], path: str, keep: Callable[[Mapping[str, Any]], bool]) -> Counter[Any]:
    """How many of the kept payloads hold each value of ``path`` (a list counts each value once)."""
    counts: Counter[Any] = Counter()
    for payload in payloads:
        if not keep(payload):
            continue
        value = _value(payload, path)
        values = set(value) if isinstance(value, list) else {value} if value is not None else set()
        counts.update(values)
    return counts


def expected(counts: Counter[Any], limit: int) -> list[FacetCount]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return [FacetCount(value=v, count=c) for v, c in ordered[:limit]]


@pytest.fixture
def faceted(store_factory, photo_points):
    store = store_factory()
    store.ensure_collection(photo_points.vectors.shape[1])
    store.upsert(photo_points.ids, photo_points.vectors, photo_points.payloads)
    return store, photo_points.payloads


FIELDS = ["location.country", "keywords", "photographer", "orientation", "camera.make", "colors", "collections"]


@pytest.mark.parametrize("exact", [False, True], ids=["index", "exact"])
@pytest.mark.parametrize("path", FIELDS)
def test_counts_equal_a_brute_force_count(faceted, path, exact):
    store, payloads = faceted
    counts = brute_counts(payloads, path, lambda p: True)
    assert store.facet(path, limit=100, exact=exact) == expected(counts, 100)


WHERE: list[tuple[dict[str, Any], Callable[[Mapping[str, Any]], bool]]] = [
    ({"orientation": "landscape"}, lambda p: p["orientation"] == "landscape"),
    ({"country": "France", "featured": True}, lambda p: _value(p, "location.country") == "France" and p["featured"]),
    ({"min_views": 100_000}, lambda p: p["views"] >= 100_000),
    ({"keywords_any": ["dog", "cat"]}, lambda p: bool({"dog", "cat"} & set(p["keywords"]))),
]


@pytest.mark.parametrize(("where", "keep"), WHERE, ids=[str(w) for w, _ in WHERE])
@pytest.mark.parametrize("path", ["location.country", "keywords", "camera.make"])
@pytest.mark.parametrize("exact", [False, True], ids=["index", "exact"])
def test_counts_with_a_filter_equal_a_brute_force_count(faceted, path, where, keep, exact):
    store, payloads = faceted
    counts = brute_counts(payloads, path, keep)
    assert counts  # the case tests something
    assert store.facet(path, limit=100, filter=build_filter(None, where), exact=exact) == expected(counts, 100)


def test_boundaries_of_limit_and_filter(faceted):
    store, payloads = faceted
    counts = brute_counts(payloads, "keywords", lambda p: True)
    top = store.facet("keywords", limit=1)
    assert len(top) == 1 and top[0].count == max(counts.values())
    # A cut list is the top of the whole one, ties at the cut broken by value on every backend.
    for limit in (3, 5, 7):
        assert store.facet("photographer", limit=limit) == expected(brute_counts(payloads, "photographer", bool), limit)
        assert store.facet("keywords", limit=limit) == expected(counts, limit)
    # More room than values: every value once; a filter no point matches: nothing.
    assert len(store.facet("keywords", limit=10_000)) == len(counts)
    assert store.facet("keywords", filter=build_filter(None, {"country": "Atlantis"})) == []
    # Points without the field, or with null or an empty list, are not counted.
    without = sum(1 for p in payloads if not _value(p, "location.country"))
    assert without > 0
    assert sum(c.count for c in store.facet("location.country", limit=100)) == len(payloads) - without
    with pytest.raises(QueryError):
        store.facet("keywords", limit=0)


def test_facetable_fields_are_the_keyword_indexed_ones():
    fields = facetable_fields()
    assert {"location.country", "keywords", "photographer", "orientation", "camera.make"} <= set(fields)
    assert "description" not in fields and "width" not in fields
