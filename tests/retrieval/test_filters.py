"""Keyword filters: the conditions they build, the errors they raise, the command-line parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from qdrant_client import models

from photoseek.errors import QueryError
from photoseek.retrieval.filters import (
    WHERE_KEYS,
    build_filter,
    parse_where,
    where_conditions,
)
from photoseek.retrieval.schema import FIELDS_BY_PATH


def _only(where: dict[str, Any]) -> Any:
    conditions = where_conditions(where)
    assert len(conditions) == 1
    return conditions[0]


def test_every_key_names_a_schema_field() -> None:
    for key in WHERE_KEYS.values():
        assert key.field in FIELDS_BY_PATH, key.name
        assert FIELDS_BY_PATH[key.field].index is not None, f"{key.field} has no payload index"


@pytest.mark.parametrize(
    ("where", "field", "match"),
    [
        ({"orientation": "Landscape"}, "orientation", models.MatchValue(value="landscape")),
        ({"country": "Iceland"}, "location.country", models.MatchValue(value="Iceland")),
        ({"country": ["Iceland", "Norway"]}, "location.country", models.MatchAny(any=["Iceland", "Norway"])),
        ({"photographer": "ana"}, "photographer", models.MatchValue(value="ana")),
        ({"keywords_any": ["dog", "beach"]}, "keywords", models.MatchAny(any=["dog", "beach"])),
        ({"colors_any": "red"}, "colors", models.MatchAny(any=["red"])),
        ({"topics_any": "Nature"}, "topics", models.MatchAny(any=["Nature"])),
        ({"collections_any": ["Nature"]}, "collections", models.MatchAny(any=["Nature"])),
        ({"featured": True}, "featured", models.MatchValue(value=True)),
    ],
)
def test_matches(where: dict[str, Any], field: str, match: Any) -> None:
    condition = _only(where)
    assert condition.key == field and condition.match == match


def test_min_and_max_on_one_field_become_one_range() -> None:
    condition = _only({"min_width": 3000, "max_width": 5000})
    assert condition.key == "width" and condition.range == models.Range(gte=3000, lte=5000)
    ratio = _only({"min_aspect_ratio": 1.5})
    assert ratio.key == "aspect_ratio" and ratio.range == models.Range(gte=1.5)


def test_dates_become_utc_datetime_ranges() -> None:
    condition = _only({"submitted_after": date(2020, 1, 2), "submitted_before": "2021-03-04T05:06:07Z"})
    assert condition.key == "submitted_at"
    assert condition.range.gte == datetime(2020, 1, 2, tzinfo=UTC)
    assert condition.range.lte == datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_near_is_a_geo_radius_in_metres() -> None:
    condition = _only({"near": (64.1, -21.9, 25)})
    assert condition.key == "location.geo"
    assert condition.geo_radius == models.GeoRadius(center=models.GeoPoint(lat=64.1, lon=-21.9), radius=25_000.0)


def test_text_contains_searches_either_description() -> None:
    condition = _only({"text_contains": "red bicycle"})
    assert isinstance(condition, models.Filter)
    assert {c.key for c in condition.should} == {"description", "ai_description"}
    assert all(c.match == models.MatchText(text="red bicycle") for c in condition.should)


def test_keywords_all_needs_every_keyword() -> None:
    conditions = where_conditions({"keywords_all": ["dog", "beach"]})
    assert [c.match.value for c in conditions] == ["dog", "beach"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            {"contry": "Iceland"},
            r"unknown field 'contry' \(did you mean 'country'\?\); valid fields: orientation, country",
        ),
        ({"min_width": "3000"}, r"min_width must be an integer >= 0 \(got '3000', a str\)"),
        ({"min_width": True}, r"min_width must be an integer"),
        ({"min_width": -1}, r"min_width must be an integer >= 0"),
        ({"min_aspect_ratio": 0}, r"min_aspect_ratio must be a number > 0"),
        (
            {"min_width": 5000, "max_width": 3000},
            r"impossible range on width: min_width=5000 is greater than max_width=3000",
        ),
        (
            {"submitted_after": date(2022, 1, 1), "submitted_before": date(2021, 1, 1)},
            r"impossible range on submitted_at",
        ),
        ({"submitted_after": "last tuesday"}, r"submitted_after must be a datetime"),
        ({"near": (91, 0, 10)}, r"near latitude must be between -90 and 90"),
        ({"near": (0, 181, 10)}, r"near longitude must be between -180 and 180"),
        ({"near": (0, 0, -5)}, r"near radius_km must be > 0"),
        ({"near": (0, 0)}, r"near must be a \(lat, lon, radius_km\) tuple"),
        ({"orientation": "wide"}, r"orientation must be one of landscape, portrait, square \(got 'wide'\)"),
        ({"featured": "yes"}, r"featured must be True or False"),
        ({"keywords_any": []}, r"keywords_any must be a non-empty list"),
        ({"keywords_any": ["dog", 3]}, r"keywords_any must be a non-empty list of strings"),
        ({"country": ""}, r"country must be a non-empty string"),
        ({"text_contains": "  "}, r"text_contains must be a non-empty string"),
        ({"country": None}, r"country must be"),
    ],
)
def test_bad_values_raise_query_error_naming_the_field(where: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        build_filter(None, where)
    assert isinstance(caught.value, ValueError)


def test_nothing_to_filter_is_none() -> None:
    assert build_filter(None, {}) is None


def test_a_filter_and_where_are_anded_and_ids_left_out() -> None:
    given = models.Filter(
        must=models.FieldCondition(key="source", match=models.MatchValue(value="unsplash")),
        should=[models.FieldCondition(key="photographer", match=models.MatchValue(value="ana"))],
        must_not=[models.FieldCondition(key="featured", match=models.MatchValue(value=True))],
    )
    combined = build_filter(given, {"country": "Iceland"}, exclude_ids=["0f8fad5b-d9cb-469f-a165-70867728950e"])
    assert combined is not None
    assert [c.key for c in combined.must] == ["source", "location.country"]
    assert combined.should == given.should
    assert combined.must_not[0] == given.must_not[0]
    assert combined.must_not[1] == models.HasIdCondition(has_id=["0f8fad5b-d9cb-469f-a165-70867728950e"])


def test_filter_must_be_a_qdrant_filter() -> None:
    with pytest.raises(QueryError, match="filter must be a qdrant_client.models.Filter"):
        build_filter({"country": "Iceland"})  # type: ignore[arg-type]


def test_parse_where_types_command_line_values() -> None:
    parsed = parse_where(
        [
            "country=Iceland",
            "country=Norway",
            "min_width=3000",
            "min_aspect_ratio=1.5",
            "featured=true",
            "keywords_any=dog, beach",
            "near=64.1,-21.9,25",
            "submitted_after=2020-01-01",
            "text_contains=red bicycle",
        ]
    )
    assert parsed == {
        "country": ["Iceland", "Norway"],
        "min_width": 3000,
        "min_aspect_ratio": 1.5,
        "featured": True,
        "keywords_any": ["dog", "beach"],
        "near": (64.1, -21.9, 25.0),
        "submitted_after": datetime(2020, 1, 1, tzinfo=UTC),
        "text_contains": "red bicycle",
    }
    assert build_filter(None, parsed) is not None


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["country"], r"--where takes key=value \(got 'country'\)"),
        (["min_width=big"], r"--where min_width: cannot read 'big' as an integer >= 0"),
        (["featured=maybe"], r"--where featured: cannot read 'maybe'"),
        (["colour=red"], r"unknown field 'colour'.*valid fields"),
        (["min_width=1", "min_width=2"], r"--where min_width given twice"),
    ],
)
def test_parse_where_errors(items: list[str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_where(items)


def test_a_bare_day_as_upper_bound_includes_that_whole_day() -> None:
    from datetime import date

    from photoseek.retrieval.filters import build_filter

    for day in ("2020-01-01", date(2020, 1, 1)):
        built = build_filter(None, {"submitted_after": day, "submitted_before": day})
        assert built is not None
        ranges = [c.range for c in built.must if getattr(c, "range", None) is not None]  # type: ignore[union-attr]
        assert ranges and ranges[0].gte.isoformat().startswith("2020-01-01T00:00:00")
        assert ranges[0].lte.isoformat().startswith("2020-01-01T23:59:59")
