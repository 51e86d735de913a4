"""Translation of ``qdrant_client.models.Filter`` into the filter types of Qdrant Edge."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import qdrant_edge as qe
from qdrant_client import models

from photoseek.errors import QueryError, UnsupportedFilter

# Both engines accept a condition or a list of conditions in must / should / must_not.
_Clause = Sequence[models.Condition] | models.Condition | None


def translate_filter(query_filter: models.Filter | None) -> qe.Filter | None:
    """The Qdrant Edge filter that selects the same points as ``query_filter``.

    Every condition of the Qdrant filter language that Qdrant Edge implements is translated:
    field conditions (match value / any / except / text / text_any / phrase / prefix /
    substring, numeric and datetime ranges, geo radius / bounding box / polygon,
    values_count, is_empty, is_null), ``IsEmptyCondition``, ``IsNullCondition``,
    ``HasIdCondition``, ``HasVectorCondition``, ``NestedCondition``, nested ``Filter`` in
    must / should / must_not, and ``min_should``.

    Args:
        query_filter: a ``qdrant_client.models.Filter``, or None for no filter.

    Raises:
        UnsupportedFilter: a condition kind Qdrant Edge cannot run (e.g. ``SliceCondition``),
            naming it.
        QueryError: a condition value is invalid (e.g. a datetime bound that is no date).
    """
    if query_filter is None:
        return None
    if not isinstance(query_filter, models.Filter):
        raise UnsupportedFilter(f"filter must be a qdrant_client.models.Filter, got {type(query_filter).__name__}")
    min_should = None
    if query_filter.min_should is not None:
        min_should = qe.MinShould(
            conditions=[_condition(c) for c in query_filter.min_should.conditions],
            min_count=query_filter.min_should.min_count,
        )
    return qe.Filter(
        must=_clause(query_filter.must),
        should=_clause(query_filter.should),
        must_not=_clause(query_filter.must_not),
        min_should=min_should,
    )


def _filter(query_filter: models.Filter) -> qe.Filter:
    translated = translate_filter(query_filter)
    return translated if translated is not None else qe.Filter()


def _clause(conditions: _Clause) -> list[Any] | None:
    if conditions is None:
        return None
    if not isinstance(conditions, Sequence):
        conditions = [conditions]
    return [_condition(c) for c in conditions]


def _condition(condition: Any) -> Any:
    if isinstance(condition, models.Filter):
        return _filter(condition)
    if isinstance(condition, models.FieldCondition):
        return _field_condition(condition)
    if isinstance(condition, models.IsEmptyCondition):
        return qe.IsEmptyCondition(condition.is_empty.key)
    if isinstance(condition, models.IsNullCondition):
        return qe.IsNullCondition(condition.is_null.key)
    if isinstance(condition, models.HasIdCondition):
        return qe.HasIdCondition({_point_id(i) for i in condition.has_id})
    if isinstance(condition, models.HasVectorCondition):
        return qe.HasVectorCondition(condition.has_vector)
    if isinstance(condition, models.NestedCondition):
        return qe.NestedCondition(condition.nested.key, _filter(condition.nested.filter))
    raise UnsupportedFilter(
        f"filter condition {type(condition).__name__} is not supported by the embedded store; "
        "use the server backend (set PHOTOSEEK_QDRANT__URL) or another condition"
    )


def _field_condition(condition: models.FieldCondition) -> qe.FieldCondition:
    key = condition.key
    parts: dict[str, Any] = {}
    if condition.match is not None:
        parts["match"] = _match(key, condition.match)
    if condition.range is not None:
        parts["range"] = _range(key, condition.range)
    if condition.geo_radius is not None:
        radius = condition.geo_radius
        parts["geo_radius"] = qe.GeoRadius(center=_geo_point(radius.center), radius=radius.radius)
    if condition.geo_bounding_box is not None:
        box = condition.geo_bounding_box
        parts["geo_bounding_box"] = qe.GeoBoundingBox(
            top_left=_geo_point(box.top_left), bottom_right=_geo_point(box.bottom_right)
        )
    if condition.geo_polygon is not None:
        polygon = condition.geo_polygon
        parts["geo_polygon"] = qe.GeoPolygon(
            exterior=[_geo_point(p) for p in polygon.exterior.points],
            interiors=[[_geo_point(p) for p in ring.points] for ring in polygon.interiors]
            if polygon.interiors
            else None,
        )
    if condition.values_count is not None:
        count = condition.values_count
        parts["values_count"] = qe.ValuesCount(lt=count.lt, gt=count.gt, lte=count.lte, gte=count.gte)
    if condition.is_empty is not None:
        parts["is_empty"] = condition.is_empty
    if condition.is_null is not None:
        parts["is_null"] = condition.is_null
    if not parts:
        raise UnsupportedFilter(f"field condition on {key!r} has no condition (match, range, geo, ...)")
    return qe.FieldCondition(key, **parts)


def _match(key: str, match: Any) -> Any:
    if isinstance(match, models.MatchValue):
        if isinstance(match.value, bool):
            # Edge reads a Python bool as the integer 0/1, which never equals a stored bool;
            # numpy's bool is read as a bool.
            return qe.MatchValue(np.bool_(match.value))  # type: ignore[arg-type]  # np.bool_ on purpose (above)
        return qe.MatchValue(match.value)
    if isinstance(match, models.MatchAny):
        return qe.MatchAny(match.any)
    if isinstance(match, models.MatchExcept):
        return qe.MatchExcept(match.except_)
    if isinstance(match, models.MatchText):
        return qe.MatchText(match.text)
    if isinstance(match, models.MatchTextAny):
        return qe.MatchTextAny(match.text_any)
    if isinstance(match, models.MatchPhrase):
        return qe.MatchPhrase(match.phrase)
    if isinstance(match, models.MatchPrefix):
        return qe.MatchPrefix(match.prefix)
    if isinstance(match, models.MatchSubstring):
        return qe.MatchSubstring(match.substring)
    raise UnsupportedFilter(f"match condition {type(match).__name__} on {key!r} is not supported by the embedded store")


def _range(key: str, bounds: Any) -> Any:
    if isinstance(bounds, models.DatetimeRange):
        return qe.RangeDateTime(
            gte=rfc3339(bounds.gte, key),
            gt=rfc3339(bounds.gt, key),
            lte=rfc3339(bounds.lte, key),
            lt=rfc3339(bounds.lt, key),
        )
    if isinstance(bounds, models.Range):
        return qe.RangeFloat(gte=bounds.gte, gt=bounds.gt, lte=bounds.lte, lt=bounds.lt)
    raise UnsupportedFilter(f"range {type(bounds).__name__} on {key!r} is not supported by the embedded store")


def rfc3339(value: datetime | date | str | None, key: str = "datetime") -> str | None:
    """An RFC 3339 string for a datetime bound; naive values are taken as UTC, as Qdrant does.

    Args:
        value: a ``datetime``, a ``date`` (midnight UTC), an ISO 8601 string, or None.
        key: the payload field, named in the error message.

    Raises:
        QueryError: the string is not an ISO 8601 date or datetime.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise QueryError(
                f"datetime bound {value!r} on {key!r} is not an ISO 8601 date (e.g. 2024-05-01T12:00:00Z)"
            ) from None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _geo_point(point: models.GeoPoint) -> qe.GeoPoint:
    return qe.GeoPoint(lon=point.lon, lat=point.lat)


def _point_id(point_id: int | str | uuid.UUID) -> int | str:
    # Edge parses UUID strings itself; a canonical form keeps sets free of duplicates.
    if isinstance(point_id, int):
        return point_id
    try:
        return str(uuid.UUID(str(point_id)))
    except ValueError:
        raise QueryError(f"has_id holds {point_id!r}, which is neither a UUID nor an unsigned integer") from None
