"""Ingest for an encoder that resizes on its device: decode workers hand whole pictures.

The encoder runs on the CPU here with ``resize_on_device=True``: the same code a CUDA GPU runs.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from httpserver import LoopbackServer
from photo_datasets import bad_images, photo_jpeg, rotated_jpeg
from photoseek.config.settings import IngestSettings, QdrantSettings
from photoseek.errors import PermanentItemError
from photoseek.ingest import decode
from photoseek.ingest.decode import DecodePool, decode_frame
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.null_encoder import NullEncoder
from photoseek.ingest.pipeline import Pipeline, PipelineOptions
from photoseek.ingest.sources.folder import FolderSource
from photoseek.ingest.sources.record import SourceRecord
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore

MAX_PIXELS = 50_000_000


def test_a_frame_is_the_whole_upright_picture() -> None:
    data = photo_jpeg(640, 427, seed=1, quality=85)
    frame = decode_frame(data, 224, MAX_PIXELS)
    with Image.open(io.BytesIO(data)) as image:
        assert np.array_equal(frame, np.asarray(image.convert("RGB")))
    assert frame.flags["C_CONTIGUOUS"]
    with Image.open(io.BytesIO(rotated_jpeg())) as image:
        upright = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    assert np.array_equal(decode_frame(rotated_jpeg(), 32, MAX_PIXELS), upright)


def test_a_big_jpeg_is_drafted_and_a_huge_picture_cropped_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    drafted = decode_frame(photo_jpeg(1920, 1280, seed=2), 224, MAX_PIXELS)
    assert drafted.shape == (320, 480, 3)  # decoded at 1/4: the short side stays at least 224
    monkeypatch.setattr(decode, "MAX_FRAME_PIXELS", 100_000)
    png = io.BytesIO()
    Image.fromarray(np.full((500, 400, 3), 90, dtype=np.uint8)).save(png, "PNG")
    assert decode_frame(png.getvalue(), 224, MAX_PIXELS).shape == (224, 224, 3)


@pytest.mark.parametrize("name", sorted(bad_images()))
def test_bad_pictures_fail_with_the_same_reasons(name: str) -> None:
    data, reason = bad_images()[name]
    with pytest.raises(PermanentItemError) as caught:
        decode_frame(data, 224, MAX_PIXELS)
    assert caught.value.reason == reason


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_a_pool_without_resize_hands_frames(kind: str) -> None:
    data = photo_jpeg(320, 240, seed=3)
    with DecodePool(224, MAX_PIXELS, workers=2, kind=kind, resize=False) as pool:  # type: ignore[arg-type]
        assert pool.submit(data).result(timeout=60).shape == (240, 320, 3)
        with pytest.raises(PermanentItemError):
            pool.submit(b"not a picture").result(timeout=60)


def _pipeline(source: Any, encoder: Any, tmp_path: Path, **ingest: Any) -> tuple[Any, EdgeStore]:
    store = EdgeStore(QdrantSettings(path=tmp_path / "qdrant", collection="photos"))
    store.ensure_collection(encoder.dimension)
    report = Pipeline(
        source,
        store=store,
        encoder=encoder,
        ingest=IngestSettings(decode_workers=2, **ingest),
        ledger=Ledger(tmp_path / "failures.jsonl"),
        options=PipelineOptions(batch_size=4, optimize=False),
    ).run()
    return report, store


@pytest.fixture(scope="module")
def clip_224(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP with ViT-B/32's input (224 px, 32-px patches): 640-px pictures are
    scaled by about 2, as with the real model (a 32-px input would scale them by 20)."""
    from tiny_clip import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip-224"), dim=16, image_size=224, patch_size=32, seed=2)


def test_the_pipeline_hands_frames_to_an_encoder_that_resizes(clip_224: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    sizes = [(640, 427), (427, 640), (640, 427), (200, 150), (640, 427)]
    for index, (width, height) in enumerate(sizes):
        (folder / f"p{index}.jpg").write_bytes(photo_jpeg(width, height, seed=index, quality=85))
    (folder / "broken.jpg").write_bytes(photo_jpeg(64, 48)[:100])
    encoder = ClipEncoder(str(clip_224), device="cpu", resize_on_device=True, batch_size=4)
    report, store = _pipeline(FolderSource(folder), encoder, tmp_path)
    try:
        assert report.indexed == len(sizes) and report.failures_by_reason["truncated"] == 1
        for index in range(len(sizes)):
            data = (folder / f"p{index}.jpg").read_bytes()
            expected = encoder.encode_images([Image.open(io.BytesIO(data))])[0]
            record = store.retrieve([point_id(f"p{index}.jpg", "folder")], with_vectors=True)[0]
            assert record.vector is not None
            assert float(np.asarray(record.vector) @ expected) >= 0.999, f"photo {index} lost its own vector"
    finally:
        store.close()


@pytest.mark.parametrize("on_device", [False, True])
def test_the_null_encoder_runs_the_pipeline_from_the_loopback_server(on_device: bool, tmp_path: Path) -> None:
    encoder = NullEncoder(dimension=8, image_size=32, resizes_on_device=on_device)
    with LoopbackServer() as server:
        records = []
        for index in range(6):
            server.image(f"/img/{index}.jpg", photo_jpeg(96, 64, seed=index))
            url = f"{server.base_url}/img/{index}.jpg"
            records.append(SourceRecord(point_id(f"n{index}"), f"n{index}", "unsplash", url=url))
        report, store = _pipeline(records, encoder, tmp_path, allowed_hosts="127.0.0.1")
    try:
        assert report.indexed == 6 and store.count() == 6
        vectors = np.stack([np.asarray(r.vector) for r in store.retrieve([r.id for r in records], with_vectors=True)])
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    finally:
        store.close()


def test_the_null_encoder_checks_shapes() -> None:
    encoder = NullEncoder(dimension=8, image_size=32)
    assert encoder.encode_pixels(np.zeros((3, 32, 32, 3), dtype=np.uint8)).shape == (3, 8)
    with pytest.raises(ValueError, match="uint8"):
        encoder.encode_pixels(np.zeros((3, 24, 24, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        encoder.encode_frames([np.zeros((5, 5), dtype=np.uint8)])
