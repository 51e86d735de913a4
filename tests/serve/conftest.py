"""A small real collection for the service tests: local files and Unsplash-style photos in Qdrant Edge, the tiny CLIP.

The collection is built once; each app gets its own copy of the data folder, because the
embedded store is one process (and one open handle) at a time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serve_data import COLLECTION, ESCAPE, LOCAL, OUTSIDE, UNSPLASH, model_settings, orientation_of, png, serve_settings

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.identity import record_identity
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.serve import create_app


@pytest.fixture(scope="session")
def encoder(tiny_clip_dir: Path) -> ClipEncoder:
    """The tiny CLIP, loaded once."""
    return ClipEncoder.from_settings(model_settings(tiny_clip_dir))


@pytest.fixture(scope="session")
def collection(tmp_path_factory: pytest.TempPathFactory, encoder: ClipEncoder) -> dict[str, Any]:
    """Photo files under ``photos/`` and a pristine Edge data folder holding them (built once)."""
    root = tmp_path_factory.mktemp("serve-collection")
    photos = root / "photos"
    secret = root / "secret"
    secret.mkdir()
    ids, pictures, payloads = [], [], []
    for relpath, (colour, size, country, words) in LOCAL.items():
        path = photos / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png(colour, size, "JPEG" if relpath.endswith(".jpg") else "PNG"))
        ids.append(point_id(relpath, "folder"))
        pictures.append(Image.new("RGB", size, colour))
        payloads.append({
            "source": "folder", "photo_id": relpath, "path": str(path.resolve()),
            "description": f"a {relpath.rsplit('/', 1)[-1].split('.')[0]} picture",
            "width": size[0], "height": size[1], "orientation": orientation_of(size),
            "location": {"country": country}, "keywords": words,
        })
    (secret / "private.png").write_bytes(png((1, 2, 3)))
    os.symlink(secret / "private.png", photos / ESCAPE)
    # Distinct pictures: equal vectors tie, and ties may come back in either order on two pages.
    private = ((OUTSIDE, secret / "private.png", (1, 2, 3)), (ESCAPE, photos / ESCAPE, (90, 0, 60)))
    for photo_id, path, colour in private:
        ids.append(point_id(photo_id, "folder"))
        pictures.append(Image.new("RGB", (64, 48), colour))
        payloads.append({"source": "folder", "photo_id": photo_id, "path": str(path), "description": "private"})
    for photo_id, (colour, user, country) in UNSPLASH.items():
        ids.append(point_id(photo_id, "unsplash"))
        pictures.append(Image.new("RGB", (64, 48), colour))
        payloads.append({
            "source": "unsplash", "photo_id": photo_id, "description": f"photo {photo_id}",
            "image_url": f"https://images.unsplash.com/photo-{photo_id}",
            "page_url": f"https://unsplash.com/photos/{photo_id}",
            "photographer": user, "photographer_name": user.title(), "width": 64, "height": 48,
            "orientation": "landscape", "location": {"country": country}, "keywords": ["travel"],
        })
    data = root / "qdrant"
    store = EdgeStore(QdrantSettings(path=data, collection=COLLECTION))  # type: ignore[call-arg]
    store.ensure_collection(encoder.dimension)
    record_identity(store, encoder)
    store.upsert(ids, encoder.encode_images(pictures), payloads)
    store.close()
    return {"root": root, "photos": photos, "secret": secret, "data": data, "count": len(ids)}


@pytest.fixture
def fresh_data(collection: dict[str, Any]) -> Iterator[Callable[[], Path]]:
    """Makes copies of the collection's data folder (one per open store), removed after the test."""
    made: list[Path] = []
    base = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else None

    def copy() -> Path:
        folder = Path(tempfile.mkdtemp(prefix="photoseek-serve-", dir=base))
        made.append(folder)
        shutil.copytree(collection["data"], folder / "qdrant")
        return folder / "qdrant"

    yield copy
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def make_client(
    collection: dict[str, Any], fresh_data: Callable[[], Path], tiny_clip_dir: Path, encoder: ClipEncoder
) -> Callable[..., Any]:
    """``with make_client(api_key=...) as client:`` an app on its own copy of the collection."""

    @contextmanager
    def make(data: Path | None = None, **serve: Any) -> Iterator[TestClient]:
        settings = serve_settings(data or fresh_data(), tiny_clip_dir, collection["photos"], **serve)
        with TestClient(create_app(settings, encoder=encoder), raise_server_exceptions=False) as client:
            yield client

    return make


@pytest.fixture(scope="module")
def client(
    collection: dict[str, Any], tiny_clip_dir: Path, encoder: ClipEncoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """One app on the collection for a whole test module (default settings)."""
    folder = tmp_path_factory.mktemp("serve-data")
    shutil.copytree(collection["data"], folder / "qdrant")
    settings = serve_settings(folder / "qdrant", tiny_clip_dir, collection["photos"])
    with TestClient(create_app(settings, encoder=encoder), raise_server_exceptions=False) as test_client:
        yield test_client
