"""A folder with hostile entries (FIFO, device, socket, a name that is not UTF-8) never stops or
hangs an ingest, and a stop always ends the run within the grace period."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from httpserver import LoopbackServer, Stall
from photo_datasets import jpeg_bytes
from photoseek.config.settings import IngestSettings, ModelSettings, QdrantSettings
from photoseek.ingest.fetch import Fetcher
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.pipeline import Pipeline, PipelineOptions
from photoseek.ingest.report import IngestReport
from photoseek.ingest.sources.folder import FolderSource, file_point_id
from photoseek.ingest.sources.record import SourceRecord
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore

BAD_NAME = b"bad\xff\xfename.jpg"


@pytest.fixture(scope="module")
def encoder(tiny_clip_dir: Path) -> ClipEncoder:
    return ClipEncoder.from_settings(ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu"))


@pytest.fixture
def hostile_folder(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "pictures"
    root.mkdir()
    for index in range(3):
        (root / f"good{index}.jpg").write_bytes(jpeg_bytes(40, 30, (80 * index, 0, 0)))
    os.mkfifo(root / "x.jpg")
    (root / "zero.jpg").symlink_to("/dev/zero")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "s.jpg"))
    # A real file whose name is not valid UTF-8, created through its bytes.
    with open(os.path.join(os.fsencode(root), BAD_NAME), "wb") as handle:
        handle.write(jpeg_bytes(30, 40, (0, 200, 0)))
    yield root
    server.close()
    try:  # release a reader that a broken build left waiting on the FIFO
        os.close(os.open(root / "x.jpg", os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def _run_bounded(pipeline: Pipeline, seconds: float) -> IngestReport:
    """Run in a thread, so that a hang fails the test instead of blocking it."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(pipeline.run()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the ingest did not end within {seconds} s"
    assert result, "the ingest raised"
    return result[0]


def _pipeline(source: Any, store: EdgeStore, encoder: ClipEncoder, ledger: Path, **ingest: Any) -> Pipeline:
    store.ensure_collection(encoder.dimension)
    settings = IngestSettings(allowed_hosts="127.0.0.1", **ingest)
    return Pipeline(
        source,
        store=store,
        encoder=encoder,
        ingest=settings,
        ledger=Ledger(ledger),
        options=PipelineOptions(batch_size=2),
        fetcher_factory=lambda s: Fetcher(s, backoff_initial=0.01),
    )


def test_special_files_are_skipped_unopened_and_a_bad_name_is_stored(
    hostile_folder: Path, tmp_path: Path, encoder: ClipEncoder
) -> None:
    store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="mine"))
    opened: list[bool] = []
    watching = threading.Event()

    def watch_fifo() -> None:
        # A FIFO a reader holds open accepts a non-blocking writer; unopened, it refuses (ENXIO).
        while not watching.is_set():
            try:
                os.close(os.open(hostile_folder / "x.jpg", os.O_WRONLY | os.O_NONBLOCK))
                opened.append(True)
                return
            except OSError:
                time.sleep(0.001)

    watcher = threading.Thread(target=watch_fifo, daemon=True)
    watcher.start()
    report = _run_bounded(_pipeline(FolderSource(hostile_folder), store, encoder, tmp_path / "f.jsonl"), 60)
    watching.set()
    watcher.join()
    assert not opened, "the FIFO was opened"
    assert report.indexed == 4 and report.failed == 3
    assert dict(report.failures_by_reason) == {"not_a_regular_file": 3}
    failures = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {f["ref"] for f in failures} == {"x.jpg", "zero.jpg", "s.jpg"}
    assert any("FIFO" in f["detail"] for f in failures) and any("character device" in f["detail"] for f in failures)

    readable = "bad\\xff\\xfename.jpg"
    bad_id = file_point_id(os.fsdecode(BAD_NAME))
    records = {r.id: r for r in store.retrieve([bad_id, point_id("good0.jpg", "folder")])}
    assert records[bad_id].payload["photo_id"] == readable
    assert records[bad_id].payload["path"].endswith(readable)
    assert point_id("good0.jpg", "folder") in records  # ordinary names keep their ids
    again = _run_bounded(_pipeline(FolderSource(hostile_folder), store, encoder, tmp_path / "f.jsonl"), 60)
    assert again.skipped_existing == 4 and again.indexed == 0, "the bad name's id is stable"
    store.close()


def test_bad_names_get_distinct_stable_ids() -> None:
    first, second = os.fsdecode(b"a\xff.jpg"), os.fsdecode(b"a\xfe.jpg")
    assert file_point_id(first) == file_point_id(first) != file_point_id(second)
    assert file_point_id("trip/a.jpg") == point_id("trip/a.jpg", "folder")


def test_a_stop_ends_the_run_within_the_grace_period(tmp_path: Path, encoder: ClipEncoder) -> None:
    """A download that stalls is in flight when the stop comes: it is left after the grace
    period, and what was done is written."""
    root = tmp_path / "pictures"
    root.mkdir()
    with LoopbackServer() as server:
        server.add("/stalls.jpg", Stall(seconds=60))
        records = [
            SourceRecord(
                point_id("stalled"), "stalled", "unsplash", {"photo_id": "stalled"}, url=server.url("/stalls.jpg")
            )
        ]
        for index in range(6):
            path = root / f"{index}.jpg"
            path.write_bytes(jpeg_bytes(40, 30, (index * 40, 0, 0)))
            records.append(
                SourceRecord(point_id(str(index)), str(index), "unsplash", {"photo_id": str(index)}, local_path=path)
            )
        store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="mine"))
        pipeline = _pipeline(records, store, encoder, tmp_path / "f.jsonl", read_timeout=50, stop_grace=1.0)
        stopped_at: list[float] = []

        def stop_once(report: IngestReport) -> None:
            if report.indexed >= 2 and not stopped_at and server.hits:
                stopped_at.append(time.monotonic())
                pipeline.stop()

        pipeline._progress = stop_once
        report = _run_bounded(pipeline, 40)
        ended = time.monotonic()
    assert stopped_at and ended - stopped_at[0] < 6, f"took {ended - stopped_at[0]:.1f} s after the stop"
    assert report.stopped_early and report.failed == 0
    assert store.count() == report.indexed >= 2
    store.close()
