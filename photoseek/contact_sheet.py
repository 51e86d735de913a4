"""Contact sheets: search results as a grid of thumbnails with rank and score under each."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from PIL import Image, ImageDraw, ImageFont, ImageOps

from photoseek.config.settings import UNSPLASH_IMAGE_HOSTS
from photoseek.retrieval.hits import Hit
from photoseek.retrieval.local_files import LocalReadError, read_file

log = logging.getLogger(__name__)

GAP = 8  # pixels between tiles and around the sheet
CAPTION = 22  # pixels of text under each thumbnail
BACKGROUND = (255, 255, 255)
PLACEHOLDER = (200, 200, 200)


@dataclass(frozen=True)
class ThumbnailSource:
    """Where thumbnails come from: local files first, else downloads kept in ``cache_dir``.

    Attributes:
        cache_dir: downloaded pictures are kept here, named by a hash of their URL, so a
            second sheet with the same photos downloads nothing.
        allowed_hosts: hosts downloads may reach (None = any).
        timeout: seconds to connect and to read.
        max_bytes: largest download accepted.
        width: rendition width asked of the Unsplash CDN (``?w=``).
    """

    cache_dir: Path
    allowed_hosts: tuple[str, ...] | None = UNSPLASH_IMAGE_HOSTS
    timeout: float = 15.0
    max_bytes: int = 20 * 1024 * 1024
    width: int = 400

    def cached_path(self, url: str) -> Path:
        """The cache file of a URL."""
        return self.cache_dir / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".img")

    def url_for(self, hit: Hit) -> str | None:
        """The URL to download a hit's picture from: a small rendition for the Unsplash CDN."""
        url = hit.image_url
        if not url or not url.startswith(("http://", "https://")):
            return None
        host = (urlsplit(url).hostname or "").lower()
        if host in UNSPLASH_IMAGE_HOSTS and "w=" not in (urlsplit(url).query or ""):
            url += ("&" if "?" in url else "?") + f"w={self.width}&q=75&fm=jpg"
        return url

    def load(self, hit: Hit, client: httpx.Client) -> Image.Image | None:
        """The hit's picture, or None (with a warning) when it cannot be had."""
        local = _local_file(hit.path) if hit.path else None
        if local is not None:
            try:
                return _open(read_file(local, max_bytes=self.max_bytes, timeout=self.timeout), hit.path or "")
            except LocalReadError as exc:  # a FIFO, a device, a hung mount: try the URL, if any
                log.warning("thumbnail %s", exc.detail)
        url = self.url_for(hit)
        if url is None:
            log.warning("no local file and no image URL for %s", hit.photo_id or hit.id)
            return None
        cached = self.cached_path(url)
        if cached.is_file():
            return _open(cached.read_bytes(), url)
        data = self._download(url, client)
        if data is None:
            return None
        picture = _open(data, url)
        if picture is not None:  # only pictures go into the cache, never an error page
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(cached)
        return picture

    def check_request(self, request: httpx.Request) -> None:
        """Refuse a request, the first or a redirect's, to a host off the allow-list.

        Used as the client's request hook, so that every hop of a redirect is checked.

        Raises:
            httpx.RequestError: the host is not allowed.
        """
        host = (request.url.host or "").lower()
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            raise httpx.RequestError(
                f"host {host} is not in PHOTOSEEK_INGEST__ALLOWED_HOSTS", request=request
            )

    def client(self) -> httpx.Client:
        """An HTTP client for :meth:`load`: redirects followed, each hop's host checked."""
        return httpx.Client(
            timeout=self.timeout, follow_redirects=True, event_hooks={"request": [self.check_request]}
        )

    def _download(self, url: str, client: httpx.Client) -> bytes | None:
        host = (urlsplit(url).hostname or "").lower()
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            log.warning("not downloading %s: host %s is not in PHOTOSEEK_INGEST__ALLOWED_HOSTS", url, host)
            return None
        try:
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    log.warning("thumbnail %s: HTTP %d", url, response.status_code)
                    return None
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        log.warning("thumbnail %s: larger than %d bytes", url, self.max_bytes)
                        return None
                return bytes(body)
        except httpx.HTTPError as exc:
            log.warning("thumbnail %s: %s", url, exc)
            return None


def _local_file(stored: str) -> str | None:
    """The file a stored ``path`` names, or None. A name that was not UTF-8 is stored with
    ``\\xff`` escapes (``ingest/sources/folder.py``); its bytes are tried when the text is not a file."""
    if os.path.lexists(stored):
        return stored
    if "\\x" in stored:
        raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), stored.encode("utf-8"))
        candidate = os.fsdecode(raw)
        if os.path.lexists(candidate):
            return candidate
    return None


def check_sheet_path(out: Path) -> None:
    """Refuse, before any search runs, a contact sheet path that cannot be written.

    Raises:
        ValueError: ``out`` is a folder, has no image extension Pillow writes, or its folder is a file.
    """
    if out.is_dir():
        raise ValueError(f"--grid {out} is a folder; give an image file name such as {out / 'results.jpg'}")
    extension = out.suffix.lower()
    if extension not in Image.registered_extensions() or Image.registered_extensions()[extension] not in Image.SAVE:
        raise ValueError(f"--grid {out} needs an image extension Pillow can write (.jpg, .png, .webp)")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"--grid {out}: {parent} is a file, not a folder")
            break


def _open(data: bytes, name: str) -> Image.Image | None:
    try:
        opened = Image.open(BytesIO(data))
        opened.draft("RGB", (512, 512))  # JPEG: decode at a fraction of the size
        opened.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        log.warning("thumbnail %s is not a readable image: %s", name, exc)
        return None
    picture: Image.Image = ImageOps.exif_transpose(opened) or opened
    return picture.convert("RGB")


def sheet_size(count: int, columns: int, tile: int) -> tuple[int, int]:
    """Width and height in pixels of a sheet of ``count`` tiles."""
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    return GAP + columns * (tile + GAP), GAP + rows * (tile + CAPTION + GAP)


def tile_box(index: int, columns: int, tile: int) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) of the thumbnail area of tile ``index`` (0-based)."""
    row, column = divmod(index, columns)
    left = GAP + column * (tile + GAP)
    top = GAP + row * (tile + CAPTION + GAP)
    return left, top, left + tile, top + tile


def make_contact_sheet(
    hits: Sequence[Hit],
    out: Path,
    source: ThumbnailSource,
    *,
    columns: int = 5,
    tile: int = 200,
    workers: int = 8,
    first_rank: int = 1,
) -> Path:
    """Write a grid of the hits' thumbnails, rank and score under each, in rank order.

    A picture that cannot be had gets a grey tile, so the grid still has one tile per hit.

    Args:
        hits: the search results, best first.
        out: the image file to write (its extension picks the format: .jpg, .png, ...).
        source: where thumbnails come from.
        columns: tiles per row (fewer when there are fewer hits).
        tile: thumbnail size in pixels (square; pictures are fitted inside).
        workers: downloads at once.
        first_rank: the rank of the first hit (``offset + 1`` for a later page).

    Returns:
        ``out``.
    """
    if not hits:
        raise ValueError("no hits to put on a contact sheet")
    columns = max(1, min(columns, len(hits)))
    with source.client() as client, ThreadPoolExecutor(workers) as pool:
        pictures = list(pool.map(lambda hit: source.load(hit, client), hits))
    sheet = Image.new("RGB", sheet_size(len(hits), columns, tile), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for index, (hit, picture) in enumerate(zip(hits, pictures, strict=True)):
        left, top, right, bottom = tile_box(index, columns, tile)
        if picture is None:
            draw.rectangle((left, top, right - 1, bottom - 1), fill=PLACEHOLDER)
            draw.text((left + 6, top + 6), "no image", fill=(80, 80, 80), font=font)
        else:
            thumb = ImageOps.contain(picture, (tile, tile), Image.Resampling.LANCZOS)
            sheet.paste(thumb, (left + (tile - thumb.width) // 2, top + (tile - thumb.height) // 2))
        label = f"#{first_rank + index}  {hit.score:.3f}  {(hit.photo_id or hit.id)[:24]}"
        draw.text((left, bottom + 5), label, fill=(0, 0, 0), font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
