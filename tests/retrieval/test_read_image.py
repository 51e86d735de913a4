"""Query images are converted exactly as ingest converts pictures, and bad ones say so."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoseek.errors import QueryError
from photoseek.ingest.decode import decode_image
from photoseek.retrieval.preprocess import clip_resize_crop
from photoseek.retrieval.search import read_image


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGBA", (64, 48), (200, 0, 0, 0)),  # fully transparent: white, not black
        Image.fromarray(np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 21),  # 16-bit grey
    ],
    ids=["transparent", "16-bit"],
)
def test_query_pixels_equal_ingest_pixels(image: Image.Image, tmp_path: Path) -> None:
    data = _png(image)
    path = tmp_path / "query.png"
    path.write_bytes(data)
    expected = decode_image(data, 32, 10**8)
    for given in (data, path):
        np.testing.assert_array_equal(clip_resize_crop(read_image(given), 32), expected)


def test_a_decompression_bomb_is_a_query_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(QueryError, match="not a readable image"):
        read_image(_png(Image.new("RGB", (64, 64))))
