"""The ingest progress bar: images/s and the counts of indexed, skipped and failed photos."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from photoseek.ingest.report import IngestReport


class ProgressBar:
    """A tqdm bar on stderr driven by the pipeline's report (throttled to a few redraws a second).

    Args:
        total: photos expected, when known.
        enabled: False draws nothing (``--no-progress``).
    """

    def __init__(self, total: int | None = None, enabled: bool = True) -> None:
        self._bar = tqdm(total=total, unit="img", dynamic_ncols=True, disable=not enabled, file=sys.stderr)
        self._last = 0.0

    def update(self, report: IngestReport, force: bool = False) -> None:
        """Redraw from ``report``."""
        now = time.monotonic()
        if not force and now - self._last < 0.25:
            return
        self._last = now
        done = report.indexed + report.skipped_existing + report.refreshed + report.failed
        self._bar.n = done
        self._bar.set_postfix(
            indexed=report.indexed, skipped=report.skipped_existing, failed=report.failed, refresh=False
        )
        self._bar.refresh()

    def note(self, message: str) -> None:
        """Print a line above the bar."""
        self._bar.write(message, file=sys.stderr)

    def close(self, report: IngestReport) -> None:
        """Draw the final counts and release the terminal line."""
        self.update(report, force=True)
        self._bar.close()
