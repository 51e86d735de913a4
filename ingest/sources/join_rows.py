"""The rows of the keywords, colors and collections tables, read by their documented column names.

Each table's columns are listed as DOCS.md of release 1.4.0 names them; where the official
SQL (``how-to/psql/create_tables.sql``) names a column differently, both names are accepted
(colors: ``coverage``/``ai_coverage``, ``score``/``ai_score``). Columns a release does not have
yet (``user_suggestion_source`` before 1.3.0, the AI-service-3 flags before 1.4.0,
``collection_type`` before 1.3.0) read as empty.

A value that does not parse costs that value only: the row is kept without it and the
problem is passed to ``warn(column, reason, detail)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from photoseek.ingest.sources.record import rfc3339
from photoseek.ingest.sources.values import BadValue, flag, number, text, timestamp

Warn = Callable[[str, str, str], None]
Converter = Callable[[dict[str, str], Warn], "tuple[object, ...] | None"]

# AI service 3 gives no confidence, only whether it suggested and/or confirmed a keyword.
AI3_NONE, AI3_SUGGESTED, AI3_CONFIRMED = 0, 1, 2
AI3_NAMES = {AI3_SUGGESTED: "suggested", AI3_CONFIRMED: "confirmed"}
TOPIC = "topic"
COLLECTION = "collection"


@dataclass(frozen=True)
class Table:
    """How one joined table is read and stored.

    Attributes:
        columns: each documented column with the other names it may have, in storage order.
        ddl: the SQLite table it goes into (same column order).
        convert: a row (documented name -> cell) to the stored tuple, or None for a row that
            cannot be used at all.
    """

    columns: tuple[tuple[str, ...], ...]
    ddl: str
    convert: Converter

    @property
    def names(self) -> tuple[str, ...]:
        """The documented name of each column."""
        return tuple(names[0] for names in self.columns)

    def positions(self, header: list[str]) -> tuple[int, ...]:
        """Where each column is in ``header`` (the first of its names found), -1 when absent."""
        found = []
        for names in self.columns:
            found.append(next((header.index(n) for n in names if n in header), -1))
        return tuple(found)


def _keep(row: dict[str, str], warn: Warn, read: Callable[[dict[str, str], str], object], column: str) -> object:
    try:
        return read(row, column)
    except BadValue as exc:
        warn(exc.column, exc.reason, f"{exc.detail}; left out")
        return None


def keyword_row(row: dict[str, str], warn: Warn) -> tuple[object, ...] | None:
    """``(photo_id, keyword, ai1, ai2, best, ai3, user, user_source)``."""
    photo_id, keyword = text(row, "photo_id"), text(row, "keyword")
    if not photo_id or not keyword:
        return None
    ai1 = _keep(row, warn, number, "ai_service_1_confidence")
    ai2 = _keep(row, warn, number, "ai_service_2_confidence")
    scores = [s for s in (ai1, ai2) if isinstance(s, float)]
    user = _keep(row, warn, flag, "suggested_by_user")
    suggested3 = _keep(row, warn, flag, "suggested_by_ai_service_3")
    confirmed3 = _keep(row, warn, flag, "confirmed_by_ai_service_3")
    ai3 = AI3_CONFIRMED if confirmed3 else AI3_SUGGESTED if suggested3 else AI3_NONE
    return (photo_id, keyword, ai1, ai2, max(scores) if scores else None, ai3, int(bool(user)),
            text(row, "user_suggestion_source"))


def _channel(row: dict[str, str], warn: Warn, column: str) -> int | None:
    value = _keep(row, warn, number, column)
    if not isinstance(value, float):
        return None
    if not value.is_integer() or not 0 <= value <= 255:
        warn(column, "out_of_range", f"{text(row, column)!r} is not 0-255; left out")
        return None
    return int(value)


def color_row(row: dict[str, str], warn: Warn) -> tuple[object, ...] | None:
    """``(photo_id, keyword, hex, red, green, blue, coverage, score)``; hex as ``#RRGGBB``."""
    photo_id = text(row, "photo_id")
    if not photo_id:
        return None
    rgb = [_channel(row, warn, c) for c in ("red", "green", "blue")]
    hex_code = text(row, "hex")
    if hex_code is not None:
        hex_code = hex_code.lstrip("#").upper()
        if len(hex_code) != 6 or any(c not in "0123456789ABCDEF" for c in hex_code):
            warn("hex", "not_a_colour", f"{text(row, 'hex')!r} is not a 6-digit hex colour; left out")
            hex_code = None
    red, green, blue = rgb
    if hex_code is None and red is not None and green is not None and blue is not None:
        hex_code = f"{red:02X}{green:02X}{blue:02X}"
    keyword = text(row, "keyword")
    if keyword is None and hex_code is None:
        return None
    return (photo_id, keyword, f"#{hex_code}" if hex_code else None, *rgb,
            _keep(row, warn, number, "coverage"), _keep(row, warn, number, "score"))


def collection_row(row: dict[str, str], warn: Warn) -> tuple[object, ...] | None:
    """``(photo_id, collection_id, title, collected_at, type)``; type ``collection`` or ``topic``."""
    photo_id, title = text(row, "photo_id"), text(row, "collection_title")
    if not photo_id or not title:
        return None
    moment = _keep(row, warn, timestamp, "photo_collected_at")
    kind = (text(row, "collection_type") or COLLECTION).lower()
    if kind not in (COLLECTION, TOPIC):
        warn("collection_type", "unknown_type", f"{text(row, 'collection_type')!r} is neither collection nor topic; "
             "read as a collection")
        kind = COLLECTION
    return (photo_id, text(row, "collection_id"), title, rfc3339(moment) if moment else None, kind)  # type: ignore[arg-type]


TABLES: dict[str, Table] = {
    "keywords": Table(
        (("photo_id",), ("keyword",), ("ai_service_1_confidence",), ("ai_service_2_confidence",),
         ("suggested_by_user",), ("user_suggestion_source",), ("suggested_by_ai_service_3",),
         ("confirmed_by_ai_service_3",)),
        "CREATE TABLE keywords (photo_id TEXT, keyword TEXT, ai1 REAL, ai2 REAL, best REAL, ai3 INTEGER, "
        "user INTEGER, user_source TEXT)",
        keyword_row,
    ),
    "colors": Table(
        (("photo_id",), ("hex",), ("red",), ("green",), ("blue",), ("keyword",), ("coverage", "ai_coverage"),
         ("score", "ai_score")),
        "CREATE TABLE colors (photo_id TEXT, keyword TEXT, hex TEXT, red INTEGER, green INTEGER, blue INTEGER, "
        "coverage REAL, score REAL)",
        color_row,
    ),
    "collections": Table(
        (("photo_id",), ("collection_id",), ("collection_title",), ("photo_collected_at",), ("collection_type",)),
        "CREATE TABLE collections (photo_id TEXT, collection_id TEXT, title TEXT, collected_at TEXT, type TEXT)",
        collection_row,
    ),
}
# Rows per table in the stored tuple (the INSERT statement's placeholders).
WIDTHS = {"keywords": 8, "colors": 8, "collections": 5}
