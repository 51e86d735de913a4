"""The stores the retrieval tests run on, one backend at a time.

``StoreFactory`` (the ``store_factory`` fixture of tests/retrieval/conftest.py) makes stores of
one backend:

- ``edge``: the embedded Qdrant Edge store in a temporary data folder;
- ``local``: ``ServerStore`` on ``QdrantClient(":memory:")``, which stands in for the
  server's client API (one client per test, so stores made in one test share data);
- ``server``: ``ServerStore`` on the real server at PHOTOSEEK_TEST_QDRANT_URL (marked
  ``server``, skipped without it); collection names get a per-test prefix and are dropped
  at the end.

``ContractStores`` (the store contract tests' ``store_factory``) adds the asyncio server store:

- ``async-local``: ``AsyncServerStore`` on ``AsyncQdrantClient(":memory:")``, driven through an
  event loop (``BlockingStore``);
- ``twin-local``: ``ServerStore`` and ``AsyncServerStore`` side by side (``TwinStore``): every
  call goes to both, and a difference in their answers or errors fails the test;
- ``async-server``: ``AsyncServerStore`` on the real server (marked ``server``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.store.async_server import AsyncServerStore
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
        # qdrant-client local mode keeps no payload indexes and makes no snapshots.
        self.in_process = backend == "local"

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


class BlockingStore:
    """An ``AsyncServerStore`` driven through an event loop of its own: the asyncio store seen as a
    ``VectorStore``, so that it runs the very contract tests the other stores run."""

    def __init__(self, store: AsyncServerStore, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self._loop = loop

    def same_collection_as(self, other: Any) -> bool:
        return self.store.same_collection_as(other.store if isinstance(other, BlockingStore) else other)

    def __getattr__(self, name: str) -> Any:
        member = getattr(self.store, name)
        if not inspect.iscoroutinefunction(member):
            return member

        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(member(*args, **kwargs))

        return blocking


def plain(value: Any) -> Any:
    """``value`` as plain data to compare: records as dicts, vectors and scores rounded, sets sorted."""
    if isinstance(value, np.ndarray):
        return np.round(value.astype(np.float64), 5).tolist()
    if isinstance(value, float):
        return round(value, 5)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {type(value).__name__: {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class TwinStore:
    """The sync and the asyncio server stores side by side, on two in-process clients holding the same data.

    Every call goes to both; their answers, or their errors (type and message), must be the same,
    or the call fails the test. Run through the contract tests, it makes any divergence between
    the two stores a failure, case by case.
    """

    def __init__(self, sync: ServerStore, asyncio_store: BlockingStore) -> None:
        self.sync = sync
        self.asyncio_store = asyncio_store

    def _side(self, value: Any, sync: bool) -> Any:
        if isinstance(value, TwinStore):
            return value.sync if sync else value.asyncio_store
        return value

    def __getattr__(self, name: str) -> Any:
        first, second = getattr(self.sync, name), getattr(self.asyncio_store, name)
        if not callable(first):
            assert plain(first) == plain(second), f"{name}: sync {first!r}, asyncio {second!r}"
            return first

        def both(*args: Any, **kwargs: Any) -> Any:
            outcomes = []
            for side, member in ((True, first), (False, second)):
                side_args = [self._side(a, side) for a in args]
                side_kwargs = {k: self._side(v, side) for k, v in kwargs.items()}
                try:
                    outcomes.append((member(*side_args, **side_kwargs), None))
                except Exception as exc:  # noqa: BLE001 - compared below, then raised
                    outcomes.append((None, exc))
            (got, error), (other, other_error) = outcomes
            seen = [(plain(v), None if e is None else (type(e).__name__, str(e))) for v, e in outcomes]
            assert seen[0] == seen[1], f"{name}: the sync and asyncio stores diverge: {seen[0]!r} != {seen[1]!r}"
            if error is not None:
                raise error
            return got

        return both


class ContractStores(StoreFactory):
    """``StoreFactory`` with the asyncio server store too: ``async-local`` (``AsyncQdrantClient(":memory:")``),
    ``twin-local`` (sync and asyncio side by side) and ``async-server`` (a real server)."""

    def __init__(self, backend: str, data_dir: Path) -> None:
        super().__init__(backend, data_dir)
        if backend == "async-server":
            self._prefix = f"t{uuid.uuid4().hex[:10]}_"
        self.in_process = backend in {"local", "async-local", "twin-local"}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_client: AsyncQdrantClient | None = None

    def settings(self, collection: str = "photos", **overrides: Any) -> QdrantSettings:
        settings = super().settings(collection, **overrides)
        if self.backend == "async-server" and "url" not in overrides:
            settings = settings.model_copy(update={"url": os.environ[SERVER_URL_VAR]})
        return settings

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def async_client(self) -> AsyncQdrantClient:
        """The one ``AsyncQdrantClient`` the asyncio stores of this test share."""
        if self._async_client is None:
            if self.backend == "async-server":
                self._async_client = AsyncQdrantClient(url=os.environ[SERVER_URL_VAR], timeout=30)
            else:
                self._async_client = AsyncQdrantClient(":memory:")
        return self._async_client

    def __call__(self, collection: str = "photos", **overrides: Any) -> Any:
        if self.backend not in {"async-local", "twin-local", "async-server"}:
            return super().__call__(collection, **overrides)
        settings = self.settings(collection, **overrides)
        store: Any = BlockingStore(AsyncServerStore(settings, client=self.async_client()), self.loop)
        if self.backend == "twin-local":
            store = TwinStore(ServerStore(settings, client=self.client()), store)
        self._made.append(store)
        return store

    def client(self) -> QdrantClient:
        if self.backend == "twin-local" and self._client is None:
            self._client = QdrantClient(":memory:")
        return super().client()

    def close(self) -> None:
        if self.backend == "async-server":
            for store in self._made:
                try:
                    store.delete_collection()
                except Exception:  # noqa: BLE001 - cleanup must not hide the test's own failure
                    pass
            self._made.clear()
        super().close()
        if self._async_client is not None:
            self.loop.run_until_complete(self._async_client.close())
        if self._loop is not None:
            self._loop.close()


CONTRACT_BACKENDS = [*BACKENDS, "async-local", "twin-local", pytest.param("async-server", marks=pytest.mark.server)]
