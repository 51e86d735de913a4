"""A folder of image files as a stream of records: id from the relative path, payload from EXIF.

Any file name is taken: the id comes from the name's bytes (``os.fsencode``), so a name that is
not valid UTF-8 gets a stable id of its own, and it is stored and reported in a readable form
(bytes that are not UTF-8 written as ``\xff``). Only regular files are read: a FIFO, a device
or a socket named like a picture is recorded as ``not_a_regular_file`` without being opened,
and a header read that hangs (a dead network mount) gives up after ``read_timeout``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from photoseek.ingest.sources.record import (
    SourceFailure,
    SourceRecord,
    orientation,
    rfc3339,
)
from photoseek.ingest.sources.shard import Shard, check_shard, in_shard
from photoseek.retrieval.local_files import LocalReadError, call_with_timeout, display_path, file_kind
from photoseek.retrieval.schema import PHOTO_NAMESPACE

if TYPE_CHECKING:
    from photoseek.ingest.ledger import Failure

log = logging.getLogger(__name__)

SOURCE = "folder"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})

# EXIF tags (numbers from the EXIF 2.3 specification).
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, DATETIME, ORIENTATION = 0x010F, 0x0110, 0x0132, 0x0112
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
EXPOSURE_TIME, F_NUMBER, ISO, FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x920A
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
# Orientations 5-8 turn the picture by 90 degrees: width and height swap on display.
TURNED = frozenset({5, 6, 7, 8})
# Seconds a file's header may take to read (``IngestSettings.file_read_timeout``).
DEFAULT_READ_TIMEOUT = 30.0


def file_point_id(relpath: str) -> str:
    """The point id of a file: a UUIDv5 of ``folder:`` and the relative path's bytes.

    The same id as ``retrieval.schema.point_id(relpath, "folder")`` for every UTF-8 name; a
    name that is not UTF-8 (``os.fsdecode`` gives it with surrogates, which ``uuid5`` cannot
    encode) hashes its own bytes, so it too has one stable id.
    """
    digest = hashlib.sha1(PHOTO_NAMESPACE.bytes + f"{SOURCE}:".encode() + os.fsencode(relpath)).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def _exif_datetime(text: object, offset: object) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if isinstance(offset, str):
        try:
            sign = -1 if offset.startswith("-") else 1
            hours, minutes = offset.strip("+-\x00 ").split(":")
            delta = timedelta(hours=int(hours), minutes=int(minutes))
            moment = moment.replace(tzinfo=timezone(sign * delta))
        except ValueError:
            pass
    # Without an offset the camera's clock zone is unknown; it is taken as UTC.
    return rfc3339(moment)


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]  # EXIF values come in any type; float() is the check
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _exposure(value: object) -> str | None:
    seconds = _number(value)
    if seconds is None:
        return None
    if seconds < 1:
        return f"1/{round(1 / seconds)}"
    return f"{seconds:g}"


def _degrees(dms: object, ref: object) -> float | None:
    try:
        d, m, s = (float(x) for x in dms)  # type: ignore[attr-defined]  # any EXIF value; iter() is the check
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if isinstance(ref, str) and ref.strip("\x00").upper() in {"S", "W"}:
        value = -value
    return value


def image_metadata(path: Path) -> dict[str, Any]:
    """Pixel size, orientation, EXIF date, camera and GPS of an image file, without decoding it.

    Returns whatever could be read; an unreadable file gives an empty dict (decoding it later
    records the precise reason).
    """
    meta: dict[str, Any] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                width, height = image.size
                exif = image.getexif()
                exif_ifd = exif.get_ifd(EXIF_IFD)
                gps = exif.get_ifd(GPS_IFD)
    except Exception:  # noqa: BLE001 - any unreadable header is the decoder's to explain
        return meta
    if exif.get(ORIENTATION) in TURNED:
        width, height = height, width
    meta["width"], meta["height"] = width, height
    meta["aspect_ratio"] = round(width / height, 4) if height else None
    meta["orientation"] = orientation(width, height)
    taken = _exif_datetime(exif_ifd.get(DATETIME_ORIGINAL) or exif.get(DATETIME),
                           exif_ifd.get(OFFSET_TIME_ORIGINAL))
    if taken:
        meta["taken_at"] = taken
    camera: dict[str, Any] = {}
    for key, value in (("make", exif.get(MAKE)), ("model", exif.get(MODEL))):
        if isinstance(value, str) and value.strip("\x00 "):
            camera[key] = value.strip("\x00 ")
    iso = exif_ifd.get(ISO)
    if isinstance(iso, tuple):
        iso = iso[0] if iso else None
    iso_number = _number(iso)
    if iso_number:
        camera["iso"] = int(iso_number)
    for key, value in (("aperture", exif_ifd.get(F_NUMBER)), ("focal_length", exif_ifd.get(FOCAL_LENGTH))):
        number = _number(value)
        if number:
            camera[key] = round(number, 3)
    exposure = _exposure(exif_ifd.get(EXPOSURE_TIME))
    if exposure:
        camera["exposure_time"] = exposure
        # The same indexed number as the Unsplash source gives, so that one range filter serves both.
        camera["exposure_seconds"] = round(_number(exif_ifd.get(EXPOSURE_TIME)), 6)  # type: ignore[arg-type]
    if camera:
        meta["camera"] = camera
    lat = _degrees(gps.get(GPS_LAT), gps.get(GPS_LAT_REF))
    lon = _degrees(gps.get(GPS_LON), gps.get(GPS_LON_REF))
    if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
        meta["location"] = {"geo": {"lat": round(lat, 7), "lon": round(lon, 7)}}
    return {k: v for k, v in meta.items() if v is not None}


class FolderSource:
    """Every image file under a folder, as ``SourceRecord`` / ``SourceFailure``, in a stable order."""

    def __init__(
        self,
        root: Path,
        shard: Shard | None = None,
        limit: int | None = None,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        """Open a folder.

        Args:
            root: the folder to walk (sub-folders included, symlinked folders not followed).
            shard: ``(k, n)`` to keep only the files whose id hashes to ``k``.
            limit: stop after this many records.
            read_timeout: seconds a file's header (size, EXIF) may take to read.

        Raises:
            FileNotFoundError: when ``root`` is not a folder.
        """
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist")
        self.shard = check_shard(shard) if shard is not None else None
        self.limit = limit
        self.read_timeout = read_timeout
        self.origin = f"{SOURCE}:{self.root.resolve()}"
        self._walk_errors = 0

    def read_again(self, failure: Failure) -> bool:
        """Whether a whole read of this source meets ``failure``'s file again (its folder, its
        shard, every sub-folder listed)."""
        if failure.origin != self.origin or self._walk_errors:
            return False
        return in_shard(file_point_id(failure.ref), self.shard)

    def _walk_error(self, exc: OSError) -> None:
        self._walk_errors += 1  # a sub-folder that cannot be listed: this read is not whole
        log.warning("%s", exc)

    def _files(self) -> Iterator[Path]:
        for folder, dirs, files in os.walk(self.root, onerror=self._walk_error):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
                    yield Path(folder) / name

    def __iter__(self) -> Iterator[SourceRecord | SourceFailure]:
        """Yield one record per image file, lazily; a file that cannot be taken is a failure."""
        emitted = 0
        for path in self._files():
            if self.limit is not None and emitted >= self.limit:
                return
            relpath = path.relative_to(self.root).as_posix()
            record_id = file_point_id(relpath)
            if not in_shard(record_id, self.shard):
                continue
            shown = display_path(relpath)
            try:
                item = self._item(path, record_id, shown)
            except Exception as exc:  # noqa: BLE001 - one odd file never stops the job
                item = SourceFailure(
                    shown, "unreadable", f"{type(exc).__name__}: {exc}", photo_id=shown, origin=self.origin
                )
            if isinstance(item, SourceRecord):
                emitted += 1
            yield item

    def _item(self, path: Path, record_id: str, shown: str) -> SourceRecord | SourceFailure:
        try:
            stat = path.stat()
        except OSError as exc:
            return SourceFailure(shown, "unreadable", f"cannot stat: {exc}", photo_id=shown, origin=self.origin)
        kind = file_kind(stat.st_mode)
        if kind is not None:
            # Never opened: opening a FIFO blocks until a writer comes, a device never ends.
            return SourceFailure(
                shown, "not_a_regular_file", f"{shown} is {kind}, not a regular file",
                photo_id=shown, origin=self.origin,
            )
        payload: dict[str, Any] = {
            "source": SOURCE,
            "photo_id": shown,
            "path": display_path(path.resolve()),
            "file_size": stat.st_size,
            "mtime": rfc3339(datetime.fromtimestamp(stat.st_mtime, UTC)),
        }
        try:
            payload.update(call_with_timeout(lambda: image_metadata(path), self.read_timeout, shown))
        except LocalReadError as exc:
            return SourceFailure(shown, exc.reason, exc.detail, photo_id=shown, origin=self.origin)
        if payload["file_size"] == 0:
            del payload["file_size"]  # missing values are absent, never 0
        return SourceRecord(record_id, shown, SOURCE, payload, local_path=path)
