"""Qdrant Edge and qdrant-client local mode give the same hits for the same points and filters.

Local mode is qdrant-client's reference emulation of the server's filter semantics, so this
checks the Edge filter translation condition by condition (one filter per kind), with exact
search so that both sides rank every candidate.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.store.server import ServerStore

M = models
F = models.FieldCondition


def match(key: str, value: object) -> models.FieldCondition:
    return F(key=key, match=M.MatchValue(value=value))  # type: ignore[arg-type]


def has_id(points) -> list[str]:
    return points.ids[::7]


# name -> filter, or a callable of the points for filters that need their ids
FILTERS: dict[str, object] = {
    "match_keyword": M.Filter(must=[match("photographer", "alice")]),
    "match_bool": M.Filter(must=[match("featured", True)]),
    "match_int": M.Filter(must=[match("width", 6000)]),
    "match_in_list": M.Filter(must=[match("keywords", "dog")]),
    "match_nested_path": M.Filter(must=[match("location.country", "France")]),
    "match_any": M.Filter(must=[F(key="keywords", match=M.MatchAny(any=["cat", "beach"]))]),
    "match_except": M.Filter(must=[F(key="orientation", match=M.MatchExcept(**{"except": ["portrait", "square"]}))]),
    "match_text": M.Filter(must=[F(key="description", match=M.MatchText(text="mountain"))]),
    "match_text_two_words": M.Filter(must=[F(key="ai_description", match=M.MatchText(text="Snowy LAKE"))]),
    "match_text_any": M.Filter(must=[F(key="description", match=M.MatchTextAny(text_any="river bridge"))]),
    "match_phrase": M.Filter(must=[F(key="ai_description", match=M.MatchPhrase(phrase="red sky"))]),
    "range_int": M.Filter(must=[F(key="views", range=M.Range(gte=20_000, lt=120_000))]),
    "range_float": M.Filter(must=[F(key="aspect_ratio", range=M.Range(gt=1.2))]),
    "range_nested_int": M.Filter(must=[F(key="camera.iso", range=M.Range(lte=400))]),
    "datetime_range": M.Filter(
        must=[
            F(
                key="submitted_at",
                range=M.DatetimeRange(gte=datetime(2018, 3, 1, tzinfo=UTC), lt=date(2021, 1, 1)),
            )
        ]
    ),
    "datetime_range_strings": M.Filter(
        must=[F(key="taken_at", range=M.DatetimeRange(gt="2016-06-01T12:00:00+02:00", lte="2020-01-01"))]
    ),
    "geo_radius": M.Filter(
        must=[F(key="location.geo", geo_radius=M.GeoRadius(center=M.GeoPoint(lat=48.8566, lon=2.3522), radius=50_000))]
    ),
    "geo_bounding_box": M.Filter(
        must=[
            F(
                key="location.geo",
                geo_bounding_box=M.GeoBoundingBox(
                    top_left=M.GeoPoint(lat=55.0, lon=-5.0), bottom_right=M.GeoPoint(lat=44.0, lon=14.0)
                ),
            )
        ]
    ),
    "geo_polygon_with_hole": M.Filter(
        must=[
            F(
                key="location.geo",
                geo_polygon=M.GeoPolygon(
                    exterior=M.GeoLineString(
                        points=[
                            M.GeoPoint(lat=40, lon=-5),
                            M.GeoPoint(lat=40, lon=15),
                            M.GeoPoint(lat=56, lon=15),
                            M.GeoPoint(lat=56, lon=-5),
                            M.GeoPoint(lat=40, lon=-5),
                        ]
                    ),
                    interiors=[
                        M.GeoLineString(
                            points=[
                                M.GeoPoint(lat=48, lon=1.5),
                                M.GeoPoint(lat=48, lon=3.5),
                                M.GeoPoint(lat=49.5, lon=3.5),
                                M.GeoPoint(lat=49.5, lon=1.5),
                                M.GeoPoint(lat=48, lon=1.5),
                            ]
                        )
                    ],
                ),
            )
        ]
    ),
    "values_count": M.Filter(must=[F(key="keywords", values_count=M.ValuesCount(gte=3, lt=5))]),
    "field_is_empty": M.Filter(must=[F(key="collections", is_empty=True)]),
    "field_is_not_empty": M.Filter(must=[F(key="location.geo", is_empty=False)]),
    "field_is_null": M.Filter(must=[F(key="taken_at", is_null=True)]),
    "is_empty_condition": M.Filter(must=[M.IsEmptyCondition(is_empty=M.PayloadField(key="description"))]),
    "is_null_condition": M.Filter(must=[M.IsNullCondition(is_null=M.PayloadField(key="taken_at"))]),
    "has_id": lambda points: M.Filter(must=[M.HasIdCondition(has_id=has_id(points))]),
    "nested_condition": M.Filter(
        must=[
            M.NestedCondition(
                nested=M.Nested(
                    key="user_tags",
                    # Both conditions must hold for one and the same element of the array.
                    filter=M.Filter(must=[match("title", "dog"), F(key="votes", range=M.Range(gte=5))]),
                )
            )
        ]
    ),
    "should": M.Filter(should=[match("photographer", "bob"), match("location.city", "Tokyo")]),
    "must_not": M.Filter(must_not=[match("orientation", "landscape"), F(key="views", range=M.Range(lt=10_000))]),
    "nested_filters": M.Filter(
        must=[
            M.Filter(should=[match("colors", "red"), match("colors", "blue")]),
            M.Filter(must_not=[M.Filter(must=[match("featured", False), match("photographer", "chen")])]),
        ],
        must_not=[M.IsEmptyCondition(is_empty=M.PayloadField(key="location"))],
    ),
    "min_should": M.Filter(
        min_should=M.MinShould(
            conditions=[match("colors", "red"), match("featured", True), F(key="views", range=M.Range(gte=100_000))],
            min_count=2,
        )
    ),
    "single_condition_not_list": M.Filter(must=match("camera.make", "Sony")),
}


@pytest.fixture(scope="module")
def engines(data_root, photo_points) -> Iterator[tuple[EdgeStore, ServerStore]]:
    edge = EdgeStore(QdrantSettings(path=data_root / "congruence", collection="photos"))
    client = QdrantClient(":memory:")
    local = ServerStore(QdrantSettings(collection="congruence"), client=client)
    dim = photo_points.vectors.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # local mode: "payload indexes have no effect"
        for store in (edge, local):
            store.ensure_collection(dim)
            store.upsert(photo_points.ids, photo_points.vectors, photo_points.payloads)
    yield edge, local
    edge.close()
    client.close()


@pytest.mark.parametrize("name", list(FILTERS))
def test_same_hits_for_each_filter_kind(engines, photo_points, name):
    edge, local = engines
    flt = FILTERS[name]
    flt = flt(photo_points) if callable(flt) else flt
    expected_count = local.count(flt)
    # Each filter must select something and leave something out, or it proves little.
    assert 0 < expected_count < len(photo_points.ids), expected_count
    assert edge.count(flt) == expected_count
    for query in photo_points.vectors[[3, 101]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # local mode: "search_params has no effect"
            want = local.query(query, limit=10, filter=flt, exact=True)
        got = edge.query(query, limit=10, filter=flt, exact=True)
        assert [h.id for h in got] == [h.id for h in want]
        np.testing.assert_allclose([h.score for h in got], [h.score for h in want], atol=1e-5)


def test_same_hits_with_offset_threshold_and_avoid(engines, photo_points):
    edge, local = engines
    query, avoid = photo_points.vectors[5], photo_points.vectors[6:8]
    flt = FILTERS["match_except"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kwargs in ({"offset": 4, "limit": 6}, {"score_threshold": 0.1}, {"avoid": list(avoid)}):
            want = local.query(query, filter=flt, exact=True, **kwargs)  # type: ignore[arg-type]
            got = edge.query(query, filter=flt, exact=True, **kwargs)  # type: ignore[arg-type]
            assert [h.id for h in got] == [h.id for h in want], kwargs
            np.testing.assert_allclose([h.score for h in got], [h.score for h in want], atol=1e-5)
            assert got, kwargs


def test_same_payloads_come_back(engines, photo_points):
    edge, local = engines
    ids = photo_points.ids[:20]
    assert [r.payload for r in edge.retrieve(ids)] == [r.payload for r in local.retrieve(ids)]
    assert edge.retrieve(ids[:1])[0].payload == photo_points.payloads[0]
