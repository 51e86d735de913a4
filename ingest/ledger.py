"""The failures file of an ingest: what failed, where, why, and how often; read back to retry.

It also lists field warnings (``"severity": "warning"``): a value of a photo that could not be
read, so the photo was stored without it. A warning does not make its photo count as failed,
is never retried, and stays listed until a whole read of its source no longer meets it.

Failures are appended as JSON lines while the job runs (a killed job keeps them) and the file
is compacted when the job ends: a photo that succeeded since is dropped, a photo that failed
again keeps one line with its attempts added up, and after a run that read its whole source a
malformed row of that source that it did not meet again (fixed, or no longer there) is
dropped too.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


@dataclass
class Failure:
    """One input that failed at one stage.

    Attributes:
        id: the point id, when the input got that far (a malformed TSV row has none).
        ref: where the input is: a URL, a file path, or ``photos.tsv000:17``.
        stage: ``source``, ``fetch``, ``decode``, ``encode`` or ``write``.
        reason: a short code such as ``http_404`` or ``truncated``.
        detail: one line saying what happened.
        attempts: tries so far, over every run.
        photo_id: the source's own id, when known.
        time: when it last failed (RFC 3339, UTC).
        origin: for a ``source`` failure, the source that met it (``unsplash:/data/lite``).
        severity: ``error`` (the input failed) or ``warning`` (one field of it was left out).
        field: for a warning, the column whose value was left out (``exif_aperture_value``).
    """

    id: str | None
    ref: str
    stage: str
    reason: str
    detail: str = ""
    attempts: int = 1
    photo_id: str | None = None
    time: str = field(default_factory=_now)
    origin: str | None = None
    severity: str = "error"
    field: str | None = None

    @property
    def is_warning(self) -> bool:
        """True for a field warning: the photo was kept without one value."""
        return self.severity == "warning"

    @property
    def key(self) -> str:
        """What identifies the input across runs: its point id, else where it is.

        A warning is one value of a row, so it is keyed by the row and the column: it never
        replaces (or is replaced by) a failure of the same photo.
        """
        if self.is_warning:
            return f"{self.ref}#{self.field}"
        return self.id or self.ref

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Failure:
        """Build from one JSON line, ignoring unknown keys."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


class Ledger:
    """Append-only failures file, safe to use from several threads.

    Args:
        path: the JSON-lines file; its folder is created when needed.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._previous = self.load()
        self._this_run: dict[str, Failure] = {}
        self._done: set[str] = set()
        self._handle: Any = None

    def load(self) -> dict[str, Failure]:
        """The last line for each input in the file (an absent file is empty).

        A line torn by a crash mid-write is skipped.
        """
        failures: dict[str, Failure] = {}
        if not self.path.exists():
            return failures
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    failure = Failure.from_json(json.loads(line))
                except (ValueError, TypeError):
                    continue
                failures[failure.key] = failure
        return failures

    @property
    def previous(self) -> dict[str, Failure]:
        """The failures recorded by earlier runs, by key."""
        return self._previous

    def retry_ids(self) -> set[str]:
        """Point ids of earlier failures that can be tried again (those that had an id; not warnings)."""
        return {f.id for f in self._previous.values() if f.id and not f.is_warning}

    def record(self, failure: Failure) -> Failure:
        """Append one failure or warning; a failure's attempts add to those of earlier runs."""
        with self._lock:
            earlier = self._previous.get(failure.key)
            if earlier is not None and failure.key not in self._this_run and not failure.is_warning:
                failure.attempts += earlier.attempts
            self._this_run[failure.key] = failure
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("a", encoding="utf-8")
                if self._handle.tell() > 0 and not _ends_with_newline(self.path):
                    self._handle.write("\n")  # a line torn by a killed run must not swallow this one
            self._handle.write(json.dumps(asdict(failure), ensure_ascii=False) + "\n")
            # Flushed per line: a killed process keeps what the kernel already has.
            self._handle.flush()
        return failure

    def mark_done(self, keys: list[str]) -> None:
        """These inputs succeeded (or exist already): drop their earlier failures at compaction."""
        with self._lock:
            # Only earlier failures can be dropped at compaction; keeping other ids would grow
            # with every photo of the run.
            self._done.update(k for k in keys if k in self._previous)

    @property
    def failures(self) -> list[Failure]:
        """Failures recorded in this run (not warnings)."""
        with self._lock:
            return [f for f in self._this_run.values() if not f.is_warning]

    @property
    def warnings(self) -> list[Failure]:
        """Field warnings recorded in this run."""
        with self._lock:
            return [f for f in self._this_run.values() if f.is_warning]

    def compact(self, *, read_again: Callable[[Failure], bool] | None = None) -> int:
        """Rewrite the file with one line per input that still fails; returns how many.

        Args:
            read_again: given after a run that read its whole source: whether an earlier
                ``source`` failure (a row keyed by file and line) is one this run read again.
                Those it read again without failing are gone (fixed, or no longer there).
        """
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
            merged = {
                k: v
                for k, v in self._previous.items()
                if k not in self._done and not (read_again is not None and v.stage == "source" and read_again(v))
            }
            merged.update(self._this_run)
            for key in self._done:
                if key not in self._this_run:
                    merged.pop(key, None)
            if not merged and not self.path.exists():
                return 0
            tmp = self.path.with_name(self.path.name + ".tmp")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as handle:
                for failure in merged.values():
                    handle.write(json.dumps(asdict(failure), ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            self._previous = merged
            self._this_run = {}
            self._done = set()
            return len(merged)
