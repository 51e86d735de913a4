"""The text query cache: the same query twice in a process is encoded once."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class QueryCache:
    """A bounded, thread-safe LRU of text -> vector (read-only arrays)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> np.ndarray | None:
        """The cached vector of ``text``, or None."""
        with self._lock:
            vector = self._items.get(text)
            if vector is None:
                self.misses += 1
                return None
            self._items.move_to_end(text)
            self.hits += 1
            return vector

    def put(self, text: str, vector: np.ndarray) -> None:
        """Keep ``vector`` for ``text``, dropping the least recently used beyond ``size``."""
        if self.size <= 0:
            return
        vector = np.array(vector, dtype=np.float32, copy=True)
        vector.setflags(write=False)
        with self._lock:
            self._items[text] = vector
            self._items.move_to_end(text)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

