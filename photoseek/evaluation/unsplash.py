"""The Unsplash evaluation: keywords people searched, scored against the photos they downloaded."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from qdrant_client import models

from photoseek.errors import SourceError
from photoseek.evaluation.queries import QuerySet, build_queries
from photoseek.evaluation.report import EvalReport
from photoseek.evaluation.runner import JudgedQuery, Setting, run_settings
from photoseek.retrieval.store.base import VectorStore

log = logging.getLogger(__name__)

KS = (1, 5, 10, 100)
COLUMNS = ["recall@1", "recall@5", "recall@10", "recall@100", "hit@10", "mrr@10", "ndcg@10"]


def stored_photo_ids(store: VectorStore, source: str = "unsplash") -> set[str]:
    """The ``photo_id`` of every point of ``source`` in the collection (read page by page)."""
    only = models.Filter(must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))])
    found: set[str] = set()
    offset: str | None = None
    while True:
        page, offset = store.scroll(limit=1024, offset=offset, filter=only)
        found.update(str(r.payload["photo_id"]) for r in page if r.payload.get("photo_id"))
        if offset is None:
            return found


def judged(query_set: QuerySet) -> list[JudgedQuery]:
    """The queries in the runner's form, carrying their frequency to the per-query lines."""
    return [
        JudgedQuery(q.text, frozenset(q.relevant), band=q.band, extra={"frequency": q.frequency})
        for q in query_set.queries
    ]


def evaluate_unsplash(
    dataset_dir: Path,
    settings: Sequence[Setting],
    *,
    min_relevant: int = 3,
    max_queries: int | None = 1000,
    seed: int = 0,
    user_keywords: bool = False,
    ks: Sequence[int] = KS,
) -> EvalReport:
    """Build queries from the dataset's conversions and score each setting on them.

    Args:
        dataset_dir: the Unsplash dataset folder that was ingested.
        settings: the ways of searching to compare (they share one collection).
        min_relevant: keep keywords with at least this many relevant photos in the collection.
        max_queries: sample this many keywords (None: all eligible).
        seed: the sampling seed.
        user_keywords: also use the keywords users suggested as judgments.
        ks: the recall cut-offs.

    Raises:
        SourceError: no usable judgments, or the collection holds no Unsplash photos.
    """
    store = settings[0].search.store
    ids = stored_photo_ids(store)
    if not ids:
        raise SourceError(
            f"collection {store.collection!r} holds no Unsplash photos: ingest the dataset first "
            f"(photoseek ingest unsplash {dataset_dir})"
        )
    query_set = build_queries(
        dataset_dir, ids, min_relevant=min_relevant, max_queries=max_queries, seed=seed, user_keywords=user_keywords
    )
    if not query_set.queries:
        raise SourceError(
            f"no keyword in {dataset_dir} has {min_relevant} or more relevant photos among the {len(ids)} in "
            f"collection {store.collection!r}; lower --min-relevant or ingest more of the dataset"
        )
    queries = judged(query_set)
    results, skipped = run_settings(
        settings, queries, ks=ks, key=lambda hit: hit.photo_id, where={"source": "unsplash"}
    )
    info = {
        "dataset_dir": str(dataset_dir),
        "photos_in_collection": len(ids),
        "min_relevant": min_relevant,
        "max_queries": max_queries,
        "seed": seed,
        "user_keywords": user_keywords,
        "ks": list(ks),
        **query_set.describe(),
    }
    notes = [
        (f"{len(queries)} queries sampled (seed {seed}) from {query_set.eligible} keywords with >= {min_relevant} "
        f"relevant photos in the collection; bands are keyword frequencies over the whole dataset"),
        "recall@k: share of a keyword's relevant photos in the top k; hit@k: any of them in the top k",
    ]
    return EvalReport("unsplash", store.collection, list(COLUMNS), results, info=info, notes=notes, skipped=skipped)
