"""The resize and crop on the encoder's device give the processor's pixels and vectors.

The device path runs on CUDA in production; the same function runs here with ``device="cpu"``
(the float kernel, as on the GPU, not the CPU path's uint8 one).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photo_datasets import photo_jpeg
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.encoder.device_resize import resize_crop_on_device

SIZE = 224
# (width, height) of pictures the device gets: the CDN's 640-px renditions both ways, a
# 1080-px one, one smaller than nothing needs (upscaled), one already the crop, a strip.
SHAPES = [(640, 427), (427, 640), (1080, 720), (300, 200), (224, 224), (2000, 60)]


def _frame(width: int, height: int, seed: int) -> np.ndarray:
    """A decoded photo-like JPEG: gradients and texture, as the ingest sees them."""
    with Image.open(io.BytesIO(photo_jpeg(width, height, seed=seed, quality=85))) as image:
        return np.array(image.convert("RGB"))


def _processor(size: int):  # type: ignore[no-untyped-def]
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    return CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}, do_normalize=False
    )


def _processor_levels(frame: np.ndarray, size: int) -> np.ndarray:
    """The Hugging Face processor's pixels, as levels of 255, [3, size, size]."""
    values = _processor(size)(images=Image.fromarray(frame), return_tensors="np")["pixel_values"][0]
    return np.asarray(values, dtype=np.float64) * 255


@pytest.mark.parametrize(("width", "height"), SHAPES)
def test_pixels_within_a_level_of_the_processor_on_average(width: int, height: int) -> None:
    frame = _frame(width, height, seed=width + height)
    ours = resize_crop_on_device([frame], SIZE, "cpu")[0].numpy().astype(np.float64)
    apart = np.abs(ours - _processor_levels(frame, SIZE))
    assert ours.shape == (3, SIZE, SIZE)
    assert ours.min() >= 0 and ours.max() <= 255 and np.array_equal(ours, np.round(ours))
    assert apart.mean() <= 1.0, f"{apart.mean():.3f} levels from the processor on average"
    assert apart.max() <= 8


def test_a_mixed_batch_keeps_its_order() -> None:
    frames = [_frame(w, h, seed=i) for i, (w, h) in enumerate([(640, 427), (427, 640), (640, 427), (300, 200)])]
    together = resize_crop_on_device(frames, SIZE, "cpu")
    for row, frame in enumerate(frames):
        alone = resize_crop_on_device([frame], SIZE, "cpu")[0]
        assert bool((together[row] == alone).all()), f"row {row} moved or changed in a mixed batch"


def test_a_crop_sized_picture_passes_through_unchanged() -> None:
    frame = _frame(SIZE, SIZE, seed=3)
    ours = resize_crop_on_device([frame], SIZE, "cpu")[0].permute(1, 2, 0).numpy()
    assert np.array_equal(ours, frame.astype(np.float32))


def test_wrong_frames_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        resize_crop_on_device([np.zeros((10, 10, 3), dtype=np.float32)], SIZE, "cpu")
    with pytest.raises(ValueError, match="height, width, 3"):
        resize_crop_on_device([np.zeros((10, 10), dtype=np.uint8)], SIZE, "cpu")


@pytest.fixture(scope="module")
def clip_224(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP with a 224-px input, as ViT-B/32 has (32-px patches)."""
    from tiny_clip import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip-224"), dim=16, image_size=SIZE, patch_size=32, seed=2)


def _exact_vectors(encoder: ClipEncoder, frames: list[np.ndarray]) -> np.ndarray:
    """The processor's own path: ``SentenceTransformer.encode`` on Pillow images."""
    vectors = encoder.image_model.encode([Image.fromarray(f) for f in frames], convert_to_numpy=True)
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def test_vectors_match_the_exact_path(clip_224: Path) -> None:
    encoder = ClipEncoder(str(clip_224), device="cpu", resize_on_device=True, batch_size=4)
    assert encoder.resizes_on_device
    frames = [_frame(w, h, seed=i) for i, (w, h) in enumerate(SHAPES)]
    ours = encoder.encode_frames(frames)
    exact = _exact_vectors(encoder, frames)
    cosines = (ours * exact).sum(axis=1)
    assert ours.shape == (len(frames), encoder.dimension)
    assert cosines.min() >= 0.999, f"lowest cosine to the exact path {cosines.min():.5f}"


def test_the_device_path_is_chosen_on_cuda_only(clip_224: Path) -> None:
    assert not ClipEncoder(str(clip_224), device="cpu").resizes_on_device
    assert ClipEncoder(str(clip_224), device="cpu", resize_on_device=True).resizes_on_device


@pytest.mark.gpu
def test_vectors_match_the_exact_path_on_cuda(clip_224: Path) -> None:
    encoder = ClipEncoder(str(clip_224), device="cuda", precision="fp32")
    assert encoder.resizes_on_device
    frames = [_frame(w, h, seed=i) for i, (w, h) in enumerate(SHAPES)]
    cpu = ClipEncoder(str(clip_224), device="cpu")
    cosines = (encoder.encode_frames(frames) * _exact_vectors(cpu, frames)).sum(axis=1)
    assert cosines.min() >= 0.999
