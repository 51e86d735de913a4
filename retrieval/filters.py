"""Keyword filters (``country="Iceland"``, ``min_width=3000``) turned into Qdrant filters, validated first."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from qdrant_client import models

from photoseek.errors import QueryError
from photoseek.retrieval.schema import SOURCES

ORIENTATIONS = ("landscape", "portrait", "square")

Condition = models.FieldCondition | models.Filter


@dataclass(frozen=True)
class WhereKey:
    """One keyword filter: the payload field it tests, the value it takes and how it tests it."""

    name: str
    field: str
    expects: str
    help: str
    op: str  # match | any | all | gte | lte | after | before | bool | near | text


def _key(name: str, field: str, op: str, expects: str, help: str) -> WhereKey:
    return WhereKey(name=name, field=field, expects=expects, help=help, op=op)


_TEXT = "a non-empty string or a list of them"
_WORDS = "a non-empty list of strings (or one string)"
_COUNT = "an integer >= 0"
_RATIO = "a number > 0"
_WHEN = "a datetime, a date or an ISO 8601 string"

WHERE_KEYS: dict[str, WhereKey] = {
    k.name: k
    for k in (
        _key("orientation", "orientation", "match", "one of landscape, portrait, square (or a list)", "shape"),
        _key("country", "location.country", "match", _TEXT, "country of the location"),
        _key("city", "location.city", "match", _TEXT, "city of the location"),
        _key("photographer", "photographer", "match", _TEXT, "photographer's username"),
        _key("source", "source", "match", _TEXT, " or ".join(map(repr, SOURCES))),
        _key("camera_make", "camera.make", "match", _TEXT, "camera maker (EXIF)"),
        _key("keywords_any", "keywords", "any", _WORDS, "has at least one of these keywords"),
        _key("keywords_all", "keywords", "all", _WORDS, "has every one of these keywords"),
        _key("colors_any", "colors", "any", _WORDS, "has at least one of these colour keywords"),
        _key("collections_any", "collections", "any", _WORDS, "is in at least one of these user collections"),
        _key("topics_any", "topics", "any", _WORDS, "is in at least one of these Unsplash topics"),
        _key("min_width", "width", "gte", _COUNT, "width in pixels at least"),
        _key("max_width", "width", "lte", _COUNT, "width in pixels at most"),
        _key("min_height", "height", "gte", _COUNT, "height in pixels at least"),
        _key("max_height", "height", "lte", _COUNT, "height in pixels at most"),
        _key("min_aspect_ratio", "aspect_ratio", "gte", _RATIO, "width / height at least"),
        _key("max_aspect_ratio", "aspect_ratio", "lte", _RATIO, "width / height at most"),
        _key("min_views", "views", "gte", _COUNT, "view count at least"),
        _key("min_downloads", "downloads", "gte", _COUNT, "download count at least"),
        _key("submitted_after", "submitted_at", "after", _WHEN, "published at or after"),
        _key("submitted_before", "submitted_at", "before", _WHEN, "published at or before"),
        _key("taken_after", "taken_at", "after", _WHEN, "taken at or after (EXIF)"),
        _key("taken_before", "taken_at", "before", _WHEN, "taken at or before (EXIF)"),
        _key("featured", "featured", "bool", "True or False", "featured on Unsplash"),
        _key("near", "location.geo", "near", "a (lat, lon, radius_km) tuple", "within radius_km of lat, lon"),
        _key("text_contains", "description", "text", "a non-empty string", "words in either description"),
    )
}

# Fields searched by ``text_contains``: a photo matches when either description has every word.
TEXT_FIELDS = ("description", "ai_description")

_FLOAT_FIELDS = {"aspect_ratio"}


def _valid_list() -> str:
    return ", ".join(WHERE_KEYS)


def _fail(name: str, value: Any, key: WhereKey) -> QueryError:
    return QueryError(f"where: {name} must be {key.expects} (got {value!r}, a {type(value).__name__})")


def _strings(name: str, value: Any, key: WhereKey) -> list[str]:
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    if not isinstance(value, (str, list, tuple, set, frozenset)):
        raise _fail(name, value, key)
    result = list(items)
    if not result or not all(isinstance(v, str) and v.strip() for v in result):
        raise _fail(name, value, key)
    return result


def _count(name: str, value: Any, key: WhereKey) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(name, value, key)
    return value


def _ratio(name: str, value: Any, key: WhereKey) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise _fail(name, value, key)
    return float(value)


def _when(name: str, value: Any, key: WhereKey) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _fail(name, value, key) from None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        # A bare day is the whole day: "before 2020-01-01" includes photos of that day.
        moment = datetime.combine(value, time.max if key.op == "before" else time.min)
    else:
        raise _fail(name, value, key)
    # Stored timestamps are RFC 3339 with an offset; a naive bound is read as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _near(name: str, value: Any, key: WhereKey) -> tuple[float, float, float]:
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 3
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        raise _fail(name, value, key)
    lat, lon, radius_km = (float(v) for v in value)
    if not -90.0 <= lat <= 90.0:
        raise QueryError(f"where: near latitude must be between -90 and 90 (got {lat})")
    if not -180.0 <= lon <= 180.0:
        raise QueryError(f"where: near longitude must be between -180 and 180 (got {lon})")
    if radius_km <= 0:
        raise QueryError(f"where: near radius_km must be > 0 (got {radius_km})")
    return lat, lon, radius_km


def _match(field: str, values: list[str]) -> models.FieldCondition:
    if len(values) == 1:
        return models.FieldCondition(key=field, match=models.MatchValue(value=values[0]))
    return models.FieldCondition(key=field, match=models.MatchAny(any=values))


def where_conditions(where: Mapping[str, Any]) -> list[Condition]:
    """Validate keyword filters and turn them into Qdrant conditions that must all hold.

    Args:
        where: keyword filters such as ``{"country": "Iceland", "min_width": 3000}``;
            ``WHERE_KEYS`` lists every key and the value it takes.

    Returns:
        The conditions, one per key (a min/max pair on one field becomes one range).

    Raises:
        QueryError: an unknown key, a value of the wrong type or an impossible range,
            naming the key and what it takes.
    """
    conditions: list[Condition] = []
    bounds: dict[str, dict[str, Any]] = {}
    for name, value in where.items():
        key = WHERE_KEYS.get(name)
        if key is None:
            close = difflib.get_close_matches(name, WHERE_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise QueryError(f"where: unknown field {name!r}{hint}; valid fields: {_valid_list()}")
        if value is None:
            raise _fail(name, value, key)
        if key.op == "match":
            values = _strings(name, value, key)
            if key.name == "orientation":
                values = [v.strip().lower() for v in values]
                bad = [v for v in values if v not in ORIENTATIONS]
                if bad:
                    raise QueryError(f"where: orientation must be one of {', '.join(ORIENTATIONS)} (got {bad[0]!r})")
            conditions.append(_match(key.field, values))
        elif key.op == "any":
            values = _strings(name, value, key)
            conditions.append(models.FieldCondition(key=key.field, match=models.MatchAny(any=values)))
        elif key.op == "all":
            for word in _strings(name, value, key):
                conditions.append(models.FieldCondition(key=key.field, match=models.MatchValue(value=word)))
        elif key.op in ("gte", "lte"):
            number: float = _ratio(name, value, key) if key.field in _FLOAT_FIELDS else _count(name, value, key)
            bounds.setdefault(key.field, {})[key.op] = (name, number)
        elif key.op in ("after", "before"):
            bounds.setdefault(key.field, {})[key.op] = (name, _when(name, value, key))
        elif key.op == "bool":
            if not isinstance(value, bool):
                raise _fail(name, value, key)
            conditions.append(models.FieldCondition(key=key.field, match=models.MatchValue(value=value)))
        elif key.op == "near":
            lat, lon, radius_km = _near(name, value, key)
            geo = models.GeoRadius(center=models.GeoPoint(lat=lat, lon=lon), radius=radius_km * 1000.0)
            conditions.append(models.FieldCondition(key=key.field, geo_radius=geo))
        elif key.op == "text":
            if not isinstance(value, str) or not any(c.isalnum() for c in value):
                raise _fail(name, value, key)
            either = [models.FieldCondition(key=f, match=models.MatchText(text=value)) for f in TEXT_FIELDS]
            conditions.append(models.Filter(should=list(either)))
    conditions.extend(_range_conditions(bounds))
    return conditions


def _range_conditions(bounds: Mapping[str, Mapping[str, tuple[str, Any]]]) -> list[Condition]:
    result: list[Condition] = []
    for field, ends in bounds.items():
        low = ends.get("gte") or ends.get("after")
        high = ends.get("lte") or ends.get("before")
        if low and high and low[1] > high[1]:
            raise QueryError(
                f"where: impossible range on {field}: {low[0]}={low[1]} is greater than {high[0]}={high[1]}"
            )
        if "after" in ends or "before" in ends:
            span: models.Range | models.DatetimeRange = models.DatetimeRange(
                gte=low[1] if low else None, lte=high[1] if high else None
            )
        else:
            span = models.Range(gte=low[1] if low else None, lte=high[1] if high else None)
        result.append(models.FieldCondition(key=field, range=span))
    return result


def _as_list(conditions: Any) -> list[Any]:
    if conditions is None:
        return []
    return list(conditions) if isinstance(conditions, list) else [conditions]


def build_filter(
    filter: models.Filter | None = None,
    where: Mapping[str, Any] | None = None,
    *,
    exclude_ids: Sequence[str] = (),
) -> models.Filter | None:
    """One Qdrant filter from a caller's ``filter``, keyword filters and ids to leave out, ANDed.

    Args:
        filter: a ``qdrant_client.models.Filter`` passed through unchanged in meaning.
        where: keyword filters (see ``WHERE_KEYS``), validated before anything runs.
        exclude_ids: point ids that must not be returned (``similar`` leaves its photo out).

    Returns:
        The combined filter, or None when there is nothing to filter on.

    Raises:
        QueryError: a keyword filter is invalid, or ``filter`` is not a Filter.
    """
    if filter is not None and not isinstance(filter, models.Filter):
        raise QueryError(f"filter must be a qdrant_client.models.Filter (got {type(filter).__name__})")
    must = where_conditions(where or {})
    must_not: list[Any] = []
    if exclude_ids:
        must_not.append(models.HasIdCondition(has_id=list(exclude_ids)))
    if filter is None and not must and not must_not:
        return None
    if filter is None:
        return models.Filter(must=list(must) or None, must_not=must_not or None)
    # Keyword conditions only add to ``must``, so merging them into the caller's filter is
    # the same as ANDing the two, without a nested filter the engine would have to unfold.
    return models.Filter(
        must=(_as_list(filter.must) + must) or None,
        should=filter.should,
        min_should=filter.min_should,
        must_not=(_as_list(filter.must_not) + must_not) or None,
    )


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "y", "on"):
        return True
    if lowered in ("false", "no", "0", "n", "off"):
        return False
    raise ValueError(text)


def _parse_value(key: WhereKey, text: str) -> Any:
    if key.op in ("any", "all"):
        return [part.strip() for part in text.split(",") if part.strip()]
    if key.op in ("gte", "lte"):
        return float(text) if key.field in _FLOAT_FIELDS else int(text)
    if key.op in ("after", "before"):
        return _when(key.name, text, key)
    if key.op == "bool":
        return _parse_bool(text)
    if key.op == "near":
        parts = [float(part) for part in text.split(",")]
        return tuple(parts)
    return text


def parse_where(items: Sequence[str]) -> dict[str, Any]:
    """Parse command-line ``key=value`` filters into typed keyword filters.

    Lists are comma-separated (``keywords_any=dog,beach``), ``near`` is ``lat,lon,radius_km``,
    dates are ISO 8601, booleans ``true``/``false``. A text key given twice matches either value.

    Args:
        items: the ``--where`` arguments.

    Returns:
        Keyword filters ready for ``build_filter`` (validated again there).

    Raises:
        QueryError: an item without ``=``, an unknown key or a value that does not parse.
    """
    where: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise QueryError(f"--where takes key=value (got {item!r}); valid keys: {_valid_list()}")
        key = WHERE_KEYS.get(name)
        if key is None:
            where_conditions({name: text})  # raises the unknown-field error with its hint
            raise AssertionError("unreachable")
        try:
            value = _parse_value(key, text.strip())
        except (ValueError, QueryError):
            raise QueryError(f"--where {name}: cannot read {text!r} as {key.expects}") from None
        if name in where:
            if key.op != "match":
                raise QueryError(f"--where {name} given twice; give it once")
            previous = where[name]
            where[name] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            where[name] = value
    return where
