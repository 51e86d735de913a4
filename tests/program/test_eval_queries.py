"""Queries from Unsplash conversions: filtering to the collection, --min-relevant, seeded sampling."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from photo_datasets import CONVERSION_COLUMNS, KEYWORD_COLUMNS
from photoseek.errors import SourceError
from photoseek.evaluation.queries import (
    band_labels,
    band_of,
    build_queries,
    normalise_keyword,
)

STORED = {f"P{i}" for i in range(10)}


def _write(path: Path, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    text = "\t".join(columns) + "\n" + "".join("\t".join(row) + "\n" for row in rows)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")


def _conversion(keyword: str, photo_id: str) -> list[str]:
    return ["2021-01-01 10:00:00", "download", keyword, photo_id, "user-1", "IS"]


def _dataset(folder: Path, pairs: list[tuple[str, str]], split: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [_conversion(k, p) for k, p in pairs]
    if split:
        _write(folder / "conversions.tsv000", CONVERSION_COLUMNS, rows[: len(rows) // 2])
        _write(folder / "conversions.tsv001.gz", CONVERSION_COLUMNS, rows[len(rows) // 2 :])
    else:
        _write(folder / "conversions.tsv000", CONVERSION_COLUMNS, rows)
    return folder


def test_relevant_photos_outside_the_collection_are_dropped_and_small_queries_too(tmp_path: Path) -> None:
    pairs = [
        ("Dog", "P1"), ("dog ", "P2"), ("DOG", "P3"), ("dog", "P3"), ("dog", "Gone1"), ("dog", "Gone2"),
        ("cat", "P4"), ("cat", "Gone3"), ("cat", "Gone4"), ("cat", "Gone5"),  # only 1 stored photo
        ("red  car", "P5"), ("red car", "P6"), ("red car", "P7"),
    ]
    data = _dataset(tmp_path / "d", pairs, split=True)
    result = build_queries(data, STORED, min_relevant=3)
    assert [q.text for q in result.queries] == ["dog", "red car"]  # most frequent first
    dog = result.queries[0]
    assert dog.relevant == {"P1": 1, "P2": 1, "P3": 2}
    assert dog.frequency == 6  # popularity counts every conversion, stored or not
    assert dog.band == "1-9"
    assert result.pairs_outside_collection == 5
    assert result.keywords_seen == 3
    assert result.dropped_min_relevant == 1
    assert result.eligible == 2
    assert result.sources == ["conversions.tsv000", "conversions.tsv001.gz"]
    assert [q.text for q in build_queries(data, STORED, min_relevant=1).queries] == ["dog", "cat", "red car"]
    assert build_queries(data, STORED, min_relevant=4).queries == []


def test_sampling_is_seeded_and_independent_of_file_order(tmp_path: Path) -> None:
    pairs = [(f"kw{n:02d}", f"P{(n + j) % 10}") for n in range(40) for j in range(3)]
    forward = _dataset(tmp_path / "a", pairs)
    backward = _dataset(tmp_path / "b", list(reversed(pairs)))
    first = build_queries(forward, STORED, max_queries=10, seed=7)
    again = build_queries(backward, STORED, max_queries=10, seed=7)
    other = build_queries(forward, STORED, max_queries=10, seed=8)
    texts = [q.text for q in first.queries]
    assert len(texts) == 10 and len(set(texts)) == 10
    assert texts == [q.text for q in again.queries]
    assert set(texts) != {q.text for q in other.queries}
    assert first.eligible == 40
    assert len(build_queries(forward, STORED, max_queries=100, seed=7).queries) == 40


def test_user_suggested_keywords_add_judgments(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "d", [("tree", "P1")])
    _write(data / "keywords.tsv000", KEYWORD_COLUMNS, [
        ["P2", "Tree", "", "", "t"], ["P3", "tree", "", "", "t"],
        ["P4", "tree", "91.0", "", "f"],  # a machine keyword, not a judgment
    ])
    assert build_queries(data, STORED, min_relevant=3).queries == []
    with_users = build_queries(data, STORED, min_relevant=3, user_keywords=True)
    assert [(q.text, sorted(q.relevant)) for q in with_users.queries] == [("tree", ["P1", "P2", "P3"])]
    assert "keywords.tsv000" in with_users.sources


def test_unreadable_rows_are_counted_and_skipped(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    good = [_conversion("sea", f"P{i}") for i in range(3)]
    _write(data / "conversions.tsv000", CONVERSION_COLUMNS, [*good, ["only", "three", "cells"], _conversion("", "P1")])
    result = build_queries(data, STORED)
    assert [q.text for q in result.queries] == ["sea"]
    assert result.bad_rows == 2


def test_missing_conversions_or_columns_fail_clearly(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no conversions"):
        build_queries(tmp_path / "empty", STORED)
    with pytest.raises(SourceError, match="not a folder"):
        build_queries(tmp_path / "nope", STORED)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "conversions.tsv000").write_text("when\twhat\nx\ty\n")
    with pytest.raises(SourceError, match="no 'keyword' column"):
        build_queries(odd, STORED)


def test_bands_and_normalised_keywords() -> None:
    assert [band_of(n) for n in (1, 9, 10, 99, 100, 999, 1000, 10**7)] == [
        "1-9", "1-9", "10-99", "10-99", "100-999", "100-999", "1000+", "1000+"
    ]
    assert band_labels() == ["1-9", "10-99", "100-999", "1000+"]
    assert normalise_keyword("  New\tYork  City ") == "new york city"
