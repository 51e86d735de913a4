"""Streaming reader of the Unsplash dataset's TSV files, split (``photos.tsv000``...) or gzipped."""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# A description can hold a long quoted text; the default csv limit (128 KiB) is too tight for
# the odd row, yet a limit still stops a stray quote from swallowing the rest of a file.
FIELD_SIZE_LIMIT = 16 * 1024 * 1024
csv.field_size_limit(min(sys.maxsize, FIELD_SIZE_LIMIT))


# The tables of a release; conversions is read by the evaluation, not by the ingest.
TABLES = ("photos", "keywords", "collections", "conversions", "colors")


def _part_pattern(table: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(table)}\.(tsv|csv)(\d*)(\.gz)?$")


def table_parts(dataset_dir: Path, table: str) -> list[Path]:
    """The files of one table (``photos``, ``keywords``...) in order, e.g. ``photos.tsv000``, ``photos.tsv001``.

    Accepts ``<table>.tsv``, ``<table>.tsv<digits>`` and either with ``.gz``, also ``<table>.csv*``
    as the Lite download names them since 1.3.0. Returns an empty list when the table is absent.
    """
    pattern = _part_pattern(table)
    found: list[tuple[int, str, Path]] = []
    for path in dataset_dir.iterdir():
        match = pattern.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(2) or -1), path.name, path))
    return [path for _, _, path in sorted(found)]


def unrecognised_parts(dataset_dir: Path) -> list[str]:
    """Names of files that look like a part of a table but that ``table_parts`` does not read.

    ``photos.tsv000.bak``, ``photos_1.tsv``, ``keywords.tsv.zip``, ``colours.tsv``: a renamed or
    re-packed part would otherwise be skipped without a word, and its rows missed.
    """
    patterns = [_part_pattern(table) for table in TABLES]
    odd = []
    for path in sorted(dataset_dir.iterdir()):
        name = path.name
        if name.startswith(".") or not path.is_file() or any(p.match(name) for p in patterns):
            continue
        lowered = name.lower()
        if any(lowered.startswith(table) for table in (*TABLES, "colours")) or re.search(r"\.(tsv|csv)", lowered):
            odd.append(name)
    return odd


def _open_text(path: Path) -> IO[str]:
    # utf-8-sig skips a byte-order mark at the start of a file (some exports and editors add
    # one); left in, it would glue itself to the first column's name.
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


@dataclass
class Row:
    """One data row: its file, the line it starts on (the header is line 1) and its fields."""

    part: str
    line: int
    fields: list[str]

    @property
    def ref(self) -> str:
        """``"photos.tsv000:17"``: where this row is, for a failure record."""
        return f"{self.part}:{self.line}"


@dataclass
class BadRow:
    """A row the csv parser itself rejected (e.g. a runaway quoted field)."""

    part: str
    line: int
    detail: str

    @property
    def ref(self) -> str:
        """``"photos.tsv000:17"``."""
        return f"{self.part}:{self.line}"


def read_header(path: Path) -> list[str]:
    """The column names of one TSV file."""
    with _open_text(path) as handle:
        return next(csv.reader(handle, delimiter="\t"), [])


def iter_rows(parts: list[Path]) -> Iterator[tuple[list[str], Row | BadRow]]:
    """Stream the rows of a table's parts, each with the header of the file it came from.

    Every part starts with its own header line. Memory stays bounded whatever the file size.

    Yields:
        ``(header, row)``; ``row`` is a ``BadRow`` when the line could not be parsed at all.
    """
    for path in parts:
        with _open_text(path) as handle:
            reader = csv.reader(handle, delimiter="\t")
            header = next(reader, None)
            if header is None:
                continue
            header = [name.strip().lstrip("\ufeff") for name in header]
            part = path.name  # once per file: Path.name costs a parse on every call
            start = reader.line_num + 1
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield header, BadRow(part, start, f"unparseable line: {exc}")
                    start = reader.line_num + 1
                    continue
                line, start = start, reader.line_num + 1
                if not fields:
                    continue
                yield header, Row(part, line, fields)
