"""The translation of qdrant-client filters for Qdrant Edge: what is refused, and datetime bounds."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import qdrant_edge as qe
from qdrant_client import models

from photoseek.errors import QueryError, StoreError, UnsupportedFilter
from photoseek.retrieval.store.edge_filters import rfc3339, translate_filter


def test_no_filter_is_no_filter():
    assert translate_filter(None) is None


def test_every_clause_and_min_should_are_carried_over():
    cond = models.FieldCondition(key="orientation", match=models.MatchValue(value="square"))
    out = translate_filter(
        models.Filter(
            must=[cond],
            should=cond,
            must_not=[models.Filter(must=[cond])],
            min_should=models.MinShould(conditions=[cond, cond], min_count=1),
        )
    )
    assert isinstance(out, qe.Filter)
    assert len(out.must) == 1 and len(out.should) == 1
    assert isinstance(out.must_not[0], qe.Filter)
    assert out.min_should is not None and out.min_should.min_count == 1 and len(out.min_should.conditions) == 2


def test_a_condition_edge_cannot_run_is_refused_by_name():
    slice_filter = models.Filter(must=[models.SliceCondition(slice=models.Slice(total=4, index=1))])
    with pytest.raises(UnsupportedFilter, match="SliceCondition.*PHOTOSEEK_QDRANT__URL"):
        translate_filter(slice_filter)
    # Deep inside a nested filter too.
    with pytest.raises(UnsupportedFilter, match="SliceCondition"):
        translate_filter(models.Filter(should=[models.Filter(must_not=[slice_filter])]))


def test_unsupported_filter_is_a_store_error_and_a_value_error():
    assert issubclass(UnsupportedFilter, StoreError) and issubclass(UnsupportedFilter, ValueError)


def test_a_field_condition_without_any_condition_is_refused():
    with pytest.raises(UnsupportedFilter, match="'views' has no condition"):
        translate_filter(models.Filter(must=[models.FieldCondition(key="views")]))


def test_something_else_than_a_filter_is_refused():
    with pytest.raises(UnsupportedFilter, match="qdrant_client.models.Filter"):
        translate_filter({"must": []})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2021, 5, 1, 12, 30), "2021-05-01T12:30:00Z"),  # naive = UTC, as Qdrant reads it
        (datetime(2021, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))), "2021-05-01T10:30:00Z"),
        (date(2020, 2, 29), "2020-02-29T00:00:00Z"),
        ("2019-12-31T23:59:59.5Z", "2019-12-31T23:59:59.500000Z"),
        ("2019-12-31", "2019-12-31T00:00:00Z"),
        (None, None),
    ],
)
def test_datetime_bounds_become_rfc3339_utc(value, expected):
    assert rfc3339(value) == expected


def test_a_bad_datetime_bound_names_the_field():
    with pytest.raises(QueryError, match="'taken_at'.*ISO 8601"):
        rfc3339("last tuesday", "taken_at")


def test_has_id_refuses_ids_that_are_no_uuid():
    flt = models.Filter(must=[models.HasIdCondition(has_id=["not-a-uuid"])])
    with pytest.raises(QueryError, match="not-a-uuid"):
        translate_filter(flt)
