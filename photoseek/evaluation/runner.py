"""Run a set of judged queries through the search client under one or more settings and score them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from photoseek.errors import KeywordsMissing
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
    """One way of searching: the text model, exactness, search mode and diversity.

    Attributes:
        search: the search client.
        text_model: the text model that encodes the queries.
        exact: exact search instead of HNSW.
        mode: ``vector``, ``keyword`` or ``hybrid``; None for the library's default
            (PHOTOSEEK_RETRIEVAL__MODE).
        fusion: a hybrid search's fusion (``rrf`` or ``dbsf``); None for the default.
        diversity: MMR's lambda, or None for no MMR.
        collapse_duplicates: drop near-duplicates of better-ranked hits.
        title: the name shown in the table (default ``hnsw`` or ``exact``).
    """

    search: ImageSearch
    text_model: str
    exact: bool
    mode: str | None = None
    fusion: str | None = None
    diversity: float | None = None
    collapse_duplicates: bool = False
    title: str | None = None

    @property
    def name(self) -> str:
        """The title, else ``hnsw`` or ``exact`` (the text model is added when several are compared)."""
        return self.title or ("exact" if self.exact else "hnsw")

    def options(self) -> dict[str, Any]:
        """The search arguments this setting adds to every query (none for a plain one)."""
        chosen: dict[str, Any] = {}
        if self.mode is not None:
            chosen["mode"] = self.mode
        if self.fusion is not None:
            chosen["fusion"] = self.fusion
        if self.diversity is not None:
            chosen["diversity"] = self.diversity
        if self.collapse_duplicates:
            chosen["collapse_duplicates"] = True
        return chosen

    def describe(self) -> dict[str, Any]:
        """The setting's choices, for the JSON report."""
        return {"exact": self.exact, **self.options()}


@dataclass
class Skipped:
    """A setting that could not run on this collection, and why (a keyword mode without the keyword side)."""

    name: str
    reason: str

    def to_json(self) -> dict[str, str]:
        """``{"name": ..., "reason": ...}``."""
        return {"name": self.name, "reason": self.reason}


@dataclass
class SettingResult:
    """The scores of all queries under one setting.

    Attributes:
        name: ``hnsw``, ``exact`` or the compared mode / diversity (``keyword``, ``hybrid-rrf``, ``mmr-0.5``...).
        text_model: the text model that encoded the queries.
        exact: exact search instead of HNSW.
        overall: mean of each metric over every query.
        bands: band label -> {"queries": n, metric: mean, ...}.
        curve: mean recall@k for k = 1 .. max k (the plot).
        seconds: wall time of encoding and searching every query.
        per_query: one dict per query, for the JSON-lines file.
        options: the mode, fusion and diversity arguments the searches took (none: the defaults).
    """

    name: str
    text_model: str
    exact: bool
    overall: dict[str, float]
    bands: dict[str, dict[str, float]]
    curve: list[float]
    seconds: float
    per_query: list[dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)

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
            "options": self.options,
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
    options = setting.options()
    started = time.perf_counter()
    for begin in range(0, len(queries), BATCH):
        chunk = queries[begin : begin + BATCH]
        results = _search_chunk(setting, [q.text for q in chunk], limit, options, where or {})
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
        options=options,
    )


def _search_chunk(
    setting: Setting, texts: list[str], limit: int, options: dict[str, Any], where: dict[str, Any]
) -> list[list[Hit]]:
    """The hits of each text: one batch for a plain setting, one search per text with a mode or
    diversity (the batch call takes neither)."""
    if not options:
        return setting.search.search_batch(texts, limit=limit, exact=setting.exact, **where)
    return [setting.search.search(text, limit=limit, exact=setting.exact, **options, **where) for text in texts]


def run_settings(
    settings: Sequence[Setting],
    queries: Sequence[JudgedQuery],
    *,
    ks: Sequence[int],
    key: Callable[[Hit], str | None],
    where: dict[str, Any] | None = None,
) -> tuple[list[SettingResult], list[Skipped]]:
    """``run_setting`` for each setting; one the collection cannot run (a keyword or hybrid mode
    on a collection without the keyword side) is skipped with the library's reason.

    Args:
        settings: the ways of searching to compare.
        queries: the judged queries.
        ks: recall/hit cut-offs.
        key: what identifies a hit in the judgments.
        where: keyword filters for every search.
    """
    results: list[SettingResult] = []
    skipped: list[Skipped] = []
    for setting in settings:
        try:
            results.append(run_setting(setting, queries, ks=ks, key=key, where=where))
        except KeywordsMissing as exc:
            skipped.append(Skipped(setting.name, str(exc)))
    return results, skipped


def differences(results: Sequence[SettingResult]) -> list[dict[str, Any]]:
    """For each text model run both ways: exact minus HNSW for every metric (the cost of approximation)."""
    found: list[dict[str, Any]] = []
    by_model: dict[str, dict[bool, SettingResult]] = {}
    for result in results:
        if result.name in ("hnsw", "exact"):
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
