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
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from photoseek.ingest.sources.tsv import Row, iter_rows, table_parts

log = logging.getLogger(__name__)

INDEX_NAME = ".photoseek-joins.sqlite3"
# Bump when the tables change so that an old index is rebuilt.
SCHEMA_VERSION = 1
JOINED_TABLES = ("keywords", "colors", "collections")
INSERT_CHUNK = 50_000
# SQLite's limit on bound variables is 32766 in current builds; stay far below it.
LOOKUP_CHUNK = 500

_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE keywords (photo_id TEXT, keyword TEXT, score REAL, user INTEGER);
CREATE TABLE colors (photo_id TEXT, keyword TEXT, hex TEXT, coverage REAL);
CREATE TABLE collections (photo_id TEXT, title TEXT, collected_at TEXT);
"""
_INDEXES = """
CREATE INDEX keywords_photo ON keywords (photo_id);
CREATE INDEX colors_photo ON colors (photo_id);
CREATE INDEX collections_photo ON collections (photo_id);
"""


@dataclass
class Joined:
    """What the joined tables say about one photo, each list best first."""

    keywords: list[str] = field(default_factory=list)
    user_keywords: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    color_hexes: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)


def default_cache_dir() -> Path:
    """Where indexes of read-only dataset folders go: ``$XDG_CACHE_HOME/photoseek/joins``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "photoseek" / "joins"


def _float(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    value = float(text)
    return None if math.isnan(value) else value  # NaN is no score


Converter = Callable[[list[str]], "tuple[object, ...] | None"]
TRUE_WORDS = frozenset({"t", "true", "1", "yes"})


def _keyword_row(values: list[str]) -> tuple[object, ...] | None:
    photo_id, keyword, first, second, user = (v.strip() for v in values)
    if not photo_id or not keyword:
        return None
    scores = [x for x in (_float(first), _float(second)) if x is not None]
    return (photo_id, keyword, max(scores) if scores else None, int(user.lower() in TRUE_WORDS))


def _color_row(values: list[str]) -> tuple[object, ...] | None:
    photo_id, hex_code, keyword, coverage = (v.strip() for v in values)
    if not photo_id:
        return None
    if hex_code and not hex_code.startswith("#"):
        hex_code = "#" + hex_code
    return (photo_id, keyword or None, hex_code or None, _float(coverage))


def _collection_row(values: list[str]) -> tuple[object, ...] | None:
    photo_id, title, collected_at = (v.strip() for v in values)
    if not photo_id or not title:
        return None
    return (photo_id, title, collected_at or None)


# table -> (insert statement, the columns it reads, in order, and their conversion)
_LOADERS: dict[str, tuple[str, tuple[str, ...], Converter]] = {
    "keywords": ("INSERT INTO keywords VALUES (?,?,?,?)",
                 ("photo_id", "keyword", "ai_service_1_confidence", "ai_service_2_confidence",
                  "suggested_by_user"), _keyword_row),
    "colors": ("INSERT INTO colors VALUES (?,?,?,?)", ("photo_id", "hex", "keyword", "ai_coverage"), _color_row),
    "collections": ("INSERT INTO collections VALUES (?,?,?)",
                    ("photo_id", "collection_title", "photo_collected_at"), _collection_row),
}


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
            for table, (sql, columns, convert) in _LOADERS.items():
                self._load(conn, table, sql, columns, convert)
            conn.executescript(_INDEXES)
            conn.execute("INSERT INTO meta VALUES ('signature', ?)", (signature,))
            conn.execute("INSERT INTO meta VALUES ('skipped_rows', ?)", (str(self.skipped_rows),))
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, self.path)
        if self.skipped_rows:
            log.warning("skipped %d malformed rows in the joined tables", self.skipped_rows)

    def _load(
        self, conn: sqlite3.Connection, table: str, sql: str, columns: tuple[str, ...], convert: Converter
    ) -> None:
        parts = table_parts(self.dataset_dir, table)
        batch: list[tuple[object, ...]] = []
        header: list[str] = []
        positions: tuple[int, ...] = ()
        for row_header, row in iter_rows(parts):
            if row_header is not header:
                # Columns are picked by name once per file; a missing one reads as "" (index -1
                # points at the "" appended to each row below).
                header = row_header
                positions = tuple(header.index(c) if c in header else -1 for c in columns)
            if not isinstance(row, Row) or len(row.fields) != len(header):
                self.skipped_rows += 1
                continue
            fields = row.fields
            fields.append("")
            try:
                values = convert([fields[i] for i in positions])
            except ValueError:
                values = None
            if values is None:
                self.skipped_rows += 1
                continue
            batch.append(values)
            if len(batch) >= INSERT_CHUNK:
                conn.executemany(sql, batch)
                batch.clear()
        if batch:
            conn.executemany(sql, batch)

    def lookup(self, photo_ids: Sequence[str]) -> dict[str, Joined]:
        """The joined values of each photo in ``photo_ids`` (photos without any are absent)."""
        conn = self._connection()
        found: dict[str, Joined] = {}
        for start in range(0, len(photo_ids), LOOKUP_CHUNK):
            chunk = list(photo_ids[start : start + LOOKUP_CHUNK])
            marks = ",".join("?" * len(chunk))
            for photo_id, keyword, user in conn.execute(
                f"SELECT photo_id, keyword, user FROM keywords WHERE photo_id IN ({marks}) "
                "ORDER BY photo_id, score DESC NULLS LAST, keyword",
                chunk,
            ):
                joined = found.setdefault(photo_id, Joined())
                _append_unique(joined.keywords, keyword)
                if user:
                    _append_unique(joined.user_keywords, keyword)
            for photo_id, keyword, hex_code in conn.execute(
                f"SELECT photo_id, keyword, hex FROM colors WHERE photo_id IN ({marks}) "
                "ORDER BY photo_id, coverage DESC NULLS LAST, rowid",
                chunk,
            ):
                joined = found.setdefault(photo_id, Joined())
                _append_unique(joined.colors, keyword)
                _append_unique(joined.color_hexes, hex_code)
            for photo_id, title in conn.execute(
                f"SELECT photo_id, title FROM collections WHERE photo_id IN ({marks}) "
                "ORDER BY photo_id, collected_at, rowid",
                chunk,
            ):
                _append_unique(found.setdefault(photo_id, Joined()).collections, title)
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

