"""Run a set of judged queries through the search client under one or more settings and score them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from photoseek.evaluation.metrics import (
    first_relevant_rank,
    mean_metrics,
    query_metrics,
    recall_curve,
)
from photoseek.retrieval.hits import Hit
from photoseek.retrieval.search import ImageSearch

# Queries sent to the store in one round trip (and encoded in one batch).
BATCH = 128


@dataclass
class JudgedQuery:
    """A query text, the ids that answer it, and what the per-query lines should also carry."""

    text: str
    relevant: frozenset[str]
    band: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Setting:
    """One way of searching: which text model and whether the search is exact."""

    search: ImageSearch
    text_model: str
    exact: bool

    @property
    def name(self) -> str:
        """``hnsw`` or ``exact``, with the text model when several are compared."""
        return "exact" if self.exact else "hnsw"


@dataclass
class SettingResult:
    """The scores of all queries under one setting.

    Attributes:
        name: ``hnsw`` or ``exact``.
        text_model: the text model that encoded the queries.
        exact: exact search instead of HNSW.
        overall: mean of each metric over every query.
        bands: band label -> {"queries": n, metric: mean, ...}.
        curve: mean recall@k for k = 1 .. max k (the plot).
        seconds: wall time of encoding and searching every query.
        per_query: one dict per query, for the JSON-lines file.
    """

    name: str
    text_model: str
    exact: bool
    overall: dict[str, float]
    bands: dict[str, dict[str, float]]
    curve: list[float]
    seconds: float
    per_query: list[dict[str, Any]]

    @property
    def label(self) -> str:
        """``hnsw · <text model>``."""
        return f"{self.name} · {self.text_model}"

    def to_json(self) -> dict[str, Any]:
        """Everything but the per-query rows."""
        return {
            "name": self.name,
            "text_model": self.text_model,
            "exact": self.exact,
            "queries": len(self.per_query),
            "seconds": round(self.seconds, 3),
            "queries_per_second": round(len(self.per_query) / self.seconds, 2) if self.seconds > 0 else None,
            "overall": self.overall,
            "bands": self.bands,
            "recall_curve": self.curve,
        }


def run_setting(
    setting: Setting,
    queries: Sequence[JudgedQuery],
    *,
    ks: Sequence[int],
    key: Callable[[Hit], str | None],
    where: dict[str, Any] | None = None,
    top_listed: int = 10,
) -> SettingResult:
    """Search every query under ``setting`` and score the rankings.

    Args:
        setting: the search client, text model name and exactness.
        queries: the judged queries.
        ks: recall/hit cut-offs; the search asks for ``max(ks)`` results.
        key: what identifies a hit in the judgments (its ``photo_id``).
        where: keyword filters for every search (``source="unsplash"``).
        top_listed: how many result ids each per-query line lists.
    """
    limit = max(ks)
    per_query: list[dict[str, Any]] = []
    rows: list[dict[str, float]] = []
    curves: list[np.ndarray] = []
    started = time.perf_counter()
    for begin in range(0, len(queries), BATCH):
        chunk = queries[begin : begin + BATCH]
        results = setting.search.search_batch(
            [q.text for q in chunk], limit=limit, exact=setting.exact, **(where or {})
        )
        for query, hits in zip(chunk, results, strict=True):
            ranked = [key(hit) or hit.id for hit in hits]
            scores = [hit.score for hit in hits]
            metrics = query_metrics(ranked, query.relevant, ks, scores=scores)
            rows.append(metrics)
            curves.append(recall_curve(ranked, query.relevant, limit, scores))
            per_query.append({
                "setting": setting.name,
                "text_model": setting.text_model,
                "query": query.text,
                **({"band": query.band} if query.band is not None else {}),
                **query.extra,
                "relevant": len(query.relevant),
                "first_relevant_rank": first_relevant_rank(ranked, query.relevant),
                **{name: round(value, 6) for name, value in metrics.items()},
                "top": ranked[:top_listed],
            })
    seconds = time.perf_counter() - started
    bands: dict[str, dict[str, float]] = {}
    labels = sorted({q.band for q in queries if q.band is not None})
    for label in labels:
        members = [row for row, q in zip(rows, queries, strict=True) if q.band == label]
        bands[label] = {"queries": float(len(members)), **mean_metrics(members)}
    curve = np.mean(np.stack(curves), axis=0).tolist() if curves else []
    return SettingResult(
        name=setting.name,
        text_model=setting.text_model,
        exact=setting.exact,
        overall=mean_metrics(rows),
        bands=bands,
        curve=[round(v, 6) for v in curve],
        seconds=seconds,
        per_query=per_query,
    )


def differences(results: Sequence[SettingResult]) -> list[dict[str, Any]]:
    """For each text model run both ways: exact minus HNSW for every metric (the cost of approximation)."""
    found: list[dict[str, Any]] = []
    by_model: dict[str, dict[bool, SettingResult]] = {}
    for result in results:
        by_model.setdefault(result.text_model, {})[result.exact] = result
    for model, pair in by_model.items():
        if True in pair and False in pair:
            exact, hnsw = pair[True], pair[False]
            found.append({
                "text_model": model,
                "exact_minus_hnsw": {name: exact.overall[name] - hnsw.overall[name] for name in exact.overall},
                "rankings_differing": sum(
                    1 for a, b in zip(exact.per_query, hnsw.per_query, strict=True) if a["top"] != b["top"]
                ),
            })
    return found
