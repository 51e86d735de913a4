"""The payload a photo point carries: field names, their types and which ones get an index.

Both store backends create their payload indexes from ``INDEXED_FIELDS``; the sources build
payloads with these names; the search client's keyword filters name them. One table, so the
three can never drift apart.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class IndexKind(StrEnum):
    """The kind of payload index a field gets (Qdrant's payload schema types)."""

    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"
    DATETIME = "datetime"
    GEO = "geo"
    TEXT = "text"


# Where a photo can come from: the values of the payload's ``source`` field, one per ingest
# source (``photoseek.ingest.sources``); ``point_id`` mixes the source into the id.
SOURCES: tuple[str, ...] = ("unsplash", "folder")


@dataclass(frozen=True)
class Field:
    """One payload field: its dotted path, its index (None = stored, not indexed), what it holds."""

    path: str
    index: IndexKind | None
    description: str


# Dotted paths address nested objects the way Qdrant filters do ("location.country").
FIELDS: tuple[Field, ...] = (
    Field("source", IndexKind.KEYWORD, "where the photo came from: " + " or ".join(map(repr, SOURCES))),
    Field("photo_id", IndexKind.KEYWORD, "the source's own id (Unsplash photo_id, or the relative path)"),
    Field("image_url", None, "URL of the picture at its source (the Unsplash CDN)"),
    Field("picture_url", None, "the photo's thumbnail at photoseek serve's public address, ending in .jpg "
          "(the field the Qdrant dashboard shows as a picture; only when PHOTOSEEK_SERVE__PUBLIC_URL is set)"),
    Field("page_url", None, "the photo's page"),
    Field("path", IndexKind.KEYWORD, "local file the picture was read from, when there is one"),
    Field("description", IndexKind.TEXT, "the photographer's description"),
    Field("ai_description", IndexKind.TEXT, "a generated description"),
    Field("photographer", IndexKind.KEYWORD, "the photographer's username"),
    Field("photographer_name", None, "the photographer's full name"),
    Field("submitted_at", IndexKind.DATETIME, "when the photo was published (RFC 3339)"),
    Field("taken_at", IndexKind.DATETIME, "when the photo was taken (EXIF), when known"),
    Field("featured", IndexKind.BOOL, "featured on Unsplash"),
    Field("width", IndexKind.INTEGER, "width of the original in pixels"),
    Field("height", IndexKind.INTEGER, "height of the original in pixels"),
    Field("aspect_ratio", IndexKind.FLOAT, "width / height"),
    Field("orientation", IndexKind.KEYWORD, "landscape, portrait or square"),
    Field("location.name", None, "place name"),
    Field("location.city", IndexKind.KEYWORD, "city"),
    Field("location.country", IndexKind.KEYWORD, "country"),
    Field("location.geo", IndexKind.GEO, "{lat, lon} when both are known"),
    Field("camera.make", IndexKind.KEYWORD, "camera maker (EXIF)"),
    Field("camera.model", None, "camera model (EXIF)"),
    Field("camera.iso", IndexKind.INTEGER, "ISO speed (EXIF)"),
    Field("camera.aperture", IndexKind.FLOAT, "f-number (EXIF), read from the aperture text when there is one"),
    Field("camera.aperture_text", None, "the EXIF aperture as the dataset writes it ('f/2.8')"),
    Field("camera.focal_length", IndexKind.FLOAT, "focal length in mm (EXIF), read from its text when it has one"),
    Field("camera.focal_length_text", None, "the EXIF focal length as the dataset writes it ('50 mm')"),
    Field("camera.exposure_time", None, "the EXIF exposure time as written ('1/250')"),
    Field("camera.exposure_seconds", IndexKind.FLOAT, "exposure time in seconds ('1/250' -> 0.004)"),
    Field("landmark.name", IndexKind.KEYWORD, "the main landmark in the photo (a generated guess)"),
    Field("landmark.geo", IndexKind.GEO, "{lat, lon} of that landmark"),
    Field("landmark.confidence", None, "how sure the landmark guess is, as the dataset gives it"),
    Field("blur_hash", None, "BlurHash of the photo: a placeholder a page can draw before the thumbnail"),
    Field("views", IndexKind.INTEGER, "view count"),
    Field("downloads", IndexKind.INTEGER, "download count"),
    Field("keywords", IndexKind.KEYWORD, "keywords, best first"),
    Field("user_keywords", IndexKind.KEYWORD, "the keywords that users suggested"),
    Field("keyword_details", None,
          "per keyword: {keyword, ai_service_1, ai_service_2 (confidences), ai_service_3 (suggested or "
          "confirmed), user (who: photographer, admin or unknown)}, in the order of keywords"),
    Field("colors", IndexKind.KEYWORD, "colour keywords, largest coverage first"),
    Field("color_hexes", None, "colour hex codes, in the same order"),
    Field("color_details", None, "per colour: {keyword, hex, rgb, coverage, score}, largest coverage first"),
    Field("collections", IndexKind.KEYWORD, "titles of the user collections the photo is in"),
    Field("topics", IndexKind.KEYWORD, "titles of the Unsplash topics the photo is in"),
    Field("file_size", IndexKind.INTEGER, "bytes of the local file (folder source)"),
    Field("mtime", IndexKind.DATETIME, "modification time of the local file (folder source)"),
)

FIELDS_BY_PATH: dict[str, Field] = {f.path: f for f in FIELDS}

INDEXED_FIELDS: dict[str, IndexKind] = {f.path: f.index for f in FIELDS if f.index is not None}

# The namespace of point ids: uuid5(PHOTO_NAMESPACE, f"{source}:{photo_id}").
PHOTO_NAMESPACE = uuid.UUID("8f5c3b4e-6a8d-5c1e-9a57-70686f746f73")


def point_id(photo_id: str, source: str = "unsplash") -> str:
    """The stable point id of a photo: a UUIDv5 of its source and source id.

    Re-running an ingest upserts the same ids, so it never duplicates a photo.

    Args:
        photo_id: the source's own id (Unsplash ``photo_id``, or a file's relative path).
        source: the source kind, so that ids of different sources never collide.
    """
    return str(uuid.uuid5(PHOTO_NAMESPACE, f"{source}:{photo_id}"))
