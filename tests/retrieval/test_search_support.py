"""What the search tests share: a deterministic word encoder, a photo set with varied payloads, a brute-force scan."""

from __future__ import annotations

import math
import os
import re
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from photoseek.config import QdrantSettings
from photoseek.retrieval.identity import ModelIdentity
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.store.server import ServerStore

DIM = 16
N_PHOTOS = 240
SERVER_URL_VAR = "PHOTOSEEK_TEST_QDRANT_URL"

COUNTRIES = ["Iceland", "Norway", "France", "Japan"]
CITIES = {"Iceland": "Reykjavik", "Norway": "Oslo", "France": "Paris", "Japan": "Kyoto"}
# Points of each country lie within 30 km of its centre; the countries are > 1000 km apart,
# so a geo radius of 100 km never lands near a point (no rounding disagreements).
CENTRES = {"Iceland": (64.13, -21.90), "Norway": (59.91, 10.75), "France": (48.86, 2.35), "Japan": (35.01, 135.77)}
PHOTOGRAPHERS = ["ana", "ben", "chloe", "dev", "eli"]
KEYWORDS = ["dog", "beach", "snow", "mountain", "city", "night", "cat", "forest", "car", "food"]
COLORS = ["red", "blue", "green", "white", "black"]
WORDS = ["dog", "cat", "beach", "snow", "red", "car", "forest", "night", "bridge", "river", "sunset"]
CAMERAS = ["Canon", "Nikon", "Sony"]


def word_vector(word: str) -> np.ndarray:
    """A fixed random unit vector per word."""
    rng = np.random.default_rng(zlib.crc32(word.lower().encode()))
    vector = rng.standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


class WordEncoder:
    """A deterministic encoder of the ``Encoder`` protocol: a text is the mean of its word vectors.

    An image is encoded from its pixels (a hash of a 4 x 4 thumbnail), so the same picture
    always gives the same vector. ``calls`` counts encoder calls, to prove none happened.
    """

    def __init__(self, dimension: int = DIM, name: str = "test/word-encoder") -> None:
        self.dimension = dimension
        self.image_size = 32
        self.name = name
        self.calls = 0

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        rows = []
        for text in texts:
            words = re.findall(r"\w+", text.lower()) or ["empty"]
            vector = np.sum([word_vector(w) for w in words], axis=0)[: self.dimension]
            if vector.shape[0] < self.dimension:
                vector = np.resize(vector, self.dimension)
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        self.calls += 1
        return np.asarray([image_vector(image, self.dimension) for image in images], dtype=np.float32)

    def encode_pixels(self, batch: np.ndarray) -> np.ndarray:
        return self.encode_images([Image.fromarray(pixels) for pixels in batch])

    def identity(self) -> ModelIdentity:
        return ModelIdentity(name=self.name, dimension=self.dimension, fingerprint=f"fp-{self.name}")

    def text_identity(self) -> ModelIdentity:
        return self.identity()


def image_vector(image: Image.Image, dimension: int = DIM) -> np.ndarray:
    """The ``WordEncoder`` vector of an image."""
    thumb = np.asarray(image.convert("RGB").resize((4, 4)), dtype=np.uint8).tobytes()
    rng = np.random.default_rng(zlib.crc32(thumb))
    vector = rng.standard_normal(dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def make_photos(n: int = N_PHOTOS, seed: int = 7) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    """Point ids, unit vectors and realistic payloads; some fields are missing on purpose."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    base = datetime(2016, 1, 1, tzinfo=UTC)
    ids, payloads = [], []
    for i in range(n):
        source = "folder" if i % 10 == 9 else "unsplash"
        photo_id = f"trips/{i:04d}.jpg" if source == "folder" else f"photo{i:04d}"
        width = int(rng.integers(6, 61)) * 100
        height = int(rng.integers(6, 61)) * 100
        if i % 7 == 0:
            height = width
        payload: dict[str, Any] = {
            "source": source,
            "photo_id": photo_id,
            "image_url": f"https://images.unsplash.com/{photo_id}",
            "width": width,
            "height": height,
            "aspect_ratio": width / height,
            "orientation": "square" if width == height else ("landscape" if width > height else "portrait"),
            "photographer": PHOTOGRAPHERS[int(rng.integers(len(PHOTOGRAPHERS)))],
            "featured": bool(rng.random() < 0.3),
            "views": int(rng.integers(0, 100_000)),
            "downloads": int(rng.integers(0, 5_000)),
            "submitted_at": (base + timedelta(days=int(rng.integers(0, 2900)), hours=int(rng.integers(24))))
            .isoformat()
            .replace("+00:00", "Z"),
            "keywords": list(rng.choice(KEYWORDS, size=int(rng.integers(1, 4)), replace=False)),
            "colors": list(rng.choice(COLORS, size=int(rng.integers(1, 3)), replace=False)),
            "collections": [f"col{int(rng.integers(4))}"],
            "description": " ".join(rng.choice(WORDS, size=3)),
            "camera": {"make": CAMERAS[i % 3], "model": "X"},
        }
        if i % 4 == 1:  # a topic of the same title as a collection: filtered apart
            payload["topics"] = [f"col{i % 8 // 2}"]
        if i % 5 != 4:
            payload["ai_description"] = "a photo of " + " ".join(rng.choice(WORDS, size=2))
        if i % 3 == 0:
            payload["taken_at"] = (base + timedelta(days=int(rng.integers(0, 2900)))).isoformat()
        if i % 6 != 5:
            country = COUNTRIES[int(rng.integers(len(COUNTRIES)))]
            lat, lon = CENTRES[country]
            bearing, km = rng.uniform(0, 2 * math.pi), rng.uniform(0, 30)
            lat += km / 111.0 * math.cos(bearing)
            lon += km / (111.0 * math.cos(math.radians(lat))) * math.sin(bearing)
            payload["location"] = {"country": country, "city": CITIES[country], "geo": {"lat": lat, "lon": lon}}
        ids.append(point_id(photo_id, source))
        payloads.append(payload)
    return ids, vectors, payloads


def brute_force(
    vectors: np.ndarray,
    ids: Sequence[str],
    payloads: Sequence[Mapping[str, Any]],
    query: np.ndarray,
    keep: Callable[[Mapping[str, Any]], bool],
    limit: int,
) -> list[tuple[str, float]]:
    """The exact top ``limit`` (id, cosine) of the points ``keep`` accepts."""
    query = query / np.linalg.norm(query)
    scores = vectors @ query
    ranked = sorted((i for i in range(len(ids)) if keep(payloads[i])), key=lambda i: -scores[i])
    return [(ids[i], float(scores[i])) for i in ranked[:limit]]


def fill(store: Any, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]]) -> None:
    """Create the collection on a sync store and upsert the photos."""
    store.ensure_collection(DIM)
    store.upsert(ids, vectors, payloads)
    store.optimize()


async def fill_async(
    client: AsyncQdrantClient, collection: str, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]]
) -> None:
    """The same collection built through an ``AsyncQdrantClient``."""
    await client.create_collection(
        collection, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    )
    await client.upsert(
        collection,
        points=[
            models.PointStruct(id=i, vector=v.tolist(), payload=p)
            for i, v, p in zip(ids, vectors, payloads, strict=True)
        ],
    )


def open_sync_store(kind: str, folder: Path, collection: str = "photos") -> Any:
    """A fresh store of ``kind``: "edge" (Qdrant Edge in ``folder``), "local" (qdrant-client
    local mode) or "server" (the server at PHOTOSEEK_TEST_QDRANT_URL, a collection of its own)."""
    if kind == "server":
        collection = f"t{uuid.uuid4().hex[:10]}_{collection}"
        return ServerStore(QdrantSettings(url=os.environ[SERVER_URL_VAR], collection=collection))  # type: ignore[call-arg]
    settings = QdrantSettings(path=folder, collection=collection)  # type: ignore[call-arg]
    if kind == "edge":
        return EdgeStore(settings)
    return ServerStore(settings, client=QdrantClient(":memory:"))


@pytest.fixture(scope="module")
def photos() -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    """The shared photo set."""
    return make_photos()


@pytest.fixture(scope="module", params=["edge", "local", pytest.param("server", marks=pytest.mark.server)])
def filled_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, photos: Any) -> Any:
    """The photo set in Qdrant Edge, in qdrant-client local mode and (when set up) on a server."""
    store = open_sync_store(request.param, tmp_path_factory.mktemp(f"store-{request.param}"))
    fill(store, *photos)
    yield store
    if request.param == "server":
        store.delete_collection()
    store.close()
