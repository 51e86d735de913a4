"""Ingest warns when the store holds fewer points than photoseek's record of points written."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from photoseek.config.settings import IngestSettings, ModelSettings
from photoseek.ingest import run_ingest
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.report import IngestReport
from photoseek.ingest.sources.folder import FolderSource
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.identity import stored_identity
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.written_count import (
    WrittenTally,
    raise_written,
    set_written,
    shortfall,
    written_in_metadata,
)

N_PHOTOS = 6


@pytest.fixture(scope="module")
def encoder(tiny_clip_dir: Path) -> ClipEncoder:
    return ClipEncoder.from_settings(
        ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu", batch_size=4)
    )


def _ingest(photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path) -> IngestReport:
    return run_ingest(
        FolderSource(photos),
        store=store,
        encoder=encoder,
        ingest=IngestSettings(decode_workers=2),
        ledger=Ledger(tmp_path / "failures.jsonl"),
    )


def _shortfall_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "are missing" in r.getMessage()]


def test_an_ingest_records_how_many_points_it_wrote(
    photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path
) -> None:
    _ingest(photos, store, encoder, tmp_path)
    metadata = store.get_metadata()
    assert written_in_metadata(metadata) == N_PHOTOS
    assert stored_identity(store) == encoder.identity()  # the model's record is kept beside it


def test_points_lost_behind_photoseeks_back_are_warned_about_and_the_next_ingest_restores_them(
    photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _ingest(photos, store, encoder, tmp_path)
    store.delete([point_id("p1.jpg", "folder"), point_id("p4.jpg", "folder")])
    assert shortfall(store) == (N_PHOTOS - 2, N_PHOTOS)

    with caplog.at_level(logging.WARNING):
        report = _ingest(photos, store, encoder, tmp_path)
    [warning] = _shortfall_warnings(caplog)
    assert "holds 4 points" in warning and "say 6 were written" in warning and "2 are missing" in warning
    assert "photoseek check" in warning and "re-encodes the missing ones" in warning
    assert (report.indexed, report.skipped_existing) == (2, N_PHOTOS - 2)
    assert store.count() == N_PHOTOS and shortfall(store) is None

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _ingest(photos, store, encoder, tmp_path)
    assert _shortfall_warnings(caplog) == []


def test_a_clean_collection_gives_no_warning(
    photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        _ingest(photos, store, encoder, tmp_path)
        _ingest(photos, store, encoder, tmp_path)
    assert _shortfall_warnings(caplog) == []


def test_the_record_only_rises_until_set(photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path) -> None:
    _ingest(photos, store, encoder, tmp_path)
    store.delete([point_id("p0.jpg", "folder")])
    assert raise_written(store) == N_PHOTOS  # a loss does not lower it
    set_written(store, store.count())  # what `photoseek check --repair` does
    assert shortfall(store) is None and written_in_metadata(store.get_metadata()) == N_PHOTOS - 1


def test_the_tally_raises_the_record_during_a_run(
    photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path
) -> None:
    _ingest(photos, store, encoder, tmp_path)
    set_written(store, 1)
    waiting = WrittenTally(store, every=3600.0)
    waiting.after_batch()
    assert written_in_metadata(store.get_metadata()) == 1  # not due yet
    WrittenTally(store, every=0.0).after_batch()
    assert written_in_metadata(store.get_metadata()) == N_PHOTOS


def test_a_record_that_is_not_a_count_is_ignored() -> None:
    assert written_in_metadata({}) is None
    assert written_in_metadata({"photoseek": {"points_written": "7"}}) is None
    assert written_in_metadata({"photoseek": {"points_written": -1}}) is None
    assert written_in_metadata({"photoseek": {"points_written": True}}) is None
    assert written_in_metadata({"photoseek": {"points_written": 7}}) == 7
