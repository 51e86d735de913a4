"""What an ingest did: counts per outcome and per failure reason, time and speed."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class IngestReport:
    """Counts of one ingest run; ``photoseek ingest --report FILE`` writes ``to_json()``.

    Attributes:
        seen: inputs read from the source (photos and malformed rows).
        indexed: points written (encoded now).
        skipped_existing: photos already in the collection, not re-encoded.
        refreshed: existing photos whose payload was rewritten (``--refresh-payload``).
        failed: inputs that failed at some stage (see ``failures_by_reason``).
        warnings: values left out (or, for a swapped coordinate pair, stored swapped) while the
            photo itself was kept; also files and joined rows the source could not use. They do
            not count as failed.
        warnings_by_field: warnings counted per column and reason, e.g.
            ``{"exif_aperture_value": {"not_a_number": 2}}``.
        seconds: wall time of the run.
        stopped_early: the run was stopped by a signal before the source was exhausted.
        index_deferred: the run stopped early with new points, and the embedded store's vector
            index was left for the next run to build.
        failures_file: where the failures are listed.
    """

    seen: int = 0
    indexed: int = 0
    skipped_existing: int = 0
    refreshed: int = 0
    failed: int = 0
    failures_by_reason: Counter[str] = field(default_factory=Counter)
    warnings: int = 0
    warnings_by_field: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: float = 0.0
    stopped_early: bool = False
    index_deferred: bool = False
    failures_file: str | None = None

    def count_warning(self, field_name: str, reason: str) -> None:
        """Count one field warning."""
        self.warnings += 1
        self.warnings_by_field[(field_name, reason)] += 1

    def _warnings_json(self) -> dict[str, dict[str, int]]:
        nested: dict[str, dict[str, int]] = {}
        for (field_name, reason), count in sorted(self.warnings_by_field.items()):
            nested.setdefault(field_name, {})[reason] = count
        return nested

    @property
    def images_per_second(self) -> float:
        """Points written per second of wall time."""
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict with the documented keys."""
        return {
            "seen": self.seen,
            "indexed": self.indexed,
            "skipped_existing": self.skipped_existing,
            "refreshed": self.refreshed,
            "failed": self.failed,
            "failures_by_reason": dict(sorted(self.failures_by_reason.items())),
            "warnings": self.warnings,
            "warnings_by_field": self._warnings_json(),
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.images_per_second, 2),
            "stopped_early": self.stopped_early,
            "index_deferred": self.index_deferred,
            "failures_file": self.failures_file,
        }

    def write(self, path: Path) -> None:
        """Write ``to_json()`` to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    def summary(self) -> str:
        """A few lines for the terminal."""
        head = "stopped early" if self.stopped_early else "done"
        lines = [
            f"{head}: {self.indexed} indexed, {self.skipped_existing} already there, "
            f"{self.refreshed} payloads refreshed, {self.failed} failed, of {self.seen} seen "
            f"in {self.seconds:.1f} s ({self.images_per_second:.1f} images/s)"
        ]
        if self.failures_by_reason:
            reasons = ", ".join(f"{reason} {count}" for reason, count in self.failures_by_reason.most_common())
            lines.append(f"failures by reason: {reasons}")
        if self.warnings:
            fields = ", ".join(
                f"{name} {reason} {count}" for (name, reason), count in self.warnings_by_field.most_common()
            )
            lines.append(f"field warnings (the photos were kept): {fields}")
            if self.failures_file:
                lines.append(f"warnings listed with file:line in {self.failures_file}")
        if self.index_deferred:
            lines.append(
                "the vector index was not built (stopped early): the next ingest run builds it; "
                "searches work meanwhile, scanning the new points"
            )
        if self.failed and self.failures_file:
            lines.append(f"failures listed in {self.failures_file} (retry them with --retry-failed)")
        return "\n".join(lines)
