"""Stores on each real engine for the retrieval tests: Qdrant Edge, qdrant-client local mode, a server.

``store_factory`` is parametrized over the backends; a test that takes it (or ``any_store``)
runs once per backend:

- ``edge``: the embedded Qdrant Edge store in a temporary data folder;
- ``local``: ``ServerStore`` on ``QdrantClient(":memory:")``, which stands in for the
  server's client API (one client per test, so stores made in one test share data);
- ``server``: ``ServerStore`` on the real server at PHOTOSEEK_TEST_QDRANT_URL (marked
  ``server``, skipped without it); collection names get a per-test prefix and are dropped
  at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.store.base import VectorStore
from photoseek.retrieval.store.edge import EdgeStore
from photoseek.retrieval.store.server import ServerStore

SERVER_URL_VAR = "PHOTOSEEK_TEST_QDRANT_URL"
BACKENDS = ["edge", "local", pytest.param("server", marks=pytest.mark.server)]


class StoreFactory:
    """Makes stores of one backend; every store it made is closed (and dropped) at the end."""

    def __init__(self, backend: str, data_dir: Path) -> None:
        self.backend = backend
        self.data_dir = data_dir
        self._prefix = f"t{uuid.uuid4().hex[:10]}_" if backend == "server" else ""
        self._client: QdrantClient | None = None
        self._made: list[VectorStore] = []

    def settings(self, collection: str = "photos", **overrides: Any) -> QdrantSettings:
        """The qdrant settings a store of this backend is built from."""
        values: dict[str, Any] = {"path": self.data_dir, "collection": self._prefix + collection, "retries": 1}
        if self.backend == "server":
            values["url"] = os.environ[SERVER_URL_VAR]
        values.update(overrides)
        return QdrantSettings(**values)

    def client(self) -> QdrantClient:
        """The one client the ``local`` / ``server`` stores of this test share."""
        if self._client is None:
            if self.backend == "local":
                self._client = QdrantClient(":memory:")
            else:
                self._client = QdrantClient(url=os.environ[SERVER_URL_VAR], timeout=30)
        return self._client

    def __call__(self, collection: str = "photos", **overrides: Any) -> VectorStore:
        """A store of this backend on ``collection`` (not created yet)."""
        settings = self.settings(collection, **overrides)
        store: VectorStore
        if self.backend == "edge":
            store = EdgeStore(settings)
        else:
            store = ServerStore(settings, client=self.client())
        self._made.append(store)
        return store

    def close(self) -> None:
        """Close every store; on a real server, drop the collections this test made."""
        for store in self._made:
            if self.backend == "server":
                try:
                    store.delete_collection()
                except Exception:  # noqa: BLE001 - cleanup must not hide the test's own failure
                    pass
            store.close()
        if self._client is not None:
            self._client.close()


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
