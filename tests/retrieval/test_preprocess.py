"""clip_resize_crop gives what the Hugging Face CLIP image processor gives, to a few levels of 255."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photoseek.retrieval.preprocess import clip_resize_crop, resized_size, to_rgb


def _picture(width: int, height: int, seed: int = 0) -> Image.Image:
    """A picture with structure (gradients) and detail (noise), so resampling errors show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], axis=-1)
    noise = rng.integers(-40, 40, size=(height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def _with_alpha(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    alpha = np.zeros(rgba.size[::-1], dtype=np.uint8)
    alpha[:, : rgba.size[0] // 2] = 255
    alpha[::3] = 90
    rgba.putalpha(Image.fromarray(alpha))
    return rgba


def _palette_with_transparency() -> Image.Image:
    image = _picture(70, 50, seed=3).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    image.info["transparency"] = 0
    return image


VARIED = {
    "portrait": _picture(300, 500),
    "landscape": _picture(640, 360, seed=1),
    "odd_ratio": _picture(33, 100, seed=2),
    "tiny": _picture(7, 5, seed=4),
    "huge": _picture(2600, 1700, seed=5),
    "exact": _picture(32, 32, seed=6),
    "grayscale": _picture(120, 90, seed=7).convert("L"),
    "alpha": _with_alpha(_picture(90, 120, seed=8)),
    "gray_alpha": _with_alpha(_picture(64, 48, seed=9)).convert("LA"),
    "palette_transparency": _palette_with_transparency(),
    "cmyk": _picture(80, 60, seed=10).convert("CMYK"),
}


def _processor(shortest_edge: int, crop: int):  # type: ignore[no-untyped-def]
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    return CLIPImageProcessorPil(
        size={"shortest_edge": shortest_edge}, crop_size={"height": crop, "width": crop}, do_normalize=False
    )


# Only the crop is resampled, and Pillow takes the crop's box in single precision: a filter
# weight may move a little, which shows as a level or two on these noisy pictures (a few more
# at a sharp black-white edge) and as nothing on average.
MOST_LEVELS_APART = 4
MEAN_LEVELS_APART = 0.25


def _levels_apart(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Per value, how many levels of 255 apart (the processor rescales to [0, 1] floats)."""
    return np.abs(ours.astype(np.float64) - theirs.transpose(1, 2, 0).astype(np.float64) * 255)


@pytest.mark.parametrize("name", sorted(VARIED))
def test_matches_the_clip_image_processor(name: str) -> None:
    image = VARIED[name]
    ours = clip_resize_crop(image, 32)
    theirs = _processor(32, 32)(images=image, return_tensors="np")["pixel_values"][0]
    assert ours.shape == (32, 32, 3) and ours.dtype == np.uint8
    apart = _levels_apart(ours, theirs)
    assert apart.max() <= MOST_LEVELS_APART + 1e-3
    assert apart.mean() < MEAN_LEVELS_APART


@pytest.mark.parametrize(("width", "height"), [(1080, 720), (720, 1080), (2155, 1497), (1218, 2412), (540, 360)])
def test_photo_sizes_stay_within_a_few_levels_at_224(width: int, height: int) -> None:
    image = _picture(width, height, seed=width)
    ours = clip_resize_crop(image, 224)
    theirs = _processor(224, 224)(images=image, return_tensors="np")["pixel_values"][0]
    apart = _levels_apart(ours, theirs)
    assert apart.max() <= MOST_LEVELS_APART + 1e-3
    assert apart.mean() < MEAN_LEVELS_APART


def test_a_thin_strip_is_resampled_only_where_the_crop_keeps() -> None:
    """A 1 x 20000 strip gives its centre, without a 224 x 4,480,000 intermediate on the way."""
    strip = np.zeros((20000, 1, 3), dtype=np.uint8)
    strip[9000:11000] = 255  # white in the middle tenth, black elsewhere
    out = clip_resize_crop(Image.fromarray(strip), 224)
    assert out.shape == (224, 224, 3)
    assert out.min() == 255  # the crop (rows 9950..10050 of the original) is all white


def test_crop_smaller_than_the_resize_is_centred() -> None:
    image = VARIED["landscape"]
    ours = clip_resize_crop(image, 24, shortest_edge=40)
    theirs = _processor(40, 24)(images=image, return_tensors="np")["pixel_values"][0]
    assert ours.shape == (24, 24, 3)
    assert _levels_apart(ours, theirs).max() <= MOST_LEVELS_APART + 1e-3


def test_crop_larger_than_the_resize_is_padded_like_the_processor() -> None:
    image = VARIED["portrait"]
    ours = clip_resize_crop(image, 32, shortest_edge=21)
    theirs = _processor(21, 32)(images=image, return_tensors="np")["pixel_values"][0]
    assert _levels_apart(ours, theirs).max() <= MOST_LEVELS_APART + 1e-3
    assert ours[:, :5].max() == 0  # black bars left and right


def test_long_side_is_truncated_not_rounded() -> None:
    # 32 * 299 / 100 = 95.68: rounding would give 96, the processor truncates to 95.
    assert resized_size(299, 100, 32) == (95, 32)
    assert resized_size(100, 299, 32) == (32, 95)
    assert resized_size(1000, 1499, 224) == (224, 335)


def test_transparent_pixels_become_white() -> None:
    image = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    assert np.asarray(to_rgb(image)).min() == 255
    opaque = Image.new("RGBA", (4, 4), (10, 20, 30, 255))
    assert tuple(np.asarray(to_rgb(opaque))[0, 0]) == (10, 20, 30)


def test_rgb_input_is_returned_as_is() -> None:
    image = VARIED["portrait"]
    assert to_rgb(image) is image
