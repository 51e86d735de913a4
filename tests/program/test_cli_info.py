"""``photoseek info``: the collection's description, read through the store protocol alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from photoseek.cli import main
from photoseek.config.settings import QdrantSettings
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
