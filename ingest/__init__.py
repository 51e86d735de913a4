"""The ingest job: sources, fetch, decode, the pipeline, the failures ledger and the report.

``run_ingest`` runs one job (collection, model identity guard, pipeline, report); the
``photoseek ingest`` command, the evaluation's throw-away collections and the demo all use it.
"""

from photoseek.ingest.job import JobEncoder, failures_path, run_ingest

__all__ = ["JobEncoder", "failures_path", "run_ingest"]
