"""``photoseek info``: the collection's description, read through the store protocol alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from photo_datasets import jpeg_bytes, photo_color
from photoseek.cli import main
from photoseek.config.settings import IngestSettings, ModelSettings, QdrantSettings
from photoseek.ingest import run_ingest
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.sources.folder import FolderSource
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.identity import ModelIdentity
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store import METADATA_KEY, EdgeStore


@pytest.fixture
def collection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded collection of two 4-d points, built by a recorded image model."""
    data = tmp_path / "qdrant"
    model = ModelIdentity(name="test/tiny-clip", dimension=4, fingerprint="abc123")
    with EdgeStore(QdrantSettings(path=data, collection="photos")) as store:
        store.ensure_collection(4, {METADATA_KEY: {"image_model": model.to_record()}})
        store.upsert([point_id("a"), point_id("b")], np.eye(2, 4, dtype=np.float32), [{"n": 1}, {"n": 2}])
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(data))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "photos")
    monkeypatch.delenv("PHOTOSEEK_QDRANT__URL", raising=False)
    return data


def test_info_names_the_model_that_built_the_collection(collection: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "image model     test/tiny-clip (4-d)" in out
    assert "points          2" in out and f"backend         embedded ({collection / 'photos'})" in out


def test_info_as_json(collection: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["points_count"], report["vector_size"], report["backend"]) == (2, 4, "embedded")
    assert report["metadata"][METADATA_KEY]["image_model"]["name"] == "test/tiny-clip"


def test_info_of_a_missing_collection_says_which_command_creates_it(
    collection: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "other")
    assert main(["info"]) == 1
    assert "collection 'other' does not exist in the embedded store" in capsys.readouterr().err


def test_info_warns_when_points_photoseek_wrote_are_missing_until_a_repair(
    tmp_path: Path, tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(5):
        (photos / f"p{index}.jpg").write_bytes(jpeg_bytes(48, 40, photo_color(index)))
    encoder = ClipEncoder.from_settings(
        ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu", batch_size=4)
    )
    data = tmp_path / "qdrant"
    with EdgeStore(QdrantSettings(path=data, collection="photos")) as store:
        run_ingest(
            FolderSource(photos),
            store=store,
            encoder=encoder,
            ingest=IngestSettings(decode_workers=1),
            ledger=Ledger(tmp_path / "failures.jsonl"),
        )
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(data))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "photos")
    monkeypatch.delenv("PHOTOSEEK_QDRANT__URL", raising=False)

    assert main(["info"]) == 0
    captured = capsys.readouterr()
    assert "points written  5" in captured.out and "missing" not in captured.err  # a clean collection

    with EdgeStore(QdrantSettings(path=data, collection="photos")) as store:
        store.delete([point_id("p0.jpg", "folder"), point_id("p2.jpg", "folder"), point_id("p3.jpg", "folder")])
    assert main(["info"]) == 0
    captured = capsys.readouterr()
    assert "points          2" in captured.out
    assert "holds 2 points but photoseek's records say 5 were written: 3 are missing" in captured.err
    assert "photoseek check" in captured.err and "re-encodes the missing ones" in captured.err

    assert main(["check"]) == 1  # the points left are whole, but three are gone
    assert "3 are missing" in capsys.readouterr().out
    assert main(["check", "--repair"]) == 0
    assert "the record is set to what is left" in capsys.readouterr().out
    assert main(["info"]) == 0
    captured = capsys.readouterr()
    assert "points written  2" in captured.out and "missing" not in captured.err
    assert main(["check"]) == 0
