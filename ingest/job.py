"""One ingest job as a Python call: the collection, the model identity guard, the pipeline, the report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

from photoseek.config.settings import IngestSettings, Settings
from photoseek.errors import PhotoseekError
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.picture_url import add_picture_urls
from photoseek.ingest.pipeline import Pipeline, PipelineOptions
from photoseek.ingest.report import IngestReport
from photoseek.ingest.sources.folder import FolderSource
from photoseek.ingest.sources.record import SourceItem
from photoseek.retrieval.encoder import Encoder
from photoseek.retrieval.identity import IdentifiedEncoder, check_identity, check_metadata, record_identity
from photoseek.retrieval.photo_folders import record_folder
from photoseek.retrieval.store.base import VectorStore
from photoseek.retrieval.written_count import WrittenTally, shortfall, shortfall_message

log = logging.getLogger(__name__)


class JobEncoder(Encoder, IdentifiedEncoder, Protocol):
    """What a job needs from its encoder: vectors, the models' identities and a batch size.

    ``ClipEncoder`` is one.
    """

    batch_size: int


def run_ingest(
    source: Iterable[SourceItem],
    *,
    store: VectorStore,
    encoder: JobEncoder,
    ingest: IngestSettings,
    ledger: Ledger,
    options: PipelineOptions | None = None,
    allow_unpaired_text_model: bool = False,
    progress: Callable[[IngestReport], None] | None = None,
    on_optimize: Callable[[int], None] | None = None,
    while_running: Callable[[Pipeline], AbstractContextManager[object]] | None = None,
    public_url: str | None = None,
) -> IngestReport:
    """Ingest ``source`` into the store's collection, refusing a collection of another model.

    The steps, in order: the encoder's text model must share its image model's space; an
    existing collection must have been built by the encoder's image model (a collection
    without a record is accepted); the collection is created if missing and the image model
    is recorded in it when it has no record; then the pipeline runs. Nothing is created when
    the models do not fit. A collection holding fewer points than its record of points written
    gets a warning (logged) before the run; the record is raised every few seconds during the
    run and at its end. Photos already stored are skipped (unless ``options`` says
    otherwise), so a re-run after a stop resumes and a re-run after a whole run writes nothing.

    The caller opens and closes the store, and prints or writes the report.

    Args:
        source: records, failures and field warnings, read lazily (``UnsplashSource``, ``FolderSource``, ...).
        store: where the points go; its collection is created when missing.
        encoder: the encoder that writes the vectors (``ClipEncoder``).
        ingest: download and decode settings.
        ledger: the failures file (read by ``--retry-failed``, rewritten at the end).
        options: batch size, resume and refresh behaviour; default: the encoder's batch size,
            photos already stored skipped.
        allow_unpaired_text_model: accept a text model not known to share the image model's space.
        progress: called with the report after every batch.
        on_optimize: called with the number of points before the embedded store's index build.
        while_running: a context manager factory entered around the run with the pipeline, for
            what must last exactly as long as it (the CLI's signal handlers and progress bar);
            ``pipeline.stop()`` ends the run cleanly.
        public_url: the address ``photoseek serve`` is reached at (``PHOTOSEEK_SERVE__PUBLIC_URL``):
            every payload written gets its thumbnail URL there, the field the Qdrant dashboard
            draws (``ingest/picture_url.py``); None leaves the field out.

    Returns:
        The run's counts (``report.stopped_early`` when it was stopped).

    Raises:
        ModelIdentityError: the collection was built by another image model.
        ModelMismatchError: the text model does not share the image model's space.
        CollectionMismatch: the collection holds vectors of another size or distance.
        PhotoseekError: a dependency broke during the run (the store after its retries, the model).
    """
    if store.collection_exists():
        recorded = check_identity(store, encoder, allow_unpaired_text_model)
        _warn_on_shortfall(store)
    else:
        # No collection yet: only the text/image pairing can be wrong, and it is checked before
        # anything is created.
        recorded = check_metadata({}, store.collection, encoder, allow_unpaired_text_model)
    store.ensure_collection(encoder.dimension)
    if recorded is None:
        record_identity(store, encoder)
    if isinstance(source, FolderSource):
        record_folder(store, source.root)  # where `photoseek serve` may read thumbnails from
    tally = WrittenTally(store)

    def after_batch(report: IngestReport) -> None:
        tally.after_batch()
        if progress is not None:
            progress(report)

    pipeline = Pipeline(
        add_picture_urls(source, public_url),
        store=store,
        encoder=encoder,
        ingest=ingest,
        ledger=ledger,
        options=options or PipelineOptions(batch_size=encoder.batch_size),
        progress=after_batch,
        on_optimize=on_optimize,
    )
    try:
        with while_running(pipeline) if while_running is not None else nullcontext():
            return pipeline.run()
    finally:
        tally.finish()


def _warn_on_shortfall(store: VectorStore) -> None:
    """Log a warning when the collection holds fewer points than photoseek wrote to it."""
    try:
        missing = shortfall(store)
    except PhotoseekError as exc:  # a store that cannot be counted fails the run with its own message
        log.debug("could not compare the count with the record of points written: %s", exc)
        return
    if missing is not None:
        log.warning(shortfall_message(store.collection, *missing))


def failures_path(settings: Settings) -> Path:
    """Where a job's failures file goes: ``ingest.failures_file``, else beside the data.

    Args:
        settings: the job's settings (the ingest and qdrant sections are read).
    """
    if settings.ingest.failures_file is not None:
        return Path(settings.ingest.failures_file)
    folder = Path(settings.qdrant.path) if settings.qdrant.embedded else Path("data")
    # One file per shard: workers of one job on one machine must not rewrite each other's.
    shard = settings.ingest.shard
    suffix = f"-shard{shard.replace('/', 'of')}" if shard else ""
    return folder / f"{settings.qdrant.collection}{suffix}.failures.jsonl"
