"""The process-wide table of open Qdrant Edge shards, and Edge errors in photoseek's terms.

Qdrant Edge locks the write-ahead log of an open shard: a second ``EdgeShard.load`` of the
same folder fails, even in the same process. So each folder is opened once per process and
every ``EdgeStore`` borrows that handle (with a reference count); another process gets
``StoreLocked``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as qe

from photoseek.errors import CollectionNotFound, PhotoseekError
from photoseek.retrieval.store.base import collection_not_found
from photoseek.retrieval.store.damage import edge_error, is_engine_panic
from photoseek.retrieval.store.disk_space import OPEN_HEADROOM, check_space

T = TypeVar("T")

CONFIG_FILE = "edge_config.json"


class OpenShard:
    """One open shard and the stores of this process that use it."""

    def __init__(self, key: str, shard: qe.EdgeShard) -> None:
        self.key = key
        self.shard = shard
        self.refs = 0
        self.closed = False
        self.tail_checked = False
        # Serialises what must not interleave on one shard: metadata writes, optimize, close.
        self.lock = threading.RLock()
        self.facets = FacetCache()


class FacetCache:
    """Facet answers of one open shard, kept until its next write.

    A filtered facet costs the engine a walk over every point the filter matches (3.6 ms for
    a country facet of 10,000 matching points at 100k, 9 ms for keywords, on 2 cores), while
    a page or a service asks the same few facets over and over between ingests. The shard's
    folder is open in one process only (Edge locks its WAL) and every write of that process
    goes through ``EdgeStore._update``, which calls ``changed`` before and after it: so an
    answer kept here is never older than the data. An answer computed while a write ran is
    dropped, as its generation is gone by the time it would be kept.
    """

    # Answers kept at most (the oldest go first): a few hundred filters of a page's sidebar.
    SIZE = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._answers: dict[Hashable, Any] = {}

    @property
    def generation(self) -> int:
        """Bumped by every write; read it before computing an answer to ``keep``."""
        return self._generation

    def changed(self) -> None:
        """The shard's points changed (or are about to): forget every answer."""
        with self._lock:
            self._generation += 1
            self._answers.clear()

    def get(self, key: Hashable) -> Any | None:
        """The answer kept for ``key``, or None."""
        with self._lock:
            return self._answers.get(key)

    def keep(self, key: Hashable, generation: int, answer: Any) -> None:
        """Keep ``answer``, computed from the data of ``generation``, unless a write came since."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._answers) >= self.SIZE:
                self._answers.pop(next(iter(self._answers)))
            self._answers[key] = answer


class ShardRegistry:
    """The process-wide table of open shards, keyed by the folder's real path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, OpenShard] = {}

    def acquire(self, folder: Path, create: Callable[[], qe.EdgeShard] | None = None) -> tuple[OpenShard, bool]:
        """Borrow the folder's shard, opening it (or creating it with ``create``) if needed.

        Returns the shared handle and whether the shard was created now.
        """
        key = os.path.realpath(folder)
        with self._lock:
            entry = self._open.get(key)
            created = False
            if entry is None:
                # Opening allocates files the engine maps: on a full disk that is a SIGBUS.
                check_space(folder, OPEN_HEADROOM, "open the embedded store")
                if (folder / CONFIG_FILE).is_file():
                    shard = edge_call(folder, lambda: qe.EdgeShard.load(str(folder)))
                elif create is not None:
                    shard = edge_call(folder, create)
                    created = True
                else:
                    raise not_found(folder)
                entry = self._open[key] = OpenShard(key, shard)
            entry.refs += 1
            return entry, created

    def release(self, entry: OpenShard) -> None:
        """Return a borrowed handle; the last one flushes and closes the shard."""
        with self._lock:
            entry.refs -= 1
            if entry.refs > 0 or entry.closed:
                return
            self._close(entry)

    def discard(self, folder: Path) -> None:
        """Close the folder's shard now, whoever borrows it (before the folder is deleted)."""
        with self._lock:
            entry = self._open.get(os.path.realpath(folder))
            if entry is not None:
                self._close(entry)

    def _close(self, entry: OpenShard) -> None:
        with entry.lock:
            entry.closed = True
            self._open.pop(entry.key, None)
            try:
                entry.shard.flush()
            finally:
                entry.shard.close()


SHARDS = ShardRegistry()


def data_folder(folder: Path) -> str:
    """The embedded data folder (absolute) that holds the collection folder ``folder``."""
    return str(folder.resolve().parent)


def not_found(folder: Path) -> CollectionNotFound:
    """The error for the collection folder ``folder`` missing."""
    return collection_not_found(folder.name, "embedded", data_folder(folder))


def edge_call(folder: Path, call: Callable[[], T]) -> T:
    """Run a Qdrant Edge call, turning its plain exceptions into photoseek's error tree."""
    try:
        return call()
    except PhotoseekError:
        raise
    except BaseException as exc:
        # A Rust panic is a BaseException (pyo3's PanicException): caught here too, and named.
        if not (isinstance(exc, Exception) or is_engine_panic(exc)):
            raise
        raise edge_error(folder, exc) from None
