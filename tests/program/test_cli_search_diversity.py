"""``photoseek search --collapse-duplicates / --diversity`` with the tiny CLIP on Qdrant Edge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from photoseek.cli import main
from photoseek.config import ModelSettings, QdrantSettings
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.identity import record_identity
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore

COLOURS = {"red": (220, 20, 20), "red-copy": (220, 20, 20), "blue": (30, 40, 220), "green": (20, 200, 40)}


@pytest.fixture
def collection(tmp_path: Path, tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    encoder = ClipEncoder.from_settings(ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu"))  # type: ignore[call-arg]
    pictures = [Image.new("RGB", (48, 36), c) for c in COLOURS.values()]
    pictures[0].save(tmp_path / "query.png")
    store = EdgeStore(QdrantSettings(path=tmp_path / "qdrant", collection="photos"))  # type: ignore[call-arg]
    store.ensure_collection(encoder.dimension)
    record_identity(store, encoder)
    store.upsert([point_id(n) for n in COLOURS], encoder.encode_images(pictures), [{"photo_id": n} for n in COLOURS])
    store.close()
    for name, value in {
        "PHOTOSEEK_QDRANT__PATH": str(tmp_path / "qdrant"),
        "PHOTOSEEK_QDRANT__COLLECTION": "photos",
        "PHOTOSEEK_MODEL__IMAGE": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__TEXT": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__DEVICE": "cpu",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "query.png"


def _ids(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(argv) == 0
    return [json.loads(line)["photo_id"] for line in capsys.readouterr().out.splitlines()]


def test_collapse_duplicates_drops_the_copy(collection: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = _ids(["search", "--image", str(collection), "--json", "--exact"], capsys)
    assert set(plain[:2]) == {"red", "red-copy"} and len(plain) == 4
    collapsed = _ids(["search", "--image", str(collection), "--json", "--exact", "--collapse-duplicates"], capsys)
    assert len(collapsed) == 3 and len({"red", "red-copy"} & set(collapsed)) == 1
    stricter = ["search", "--image", str(collection), "--json", "--collapse-threshold", "0.999"]
    assert len(_ids(stricter, capsys)) == 3
    both = ["search", "--image", str(collection), "--json", "--collapse-duplicates", "--collapse-threshold", "0.999"]
    assert _ids(both, capsys) == _ids(stricter, capsys)


def test_collapse_duplicates_before_the_query_keeps_the_query(
    collection: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The flag takes no value: the query text after it is the query, not a threshold.
    collapsed = _ids(["search", "--collapse-duplicates", "a red picture", "--json", "--exact"], capsys)
    plain = _ids(["search", "a red picture", "--json", "--exact"], capsys)
    assert len(plain) == 4 and len(collapsed) == 3
    assert collapsed == [hit for hit in plain if hit in collapsed]  # the same order, one copy left out
    assert len({"red", "red-copy"} & set(collapsed)) == 1
    assert main(["search", "a red picture", "--collapse-threshold", "2"]) == 1
    assert "collapse" in capsys.readouterr().err


def test_diversity_reorders_within_the_candidates(collection: Path, capsys: pytest.CaptureFixture[str]) -> None:
    diverse = _ids(["search", "--image", str(collection), "--json", "--diversity", "0.2", "--candidates", "4"], capsys)
    assert sorted(diverse) == sorted(COLOURS) and diverse[1] != "red-copy" and diverse[1] != "red"
    assert main(["search", "--image", str(collection), "--diversity", "2"]) == 1
    assert "diversity" in capsys.readouterr().err
