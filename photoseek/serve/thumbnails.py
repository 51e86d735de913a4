"""Thumbnails of stored photos: a resized JPEG of a local file the collection recorded, or the CDN's small rendition.

A path is never taken from the request: the route looks a photo up by id, and reads the path
its payload records only when that path, with every symbolic link resolved, lies under one of
the folders the service was told the collection was built from.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from PIL import Image, ImageOps

from photoseek.serve.errors import ApiError

# The largest file a thumbnail is made from, and the most pixels decoded for one.
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_PIXELS = 120_000_000
CACHE_CONTROL = "public, max-age=86400"


@dataclass(frozen=True)
class Thumbnail:
    """A JPEG and the validator that names this version of it."""

    body: bytes
    etag: str


def allowed_file(payload: Mapping[str, Any], folders: Sequence[Path]) -> Path:
    """The local file a payload records, when it lies under one of ``folders`` and is a regular file.

    Raises:
        ApiError: 404 when the payload has no path, the path is outside the folders or is not a file.
    """
    recorded = payload.get("path")
    if not isinstance(recorded, str) or not recorded or "\x00" in recorded:
        raise ApiError(404, "NoThumbnail", "this photo has no local file and no image URL")
    if not folders:
        raise ApiError(
            404, "NoThumbnail",
            "thumbnails of local files are off: the collection records no ingested folder (`photoseek ingest folder` "
            "records it); set PHOTOSEEK_SERVE__PHOTO_FOLDERS to the folders that hold its photos",
        )
    try:
        real = Path(recorded).resolve(strict=True)  # every symlink resolved: no escape through a link
    except (OSError, RuntimeError):
        raise ApiError(404, "NoThumbnail", "the photo's file is no longer there") from None
    if not any(real.is_relative_to(folder) for folder in folders):
        raise ApiError(404, "NoThumbnail", "the photo's file is not under the folders this service serves")
    try:
        info = real.stat()
    except OSError:
        raise ApiError(404, "NoThumbnail", "the photo's file is no longer there") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        raise ApiError(404, "NoThumbnail", "the photo's file is not a regular file of a readable size")
    return real


def make_thumbnail(path: Path, size: int) -> Thumbnail:
    """A JPEG of ``path`` whose longest side is at most ``size`` pixels, upright.

    Raises:
        ApiError: 404 when the file cannot be read as an image.
    """
    info = path.stat()
    tag = hashlib.blake2b(f"{path}:{info.st_mtime_ns}:{info.st_size}:{size}".encode(), digest_size=12).hexdigest()
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        descriptor = os.open(path, flags)
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise OSError("not a regular file")
            data = handle.read(MAX_FILE_BYTES + 1)
        with Image.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > MAX_PIXELS:
                raise OSError("too many pixels")
            picture.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
            upright = ImageOps.exif_transpose(picture) or picture
            upright.thumbnail((size, size))
            out = io.BytesIO()
            upright.convert("RGB").save(out, "JPEG", quality=82)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ApiError(404, "NoThumbnail", "the photo's file cannot be read as an image") from None
    return Thumbnail(out.getvalue(), f'"{tag}"')


def cdn_thumbnail_url(image_url: str, width: int) -> str | None:
    """The image CDN's small rendition of an Unsplash image URL, or None for a URL that is not http(s)."""
    parts = urlsplit(image_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({"w": str(width), "fm": "jpg", "q": "75"})
    return urlunsplit(parts._replace(query=urlencode(query)))
