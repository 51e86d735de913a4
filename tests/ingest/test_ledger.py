"""The failures file: appended while running, read back after a crash, compacted at the end."""

from __future__ import annotations

import json
from pathlib import Path

from photoseek.ingest.ledger import Failure, Ledger


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_failures_are_appended_as_json_lines_at_once(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    ledger = Ledger(path)
    ledger.record(Failure(id="a", ref="http://x/a", stage="fetch", reason="http_404", photo_id="pa"))
    # Readable before compaction: a killed job keeps its failures.
    rows = _lines(path)
    assert rows[0]["id"] == "a" and rows[0]["reason"] == "http_404" and rows[0]["stage"] == "fetch"
    assert {"id", "ref", "stage", "reason", "detail", "attempts", "time"} <= rows[0].keys()


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    Ledger(path).record(Failure(id="a", ref="r", stage="decode", reason="truncated"))
    with path.open("a") as handle:
        handle.write('{"id": "b", "ref"')
    assert set(Ledger(path).previous) == {"a"}


def test_compaction_drops_successes_and_adds_up_attempts(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    first = Ledger(path)
    first.record(Failure(id="a", ref="ra", stage="fetch", reason="timeout", attempts=3))
    first.record(Failure(id="b", ref="rb", stage="fetch", reason="http_500", attempts=2))
    first.record(Failure(id=None, ref="photos.tsv:7", stage="source", reason="bad_row"))
    assert first.compact() == 3

    second = Ledger(path)
    assert second.retry_ids() == {"a", "b"}
    second.mark_done(["a"])
    second.record(Failure(id="b", ref="rb", stage="fetch", reason="http_500", attempts=2))
    assert second.compact() == 2
    rows = {row["ref"]: row for row in _lines(path)}
    assert set(rows) == {"rb", "photos.tsv:7"}
    assert rows["rb"]["attempts"] == 4


def test_a_whole_read_drops_the_rows_of_its_source_it_did_not_meet_again(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    first = Ledger(path)
    first.record(Failure(id=None, ref="photos.tsv:7", stage="source", reason="bad_row", origin="unsplash:/lite"))
    first.record(Failure(id=None, ref="photos.tsv:9", stage="source", reason="bad_row", origin="unsplash:/lite"))
    first.record(Failure(id=None, ref="photos.tsv:4", stage="source", reason="bad_row", origin="unsplash:/full"))
    first.record(Failure(id="a", ref="ra", stage="fetch", reason="timeout"))
    first.compact()

    partial = Ledger(path)  # a run cut short (--limit, a stop) cannot tell
    assert partial.compact() == 4
    whole = Ledger(path)  # a whole read of /lite, which met row 9 bad again
    whole.record(Failure(id=None, ref="photos.tsv:9", stage="source", reason="bad_row", origin="unsplash:/lite"))
    assert whole.compact(read_again=lambda failure: failure.origin == "unsplash:/lite") == 3
    rows = {(row["origin"], row["ref"]): row for row in _lines(path)}
    assert set(rows) == {("unsplash:/lite", "photos.tsv:9"), ("unsplash:/full", "photos.tsv:4"), (None, "ra")}, (
        "row 7 was fixed; another dataset's row and a failed download stay"
    )
    assert rows[("unsplash:/lite", "photos.tsv:9")]["attempts"] == 2


def test_no_file_when_nothing_failed(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    ledger = Ledger(path)
    ledger.mark_done(["x"])
    assert ledger.compact() == 0
    assert not path.exists()


def test_a_line_torn_by_a_kill_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    Ledger(path).record(Failure(id="a", ref="ra", stage="fetch", reason="timeout"))
    with path.open("a") as handle:
        handle.write('{"id": "b", "ref"')  # killed mid-write
    Ledger(path).record(Failure(id="c", ref="rc", stage="fetch", reason="timeout"))
    assert set(Ledger(path).previous) == {"a", "c"}


def test_successes_that_never_failed_are_not_kept(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "f.jsonl")
    ledger.mark_done([f"id{i}" for i in range(1000)])
    assert not ledger._done  # memory stays flat however many photos succeed
