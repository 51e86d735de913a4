"""Stores on each real engine for the retrieval tests: Qdrant Edge, qdrant-client local mode, a server.

``store_factory`` is parametrized over the backends (tests/retrieval/store_backends.py says
which); a test that takes it (or ``any_store``) runs once per backend.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_backends import BACKENDS, StoreFactory  # tests/retrieval is on the path, as its conftest's folder

from photoseek.retrieval.store.base import VectorStore


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for embedded data: in memory (/dev/shm) where there is one, else a temporary one.

    Qdrant Edge fsyncs every file it writes (a new collection makes ~25 payload indexes);
    on a shared disk that costs seconds per test, in memory milliseconds. Durability across
    a killed process does not depend on it: the page cache outlives the process.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("data")
        return
    folder = Path(tempfile.mkdtemp(prefix="photoseek-test-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def data_dir(data_root: Path) -> Iterator[Path]:
    """A fresh folder under ``data_root`` for one test, removed after it."""
    folder = Path(tempfile.mkdtemp(dir=data_root))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[StoreFactory]:
    """A ``StoreFactory`` for each backend: edge, local and (with a server) server."""
    factory = StoreFactory(request.param, data_dir / "qdrant")
    yield factory
    factory.close()


@pytest.fixture
def any_store(store_factory: StoreFactory) -> VectorStore:
    """A store on each backend whose collection does not exist yet (call ``ensure_collection``)."""
    return store_factory()
