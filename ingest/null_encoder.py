"""An encoder that costs nothing, to measure everything in an ingest but the model.

``benchmarks/ingest.py --encoder null`` runs the real pipeline (read, fetch, decode, resize
and crop, write) with it, and tests use it where the vectors are not the point. It is never
chosen by settings and never stands in for a model that failed to load: only code that names
it gets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


class NullEncoder:
    """Unit vectors of the right size for every input, with the shape checks of the real encoder.

    Each vector is random (seeded): points in the store look like distinct photos, as they do
    with a model, so the writer and the index are measured as they run.

    Attributes:
        dimension: size of the vectors.
        image_size: the crop size ``encode_pixels`` checks for.
        resizes_on_device: the pipeline hands whole pictures (:meth:`encode_frames`), as it
            does to a CLIP encoder on a GPU: then the CPU only decodes.
    """

    def __init__(
        self, dimension: int = 512, image_size: int = 224, *, resizes_on_device: bool = False, seed: int = 0
    ) -> None:
        """Args: dimension, image_size, resizes_on_device as the attributes; seed of the vectors."""
        self.dimension = dimension
        self.image_size = image_size
        self.resizes_on_device = resizes_on_device
        self._rng = np.random.default_rng(seed)

    def _vectors(self, count: int) -> np.ndarray:
        vectors = self._rng.standard_normal((count, self.dimension), dtype=np.float32)
        normalised: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return normalised

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text."""
        return self._vectors(len(texts))

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """One unit vector per image."""
        return self._vectors(len(images))

    def encode_pixels(self, batch: np.ndarray) -> np.ndarray:
        """One unit vector per uint8 [image_size, image_size, 3] crop.

        Raises:
            ValueError: the batch has the wrong shape or type.
        """
        expected = (self.image_size, self.image_size, 3)
        if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[1:] != expected:
            raise ValueError(f"encode_pixels takes a uint8 array [n, {expected[0]}, {expected[1]}, 3]")
        return self._vectors(len(batch))

    def encode_frames(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """One unit vector per whole uint8 [height, width, 3] picture.

        Raises:
            ValueError: a frame is not a uint8 [height, width, 3] array.
        """
        for frame in frames:
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError("encode_frames takes uint8 arrays [height, width, 3]")
        return self._vectors(len(frames))
