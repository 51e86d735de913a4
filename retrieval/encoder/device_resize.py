"""CLIP's resize and centre crop on the encoder's device, for whole decoded pictures.

On a GPU machine the CPU cores are what limits ingest: a 640-px JPEG rendition costs about
1.5 ms of one core to decode and as much again to resize and crop on the CPU. Here the decode
workers hand whole uint8 pictures, and the resize runs on the device with torch's antialiased
bicubic filter (``interpolate(mode="bicubic", antialias=True)``, which uses Pillow's filter,
a = -0.5, with the same support), then the crop the processor makes. Values are rounded to
whole levels and clipped to 0..255 as the processor's uint8 resize leaves them, so that the
model sees what the CPU path gives it: within about a fifth of a level of the processor on
average (``tests/retrieval/encoder/test_device_resize.py``; ``benchmarks/ingest.py --part
check`` measures it on 640-px JPEGs with a full-size ViT-B/32).

Pictures of one size are resized together, in one call per size: the CDN's renditions share
a handful of sizes. The same function runs on ``device="cpu"``, which is how it is tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from photoseek.retrieval.preprocess import clip_resize_crop, resized_size

if TYPE_CHECKING:
    import torch

# A group of same-size pictures is resized this many at a time: 64 pictures of 640x427 are
# about 200 MB of float32 on the device.
GROUP_CHUNK = 64
# Like preprocess.py: a picture whose whole resized size is over this many crops (a strip) is
# resized on the CPU, where only the crop is resampled.
_MOST_RESIZED_PER_CROP = 4


def resize_crop_on_device(
    frames: Sequence[np.ndarray], size: int, device: str, *, shortest_edge: int | None = None
) -> torch.Tensor:
    """Resize each picture's shortest side to ``shortest_edge`` and centre crop ``size`` x ``size``.

    Args:
        frames: uint8 arrays of shape (height, width, 3), RGB, any sizes (``decode_frame``).
        size: the model's input (crop) size.
        device: the torch device to resize on (``cuda``, ``mps`` or ``cpu``).
        shortest_edge: the shortest side before the crop; defaults to ``size``.

    Returns:
        float32 tensor [n, 3, size, size] on ``device``, whole levels in 0..255, in the order of
        ``frames``.

    Raises:
        ValueError: a frame is not a uint8 (height, width, 3) array.
    """
    import torch

    edge = size if shortest_edge is None else shortest_edge
    groups: dict[tuple[int, int], list[int]] = {}
    for row, frame in enumerate(frames):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
            raise ValueError(f"frame {row}: expected uint8 [height, width, 3], got {frame.dtype} {list(frame.shape)}")
        groups.setdefault((int(frame.shape[0]), int(frame.shape[1])), []).append(row)
    with torch.inference_mode():
        out = torch.empty((len(frames), 3, size, size), dtype=torch.float32, device=device)
        for (height, width), rows in groups.items():
            new_width, new_height = resized_size(width, height, edge)
            if new_width < size or new_height < size or new_width * new_height > _MOST_RESIZED_PER_CROP * size * size:
                # Padded (a crop larger than the resize) or a strip: rare, done as on the CPU.
                for row in rows:
                    crop = clip_resize_crop(Image.fromarray(frames[row]), size, shortest_edge=edge)
                    crop = np.require(crop, requirements=["C", "W"])  # writable, for torch
                    out[row] = torch.from_numpy(crop).to(device).permute(2, 0, 1).float()
                continue
            top, left = (new_height - size) // 2, (new_width - size) // 2
            for start in range(0, len(rows), GROUP_CHUNK):
                chunk = rows[start : start + GROUP_CHUNK]
                pixels = _to_device(np.stack([frames[row] for row in chunk]), device)
                pixels = pixels.permute(0, 3, 1, 2).float()
                if (new_height, new_width) != (height, width):
                    pixels = torch.nn.functional.interpolate(
                        pixels, size=(new_height, new_width), mode="bicubic", antialias=True, align_corners=False
                    )
                    pixels = pixels.clamp_(0, 255).round_()
                index = torch.tensor(chunk, device=device)
                out[index] = pixels[:, :, top : top + size, left : left + size]
    return out


def _to_device(batch: np.ndarray, device: str) -> torch.Tensor:
    import torch

    pixels = torch.from_numpy(batch)
    if device.startswith("cuda"):
        # Pinned host memory lets the copy run as one DMA transfer, without a staging copy.
        return pixels.pin_memory().to(device, non_blocking=True)
    return pixels.to(device)
