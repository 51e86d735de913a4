"""Reading one dataset value: numbers, flags, timestamps, EXIF texts and coordinate pairs.

Every reader returns the value, or None for an empty cell, and raises ``BadValue`` (naming
the column and a short reason code) for a value that is there but does not parse: the caller
drops that field, keeps the photo and reports the problem as a warning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

TRUE_WORDS = frozenset({"t", "true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"f", "false", "0", "no", "n"})

# A zone written as a word after the time (``2020-04-09 18:13:34.316 UTC``); all of them are UTC.
_UTC_WORD = re.compile(r"\s*(?:UTC|GMT|Z)$", re.IGNORECASE)
# An offset set apart from the time by a space (``18:13:34 +00``), which fromisoformat refuses.
_SPACED_OFFSET = re.compile(r"(\d)\s+([+-]\d{2}(?::?\d{2})?)$")
_NUMBER = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
# ``f/2.8``, ``F2.8``, ``ƒ/2.8``, ``2.8``, ``f 2,8``
_APERTURE = re.compile(rf"^(?:[fFƒ]\s*/?\s*)?({_NUMBER})$")
# ``50``, ``50.0``, ``50 mm``, ``50mm``
_FOCAL = re.compile(rf"^({_NUMBER})\s*(?:mm)?$", re.IGNORECASE)
# ``1/250``, ``1/250 s``, ``0.004``, ``30"``, ``2 sec``
_EXPOSURE = re.compile(rf"^({_NUMBER})\s*(?:/\s*({_NUMBER}))?\s*(?:s|sec|secs|seconds?|\")?$", re.IGNORECASE)
# ``200``, ``ISO 200``, ``ISO200``
_ISO = re.compile(rf"^(?:ISO\s*)?({_NUMBER})$", re.IGNORECASE)


class BadValue(ValueError):
    """A value is there but does not parse.

    Attributes:
        column: the dataset column (``exif_aperture_value``; a pair is ``a/b``).
        reason: a short code: ``not_a_number``, ``not_a_whole_number``, ``not_a_flag``,
            ``not_a_timestamp``, ``out_of_range``, ``half_pair``, ``swapped``.
        detail: one line saying what was found.
    """

    def __init__(self, column: str, reason: str, detail: str) -> None:
        super().__init__(f"{column}: {detail}")
        self.column = column
        self.reason = reason
        self.detail = detail


def text(row: dict[str, str], column: str) -> str | None:
    """The stripped cell, or None when it is empty or the column is absent (an older release)."""
    value = row.get(column, "").strip()
    return value or None


def _to_float(raw: str) -> float:
    # A decimal comma (``2,8``) is how some cameras and locales write it.
    if "," in raw and "." not in raw:
        raw = raw.replace(",", ".")
    return float(raw)


def number(row: dict[str, str], column: str) -> float | None:
    """A finite number, or None when the cell is empty."""
    raw = text(row, column)
    if raw is None:
        return None
    try:
        value = _to_float(raw.rstrip("%").strip())
    except ValueError:
        raise BadValue(column, "not_a_number", f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise BadValue(column, "not_a_number", f"{raw!r} is not a finite number")
    return value


def whole(row: dict[str, str], column: str) -> int | None:
    """A whole number (``1200`` or ``1200.0``), or None when the cell is empty."""
    value = number(row, column)
    if value is None:
        return None
    if not value.is_integer():
        raise BadValue(column, "not_a_whole_number", f"{text(row, column)!r} is not a whole number")
    return int(value)


def flag(row: dict[str, str], column: str) -> bool | None:
    """``t``/``f`` (also true/false, 1/0, yes/no), or None when the cell is empty."""
    raw = text(row, column)
    if raw is None:
        return None
    if raw.lower() in TRUE_WORDS:
        return True
    if raw.lower() in FALSE_WORDS:
        return False
    raise BadValue(column, "not_a_flag", f"{raw!r} is not t/f")


def parse_timestamp(raw: str) -> datetime:
    """A timestamp as a PostgreSQL export writes it, in UTC.

    Accepts a space or ``T`` between date and time, any fraction of a second, an offset
    (``+00``, ``+0000``, ``+00:00``, ``-07``), ``Z``, a trailing zone word (``UTC``, ``GMT``)
    and a bare date. A time without a zone is UTC.

    Raises:
        ValueError: when the text is none of these.
    """
    cleaned = raw.strip()
    cleaned = _UTC_WORD.sub("", cleaned) if not cleaned[-1:].isdigit() else cleaned
    cleaned = _SPACED_OFFSET.sub(r"\1\2", cleaned)
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def timestamp(row: dict[str, str], column: str) -> datetime | None:
    """The cell as a UTC datetime (see ``parse_timestamp``), or None when it is empty."""
    raw = text(row, column)
    if raw is None:
        return None
    try:
        return parse_timestamp(raw)
    except (ValueError, OverflowError):
        raise BadValue(column, "not_a_timestamp", f"{raw!r} is not a timestamp") from None


def _match_number(pattern: re.Pattern[str], raw: str) -> float | None:
    match = pattern.match(raw.strip())
    if match is None:
        return None
    try:
        value = _to_float(match.group(1))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def aperture(raw: str) -> float | None:
    """The f-number in an EXIF aperture text (``f/2.8`` -> 2.8); None when there is none."""
    return _match_number(_APERTURE, raw)


def focal_length(raw: str) -> float | None:
    """Millimetres in an EXIF focal length text (``50 mm`` -> 50.0); None when there are none."""
    return _match_number(_FOCAL, raw)


def exposure_seconds(raw: str) -> float | None:
    """Seconds in an EXIF exposure text (``1/250`` -> 0.004, ``2"`` -> 2.0); None when there are none."""
    match = _EXPOSURE.match(raw.strip())
    if match is None:
        return None
    try:
        value = _to_float(match.group(1))
        if match.group(2) is not None:
            value /= _to_float(match.group(2))
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


def iso(raw: str) -> float | None:
    """The ISO speed in an EXIF text (``200``, ``ISO 200``); None when there is none."""
    return _match_number(_ISO, raw)


@dataclass(frozen=True)
class LatLon:
    """A checked coordinate pair; ``swapped`` when the file had latitude and longitude the wrong way round."""

    lat: float
    lon: float
    swapped: bool = False


def lat_lon(row: dict[str, str], lat_column: str, lon_column: str) -> LatLon | None:
    """The pair in two cells, or None when both are empty.

    A pair whose latitude is out of range but whose swap is valid (releases up to 1.2.2 wrote
    some that way, unsplash/datasets#63) comes back swapped, with ``swapped`` set; the caller
    keeps it and warns.

    Raises:
        BadValue: a cell is not a number, only one of the two is given, or the pair is off
            Earth either way round.
    """
    pair = f"{lat_column}/{lon_column}"
    lat, lon = number(row, lat_column), number(row, lon_column)
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise BadValue(pair, "half_pair", f"only one of the two is given ({lat}, {lon})")
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return LatLon(lat, lon)
    if -90 <= lon <= 90 and -180 <= lat <= 180:
        return LatLon(lon, lat, swapped=True)
    raise BadValue(pair, "out_of_range", f"({lat}, {lon}) is not on Earth either way round")
