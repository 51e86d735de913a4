"""The ingest job: sources, fetch, decode, the pipeline, the failures ledger and the report."""
