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

import math
from collections.abc import Callable
from dataclasses import dataclass

from photoseek.ingest.sources import values
from photoseek.ingest.sources.record import rfc3339
from photoseek.ingest.sources.values import BadValue

Warn = Callable[[str, str, str], None]
# A row's cells, stripped, in the order of ``Table.columns`` ("" for a column the file lacks).
Converter = Callable[[list[str], Warn], "tuple[object, ...] | None"]

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
        ddl: the SQLite table it goes into.
        convert: a row's cells (in ``columns`` order) to the stored tuple, or None for a row
            that cannot be used at all.
    """

    columns: tuple[tuple[str, ...], ...]
    ddl: str
    convert: Converter

    def positions(self, header: list[str]) -> tuple[int, ...]:
        """Where each column is in ``header`` (the first of its names found), -1 when absent."""
        found = []
        for names in self.columns:
            found.append(next((header.index(n) for n in names if n in header), -1))
        return tuple(found)


# The Full dataset's keywords table has tens of millions of rows: each reader tries the plain
# form first and only goes through ``values`` (and its error) for an odd cell.


def _number(cell: str, column: str, warn: Warn) -> float | None:
    if not cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if math.isfinite(value):
        return value
    try:
        return values.number({column: cell}, column)
    except BadValue as exc:
        warn(exc.column, exc.reason, f"{exc.detail}; left out")
        return None


def _flag(cell: str, column: str, warn: Warn) -> bool | None:
    if not cell:
        return None
    lowered = cell.lower()
    if lowered in values.TRUE_WORDS:
        return True
    if lowered in values.FALSE_WORDS:
        return False
    warn(column, "not_a_flag", f"{cell!r} is not t/f; left out")
    return None


def keyword_row(cells: list[str], warn: Warn) -> tuple[object, ...] | None:
    """``(photo_id, keyword, ai1, ai2, best, ai3, user, user_source)``."""
    photo_id, keyword, first, second, by_user, user_source, suggested, confirmed = cells
    if not photo_id or not keyword:
        return None
    ai1 = _number(first, "ai_service_1_confidence", warn)
    ai2 = _number(second, "ai_service_2_confidence", warn)
    best = ai1 if ai2 is None else ai2 if ai1 is None else max(ai1, ai2)
    user = _flag(by_user, "suggested_by_user", warn)
    ai3 = AI3_NONE
    if _flag(confirmed, "confirmed_by_ai_service_3", warn):
        ai3 = AI3_CONFIRMED
    elif _flag(suggested, "suggested_by_ai_service_3", warn):
        ai3 = AI3_SUGGESTED
    return (photo_id, keyword, ai1, ai2, best, ai3, int(bool(user)), user_source or None)


def _channel(cell: str, column: str, warn: Warn) -> int | None:
    value = _number(cell, column, warn)
    if value is None:
        return None
    if not value.is_integer() or not 0 <= value <= 255:
        warn(column, "out_of_range", f"{cell!r} is not 0-255; left out")
        return None
    return int(value)


def color_row(cells: list[str], warn: Warn) -> tuple[object, ...] | None:
    """``(photo_id, keyword, hex, red, green, blue, coverage, score)``; hex as ``#RRGGBB``."""
    photo_id, hex_cell, red_cell, green_cell, blue_cell, keyword, coverage, score = cells
    if not photo_id:
        return None
    red, green, blue = (_channel(c, n, warn) for c, n in ((red_cell, "red"), (green_cell, "green"),
                                                           (blue_cell, "blue")))
    hex_code: str | None = hex_cell.lstrip("#").upper() or None
    if hex_code is not None and (len(hex_code) != 6 or any(c not in "0123456789ABCDEF" for c in hex_code)):
        warn("hex", "not_a_colour", f"{hex_cell!r} is not a 6-digit hex colour; left out")
        hex_code = None
    if hex_code is None and red is not None and green is not None and blue is not None:
        hex_code = f"{red:02X}{green:02X}{blue:02X}"
    if not keyword and hex_code is None:
        return None
    return (photo_id, keyword or None, f"#{hex_code}" if hex_code else None, red, green, blue,
            _number(coverage, "coverage", warn), _number(score, "score", warn))


def collection_row(cells: list[str], warn: Warn) -> tuple[object, ...] | None:
    """``(photo_id, collection_id, title, collected_at, type)``; type ``collection`` or ``topic``."""
    photo_id, collection_id, title, collected_at, kind_cell = cells
    if not photo_id or not title:
        return None
    moment = None
    if collected_at:
        try:
            moment = rfc3339(values.parse_timestamp(collected_at))
        except (ValueError, OverflowError):
            warn("photo_collected_at", "not_a_timestamp", f"{collected_at!r} is not a timestamp; left out")
    kind = (kind_cell or COLLECTION).lower()
    if kind not in (COLLECTION, TOPIC):
        warn("collection_type", "unknown_type", f"{kind_cell!r} is neither collection nor topic; read as a collection")
        kind = COLLECTION
    return (photo_id, collection_id or None, title, moment, kind)


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
