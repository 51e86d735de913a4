"""What a source yields: one ``SourceRecord`` per photo, or a ``SourceFailure`` for a bad input."""

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
