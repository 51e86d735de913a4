"""Fixtures of the ingest-job tests: a folder of generated photos and an embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from photo_datasets import jpeg_bytes, photo_color
from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.store.edge import EdgeStore


@pytest.fixture
def photos(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A folder of ``N_PHOTOS`` (the test module's constant) distinct small JPEGs."""
    root = tmp_path / "photos"
    root.mkdir()
    for index in range(request.module.N_PHOTOS):
        (root / f"p{index}.jpg").write_bytes(jpeg_bytes(48, 40, photo_color(index)))
    return root


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EdgeStore]:
    """An embedded store in the test's folder (collection ``photos``), closed after the test."""
    made = EdgeStore(QdrantSettings(path=tmp_path / "qdrant", collection="photos"))
    yield made
    made.close()
