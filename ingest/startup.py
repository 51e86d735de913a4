"""A stop (SIGTERM) that comes while an ingest is still starting: exit 0, saying nothing was done.

Loading the model, opening the store and indexing a dataset's joins take seconds to minutes
before the pipeline installs its own stop handler; a SIGTERM then (a container stopped, a job
cancelled) used to end the process with status 143 and no report.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from photoseek.ingest.report import IngestReport


class StoppedAtStartup(BaseException):  # noqa: N818 - a control-flow signal, like KeyboardInterrupt
    """Raised in the main thread by a SIGTERM before the pipeline started.

    A ``BaseException``, so that start-up code that catches ``Exception`` does not swallow it.
    """


class StartupGuard:
    """Turns SIGTERM into :class:`StoppedAtStartup` until :meth:`over` is called."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self._armed = True

    def over(self) -> None:
        """Start-up is done: from now on a SIGTERM is the pipeline's to handle."""
        self._armed = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler."""
        if self._armed:
            self._armed = False
            raise StoppedAtStartup(signum)


@contextmanager
def stop_at_startup() -> Iterator[StartupGuard]:
    """Within the block, a SIGTERM raises :class:`StoppedAtStartup` (until ``guard.over()``)."""
    guard = StartupGuard()
    previous = signal.signal(signal.SIGTERM, guard.handle)
    try:
        yield guard
    finally:
        signal.signal(signal.SIGTERM, previous)


def nothing_done(guard: StartupGuard, report_path: Path | None, failures_file: str | None = None) -> int:
    """Print (and write, when asked) the report of a run stopped before it read any photo; 0."""
    report = IngestReport(stopped_early=True, failures_file=failures_file)
    report.seconds = time.perf_counter() - guard.started
    print("photoseek: stopped during start-up, before any photo was read: nothing was done", file=sys.stderr)
    print(report.summary())
    if report_path is not None:
        report.write(report_path)
    return 0
