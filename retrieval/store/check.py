"""Read every point of a collection back and say which are damaged: ``photoseek check``.

A damaged store can lose points silently: random bytes over part of a vector file leave
vectors that read without error but are no longer unit vectors (a cosine collection stores them
normalised), so those photos stop matching; a truncated file makes some points unreadable.
The check reads each point's vector and payload, compares what it read with the store's own
count, and lists the points that are damaged; ``repair`` deletes them, so that the next ingest,
which skips only the points it finds, encodes exactly those again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from photoseek.errors import PhotoseekError
from photoseek.retrieval.store.base import Record, VectorStore

# A stored cosine vector is a unit vector; float32 rounding stays far inside this.
NORM_TOLERANCE = 1e-3


@dataclass
class CheckReport:
    """What a check found.

    Attributes:
        counted: the store's own count of points.
        listed: point ids the check could list (scrolling the collection).
        read: points whose vector and payload read back whole.
        damaged: ``(point id, why)`` for every point that did not.
        listing_error: why the listing stopped early, when it did (some points then go unchecked).
    """

    counted: int = 0
    listed: int = 0
    read: int = 0
    damaged: list[tuple[str, str]] = field(default_factory=list)
    listing_error: str | None = None

    @property
    def clean(self) -> bool:
        """Every counted point listed and read whole."""
        return not self.damaged and self.listing_error is None and self.listed == self.counted == self.read


def _why_damaged(record: Record, unit: bool) -> str | None:
    vector = record.vector
    if vector is None:
        return "no vector"
    values = np.asarray(vector, dtype=np.float64)
    if not np.isfinite(values).all():
        return "vector holds NaN or infinite values"
    norm = float(np.linalg.norm(values))
    if unit and not math.isclose(norm, 1.0, abs_tol=NORM_TOLERANCE):
        return f"vector is not a unit vector (norm {norm:.4g})"
    if not isinstance(record.payload, dict):
        return "payload unreadable"
    return None


def check_store(
    store: VectorStore, *, page: int = 256, progress: Callable[[int], None] | None = None
) -> CheckReport:
    """Read back every point of ``store``'s collection.

    Args:
        store: an open store whose collection exists.
        page: points listed and read per call.
        progress: called with the number of points checked so far.

    Raises:
        StoreError: the collection cannot be opened or counted at all.
    """
    info = store.info()
    unit = str(info.distance).lower().startswith("cos")
    report = CheckReport(counted=store.count())
    offset: str | None = None
    while True:
        try:
            listed, offset = store.scroll(limit=page, offset=offset)
        except PhotoseekError as exc:
            report.listing_error = str(exc)
            break
        ids = [record.id for record in listed]
        report.listed += len(ids)
        _read(store, ids, unit, report)
        if progress is not None:
            progress(report.listed)
        if offset is None:
            break
    return report


def _read(store: VectorStore, ids: list[str], unit: bool, report: CheckReport) -> None:
    try:
        records = store.retrieve(ids, with_vectors=True)
    except PhotoseekError:
        if len(ids) > 1:  # find the bad ones
            half = len(ids) // 2
            _read(store, ids[:half], unit, report)
            _read(store, ids[half:], unit, report)
        else:
            try:
                store.retrieve(ids, with_vectors=True)
            except PhotoseekError as exc:
                report.damaged.append((ids[0], f"unreadable: {str(exc)[:200]}"))
        return
    found = {record.id: record for record in records}
    for point_id in ids:
        record = found.get(point_id)
        why = "listed but not retrievable" if record is None else _why_damaged(record, unit)
        if why is None:
            report.read += 1
        else:
            report.damaged.append((point_id, why))


def repair(store: VectorStore, report: CheckReport) -> list[str]:
    """Delete the damaged points the check found; returns their ids."""
    ids = [point_id for point_id, _ in report.damaged]
    if ids:
        store.delete(ids)
    return ids
