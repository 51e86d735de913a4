"""Field warnings end to end: photos with odd values are indexed, warnings are listed, counted, never retried."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from photo_datasets import write_lite_dataset
from photoseek.config.settings import IngestSettings, ModelSettings, QdrantSettings
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.pipeline import Pipeline, PipelineOptions
from photoseek.ingest.report import IngestReport
from photoseek.ingest.sources.unsplash import UnsplashSource
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore


@pytest.fixture(scope="module")
def encoder(tiny_clip_dir: Path) -> ClipEncoder:
    return ClipEncoder.from_settings(ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu"))


def _run(source: UnsplashSource, store: EdgeStore, encoder: ClipEncoder, ledger: Path, **options: Any) -> IngestReport:
    store.ensure_collection(encoder.dimension)
    pipeline = Pipeline(
        source, store=store, encoder=encoder, ingest=IngestSettings(), ledger=Ledger(ledger),
        options=PipelineOptions(batch_size=8, **options),
    )
    return pipeline.run()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _warned(path: Path) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for line in _lines(path):
        if line.get("severity") == "warning":
            found.setdefault(line["ref"], set()).add((line["field"], line["reason"]))
    return found


def test_odd_values_cost_fields_not_photos_and_warnings_are_never_retried(tmp_path: Path, encoder: ClipEncoder) -> None:
    images = tmp_path / "images"
    data = write_lite_dataset(tmp_path / "lite", n_photos=14, images_dir=images, bom=True)
    failures = tmp_path / "failures.jsonl"
    store = EdgeStore(QdrantSettings(path=tmp_path / "q", collection="photos"))
    try:
        report = _run(UnsplashSource(data.dir, images), store, encoder, failures)
        assert report.indexed == len(data.photo_ids), "every photo is indexed, odd values or not"
        assert report.failed == len(data.bad_rows) == report.failures_by_reason["bad_row"]
        n_warnings = sum(len(found) for found in data.warnings.values())
        assert report.warnings == n_warnings
        assert report.warnings_by_field[("photo_location_latitude/photo_location_longitude", "swapped")] == 1
        assert report.warnings_by_field[("exif_focal_length", "not_a_number")] == 1
        as_json = report.to_json()
        assert as_json["warnings_by_field"]["photo_width"] == {"not_a_number": 1}
        assert "field warnings (the photos were kept)" in report.summary()
        # Each warning is in the failures file with its file:line, the column and the photo.
        assert _warned(failures) == data.warnings
        for line in _lines(failures):
            if line.get("severity") == "warning" and line["ref"].startswith("photos."):
                assert line["id"] == point_id(line["photo_id"]) and line["stage"] == "source"
        stored = {point_id(p): p for p in data.photo_ids}
        for record in store.retrieve(list(stored)):
            assert record.payload == {**data.expected[stored[record.id]],
                                      "path": str((images / f"{stored[record.id]}.jpg").resolve())}
        assert Ledger(failures).retry_ids() == set(), "a warning is not a failure to retry"

        again = _run(UnsplashSource(data.dir, images), store, encoder, failures)
        assert (again.indexed, again.skipped_existing, again.failed) == (0, len(data.photo_ids), len(data.bad_rows))
        assert again.warnings == n_warnings and _warned(failures) == data.warnings
        assert all(line["attempts"] == 1 for line in _lines(failures) if line.get("severity") == "warning")

        write_lite_dataset(tmp_path / "lite", n_photos=14, images_dir=images, malformed=False)  # values fixed
        _run(UnsplashSource(data.dir, images, limit=5), store, encoder, failures)
        assert _warned(failures) == data.warnings, "a run cut short did not read every row again"
        fixed = _run(UnsplashSource(data.dir, images), store, encoder, failures)
        assert fixed.warnings == 0 and _warned(failures) == {}
    finally:
        store.close()
