"""Query images: a path, bytes or a Pillow image, read within bounds and turned upright RGB."""

from __future__ import annotations

import io
import os
from typing import Union

from PIL import Image, ImageOps, UnidentifiedImageError

from photoseek.errors import QueryError
from photoseek.retrieval.local_files import LocalReadError, display_path, read_file
from photoseek.retrieval.preprocess import to_8bit, to_rgb

ImageInput = Union[str, "os.PathLike[str]", bytes, Image.Image]

# Defaults of ``RetrievalSettings.max_image_bytes`` and ``image_read_timeout``.
DEFAULT_MAX_IMAGE_BYTES = 32 * 1024 * 1024
DEFAULT_READ_TIMEOUT = 10.0

_WHY = {
    "file_not_found": "does not exist",
    "not_a_regular_file": "is not a regular file",
    "too_large": "is too large",
    "read_timeout": "could not be read in time",
    "unreadable": "cannot be read",
}


def read_image(
    image: ImageInput,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_READ_TIMEOUT,
) -> Image.Image:
    """Open a query image given as a path, bytes or a PIL image, upright and in RGB.

    A path is read only when it is a regular file (never a FIFO, a device or a socket), of at
    most ``max_bytes``, within ``timeout`` seconds; bytes are held to the same size cap, so an
    upload can be checked the same way.

    Args:
        image: a file path, the file's bytes, or a Pillow image.
        max_bytes: the largest image accepted (``RetrievalSettings.max_image_bytes``).
        timeout: seconds reading a file may take (``RetrievalSettings.image_read_timeout``).

    Raises:
        QueryError: naming the file: missing, not a regular file, too large, unreadable, or not
            an image Pillow can read.
    """
    if isinstance(image, Image.Image):
        picture = image
    else:
        if isinstance(image, (str, os.PathLike)):
            name = f"query image {display_path(image)}"
            try:
                data = read_file(image, max_bytes=max_bytes, timeout=timeout)
            except LocalReadError as exc:
                why = _WHY.get(exc.reason, "cannot be read")
                raise QueryError(f"{name} {why}: {exc.detail}") from None
        elif isinstance(image, (bytes, bytearray, memoryview)):
            name = f"query image ({len(image)} bytes)"
            data = bytes(image)
            if len(data) > max_bytes:
                raise QueryError(f"{name} is too large: over the limit of {max_bytes} bytes")
        else:
            raise QueryError(f"image must be a path, bytes or a PIL image (got {type(image).__name__})")
        picture = _decode(data, name)
    picture = ImageOps.exif_transpose(picture) or picture
    # The same conversion ingest applies: wide greyscale scaled, transparency on white.
    return to_rgb(to_8bit(picture))


def _decode(data: bytes, name: str) -> Image.Image:
    if not data:
        raise QueryError(f"{name} is empty (0 bytes)")
    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except UnidentifiedImageError:
        raise QueryError(
            f"{name} is not a readable image: not a format Pillow reads (JPEG, PNG, WebP, GIF, BMP, TIFF)"
        ) from None
    except Image.DecompressionBombError as exc:
        raise QueryError(f"{name} is not a readable image: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise QueryError(f"{name} is not a readable image (damaged or truncated): {exc}") from None
    return picture
