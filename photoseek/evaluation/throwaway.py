"""The throw-away collection of a captions evaluation: its images ingested once, reused while complete."""

from __future__ import annotations

import logging
from pathlib import Path

from photoseek.config.settings import IngestSettings
from photoseek.evaluation.captions import (
    CaptionSet,
    caption_source,
    stored_images,
)
from photoseek.ingest import JobEncoder, run_ingest
from photoseek.ingest.ledger import Ledger
from photoseek.ingest.report import IngestReport
from photoseek.retrieval.identity import check_identity
from photoseek.retrieval.store.base import VectorStore

log = logging.getLogger(__name__)


def ensure_captions_collection(
    store: VectorStore,
    encoder: JobEncoder,
    caption_set: CaptionSet,
    images_dir: Path,
    *,
    ingest: IngestSettings,
    failures_file: Path,
    allow_unpaired_text_model: bool = False,
) -> IngestReport | None:
    """Ingest the caption set's images into ``store`` unless every one of them is there already.

    A partly built collection (a run stopped half-way) is completed: the pipeline skips the
    images already stored. Images that cannot be read are recorded in ``failures_file``; a
    listed file that does not exist does not count against completeness.

    Returns:
        The ingest report, or None when the collection was complete.

    Raises:
        ModelIdentityError: the collection was built by another image model.
        SourceError / StoreError: the images or the store cannot be used at all.
    """
    if store.collection_exists():
        check_identity(store, encoder, allow_unpaired_text_model)
        # A listed file that does not exist fails every time; it cannot make the collection incomplete.
        present = [name for name in caption_set.images if (images_dir / name).is_file()]
        if len(stored_images(store, present)) == len(present):
            log.info("collection %s holds all %d images already", store.collection, len(present))
            return None
    return run_ingest(
        caption_source(caption_set.images, images_dir),
        store=store,
        encoder=encoder,
        ingest=ingest,
        ledger=Ledger(failures_file),
        allow_unpaired_text_model=allow_unpaired_text_model,
    )
