"""CLIP image preprocessing to uint8: resize the shortest side (bicubic), centre crop.

Used by the encoder's fast image path and by ingest's decode workers, so that the two can
never drift apart. Mean/std normalisation is left to the encoder, on the device.

Every step follows the Hugging Face ``CLIPImageProcessor`` (PIL backend) exactly, so that
the fast path gives the vectors ``SentenceTransformer.encode(images)`` gives: transparency is
composited onto white, the long side is truncated (not rounded) after scaling, Pillow's
bicubic filter runs without ``reducing_gap``, and the crop offsets round down.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


# Modes with more than 8 bits per sample; Pillow's own convert() clips them instead of scaling.
WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def wide_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greyscale scaled into 0..255 (Pillow would clip at 255)."""
    pixels = np.asarray(image)
    if image.mode == "F":
        top = 1.0 if pixels.size and float(np.nanmax(pixels)) <= 1.0 else 255.0
        scaled = np.nan_to_num(pixels, nan=0.0) * (255.0 / top)
    elif image.mode == "I" and pixels.size and int(pixels.max()) <= 255:
        scaled = pixels.astype(np.float64)  # an 8-bit image widened to I
    else:
        scaled = pixels.astype(np.float64) / 257.0
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert to RGB the way CLIP's processor does: transparent parts become white.

    Args:
        image: an image in any Pillow mode (RGBA, LA, P with transparency, L, CMYK, I;16, ...).

    Returns:
        an RGB image (``image`` itself when it is RGB already).
    """
    if image.mode == "RGB":
        return image
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def resized_size(width: int, height: int, shortest_edge: int) -> tuple[int, int]:
    """(width, height) after scaling the shortest side to ``shortest_edge``, long side truncated."""
    if width <= height:
        return shortest_edge, int(shortest_edge * height / width)
    return int(shortest_edge * width / height), shortest_edge


def clip_resize_crop(image: Image.Image, size: int, *, shortest_edge: int | None = None) -> np.ndarray:
    """Resize ``image`` so its shortest side is ``shortest_edge``, centre crop to ``size`` x ``size``.

    Args:
        image: a Pillow image; converted to RGB first (see :func:`to_rgb`).
        size: the model's input (crop) size: 224 for ViT-B/32.
        shortest_edge: the size the shortest side is scaled to before cropping; defaults to
            ``size``, which is what CLIP models use.

    Returns:
        uint8 array of shape (size, size, 3). An image smaller than the crop after resizing
        (only possible when ``shortest_edge < size``) is padded with black, as the processor does.
    """
    edge = size if shortest_edge is None else shortest_edge
    image = to_rgb(image)
    width, height = image.size
    new_size = resized_size(width, height, edge)
    if new_size != (width, height):
        image = image.resize(new_size, Image.Resampling.BICUBIC)
    width, height = new_size
    if width >= size and height >= size:
        left = (width - size) // 2
        top = (height - size) // 2
        if (left, top, width, height) != (0, 0, size, size):
            image = image.crop((left, top, left + size, top + size))
        return np.asarray(image, dtype=np.uint8)
    pixels = np.asarray(image, dtype=np.uint8)
    out = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = max(0, (size - height + 1) // 2), max(0, (size - width + 1) // 2)
    src_top, src_left = max(0, (height - size) // 2), max(0, (width - size) // 2)
    h, w = min(height, size), min(width, size)
    out[top : top + h, left : left + w] = pixels[src_top : src_top + h, src_left : src_left + w]
    return out
