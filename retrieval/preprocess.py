"""CLIP image preprocessing to uint8: resize the shortest side (bicubic), centre crop.

Used by the encoder's fast image path and by ingest's decode workers, so that the two can
never drift apart. Mean/std normalisation is left to the encoder, on the device.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def clip_resize_crop(image: Image.Image, size: int) -> np.ndarray:
    """Resize ``image`` (RGB) so its shortest side is ``size``, centre crop to ``size`` x ``size``.

    Args:
        image: an RGB image.
        size: the model's input size (224 for ViT-B/32).

    Returns:
        uint8 array of shape (size, size, 3).
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    short = min(width, height)
    if short != size:
        scale = size / short
        new_w = max(size, round(width * scale))
        new_h = max(size, round(height * scale))
        image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    width, height = image.size
    left = (width - size) // 2
    top = (height - size) // 2
    if (left, top, width, height) != (0, 0, size, size):
        image = image.crop((left, top, left + size, top + size))
    return np.asarray(image, dtype=np.uint8)
