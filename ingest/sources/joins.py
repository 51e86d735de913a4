"""On-disk SQLite index of the keywords, colors and collections tables, built once and reused.

The Full dataset's keywords file is far larger than memory, so it is loaded once into SQLite,
indexed by photo_id, and queried a chunk of photos at a time. The index lives beside the
dataset (or in a cache folder when the dataset folder is read-only) and is rebuilt when any
of the files it was built from changes size or modification time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photoseek.ingest.sources.join_rows import AI3_NAMES, TABLES, TOPIC, WIDTHS, Table
from photoseek.ingest.sources.tsv import Row, iter_rows, table_parts

log = logging.getLogger(__name__)

INDEX_NAME = ".photoseek-joins.sqlite3"
# Bump when the tables change so that an old index is rebuilt.
SCHEMA_VERSION = 2
JOINED_TABLES = tuple(TABLES)
INSERT_CHUNK = 50_000
# SQLite's limit on bound variables is 32766 in current builds; stay far below it.
LOOKUP_CHUNK = 500

# A warning without a photo_id is about a row that could not be joined to any photo.
_DDL = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);\n" + "".join(
    t.ddl + ";\n" for t in TABLES.values()
) + "CREATE TABLE warnings (photo_id TEXT, ref TEXT, field TEXT, reason TEXT, detail TEXT);\n"
_INDEXES = "".join(f"CREATE INDEX {name}_photo ON {name} (photo_id);\n" for name in (*TABLES, "warnings"))


@dataclass(frozen=True)
class JoinWarning:
    """A value of a joined table that could not be read (the row is kept without it), or a row
    that could not be used at all (``photo_id`` None)."""

    ref: str
    field: str
    reason: str
    detail: str
    photo_id: str | None = None


@dataclass
class Joined:
    """What the joined tables say about one photo, each list best first.

    Attributes:
        keywords: every keyword, by the higher of the two AI confidences, then confirmed by AI
            service 3, then suggested by a user, then suggested by AI service 3.
        user_keywords: the keywords a user suggested.
        keyword_details: per keyword, what each source said (``ai_service_1``/``_2``: the
            confidence, ``ai_service_3``: suggested or confirmed, ``user``: the user type).
        colors: colour keywords by coverage, largest first.
        color_hexes: their hex codes, in the same order.
        color_details: per colour row: keyword, hex, rgb, coverage and score.
        collections: titles of the user collections the photo is in, in the order it was added.
        topics: titles of the Unsplash topics the photo is in.
        warnings: values of this photo's rows that could not be read.
    """

    keywords: list[str] = field(default_factory=list)
    user_keywords: list[str] = field(default_factory=list)
    keyword_details: list[dict[str, Any]] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    color_hexes: list[str] = field(default_factory=list)
    color_details: list[dict[str, Any]] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    warnings: list[JoinWarning] = field(default_factory=list)


def default_cache_dir() -> Path:
    """Where indexes of read-only dataset folders go: ``$XDG_CACHE_HOME/photoseek/joins``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "photoseek" / "joins"


def _signature(dataset_dir: Path) -> str:
    parts = []
    for table in JOINED_TABLES:
        for path in table_parts(dataset_dir, table):
            stat = path.stat()
            parts.append([path.name, stat.st_size, stat.st_mtime_ns])
    return json.dumps({"version": SCHEMA_VERSION, "files": parts})


class JoinIndex:
    """The keywords, colors and collections of photos, looked up by photo_id from SQLite."""

    def __init__(self, dataset_dir: Path, cache_dir: Path | None = None) -> None:
        """Find or build the index of ``dataset_dir``.

        Args:
            dataset_dir: the folder with ``keywords.tsv*``, ``colors.tsv*``, ``collections.tsv*``.
            cache_dir: where to put the index when ``dataset_dir`` is not writable
                (default: ``default_cache_dir()``).
        """
        self.dataset_dir = Path(dataset_dir)
        self.path = self._index_path(cache_dir)
        self.skipped_rows = 0
        self._local = threading.local()
        self._lock = threading.Lock()

    def _index_path(self, cache_dir: Path | None) -> Path:
        if os.access(self.dataset_dir, os.W_OK):
            return self.dataset_dir / INDEX_NAME
        digest = hashlib.sha256(str(self.dataset_dir.resolve()).encode()).hexdigest()[:20]
        return (cache_dir or default_cache_dir()) / f"{digest}.sqlite3"

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.ensure_built()
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def is_current(self) -> bool:
        """True when the index exists and was built from the dataset's files as they are now."""
        if not self.path.exists():
            return False
        try:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'signature'").fetchone()
        except sqlite3.Error:
            return False
        return row is not None and row[0] == _signature(self.dataset_dir)

    def ensure_built(self) -> bool:
        """Build the index unless a current one exists; returns True when it was (re)built."""
        with self._lock:
            if self.is_current():
                return False
            self._build()
            return True

    def _build(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        signature = _signature(self.dataset_dir)
        # Build beside the target and swap it in, so that a killed build leaves no half index.
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        log.info("building the keywords/colors/collections index %s", self.path)
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;" + _DDL
            )
            self.skipped_rows = 0
            for name, table in TABLES.items():
                self._load(conn, name, table)
            conn.executescript(_INDEXES)
            conn.execute("INSERT INTO meta VALUES ('signature', ?)", (signature,))
            conn.execute("INSERT INTO meta VALUES ('skipped_rows', ?)", (str(self.skipped_rows),))
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, self.path)
        if self.skipped_rows:
            log.warning("skipped %d malformed rows in the joined tables", self.skipped_rows)

    def _load(self, conn: sqlite3.Connection, name: str, table: Table) -> None:
        parts = table_parts(self.dataset_dir, name)
        insert = f"INSERT INTO {name} VALUES ({','.join('?' * WIDTHS[name])})"
        batch: list[tuple[object, ...]] = []
        warnings: list[tuple[object, ...]] = []
        header: list[str] = []
        positions: tuple[int, ...] = ()
        found: list[tuple[str, str, str]] = []  # the problems of the row being read

        def warn(column: str, reason: str, detail: str) -> None:
            found.append((column, reason, detail))

        for row_header, row in iter_rows(parts):
            if row_header is not header:
                # Columns are picked by name once per file; a missing one reads as "" (index -1
                # points at the "" appended to each row below).
                header = row_header
                positions = table.positions(header)
            if not isinstance(row, Row):
                self.skipped_rows += 1
                warnings.append((None, row.ref, "row", "bad_row", f"{row.detail}; row skipped"))
                continue
            if len(row.fields) != len(header):
                self.skipped_rows += 1
                warnings.append((None, row.ref, "row", "bad_row",
                                 f"{len(row.fields)} columns where the header has {len(header)}; row skipped"))
                continue
            fields = row.fields
            fields.append("")
            cells = [fields[i].strip() for i in positions]
            photo_id = cells[0] or None  # photo_id is the first column of every joined table
            found.clear()
            values = table.convert(cells, warn)
            if values is None:
                self.skipped_rows += 1
                warnings.append((None, row.ref, "row", "bad_row", "empty photo_id, or nothing to join; row skipped"))
                continue
            if found:
                warnings.extend((photo_id, row.ref, column, reason, detail) for column, reason, detail in found)
            batch.append(values)
            if len(batch) >= INSERT_CHUNK:
                conn.executemany(insert, batch)
                batch.clear()
        if batch:
            conn.executemany(insert, batch)
        if warnings:
            conn.executemany("INSERT INTO warnings VALUES (?,?,?,?,?)", warnings)

    def row_warnings(self) -> list[JoinWarning]:
        """The rows of the joined tables that could not be used at all (joined to no photo)."""
        conn = self._connection()
        return [
            JoinWarning(ref, field_name, reason, detail)
            for ref, field_name, reason, detail in conn.execute(
                "SELECT ref, field, reason, detail FROM warnings WHERE photo_id IS NULL ORDER BY rowid"
            )
        ]

    def lookup(self, photo_ids: Sequence[str]) -> dict[str, Joined]:
        """The joined values of each photo in ``photo_ids`` (photos without any are absent)."""
        conn = self._connection()
        found: dict[str, Joined] = {}

        def of(photo_id: str) -> Joined:
            # Building a Joined only when a photo is first met: rows come in the tens per photo.
            joined = found.get(photo_id)
            if joined is None:
                joined = found[photo_id] = Joined()
            return joined

        for start in range(0, len(photo_ids), LOOKUP_CHUNK):
            chunk = list(photo_ids[start : start + LOOKUP_CHUNK])
            marks = ",".join("?" * len(chunk))
            # Rows come grouped by photo (ORDER BY photo_id): the photo's entry is looked up once.
            last: str | None = None
            joined = Joined()
            met: set[str] = set()
            for photo_id, keyword, ai1, ai2, ai3, user, user_source in conn.execute(
                f"SELECT photo_id, keyword, ai1, ai2, ai3, user, user_source FROM keywords "
                f"WHERE photo_id IN ({marks}) "
                "ORDER BY photo_id, best DESC NULLS LAST, ai3 = 2 DESC, user DESC, ai3 DESC, keyword",
                chunk,
            ):
                if photo_id != last:
                    last, joined, met = photo_id, of(photo_id), set()
                if keyword in met:  # a photo may list a keyword twice
                    continue
                met.add(keyword)
                joined.keywords.append(keyword)
                detail: dict[str, Any] = {"keyword": keyword}
                if ai1 is not None:
                    detail["ai_service_1"] = ai1
                if ai2 is not None:
                    detail["ai_service_2"] = ai2
                if ai3:
                    detail["ai_service_3"] = AI3_NAMES[ai3]
                if user:
                    joined.user_keywords.append(keyword)
                    detail["user"] = user_source or "unknown"
                elif user_source:
                    detail["user"] = user_source
                joined.keyword_details.append(detail)
            last = None
            for photo_id, keyword, hex_code, red, green, blue, coverage, score in conn.execute(
                f"SELECT photo_id, keyword, hex, red, green, blue, coverage, score FROM colors "
                f"WHERE photo_id IN ({marks}) "
                "ORDER BY photo_id, coverage DESC NULLS LAST, score DESC NULLS LAST, rowid",
                chunk,
            ):
                if photo_id != last:
                    last, joined = photo_id, of(photo_id)
                _append_unique(joined.colors, keyword)
                _append_unique(joined.color_hexes, hex_code)
                color: dict[str, Any] = {}
                if keyword is not None:
                    color["keyword"] = keyword
                if hex_code is not None:
                    color["hex"] = hex_code
                if red is not None and green is not None and blue is not None:
                    color["rgb"] = [red, green, blue]
                if coverage is not None:
                    color["coverage"] = coverage
                if score is not None:
                    color["score"] = score
                joined.color_details.append(color)
            for photo_id, title, kind in conn.execute(
                f"SELECT photo_id, title, type FROM collections WHERE photo_id IN ({marks}) "
                "ORDER BY photo_id, collected_at, rowid",
                chunk,
            ):
                joined = of(photo_id)
                _append_unique(joined.topics if kind == TOPIC else joined.collections, title)
            for photo_id, ref, field_name, reason, detail_text in conn.execute(
                f"SELECT photo_id, ref, field, reason, detail FROM warnings WHERE photo_id IN ({marks}) ORDER BY rowid",
                chunk,
            ):
                of(photo_id).warnings.append(
                    JoinWarning(ref, field_name, reason, detail_text, photo_id)
                )
        return found

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _append_unique(values: list[str], value: str | None) -> None:
    if value and value not in values:
        values.append(value)

