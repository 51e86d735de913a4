"""How many points photoseek has written to a collection, so that a loss is noticed.

A crash with a damaged write-ahead log, or a damaged store file, can lose points without any
error: the store simply counts fewer. So the collection's photoseek metadata keeps a record of
the most points it has held after a photoseek write (``points_written``), raised during and
after every ingest. When the store's exact count is below that record, ingest and ``photoseek
info`` say so. ``photoseek check --repair`` rewrites the record to what is left, since the
points it deletes are meant to go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from photoseek.errors import PhotoseekError
from photoseek.retrieval.store.base import METADATA_KEY, VectorStore

log = logging.getLogger(__name__)

WRITTEN_FIELD = "points_written"

# How often a running ingest raises the record: often enough that a kill -9 loses little of it,
# rarely enough that the count and the metadata write cost nothing next to the batches.
UPDATE_EVERY_SECONDS = 10.0


def written_in_metadata(metadata: Mapping[str, Any]) -> int | None:
    """The recorded number of points written, or None when the collection has no record."""
    record = metadata.get(METADATA_KEY)
    if not isinstance(record, Mapping):
        return None
    value = record.get(WRITTEN_FIELD)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def set_written(store: VectorStore, written: int) -> None:
    """Set the record of points written, keeping the rest of photoseek's metadata.

    Args:
        store: the store holding the collection (it must exist).
        written: the number of points to record.
    """
    record = store.get_metadata().get(METADATA_KEY)
    merged = dict(record) if isinstance(record, Mapping) else {}
    merged[WRITTEN_FIELD] = int(written)
    store.set_metadata({METADATA_KEY: merged})


def raise_written(store: VectorStore) -> int:
    """Raise the record to the store's exact count when the count is higher; returns the record.

    The record never goes down here, so points lost before this call stay noticed until they
    are written again (or ``photoseek check --repair`` accepts the loss).

    Args:
        store: the store holding the collection (it must exist).
    """
    stored = store.count()
    written = written_in_metadata(store.get_metadata())
    if written is None or stored > written:
        set_written(store, stored)
        return stored
    return written


ADVICE = (
    "run `photoseek check` to find damaged points; the next `photoseek ingest` of the same photos "
    "re-encodes the missing ones"
)


def shortfall_message(collection: str, stored: int, written: int, advice: str = ADVICE) -> str:
    """The warning for a collection holding fewer points than were written to it.

    Args:
        collection: the collection's name.
        stored: the store's exact count.
        written: the recorded number of points written.
        advice: what to do, appended after the numbers.
    """
    return (
        f"collection {collection!r} holds {stored} points but photoseek's records say {written} were "
        f"written: {written - stored} are missing (a crash or a damaged store); {advice}"
    )


def shortfall(store: VectorStore) -> tuple[int, int] | None:
    """``(stored, written)`` when the store counts fewer points than its record says were written.

    Args:
        store: the store holding the collection (it must exist).

    Returns:
        None when the collection has no record or holds at least that many points.
    """
    written = written_in_metadata(store.get_metadata())
    if written is None:
        return None
    stored = store.count()
    return (stored, written) if stored < written else None


class WrittenTally:
    """Raises a collection's record of points written now and then during an ingest.

    Call :meth:`after_batch` after every batch (cheap: it acts at most once per ``every``
    seconds) and :meth:`finish` when the run ends, however it ends.
    """

    def __init__(self, store: VectorStore, every: float = UPDATE_EVERY_SECONDS) -> None:
        """Tally for ``store``'s collection, raising the record at most once per ``every`` seconds."""
        self.store = store
        self.every = every
        self._last = time.monotonic()

    def after_batch(self) -> None:
        """Raise the record when ``every`` seconds have passed since the last time."""
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._raise()

    def finish(self) -> None:
        """Raise the record now (at the end of a run, whole or stopped)."""
        self._last = time.monotonic()
        self._raise()

    def _raise(self) -> None:
        try:
            raise_written(self.store)
        except PhotoseekError as exc:
            # The record only serves a warning; a store that cannot be counted now fails the run
            # on its own, with its own message.
            log.debug("could not update the record of points written: %s", exc)
