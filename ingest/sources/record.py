"""What sources yield: ``SourceRecord`` per photo, ``SourceFailure`` per bad input, ``SourceWarning`` per odd value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Within this relative difference of 1.0 a picture counts as square.
SQUARE_TOLERANCE = 0.02


@dataclass
class SourceRecord:
    """One photo to ingest.

    Attributes:
        id: the point id (``retrieval.schema.point_id(photo_id, source)``).
        photo_id: the source's own id (Unsplash ``photo_id``, or the relative path).
        source: ``"unsplash"`` or ``"folder"``.
        payload: the point's payload; field names from ``retrieval/schema.py``; missing
            values are absent, never ``""`` or 0.
        local_path: a local file holding the picture, when there is one.
        url: where to download the picture from when there is no local file.
    """

    id: str
    photo_id: str
    source: str
    payload: dict[str, Any] = field(default_factory=dict)
    local_path: Path | None = None
    url: str | None = None


@dataclass
class SourceFailure:
    """One input the source could not turn into a record; it is recorded and skipped.

    Attributes:
        ref: where the bad input is, e.g. ``"photos.tsv000:17"`` or a relative file path.
        reason: a short code such as ``bad_row``.
        detail: one line saying what is wrong.
        stage: always ``"source"``, to sit beside the fetch and decode failures.
        photo_id: the photo's id when it could be read.
        origin: which source met it (``unsplash:/data/lite``); a failures file may hold the
            failures of several sources.
    """

    ref: str
    reason: str
    detail: str = ""
    stage: str = "source"
    photo_id: str | None = None
    origin: str | None = None


@dataclass
class SourceWarning:
    """One value the source could not read: the field is left out, the photo is kept.

    A source yields the warnings of a photo just before its record; a warning about a whole
    file (a part name it does not recognise, a malformed row of a joined table) has no photo.

    Attributes:
        ref: where the value is, e.g. ``"photos.tsv000:17"``, or a file name.
        field: the dataset column (``exif_aperture_value``; a pair is ``a/b``), or ``file``.
        reason: a short code such as ``not_a_number`` or ``swapped``.
        detail: one line saying what was found and what was done with it.
        id: the photo's point id, when the warning is about a photo.
        photo_id: the photo's source id, when the warning is about a photo.
        origin: which source met it (``unsplash:/data/lite``).
        stage: always ``"source"``.
    """

    ref: str
    field: str
    reason: str
    detail: str = ""
    id: str | None = None
    photo_id: str | None = None
    origin: str | None = None
    stage: str = "source"


SourceItem = SourceRecord | SourceFailure | SourceWarning


def orientation(width: int | None, height: int | None) -> str | None:
    """``landscape``, ``portrait`` or ``square`` from pixel sizes; None when either is unknown."""
    if not width or not height:
        return None
    ratio = width / height
    if abs(ratio - 1.0) <= SQUARE_TOLERANCE:
        return "square"
    return "landscape" if ratio > 1.0 else "portrait"


def rfc3339(moment: datetime) -> str:
    """``moment`` as RFC 3339 in UTC (``2020-01-19T04:33:21.096862Z``); naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")
