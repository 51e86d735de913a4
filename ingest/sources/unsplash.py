"""The Unsplash Lite / Full dataset folder as a stream of records, one per photo."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from photoseek.config.settings import IngestSettings
from photoseek.ingest.sources.joins import Joined, JoinIndex
from photoseek.ingest.sources.record import (
    SourceFailure,
    SourceRecord,
    orientation,
    rfc3339,
)
from photoseek.ingest.sources.shard import Shard, check_shard, in_shard
from photoseek.ingest.sources.tsv import Row, iter_rows, table_parts
from photoseek.retrieval.schema import point_id

if TYPE_CHECKING:
    from photoseek.ingest.ledger import Failure

log = logging.getLogger(__name__)

SOURCE = "unsplash"
# Photos are joined with keywords, colors and collections this many at a time.
CHUNK = 256
TRUE_WORDS = frozenset({"t", "true", "1", "yes"})
FALSE_WORDS = frozenset({"f", "false", "0", "no"})


class BadValue(ValueError):
    """One field of a row does not parse; the message names the column."""


def _text(row: dict[str, str], column: str) -> str | None:
    value = row.get(column, "").strip()
    return value or None


def _int(row: dict[str, str], column: str) -> int | None:
    text = _text(row, column)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise BadValue(f"{column}: {text!r} is not a number") from None
    if not math.isfinite(number) or not number.is_integer():
        raise BadValue(f"{column}: {text!r} is not a whole number")
    return int(number)


def _float(row: dict[str, str], column: str) -> float | None:
    text = _text(row, column)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise BadValue(f"{column}: {text!r} is not a number") from None
    if not math.isfinite(number):
        raise BadValue(f"{column}: {text!r} is not a finite number")
    return number


def _bool(row: dict[str, str], column: str) -> bool | None:
    text = _text(row, column)
    if text is None:
        return None
    if text.lower() in TRUE_WORDS:
        return True
    if text.lower() in FALSE_WORDS:
        return False
    raise BadValue(f"{column}: {text!r} is not t/f")


def _timestamp(row: dict[str, str], column: str) -> str | None:
    text = _text(row, column)
    if text is None:
        return None
    try:
        return rfc3339(datetime.fromisoformat(text))
    except ValueError:
        raise BadValue(f"{column}: {text!r} is not a timestamp") from None


_Number = TypeVar("_Number", int, float)


def _positive(value: _Number | None) -> _Number | None:
    """EXIF and stats fields use 0 for unknown; absent is the honest value."""
    return value if value else None


def cdn_url(url: str, ingest: IngestSettings) -> str:
    """``url`` with the image CDN's rendition parameters ``w``, ``fm=jpg`` and ``q`` merged in."""
    if "?" not in url and "#" not in url:  # the usual photo_image_url: no query to merge with
        return f"{url}?w={ingest.image_width}&fm=jpg&q={ingest.image_quality}"
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({"w": str(ingest.image_width), "fm": "jpg", "q": str(ingest.image_quality)})
    return urlunsplit(parts._replace(query=urlencode(query)))


def photo_payload(row: dict[str, str]) -> dict[str, Any]:
    """The payload of one photos.tsv row (field names from ``retrieval/schema.py``).

    Raises:
        BadValue: when a number, flag or timestamp does not parse.
    """
    payload: dict[str, Any] = {"source": SOURCE, "photo_id": row["photo_id"].strip()}
    for key, column in (
        ("image_url", "photo_image_url"),
        ("page_url", "photo_url"),
        ("description", "photo_description"),
        ("ai_description", "ai_description"),
        ("photographer", "photographer_username"),
    ):
        value = _text(row, column)
        if value is not None:
            payload[key] = value
    name = " ".join(p for p in (_text(row, "photographer_first_name"), _text(row, "photographer_last_name")) if p)
    if name:
        payload["photographer_name"] = name
    submitted = _timestamp(row, "photo_submitted_at")
    if submitted:
        payload["submitted_at"] = submitted
    featured = _bool(row, "photo_featured")
    if featured is not None:
        payload["featured"] = featured
    width, height = _positive(_int(row, "photo_width")), _positive(_int(row, "photo_height"))
    aspect = _positive(_float(row, "photo_aspect_ratio"))
    if width:
        payload["width"] = width
    if height:
        payload["height"] = height
    if aspect is None and width and height:
        aspect = round(width / height, 4)
    if aspect:
        payload["aspect_ratio"] = aspect
    shape = orientation(width, height) if width and height else (
        orientation(round(aspect * 1000), 1000) if aspect else None
    )
    if shape:
        payload["orientation"] = shape
    location = _location(row)
    if location:
        payload["location"] = location
    camera = _camera(row)
    if camera:
        payload["camera"] = camera
    for key, column in (("views", "stats_views"), ("downloads", "stats_downloads")):
        count = _int(row, column)
        if count is not None:
            payload[key] = count
    return payload


def _location(row: dict[str, str]) -> dict[str, Any]:
    location: dict[str, Any] = {}
    for key, column in (("name", "photo_location_name"), ("city", "photo_location_city"),
                        ("country", "photo_location_country")):
        value = _text(row, column)
        if value is not None:
            location[key] = value
    lat, lon = _float(row, "photo_location_latitude"), _float(row, "photo_location_longitude")
    if lat is not None and lon is not None:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise BadValue(f"photo_location_latitude/longitude: ({lat}, {lon}) is not on Earth")
        payload_geo = {"lat": lat, "lon": lon}
        location["geo"] = payload_geo
    return location


def _camera(row: dict[str, str]) -> dict[str, Any]:
    camera: dict[str, Any] = {}
    for key, column in (("make", "exif_camera_make"), ("model", "exif_camera_model"),
                        ("exposure_time", "exif_exposure_time")):
        value = _text(row, column)
        if value is not None:
            camera[key] = value
    iso = _positive(_int(row, "exif_iso"))
    if iso:
        camera["iso"] = iso
    for key, column in (("aperture", "exif_aperture_value"), ("focal_length", "exif_focal_length")):
        number = _positive(_float(row, column))
        if number:
            camera[key] = number
    return camera


def add_joined(payload: dict[str, Any], joined: Joined | None) -> None:
    """Put the keywords, colours and collections of a photo into its payload (non-empty lists only)."""
    if joined is None:
        return
    for key in ("keywords", "user_keywords", "colors", "color_hexes", "collections"):
        values = getattr(joined, key)
        if values:
            payload[key] = values


class UnsplashSource:
    """Stream an Unsplash dataset folder (Lite or Full) as ``SourceRecord`` / ``SourceFailure``.

    Memory stays bounded: photos are read line by line and the other tables are joined from
    an on-disk SQLite index (``JoinIndex``), a chunk of photos at a time.
    """

    def __init__(
        self,
        dataset_dir: Path,
        images_dir: Path | None = None,
        ingest: IngestSettings | None = None,
        shard: Shard | None = None,
        limit: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        """Open a dataset folder.

        Args:
            dataset_dir: the folder with ``photos.tsv*`` (and keywords, colors, collections).
            images_dir: a folder of ``<photo_id>.jpg`` files to use instead of downloading.
            ingest: rendition width and quality of downloads (``IngestSettings``).
            shard: ``(k, n)`` to keep only the photos whose id hashes to ``k``.
            limit: stop after this many records.
            cache_dir: where the join index goes when ``dataset_dir`` is read-only.

        Raises:
            FileNotFoundError: when the folder has no ``photos.tsv*`` file.
        """
        self.dataset_dir = Path(dataset_dir)
        self.images_dir = Path(images_dir) if images_dir is not None else None
        self.ingest = ingest or IngestSettings()
        self.shard = check_shard(shard) if shard is not None else None
        self.limit = limit
        if not self.dataset_dir.is_dir():
            raise FileNotFoundError(f"dataset folder {self.dataset_dir} does not exist")
        self.parts = table_parts(self.dataset_dir, "photos")
        if not self.parts:
            raise FileNotFoundError(
                f"no photos.tsv* file in {self.dataset_dir}: point it at the unzipped Unsplash dataset"
            )
        self.joins = JoinIndex(self.dataset_dir, cache_dir)
        self.origin = f"{SOURCE}:{self.dataset_dir.resolve()}"

    def read_again(self, failure: Failure) -> bool:
        """Whether a whole read of this source meets ``failure``'s row again (its dataset, its shard)."""
        if failure.origin != self.origin:
            return False
        key = point_id(failure.photo_id, SOURCE) if failure.photo_id else failure.ref
        return in_shard(key, self.shard)

    def __iter__(self) -> Iterator[SourceRecord | SourceFailure]:
        """Yield records and failures in file order, lazily."""
        pending: list[SourceRecord | SourceFailure] = []
        wanted = 0
        emitted = 0
        for item in self._parse():
            pending.append(item)
            if isinstance(item, SourceRecord):
                wanted += 1
            if wanted >= CHUNK or (self.limit is not None and emitted + wanted >= self.limit):
                for out in self._joined(pending):
                    if isinstance(out, SourceRecord):
                        emitted += 1
                    yield out
                pending, wanted = [], 0
                if self.limit is not None and emitted >= self.limit:
                    return
        yield from self._joined(pending)

    def _joined(self, items: list[SourceRecord | SourceFailure]) -> Iterator[SourceRecord | SourceFailure]:
        ids = [i.photo_id for i in items if isinstance(i, SourceRecord)]
        joined = self.joins.lookup(ids) if ids else {}
        for item in items:
            if isinstance(item, SourceRecord):
                add_joined(item.payload, joined.get(item.photo_id))
            yield item

    def _parse(self) -> Iterator[SourceRecord | SourceFailure]:
        for header, row in iter_rows(self.parts):
            if not isinstance(row, Row):
                if in_shard(row.ref, self.shard):
                    yield SourceFailure(row.ref, "bad_row", row.detail, origin=self.origin)
                continue
            photo_id = row.fields[0].strip() if row.fields else ""
            if "photo_id" in header and len(row.fields) == len(header):
                photo_id = row.fields[header.index("photo_id")].strip()
            # A row without a usable id is sharded by where it is, so exactly one worker reports it.
            key = point_id(photo_id, SOURCE) if photo_id else row.ref
            if not in_shard(key, self.shard):
                continue
            if len(row.fields) != len(header):
                yield SourceFailure(
                    row.ref, "bad_row",
                    f"{len(row.fields)} columns where the header has {len(header)}", photo_id=photo_id or None,
                    origin=self.origin,
                )
                continue
            if not photo_id:
                yield SourceFailure(row.ref, "bad_row", "empty photo_id", origin=self.origin)
                continue
            try:
                payload = photo_payload(dict(zip(header, row.fields, strict=True)))
            except BadValue as exc:
                yield SourceFailure(row.ref, "bad_row", str(exc), photo_id=photo_id, origin=self.origin)
                continue
            yield self._record(key, photo_id, payload, row.ref)

    def _record(self, key: str, photo_id: str, payload: dict[str, Any], ref: str) -> SourceRecord | SourceFailure:
        local = self.images_dir / f"{photo_id}.jpg" if self.images_dir is not None else None
        if local is not None and local.is_file():
            # The contact sheet and other local tools read the picture from here.
            payload["path"] = str(local.resolve())
            return SourceRecord(key, photo_id, SOURCE, payload, local_path=local)
        image_url = payload.get("image_url")
        if image_url is None:
            return SourceFailure(
                ref, "no_image", "no photo_image_url and no local file", photo_id=photo_id, origin=self.origin
            )
        return SourceRecord(key, photo_id, SOURCE, payload, url=cdn_url(image_url, self.ingest))
