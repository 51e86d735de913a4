"""``Hit``: one search result, the payload's fields typed, the raw payload kept."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from photoseek.retrieval.store.base import Record, ScoredRecord


class Location(BaseModel):
    """Where a photo was taken, as far as it is known."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    city: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None


class Hit(BaseModel):
    """One search result.

    The commonly used payload fields are typed attributes; a field that is missing or holds
    an unexpected type is None (or empty) rather than an error, and ``payload`` keeps
    everything as stored.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="the point id (a UUID)")
    score: float = Field(
        description="how well the photo matches (higher is closer): the cosine similarity to the query in "
        "vector mode, the BM25 score in keyword mode, the fusion's score in hybrid mode"
    )
    photo_id: str | None = None
    source: str | None = None
    image_url: str | None = None
    page_url: str | None = None
    path: str | None = None
    description: str | None = None
    ai_description: str | None = None
    photographer: str | None = None
    photographer_name: str | None = None
    submitted_at: datetime | None = None
    featured: bool | None = None
    width: int | None = None
    height: int | None = None
    aspect_ratio: float | None = None
    orientation: str | None = None
    location: Location | None = None
    keywords: list[str] = Field(default_factory=list)
    colors: list[str] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def title(self) -> str:
        """The photographer's description, else the generated one, else an empty string."""
        return self.description or self.ai_description or ""

    @classmethod
    def from_record(cls, record: Record, score: float | None = None) -> Hit:
        """Build a hit from a store record.

        Args:
            record: a ``ScoredRecord`` from a query (or a plain ``Record``).
            score: the score to use instead of the record's own.
        """
        payload = dict(record.payload or {})
        if score is None:
            score = record.score if isinstance(record, ScoredRecord) else 0.0
        return cls(
            id=str(record.id),
            score=float(score),
            photo_id=_text(payload.get("photo_id")),
            source=_text(payload.get("source")),
            image_url=_text(payload.get("image_url")),
            page_url=_text(payload.get("page_url")),
            path=_text(payload.get("path")),
            description=_text(payload.get("description")),
            ai_description=_text(payload.get("ai_description")),
            photographer=_text(payload.get("photographer")),
            photographer_name=_text(payload.get("photographer_name")),
            submitted_at=_when(payload.get("submitted_at")),
            featured=payload.get("featured") if isinstance(payload.get("featured"), bool) else None,
            width=_int(payload.get("width")),
            height=_int(payload.get("height")),
            aspect_ratio=_float(payload.get("aspect_ratio")),
            orientation=_text(payload.get("orientation")),
            location=_location(payload.get("location")),
            keywords=_strings(payload.get("keywords")),
            colors=_strings(payload.get("colors")),
            payload=payload,
        )

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the typed fields plus the raw payload (datetimes as ISO 8601)."""
        return self.model_dump(mode="json")


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def _location(value: Any) -> Location | None:
    if not isinstance(value, dict):
        return None
    geo: dict[str, Any] = value["geo"] if isinstance(value.get("geo"), dict) else {}
    return Location(
        name=_text(value.get("name")),
        city=_text(value.get("city")),
        country=_text(value.get("country")),
        lat=_float(geo.get("lat")),
        lon=_float(geo.get("lon")),
    )
