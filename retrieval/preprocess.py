"""CLIP image preprocessing to uint8: resize the shortest side (bicubic), centre crop.

Used by the encoder's fast image path and by ingest's decode workers, so that the two can
never drift apart. Mean/std normalisation is left to the encoder, on the device.

Every step follows the Hugging Face ``CLIPImageProcessor`` (PIL backend), so that the fast
path gives the vectors ``SentenceTransformer.encode(images)`` gives: transparency is composited
onto white, the long side is truncated (not rounded) after scaling, Pillow's bicubic filter
runs without ``reducing_gap``, and the crop offsets round down. One step is done differently
for speed: only the part of the image the crop keeps is resampled. That is a third less work
on a 3:2 photo, and a 1 x 5000 strip no longer becomes a 224 x 1,120,000 intermediate. Pillow
takes that box in single precision, which moves a filter weight a little: a pixel may come
out a level or two (of 255) away from the processor's, a few more at a sharp edge; on average
a hundredth of a level (``tests/retrieval/test_preprocess.py``).

When torch is installed (it is wherever the encoder runs) the common case, an 8-bit RGB photo
scaled down, is resampled by torch's uint8 antialiased bicubic kernel instead: the same filter
as Pillow's (a = -0.5, the same fixed-point rounding), vectorised, about 2.5x faster than
Pillow's even though it resamples the whole picture before the crop (measured on a 640x427
JPEG rendition: 1.1 ms against 2.4 ms of one core) and within a hundredth of a level of the
processor on average. Pillow's box path stays for the rest: pictures scaled by less than
half their pixels (where the kernels' roundings differ by a quarter of a level on a tiny
picture, and there is little to gain), other modes, and strips whose whole resized picture
would be much larger than the crop.
"""

from __future__ import annotations

import threading
from types import ModuleType

import numpy as np
from PIL import Image

# Modes with more than 8 bits per sample; Pillow's own convert() clips them instead of scaling.
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
# The torch kernel resizes the whole picture, then the crop is cut: only worth it while the
# resized picture is at most this many times the crop (a 3:2 photo is 1.5 times).
_MOST_RESIZED_PER_CROP = 4
_torch: ModuleType | None = None
_torch_checked = False
_torch_lock = threading.Lock()


def _torch_module() -> ModuleType | None:
    """torch when it can be imported (once), else None: the library works without it."""
    global _torch, _torch_checked
    if not _torch_checked:
        with _torch_lock:
            if not _torch_checked:
                found: ModuleType | None
                try:
                    import torch

                    found = torch
                except ImportError:
                    found = None
                _torch, _torch_checked = found, True
    return _torch


def one_torch_thread() -> None:
    """Run torch's CPU kernels on one thread in the calling thread (decode workers call it).

    torch's thread count is per thread: each decode worker already is one of a pool sized to
    the cores, and a resize that spread over every core from every worker would oversubscribe
    them. The encoder's thread keeps its own count.
    """
    torch = _torch_module()
    if torch is not None:
        torch.set_num_threads(1)


def _torch_resize(image: Image.Image, width: int, height: int) -> np.ndarray | None:
    """``image`` (RGB) resized to ``width`` x ``height`` by torch's uint8 antialiased bicubic
    kernel, as a (height, width, 3) array; None without torch."""
    torch = _torch_module()
    if torch is None:
        return None
    # np.array: a writable copy (np.asarray of a Pillow image is read-only, and torch warns).
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8))
    with torch.inference_mode():
        # A channels-last view: the vectorised uint8 kernel works on that layout, without a copy.
        resized = torch.nn.functional.interpolate(
            pixels.permute(2, 0, 1)[None], size=(height, width), mode="bicubic", antialias=True, align_corners=False
        )
        out: np.ndarray = resized[0].permute(1, 2, 0).numpy()
    return out


def to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greyscale scaled into 0..255 (Pillow would clip at 255).

    Ingest and query images both pass through here before :func:`to_rgb`; an image of any
    other mode is returned as it is.
    """
    if image.mode not in _WIDE_MODES:
        return image
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
        uint8 array of shape (size, size, 3), each value within a few levels of the Hugging
        Face processor's (see the module docstring). An image smaller than the crop after resizing
        (only possible when ``shortest_edge < size``) is padded with black, as the processor does.
    """
    edge = size if shortest_edge is None else shortest_edge
    image = to_rgb(image)
    width, height = image.size
    new_width, new_height = resized_size(width, height, edge)
    if new_width >= size and new_height >= size:
        left = (new_width - size) // 2
        top = (new_height - size) // 2
        if (new_width, new_height) == (width, height):
            if (left, top, width, height) != (0, 0, size, size):
                image = image.crop((left, top, left + size, top + size))
            return np.asarray(image, dtype=np.uint8)
        if (
            image.mode == "RGB"
            and 2 * new_width * new_height <= width * height
            and new_width * new_height <= _MOST_RESIZED_PER_CROP * size * size
        ):
            resized = _torch_resize(image, new_width, new_height)
            if resized is not None:
                return np.ascontiguousarray(resized[top : top + size, left : left + size])
        # Resample only the part the crop keeps (see the module docstring): Pillow centres each
        # output pixel of a box where the full resize puts it, and the filter reads the source
        # pixels around the box as it does there.
        x_scale, y_scale = width / new_width, height / new_height
        box = (left * x_scale, top * y_scale, (left + size) * x_scale, (top + size) * y_scale)
        return np.asarray(image.resize((size, size), Image.Resampling.BICUBIC, box=box), dtype=np.uint8)
    if (new_width, new_height) != (width, height):
        image = image.resize((new_width, new_height), Image.Resampling.BICUBIC)
    width, height = new_width, new_height
    pixels = np.asarray(image, dtype=np.uint8)
    out = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = max(0, (size - height + 1) // 2), max(0, (size - width + 1) // 2)
    src_top, src_left = max(0, (height - size) // 2), max(0, (width - size) // 2)
    h, w = min(height, size), min(width, size)
    out[top : top + h, left : left + w] = pixels[src_top : src_top + h, src_left : src_left + w]
    return out
