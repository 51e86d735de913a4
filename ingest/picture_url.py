"""The payload field the Qdrant dashboard draws as a picture: a thumbnail URL of ``photoseek serve``.

The dashboard (qdrant-web-ui, ``PointImage.jsx``) draws a payload string as an image when it
parses as a URL whose *path* ends in ``.jpg``, ``.jpeg``, ``.png``, ``.webp``, ``.gif`` or
``.svg``; the query and fragment do not count. Unsplash CDN URLs have no extension in their
path and a folder photo has only a local path, so neither is drawn. ``photoseek serve`` answers
``/v1/photos/{point_id}/thumbnail.jpg`` for both (a resized local file, or a redirect to the
CDN's rendition), so with the service's public address known every point gets such a URL.
Without one no field is written: no extension-bearing URL form of the Unsplash CDN could be
checked, and a local path cannot load in a browser.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from photoseek.ingest.sources.record import SourceRecord
from photoseek.retrieval.store.base import VectorStore

# The payload field the dashboard draws.
PICTURE_FIELD = "picture_url"
# The route of ``photoseek serve`` the field points at; its path ends in ``.jpg`` on purpose.
THUMBNAIL_JPG_ROUTE = "/v1/photos/{point_id}/thumbnail.jpg"

Item = TypeVar("Item")


def picture_url(point_id: str, public_url: str | None) -> str | None:
    """The URL the dashboard draws for a photo, or None when no public address is known.

    The point id (a UUID) names the photo rather than its source id: a folder photo's relative
    path may hold any character, and the service looks a photo up by either.

    Args:
        point_id: the photo's point id (``retrieval.schema.point_id``).
        public_url: the address ``photoseek serve`` is reached at from a browser
            (``PHOTOSEEK_SERVE__PUBLIC_URL``).
    """
    if not public_url:
        return None
    return public_url.rstrip("/") + THUMBNAIL_JPG_ROUTE.format(point_id=quote(point_id, safe=""))


def with_picture_url(point_id: str, payload: Mapping[str, Any], public_url: str | None) -> dict[str, Any]:
    """A copy of ``payload`` whose picture field is set for ``public_url`` (absent when there is none).

    Args:
        point_id: the photo's point id.
        payload: its payload, left unchanged.
        public_url: the service's public address, or None.
    """
    updated = {key: value for key, value in payload.items() if key != PICTURE_FIELD}
    url = picture_url(point_id, public_url)
    if url is not None:
        updated[PICTURE_FIELD] = url
    return updated


def add_picture_urls(source: Iterable[Item], public_url: str | None) -> Iterator[Item]:
    """The records of ``source`` with their picture field set (failures and the rest pass through).

    Args:
        source: what an ingest source yields.
        public_url: the service's public address, or None (the field is then left out).
    """
    for item in source:
        if isinstance(item, SourceRecord):
            item.payload = with_picture_url(item.id, item.payload, public_url)
        yield item


def rewrite_picture_urls(store: VectorStore, public_url: str | None, page_size: int = 256) -> int:
    """Set the picture field of every point in the store's collection for ``public_url``.

    Only that field changes; vectors and the other payload fields stay. With no public address
    the field is removed. For a collection built before the field existed, or after the
    service's address changed.

    Args:
        store: an open store whose collection exists.
        public_url: the service's public address, or None to remove the field.
        page_size: points read and written per round trip.

    Returns:
        The number of points whose payload was rewritten.
    """
    changed = 0
    offset: str | None = None
    while True:
        records, offset = store.scroll(limit=page_size, offset=offset)
        ids: list[str] = []
        payloads: list[dict[str, Any]] = []
        for record in records:
            payload = record.payload or {}
            updated = with_picture_url(str(record.id), payload, public_url)
            if updated != payload:
                ids.append(str(record.id))
                payloads.append(updated)
        if ids:
            store.set_payloads(ids, payloads)
            changed += len(ids)
        if offset is None:
            return changed
