"""Near-identical photos: near-copies made from one picture, ingested with the tiny CLIP, are grouped."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from qdrant_client import QdrantClient

from photoseek.cli import main
from photoseek.config.settings import QdrantSettings
from photoseek.errors import QueryError
from photoseek.retrieval.duplicates import DEFAULT_DUPLICATE_THRESHOLD, DuplicateGroup, find_duplicates
from photoseek.retrieval.filters import build_filter
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.store.server import ServerStore

# With the tiny random CLIP (16-d), near-copies score >= 0.93 with their original and distinct
# pictures <= 0.86 (measured), so 0.9 separates them there; real CLIP copies score higher.
TINY_THRESHOLD = 0.9


def scene(seed: int) -> Image.Image:
    """A distinct picture: a smooth colour field from an 8 x 6 random grid."""
    grid = (np.random.default_rng(seed).random((6, 8, 3)) * 255).astype(np.uint8)
    return Image.fromarray(grid).resize((320, 240), Image.Resampling.BICUBIC)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, tiny_clip_dir: Path) -> Iterator[dict[str, Any]]:
    """Two originals with a resized, a re-compressed and a slightly cropped copy each, and four
    distinct pictures, ingested by ``photoseek ingest folder`` into Qdrant Edge."""
    root = tmp_path_factory.mktemp("dupes")
    pictures = root / "pictures"
    pictures.mkdir()
    for seed in range(6):
        base = scene(seed)
        base.save(pictures / f"s{seed}.png")
        if seed < 2:
            base.resize((160, 120), Image.Resampling.LANCZOS).save(pictures / f"s{seed}-small.png")
            (pictures / f"s{seed}-q35.jpg").write_bytes(_jpeg(base, 35))
            base.crop((8, 6, 312, 234)).save(pictures / f"s{seed}-crop.png")
    env = {
        "PHOTOSEEK_QDRANT__PATH": str(root / "qdrant"),
        "PHOTOSEEK_QDRANT__COLLECTION": "photos",
        "PHOTOSEEK_MODEL__IMAGE": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__TEXT": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__DEVICE": "cpu",
        "PHOTOSEEK_INGEST__CACHE_DIR": str(root / "cache"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main(["ingest", "folder", str(pictures), "--no-progress"]) == 0
    yield {"root": root, "env": env}


@pytest.fixture(params=["edge", "local"])
def store(request: pytest.FixtureRequest, ingested: dict[str, Any]) -> Iterator[Any]:
    """The ingested collection in Qdrant Edge, or copied point for point into local mode."""
    edge = EdgeStore(QdrantSettings(path=ingested["root"] / "qdrant", collection="photos"))
    if request.param == "edge":
        yield edge
        edge.close()
        return
    records, _ = edge.scroll(limit=100, with_vectors=True)
    edge.close()
    local = ServerStore(QdrantSettings(collection="photos"), client=QdrantClient(":memory:"))
    local.ensure_collection(len(records[0].vector))
    local.upsert([r.id for r in records], np.stack([r.vector for r in records]), [r.payload for r in records])
    yield local
    local.client.close()


def _names(groups: list[DuplicateGroup]) -> list[set[str]]:
    return [{h.photo_id for h in g.hits} for g in groups]


def test_near_copies_are_grouped_and_distinct_pictures_are_not(store: Any) -> None:
    groups = find_duplicates(store, threshold=TINY_THRESHOLD)
    assert sorted(_names(groups), key=sorted) == [
        {"s0.png", "s0-small.png", "s0-q35.jpg", "s0-crop.png"},
        {"s1.png", "s1-small.png", "s1-q35.jpg", "s1-crop.png"},
    ]
    for group in groups:
        assert group.hits[0].score == pytest.approx(1.0)
        assert all(TINY_THRESHOLD - 0.05 <= h.score <= 1.0 + 1e-5 for h in group.hits)
        assert [h.score for h in group.hits[1:]] == sorted((h.score for h in group.hits[1:]), reverse=True)


def test_a_stricter_threshold_keeps_only_the_closest_copies(store: Any) -> None:
    # Resized and re-compressed copies stay above 0.99; the crops fall out.
    groups = find_duplicates(store, threshold=0.99)
    assert sorted(_names(groups), key=sorted) == [
        {"s0.png", "s0-small.png", "s0-q35.jpg"},
        {"s1.png", "s1-small.png", "s1-q35.jpg"},
    ]
    assert DEFAULT_DUPLICATE_THRESHOLD == 0.95


def test_a_filter_limits_the_photos_compared(store: Any) -> None:
    # Photos are compared only with photos that match the filter: leave out s0's copies by path.
    s0_ids = [point_id(name, "folder") for name in ("s0-small.png", "s0-q35.jpg", "s0-crop.png")]
    groups = find_duplicates(store, threshold=TINY_THRESHOLD, filter=build_filter(None, {}, exclude_ids=s0_ids))
    assert _names(groups) == [{"s1.png", "s1-small.png", "s1-q35.jpg", "s1-crop.png"}]


def test_invalid_arguments_are_refused(store: Any) -> None:
    for threshold in (0, 1.5, "high", True):
        with pytest.raises(QueryError, match="threshold"):
            find_duplicates(store, threshold=threshold)  # type: ignore[arg-type]


def test_the_command_lists_groups_as_json_and_writes_a_sheet_per_group(
    ingested: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name, value in ingested["env"].items():
        monkeypatch.setenv(name, value)
    assert main(["duplicates", "--threshold", str(TINY_THRESHOLD), "--json", "--grid", str(tmp_path / "sheets")]) == 0
    groups = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [g["size"] for g in groups] == [4, 4]
    assert {p["photo_id"] for p in groups[0]["photos"]} | {p["photo_id"] for p in groups[1]["photos"]} == {
        f"s{i}{suffix}" for i in (0, 1) for suffix in (".png", "-small.png", "-q35.jpg", "-crop.png")
    }
    sheets = sorted(p.name for p in (tmp_path / "sheets").iterdir())
    assert sheets == ["group-001.jpg", "group-002.jpg"]
    with Image.open(tmp_path / "sheets" / "group-001.jpg") as sheet:
        assert sheet.width > 0
    assert main(["duplicates", "--threshold", str(TINY_THRESHOLD), "--where", "source=unsplash"]) == 0
    assert "no near-identical photos" in capsys.readouterr().err
