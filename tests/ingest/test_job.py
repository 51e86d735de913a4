"""``run_ingest``: one job from a folder of photos into a real Qdrant Edge store, with the model identity guard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from photo_datasets import jpeg_bytes
from photoseek.config.settings import IngestSettings, ModelSettings, Settings
from photoseek.errors import ModelIdentityError, ModelMismatchError
from photoseek.ingest import failures_path, run_ingest
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.pipeline import Pipeline
from photoseek.ingest.report import IngestReport
from photoseek.ingest.sources.folder import FolderSource
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.identity import stored_identity
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore

N_PHOTOS = 6


def _encoder(image: Path, text: Path | None = None) -> ClipEncoder:
    # The encoder may pair any two models; whether a job accepts the pair is run_ingest's call.
    return ClipEncoder.from_settings(
        ModelSettings(
            image=str(image), text=str(text or image), device="cpu", batch_size=4, allow_unpaired_text_model=True
        )
    )


@pytest.fixture(scope="module")
def encoder(tiny_clip_dir: Path) -> ClipEncoder:
    return _encoder(tiny_clip_dir)


def _ingest(photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path, **options: Any) -> IngestReport:
    return run_ingest(
        FolderSource(photos),
        store=store,
        encoder=encoder,
        ingest=IngestSettings(decode_workers=2),
        ledger=Ledger(tmp_path / "failures.jsonl"),
        **options,
    )


def test_ingest_creates_the_collection_records_the_model_and_writes_every_photo(
    photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path
) -> None:
    assert not store.collection_exists()
    report = _ingest(photos, store, encoder, tmp_path)
    assert (report.seen, report.indexed, report.failed, report.stopped_early) == (N_PHOTOS, N_PHOTOS, 0, False)
    assert store.count() == N_PHOTOS
    assert stored_identity(store) == encoder.identity()
    records = store.retrieve([point_id(f"p{i}.jpg", "folder") for i in range(N_PHOTOS)], with_vectors=True)
    assert len(records) == N_PHOTOS
    assert all(r.vector is not None and len(r.vector) == encoder.dimension for r in records)
    assert {r.payload["source"] for r in records} == {"folder"}


def test_a_rerun_ingests_nothing_new(photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path) -> None:
    _ingest(photos, store, encoder, tmp_path)
    before = {r.id: r.vector for r in store.scroll(limit=100, with_vectors=True)[0]}
    again = _ingest(photos, store, encoder, tmp_path)
    assert (again.seen, again.indexed, again.skipped_existing, again.failed) == (N_PHOTOS, 0, N_PHOTOS, 0)
    after = {r.id: r.vector for r in store.scroll(limit=100, with_vectors=True)[0]}
    assert after.keys() == before.keys() and len(after) == N_PHOTOS
    assert all((after[key] == before[key]).all() for key in after)  # type: ignore[union-attr]


def test_a_collection_built_by_another_model_is_refused(
    photos: Path, store: EdgeStore, encoder: ClipEncoder, other_tiny_clip_dir: Path, tmp_path: Path
) -> None:
    _ingest(photos, store, encoder, tmp_path)
    (photos / "new.jpg").write_bytes(jpeg_bytes(48, 40, (1, 2, 3)))
    other = _encoder(other_tiny_clip_dir)
    assert other.dimension == encoder.dimension  # only the identity record tells them apart
    with pytest.raises(ModelIdentityError, match="photos"):
        _ingest(photos, store, other, tmp_path)
    assert store.count() == N_PHOTOS
    assert stored_identity(store) == encoder.identity()


def test_a_text_model_of_another_space_is_refused_before_anything_is_created(
    photos: Path, store: EdgeStore, tiny_clip_dir: Path, other_tiny_clip_dir: Path, tmp_path: Path
) -> None:
    unpaired = _encoder(tiny_clip_dir, text=other_tiny_clip_dir)
    with pytest.raises(ModelMismatchError):
        _ingest(photos, store, unpaired, tmp_path)
    assert not store.collection_exists()
    # Allowed on purpose, the same models ingest.
    report = _ingest(photos, store, unpaired, tmp_path, allow_unpaired_text_model=True)
    assert report.indexed == N_PHOTOS


def test_a_collection_without_a_record_gets_one(
    photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path
) -> None:
    store.ensure_collection(encoder.dimension)  # made by hand: no model recorded
    assert stored_identity(store) is None
    _ingest(photos, store, encoder, tmp_path)
    assert stored_identity(store) == encoder.identity()


def test_while_running_wraps_the_run_and_can_stop_it(
    photos: Path, store: EdgeStore, encoder: ClipEncoder, tmp_path: Path
) -> None:
    events: list[str] = []

    @contextmanager
    def stop_at_once(pipeline: Pipeline) -> Iterator[None]:
        events.append("enter")
        pipeline.stop()  # what the CLI's SIGINT handler does
        yield
        events.append(f"exit stopping={pipeline.stopping}")

    report = _ingest(photos, store, encoder, tmp_path, while_running=stop_at_once)
    assert events == ["enter", "exit stopping=True"]
    assert report.stopped_early and report.indexed == 0
    # Stopped, not refused: the collection and its record are there for the next run.
    assert store.collection_exists() and stored_identity(store) == encoder.identity()
    assert _ingest(photos, store, encoder, tmp_path).indexed == N_PHOTOS


def test_shard_workers_get_their_own_failures_file(tmp_path: Path) -> None:
    paths = {failures_path(Settings(ingest={"shard": f"{k}/3"})) for k in range(3)}  # type: ignore[arg-type]
    assert len(paths) == 3 and failures_path(Settings()) not in paths
    assert failures_path(Settings()) == Path("data/qdrant/unsplash.failures.jsonl")
    chosen = tmp_path / "mine.jsonl"
    assert failures_path(Settings(ingest={"failures_file": chosen})) == chosen  # type: ignore[arg-type]
