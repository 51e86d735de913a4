"""Decoding: every mode to the right RGB, EXIF rotation, animations, bad inputs, draft accuracy."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photo_datasets import bad_images, mode_images, photo_jpeg, rotated_jpeg
from photoseek.errors import PermanentItemError
from photoseek.ingest.decode import DecodePool, decode_image
from photoseek.retrieval.preprocess import clip_resize_crop

SIZE = 32
MAX_PIXELS = 50_000_000
MODES = mode_images()
BAD = bad_images()


@pytest.mark.parametrize("name", sorted(MODES))
def test_every_mode_decodes_to_the_right_rgb(name: str) -> None:
    case = MODES[name]
    pixels = decode_image(case.data, SIZE, MAX_PIXELS)
    assert pixels.shape == (SIZE, SIZE, 3) and pixels.dtype == np.uint8
    centre = pixels[SIZE // 2, SIZE // 2].astype(int)
    assert np.abs(centre - np.array(case.expected)).max() <= case.tolerance, (name, centre, case.expected)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_inputs_fail_with_their_reason(name: str) -> None:
    data, reason = BAD[name]
    with pytest.raises(PermanentItemError) as caught:
        decode_image(data, SIZE, MAX_PIXELS)
    assert caught.value.reason == reason


def test_pixel_limit_is_the_callers(tmp_path: Path) -> None:
    data = photo_jpeg(400, 300)
    assert decode_image(data, SIZE, 120_000).shape == (SIZE, SIZE, 3)
    with pytest.raises(PermanentItemError) as caught:
        decode_image(data, SIZE, 119_999)
    assert caught.value.reason == "too_many_pixels"


def test_exif_orientation_is_applied() -> None:
    pixels = decode_image(rotated_jpeg(), SIZE, MAX_PIXELS)
    top, bottom = pixels[1, SIZE // 2].astype(int), pixels[-2, SIZE // 2].astype(int)
    assert top[0] > 200 and top[2] < 60, f"top should be red, got {top}"
    assert bottom[2] > 200 and bottom[0] < 60, f"bottom should be blue, got {bottom}"


def test_files_decode_like_bytes(tmp_path: Path) -> None:
    data = photo_jpeg(300, 200, seed=1)
    (tmp_path / "a.jpg").write_bytes(data)
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert np.array_equal(decode_image(tmp_path / "a.jpg", SIZE, MAX_PIXELS), decode_image(data, SIZE, MAX_PIXELS))
    with pytest.raises(PermanentItemError) as caught:
        decode_image(tmp_path / "empty.jpg", SIZE, MAX_PIXELS)
    assert caught.value.reason == "empty_file"


def test_local_files_that_cannot_be_read_say_why(tmp_path: Path) -> None:
    """A missing file and a folder are the file system's failures, not a corrupt picture; a
    folder is never opened."""
    with pytest.raises(PermanentItemError) as missing:
        decode_image(tmp_path / "gone.jpg", SIZE, MAX_PIXELS)
    assert missing.value.reason == "file_not_found"
    (tmp_path / "album.jpg").mkdir()
    with pytest.raises(PermanentItemError) as folder:
        decode_image(tmp_path / "album.jpg", SIZE, MAX_PIXELS)
    assert folder.value.reason == "not_a_regular_file"


@pytest.mark.parametrize("width,height", [(1080, 720), (640, 427), (1080, 1620), (1920, 1280)])
def test_draft_matches_a_full_decode_closely(width: int, height: int) -> None:
    data = photo_jpeg(width, height, seed=width)
    fast = decode_image(data, 224, MAX_PIXELS).astype(np.int16)
    full = clip_resize_crop(Image.open(io.BytesIO(data)).convert("RGB"), 224).astype(np.int16)
    mean_abs_diff = np.abs(fast - full).mean()
    assert mean_abs_diff < 1.5, f"draft decode drifts {mean_abs_diff:.2f} levels from a full decode"


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_pool_returns_pixels_and_reasons(kind: str) -> None:
    good = photo_jpeg(120, 90, seed=2)
    with DecodePool(SIZE, MAX_PIXELS, workers=2, kind=kind) as pool:  # type: ignore[arg-type]
        ok = pool.submit(good)
        bad = pool.submit(BAD["truncated_jpeg"][0])
        assert np.array_equal(ok.result(timeout=30), decode_image(good, SIZE, MAX_PIXELS))
        with pytest.raises(PermanentItemError) as caught:
            bad.result(timeout=30)
    assert caught.value.reason == "truncated"
