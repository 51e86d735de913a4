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


def table_parts(dataset_dir: Path, table: str) -> list[Path]:
    """The files of one table (``photos``, ``keywords``...) in order, e.g. ``photos.tsv000``, ``photos.tsv001``.

    Accepts ``<table>.tsv``, ``<table>.tsv<digits>`` and either with ``.gz``, also ``<table>.csv*``
    as the Lite download once named them. Returns an empty list when the table is absent.
    """
    pattern = re.compile(rf"^{re.escape(table)}\.(tsv|csv)(\d*)(\.gz)?$")
    found: list[tuple[int, str, Path]] = []
    for path in dataset_dir.iterdir():
        match = pattern.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(2) or -1), path.name, path))
    return [path for _, _, path in sorted(found)]


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


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
            header = [name.strip() for name in header]
            start = reader.line_num + 1
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield header, BadRow(path.name, start, f"unparseable line: {exc}")
                    start = reader.line_num + 1
                    continue
                line, start = start, reader.line_num + 1
                if not fields:
                    continue
                yield header, Row(path.name, line, fields)
