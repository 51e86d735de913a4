"""Photo points with realistic payloads (retrieval/schema.py); the contract tests' stores, asyncio ones too."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from store_backends import CONTRACT_BACKENDS, ContractStores

from photoseek.retrieval.schema import point_id

WORDS = (
    "mountain lake forest city night street dog cat beach sunset snowy river bridge "
    "coffee portrait flower desert road winter summer ocean sky tree red blue"
).split()
PHOTOGRAPHERS = ["alice", "bob", "chen", "dana", "emeka", "farah"]
PLACES = [  # city, country, lat, lon
    ("Paris", "France", 48.8566, 2.3522),
    ("Lyon", "France", 45.764, 4.8357),
    ("Berlin", "Germany", 52.52, 13.405),
    ("Tokyo", "Japan", 35.6762, 139.6503),
    ("Lagos", "Nigeria", 6.5244, 3.3792),
    ("Quito", "Ecuador", -0.1807, -78.4678),
]
COLORS = ["red", "blue", "green", "black", "white", "orange"]
MAKES = ["Canon", "Nikon", "Sony", "FUJIFILM", "Apple"]


@dataclass
class PhotoPoints:
    """Ids, unit vectors and payloads of a set of photo points."""

    ids: list[str]
    vectors: np.ndarray
    payloads: list[dict[str, Any]]


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()  # case must not matter to text matching
    return " ".join(words) + rng.choice([".", "!", ""])


def make_photo_points(n: int, dim: int, seed: int = 7) -> PhotoPoints:
    """``n`` photo points of dimension ``dim``: every indexed field, some absent, null or empty."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    vectors = np_rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    ids, payloads = [], []
    for i in range(n):
        photo_id = f"p{i:05d}{rng.choice('abcdefgh')}"
        width, height = rng.choice([(6000, 4000), (4000, 6000), (3000, 3000), (5472, 3648), (2448, 3264)])
        payload: dict[str, Any] = {
            "source": "unsplash",
            "photo_id": photo_id,
            "image_url": f"https://images.unsplash.com/photo-{photo_id}",
            "page_url": f"https://unsplash.com/photos/{photo_id}",
            "photographer": rng.choice(PHOTOGRAPHERS),
            "photographer_name": "Some Body",
            "submitted_at": (start + timedelta(minutes=rng.randrange(9 * 365 * 24 * 60)))
            .isoformat()
            .replace("+00:00", "Z"),
            "featured": rng.random() < 0.3,
            "width": width,
            "height": height,
            "aspect_ratio": round(width / height, 4),
            "orientation": "landscape" if width > height else "portrait" if height > width else "square",
            "views": rng.randrange(0, 200_000),
            "downloads": rng.randrange(0, 5_000),
            "keywords": rng.sample(WORDS, rng.randrange(0, 6)),
            "colors": rng.sample(COLORS, rng.randrange(1, 3)),
            "collections": rng.sample(["Travel", "Animals", "Nature", "Food"], rng.randrange(0, 3)),
            # Not in the schema: an array of objects, for nested conditions.
            "user_tags": [
                {"title": rng.choice(WORDS), "votes": rng.randrange(0, 10)} for _ in range(rng.randrange(0, 4))
            ],
        }
        if rng.random() < 0.85:
            payload["description"] = _sentence(rng, rng.randrange(3, 9))
        payload["ai_description"] = _sentence(rng, rng.randrange(4, 10))
        roll = rng.random()
        if roll < 0.5:
            payload["taken_at"] = (start + timedelta(days=rng.randrange(3000))).isoformat().replace("+00:00", "Z")
        elif roll < 0.75:
            payload["taken_at"] = None
        if rng.random() < 0.8:
            city, country, lat, lon = rng.choice(PLACES)
            location: dict[str, Any] = {"name": f"{city}, {country}", "city": city, "country": country}
            if rng.random() < 0.85:
                # Six decimals, as in Unsplash data: Edge may return a float's last digit changed.
                location["geo"] = {
                    "lat": round(lat + rng.uniform(-0.5, 0.5), 6),
                    "lon": round(lon + rng.uniform(-0.5, 0.5), 6),
                }
            payload["location"] = location
        if rng.random() < 0.7:
            payload["camera"] = {"make": rng.choice(MAKES), "model": "X", "iso": rng.choice([100, 400, 1600])}
        ids.append(point_id(photo_id))
        payloads.append(payload)
    return PhotoPoints(ids=ids, vectors=vectors, payloads=payloads)


@pytest.fixture(scope="session")
def photo_points() -> PhotoPoints:
    """300 photo points of dimension 32."""
    return make_photo_points(300, 32)


@pytest.fixture(params=CONTRACT_BACKENDS)
def store_factory(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[ContractStores]:
    """The stores of each backend for the contract tests: the retrieval conftest's, and the asyncio server store."""
    factory = ContractStores(request.param, data_dir / "qdrant")
    yield factory
    factory.close()
