"""The Unsplash Lite / Full dataset folder as a stream of records, one per photo."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from photoseek.config.settings import IngestSettings
from photoseek.ingest.sources import values
from photoseek.ingest.sources.joins import Joined, JoinIndex
from photoseek.ingest.sources.record import (
    SourceFailure,
    SourceItem,
    SourceRecord,
    SourceWarning,
    orientation,
    rfc3339,
)
from photoseek.ingest.sources.shard import Shard, check_shard, in_shard
from photoseek.ingest.sources.tsv import Row, iter_rows, table_parts, unrecognised_parts
from photoseek.ingest.sources.values import BadValue, text
from photoseek.retrieval.schema import point_id

if TYPE_CHECKING:
    from photoseek.ingest.ledger import Failure

log = logging.getLogger(__name__)
T = TypeVar("T")

SOURCE = "unsplash"
# Photos are joined with keywords, colors and collections this many at a time.
CHUNK = 256

# (payload key, column) of the plain texts of photos.tsv
_TEXTS = (
    ("image_url", "photo_image_url"),
    ("page_url", "photo_url"),
    ("description", "photo_description"),
    ("ai_description", "ai_description"),
    ("photographer", "photographer_username"),
    ("blur_hash", "blur_hash"),
)
# (payload key for the text, payload key for the number, column, how to read the number, unit)
_EXIF = (
    ("aperture_text", "aperture", "exif_aperture_value", values.aperture, "an f-number"),
    ("focal_length_text", "focal_length", "exif_focal_length", values.focal_length, "millimetres"),
    ("exposure_time", "exposure_seconds", "exif_exposure_time", values.exposure_seconds, "seconds"),
)


class Problems(list[BadValue]):
    """The values of one row that could not be read; each cost its field only."""

    def read(self, reader: Callable[[dict[str, str], str], T], row: dict[str, str], column: str) -> T | None:
        """``reader(row, column)``, or None (the problem kept) when the value does not parse."""
        try:
            return reader(row, column)
        except BadValue as exc:
            self.append(exc)
            return None


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


def photo_payload(row: dict[str, str], problems: Problems | None = None) -> dict[str, Any]:
    """The payload of one photos.tsv row (field names from ``retrieval/schema.py``).

    A value that does not parse is left out and added to ``problems``; the rest of the
    payload is built as usual. Columns a release does not have read as empty.

    Args:
        row: column name -> cell, as in the file's header.
        problems: collects the values that were left out (or, for a swapped coordinate
            pair, stored swapped).
    """
    problems = problems if problems is not None else Problems()
    payload: dict[str, Any] = {"source": SOURCE, "photo_id": row["photo_id"].strip()}
    for key, column in _TEXTS:
        value = text(row, column)
        if value is not None:
            payload[key] = value
    name = " ".join(p for p in (text(row, "photographer_first_name"), text(row, "photographer_last_name")) if p)
    if name:
        payload["photographer_name"] = name
    submitted = problems.read(values.timestamp, row, "photo_submitted_at")
    if submitted:
        payload["submitted_at"] = rfc3339(submitted)
    featured = problems.read(values.flag, row, "photo_featured")
    if featured is not None:
        payload["featured"] = featured
    _size(row, payload, problems)
    location = _location(row, problems)
    if location:
        payload["location"] = location
    camera = _camera(row, problems)
    if camera:
        payload["camera"] = camera
    landmark = _landmark(row, problems)
    if landmark:
        payload["landmark"] = landmark
    for key, column in (("views", "stats_views"), ("downloads", "stats_downloads")):
        count = problems.read(values.whole, row, column)
        if count is not None:
            payload[key] = count
    return payload


def _size(row: dict[str, str], payload: dict[str, Any], problems: Problems) -> None:
    width = _positive(problems.read(values.whole, row, "photo_width"))
    height = _positive(problems.read(values.whole, row, "photo_height"))
    aspect = _positive(problems.read(values.number, row, "photo_aspect_ratio"))
    if width:
        payload["width"] = int(width)
    if height:
        payload["height"] = int(height)
    if aspect is None and width and height:
        aspect = round(width / height, 4)
    if aspect:
        payload["aspect_ratio"] = aspect
    shape = orientation(int(width), int(height)) if width and height else (
        orientation(round(aspect * 1000), 1000) if aspect else None
    )
    if shape:
        payload["orientation"] = shape


def _geo(row: dict[str, str], lat_column: str, lon_column: str, problems: Problems) -> dict[str, float] | None:
    pair = problems.read(lambda r, _: values.lat_lon(r, lat_column, lon_column), row, lat_column)
    if pair is None:
        return None
    if pair.swapped:
        problems.append(BadValue(
            f"{lat_column}/{lon_column}", "swapped",
            f"({pair.lon}, {pair.lat}) is off Earth as latitude, longitude; stored swapped as ({pair.lat}, {pair.lon})",
        ))
    return {"lat": pair.lat, "lon": pair.lon}


def _location(row: dict[str, str], problems: Problems) -> dict[str, Any]:
    location: dict[str, Any] = {}
    for key, column in (("name", "photo_location_name"), ("city", "photo_location_city"),
                        ("country", "photo_location_country")):
        value = text(row, column)
        if value is not None:
            location[key] = value
    geo = _geo(row, "photo_location_latitude", "photo_location_longitude", problems)
    if geo:
        location["geo"] = geo
    return location


def _landmark(row: dict[str, str], problems: Problems) -> dict[str, Any]:
    landmark: dict[str, Any] = {}
    name = text(row, "ai_primary_landmark_name")
    if name is not None:
        landmark["name"] = name
    geo = _geo(row, "ai_primary_landmark_latitude", "ai_primary_landmark_longitude", problems)
    if geo:
        landmark["geo"] = geo
    # varchar in the official schema; a number in every release seen so far.
    confidence = problems.read(values.number, row, "ai_primary_landmark_confidence")
    if confidence is not None and landmark:
        landmark["confidence"] = confidence
    return landmark


def _camera(row: dict[str, str], problems: Problems) -> dict[str, Any]:
    camera: dict[str, Any] = {}
    for key, column in (("make", "exif_camera_make"), ("model", "exif_camera_model")):
        value = text(row, column)
        if value is not None:
            camera[key] = value
    raw_iso = text(row, "exif_iso")
    if raw_iso is not None:
        speed = values.iso(raw_iso)
        if speed is None or not speed.is_integer():
            problems.append(BadValue("exif_iso", "not_a_number", f"{raw_iso!r} is not an ISO speed; left out"))
        elif speed:
            camera["iso"] = int(speed)
    # varchar in the official schema: the text is kept as given, and the number read from it
    # (when there is one) goes beside it so that range filters work.
    for text_key, number_key, column, read, unit in _EXIF:
        raw = text(row, column)
        if raw is None:
            continue
        parsed = read(raw)
        if parsed is None:
            problems.append(BadValue(column, "not_a_number", f"{raw!r} holds no {unit}; the text is kept"))
        if parsed == 0 and raw.strip(" 0.") == "":
            continue  # a bare 0 is how the export writes "unknown"
        camera[text_key] = raw
        if parsed:
            camera[number_key] = round(parsed, 6)
    return camera


def add_joined(payload: dict[str, Any], joined: Joined | None) -> None:
    """Put the keywords, colours, collections and topics of a photo into its payload (non-empty lists only)."""
    if joined is None:
        return
    for key in ("keywords", "user_keywords", "keyword_details", "colors", "color_hexes", "color_details",
                "collections", "topics"):
        found = getattr(joined, key)
        if found:
            payload[key] = found


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
            odd = [name for name in unrecognised_parts(self.dataset_dir) if name.lower().startswith("photos")]
            hint = f" ({', '.join(odd)} is not named photos.tsv[NNN][.gz] or photos.csv[NNN][.gz])" if odd else ""
            raise FileNotFoundError(
                f"no photos.tsv* file in {self.dataset_dir}{hint}: point it at the unzipped Unsplash dataset"
            )
        self.joins = JoinIndex(self.dataset_dir, cache_dir)
        self.origin = f"{SOURCE}:{self.dataset_dir.resolve()}"

    def read_again(self, failure: Failure) -> bool:
        """Whether a whole read of this source meets ``failure``'s row again (its dataset, its shard)."""
        if failure.origin != self.origin:
            return False
        key = point_id(failure.photo_id, SOURCE) if failure.photo_id else failure.ref
        return in_shard(key, self.shard)

    def __iter__(self) -> Iterator[SourceItem]:
        """Yield records, failures and warnings in file order, lazily.

        Warnings about whole files come first; a photo's warnings come just before its record.
        """
        yield from self._file_warnings()
        pending: list[SourceItem] = []
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

    def _file_warnings(self) -> Iterator[SourceWarning]:
        # Sharded by where they are, so that exactly one worker reports each.
        for name in unrecognised_parts(self.dataset_dir):
            if in_shard(name, self.shard):
                log.warning("%s: not a part name of the Unsplash dataset; its rows are not read", name)
                yield SourceWarning(
                    name, "file", "unrecognised_part",
                    "not a part name this reader knows (<table>.tsv|csv[NNN][.gz]); its rows are not read",
                    origin=self.origin,
                )
        for warning in self.joins.row_warnings():
            if in_shard(warning.ref, self.shard):
                yield SourceWarning(warning.ref, warning.field, warning.reason, warning.detail, origin=self.origin)

    def _joined(self, items: list[SourceItem]) -> Iterator[SourceItem]:
        ids = [i.photo_id for i in items if isinstance(i, SourceRecord)]
        joined = self.joins.lookup(ids) if ids else {}
        for item in items:
            if isinstance(item, SourceRecord):
                found = joined.get(item.photo_id)
                if found is not None:
                    for w in found.warnings:
                        yield SourceWarning(w.ref, w.field, w.reason, w.detail, id=item.id,
                                            photo_id=item.photo_id, origin=self.origin)
                add_joined(item.payload, found)
            yield item

    def _parse(self) -> Iterator[SourceItem]:
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
            if "photo_id" not in header:
                yield SourceFailure(row.ref, "bad_row", "the file has no photo_id column", origin=self.origin)
                continue
            if not photo_id:
                yield SourceFailure(row.ref, "bad_row", "empty photo_id", origin=self.origin)
                continue
            problems = Problems()
            payload = photo_payload(dict(zip(header, row.fields, strict=True)), problems)
            for problem in problems:
                yield SourceWarning(row.ref, problem.column, problem.reason, problem.detail, id=key,
                                    photo_id=photo_id, origin=self.origin)
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
