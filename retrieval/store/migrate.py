"""Copying a collection between stores (embedded to server, or server to server) without re-encoding.

Points go over in batches, vectors and payloads as stored, on their own ids; the target
collection is created with the source's vector size and metadata (which image model built it).
After each batch a small checkpoint file records the scroll offset of the next one, so a killed
copy resumes where it stopped; re-sending the last batch is harmless because ``upsert`` on the
same ids replaces the same points. At the end the two counts must agree.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from photoseek.errors import CollectionNotFound, ModelIdentityError, StoreError
from photoseek.retrieval.identity import stored_identity
from photoseek.retrieval.store.base import VectorStore, collection_not_found

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1


@dataclass
class MigrationReport:
    """What one ``migrate`` call did.

    Attributes:
        source_count: points in the source collection.
        target_count: points in the target collection at the end.
        copied: points sent in this call.
        batches: batches sent in this call.
        resumed_from: points already copied by an earlier, interrupted call (0 on a fresh start).
        created: whether this call created the target collection.
        seconds: wall time of this call.
    """

    source_count: int
    target_count: int
    copied: int
    batches: int
    resumed_from: int
    created: bool
    seconds: float


def describe(store: VectorStore) -> str:
    """``backend:location/collection``: which collection a store holds, for checkpoints and messages."""
    return f"{store.backend}:{store.location}/{store.collection}"


class Checkpoint:
    """The resume point of one source-to-target copy, kept in a small JSON file.

    Args:
        path: the file; its folder is created on the first save.
        source: ``describe(source)``; a file written for another source or target is ignored.
        target: ``describe(target)``.
    """

    def __init__(self, path: Path, source: str, target: str) -> None:
        self.path = Path(path)
        self.source = source
        self.target = target

    def load(self) -> tuple[str | None, int] | None:
        """The saved ``(next offset, points copied)``, or None when there is nothing to resume."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable checkpoint %s (%s); copying from the start", self.path, exc)
            return None
        if data.get("version") != CHECKPOINT_VERSION or (data.get("source"), data.get("target")) != (
            self.source,
            self.target,
        ):
            log.warning("checkpoint %s is for another copy; copying from the start", self.path)
            return None
        offset = data.get("offset")
        return (str(offset) if offset is not None else None), int(data.get("copied", 0))

    def save(self, offset: str | None, copied: int) -> None:
        """Record that every point before ``offset`` is on the target (atomically: old or new file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "version": CHECKPOINT_VERSION,
            "source": self.source,
            "target": self.target,
            "offset": offset,
            "copied": copied,
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> None:
        """Forget the resume point (after a verified copy, or to start over)."""
        self.path.unlink(missing_ok=True)


def _vector_size(source: VectorStore) -> int:
    return int(source.info().vector_size)


def _check_same_model(source: VectorStore, target: VectorStore) -> None:
    mine, theirs = stored_identity(source), stored_identity(target)
    if mine is not None and theirs is not None and (mine.fingerprint, mine.dimension) != (
        theirs.fingerprint,
        theirs.dimension,
    ):
        raise ModelIdentityError(
            f"target collection {describe(target)} was built by image model {theirs.describe()} but the "
            f"source by {mine.describe()}; their vectors do not mix. Copy into another collection "
            "(--collection NAME) or delete the target collection"
        )


def migrate(
    source: VectorStore,
    target: VectorStore,
    *,
    batch_size: int = 256,
    checkpoint: Checkpoint | None = None,
    progress: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> MigrationReport:
    """Copy every point of ``source`` into ``target``, resumably, and check the counts.

    Args:
        source: the store to read (left unchanged).
        target: the store to write; its collection is created like the source's when missing.
        batch_size: points per scroll page and per upsert.
        checkpoint: where to keep the resume point; None copies from the start every time.
        progress: show a progress bar on stderr.
        on_batch: called after each batch is written and checkpointed, with (batches, points)
            sent so far in this call.

    Returns:
        what was done; ``target_count == source_count`` on return.

    Raises:
        CollectionNotFound: the source collection does not exist.
        ModelIdentityError: the target collection holds another image model's vectors.
        StoreError: the counts differ at the end (the message says why and what to do).
        ValueError: ``batch_size`` < 1, or source and target are the same collection.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if source.same_collection_as(target):
        raise ValueError(f"source and target are the same collection ({describe(source)})")
    started = time.monotonic()
    if not source.collection_exists():
        absent = collection_not_found(source.collection, source.backend, source.location)
        raise CollectionNotFound(f"nothing to copy: {absent}")

    metadata = source.get_metadata()
    if target.collection_exists():
        _check_same_model(source, target)
    created = target.ensure_collection(_vector_size(source), metadata)
    if not created and metadata:
        target.set_metadata(metadata)

    offset: str | None = None
    resumed_from = 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None and (held := target.count()) < saved[1]:
        # The target lost points since the checkpoint was written (deleted and made again, or
        # emptied): resuming would copy only the rest. Upserts are idempotent: start over.
        log.warning(
            "checkpoint %s counts %d points copied but %s holds %d; copying from the start",
            checkpoint.path if checkpoint is not None else "", saved[1], describe(target), held,
        )
        saved = None
    if saved is not None:
        offset, resumed_from = saved
        log.info("resuming the copy to %s after %d points", describe(target), resumed_from)

    total = source.count()
    copied = batches = 0
    bar = _progress_bar(total, resumed_from, enabled=progress)
    try:
        # A saved offset of None means the previous call copied everything and stopped before
        # (or during) verification: there is nothing left to send.
        finished = saved is not None and offset is None
        while not finished:
            page, next_offset = source.scroll(limit=batch_size, offset=offset, with_vectors=True)
            if page:
                missing = [record.id for record in page if record.vector is None]
                if missing:
                    raise StoreError(f"{describe(source)} returned point {missing[0]} without its vector")
                vectors = np.stack([np.asarray(record.vector, dtype=np.float32) for record in page])
                target.upsert([record.id for record in page], vectors, [record.payload for record in page])
                copied += len(page)
                batches += 1
                bar.update(len(page))
            offset = next_offset
            if checkpoint is not None:
                checkpoint.save(offset, resumed_from + copied)
            if on_batch is not None and page:
                on_batch(batches, copied)
            finished = next_offset is None
    finally:
        bar.close()

    source_count, target_count = source.count(), target.count()
    if source_count != target_count:
        raise StoreError(_count_mismatch(source, target, source_count, target_count))
    if checkpoint is not None:
        checkpoint.clear()
    return MigrationReport(
        source_count=source_count,
        target_count=target_count,
        copied=copied,
        batches=batches,
        resumed_from=resumed_from,
        created=created,
        seconds=time.monotonic() - started,
    )


def _count_mismatch(source: VectorStore, target: VectorStore, source_count: int, target_count: int) -> str:
    if target_count > source_count:
        why = "the target held other points before the copy (or the source lost some during it)"
    else:
        why = "points were added to the source during the copy (or a write was lost)"
    return (
        f"copy not verified: {describe(source)} has {source_count} points but {describe(target)} has "
        f"{target_count}; {why}. Run `photoseek migrate` again with --restart to copy everything once more"
    )


class _NoBar:
    def update(self, n: int) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""


def _progress_bar(total: int, initial: int, *, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=min(initial, total), unit="pt", desc="migrate", smoothing=0.1)
