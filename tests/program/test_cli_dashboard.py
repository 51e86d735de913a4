"""``photoseek dashboard``: rewrites the dashboard's picture field over an existing collection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoseek.cli import main
from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store import EdgeStore

IDS = [point_id("a", "unsplash"), point_id("b.jpg", "folder")]
PAYLOADS = [{"source": "unsplash", "photo_id": "a"}, {"source": "folder", "photo_id": "b.jpg", "path": "/p/b.jpg"}]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded collection of one Unsplash and one folder point, without the picture field."""
    folder = tmp_path / "qdrant"
    with EdgeStore(QdrantSettings(path=folder, collection="photos")) as store:
        store.ensure_collection(4)
        store.upsert(IDS, np.eye(2, 4, dtype=np.float32), PAYLOADS)
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(folder))
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "photos")
    monkeypatch.delenv("PHOTOSEEK_QDRANT__URL", raising=False)
    monkeypatch.delenv("PHOTOSEEK_SERVE__PUBLIC_URL", raising=False)
    return folder


def _payloads(folder: Path) -> list[dict[str, object]]:
    with EdgeStore(QdrantSettings(path=folder, collection="photos")) as store:
        return [record.payload for record in store.retrieve(IDS)]


def test_sets_changes_and_clears_the_field(data: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["dashboard", "--public-url", "https://photos.example.org/"]) == 0
    assert "2 of 2 points rewritten" in capsys.readouterr().out
    assert _payloads(data) == [
        payload | {"picture_url": f"https://photos.example.org/v1/photos/{point}/thumbnail.jpg"}
        for point, payload in zip(IDS, PAYLOADS, strict=True)
    ]
    monkeypatch.setenv("PHOTOSEEK_SERVE__PUBLIC_URL", "http://localhost:8000")
    assert main(["dashboard"]) == 0  # the setting is the default address
    assert [p["picture_url"] for p in _payloads(data)] == [
        f"http://localhost:8000/v1/photos/{point}/thumbnail.jpg" for point in IDS
    ]
    assert main(["dashboard", "--clear"]) == 0
    assert _payloads(data) == PAYLOADS


def test_refuses_without_an_address_or_a_collection(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["dashboard"]) == 1
    assert "PHOTOSEEK_SERVE__PUBLIC_URL" in capsys.readouterr().err
    assert main(["dashboard", "--public-url", "photos.example.org"]) == 1
    assert "PHOTOSEEK_SERVE__PUBLIC_URL" in capsys.readouterr().err
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "other")
    assert main(["dashboard", "--public-url", "http://h"]) == 1
    assert "'other' does not exist" in capsys.readouterr().err
    assert _payloads(data) == PAYLOADS


def test_ingest_writes_the_field_for_the_configured_address(
    tmp_path: Path, tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(3):
        Image.new("RGB", (32, 24), (80 * index, 40, 200)).save(photos / f"p{index}.png")
    folder = tmp_path / "qdrant"
    for name, value in {
        "QDRANT__PATH": str(folder), "QDRANT__COLLECTION": "photos", "MODEL__IMAGE": str(tiny_clip_dir),
        "MODEL__TEXT": str(tiny_clip_dir), "MODEL__DEVICE": "cpu", "INGEST__FAILURES_FILE": str(tmp_path / "f.jsonl"),
        "SERVE__PUBLIC_URL": "http://localhost:8000/",
    }.items():
        monkeypatch.setenv(f"PHOTOSEEK_{name}", value)
    monkeypatch.delenv("PHOTOSEEK_QDRANT__URL", raising=False)
    assert main(["ingest", "folder", str(photos), "--no-progress"]) == 0, capsys.readouterr()
    with EdgeStore(QdrantSettings(path=folder, collection="photos")) as store:
        records, _ = store.scroll(limit=10)
    assert len(records) == 3
    assert {r.payload["picture_url"] for r in records} == {
        f"http://localhost:8000/v1/photos/{r.id}/thumbnail.jpg" for r in records
    }
