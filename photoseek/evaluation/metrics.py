"""Ranking metrics (recall@k, hit@k, MRR@k, nDCG@k), exact and tie-aware.

A search engine returns a ranked list with scores. When several results share one score their
order is arbitrary (HNSW and exact search may break the tie differently), so a metric that
reads the list position by position would change with the tie-break and make a spurious
"cost of approximation". These functions instead return the exact expected value over every
order of each group of tied results (McSherry and Najork, "Computing information retrieval
performance measures efficiently in the presence of tied scores", ECIR 2008). Without scores,
or without ties, they are the usual textbook metrics.

Definitions, with ``R`` the set of relevant items and ``rank`` counted from 1:

- ``recall@k``   |R in top k| / |R|
- ``hit@k``      1 if any relevant item is in the top k, else 0 (what the CLIP paper calls
                 recall@k for text->image retrieval, where each caption has one image)
- ``MRR@k``      1 / rank of the first relevant item, 0 when none is in the top k
- ``nDCG@k``     sum over the top k of 1/log2(rank + 1) for relevant items, divided by the
                 same sum for an ideal list (the min(|R|, k) relevant items first)

Results past the end of the list (a collection smaller than k, or a search limit) count as
not relevant.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

METRIC_NAMES = ("recall", "hit", "mrr", "ndcg")


@dataclass(frozen=True)
class _Group:
    """A run of results with one score: positions ``start`` (0-based) to ``start + size - 1``."""

    start: int
    size: int
    relevant: int


def _groups(ranked: Sequence[str], relevant: Collection[str], scores: Sequence[float] | None) -> list[_Group]:
    if scores is not None and len(scores) != len(ranked):
        raise ValueError(f"scores has {len(scores)} values for {len(ranked)} ranked items; give one score per item")
    if len(set(ranked)) != len(ranked):
        raise ValueError("ranked holds the same item twice; a ranking lists each item once")
    groups: list[_Group] = []
    start = 0
    while start < len(ranked):
        end = start + 1
        if scores is not None:
            while end < len(ranked) and scores[end] == scores[start]:
                end += 1
        hits = sum(1 for item in ranked[start:end] if item in relevant)
        groups.append(_Group(start, end - start, hits))
        start = end
    return groups


def _check(relevant: Collection[str], k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1 (got {k!r})")
    if not relevant:
        raise ValueError("no relevant items: the metric is undefined; leave such queries out")


def expected_gains(
    ranked: Sequence[str], relevant: Collection[str], scores: Sequence[float] | None = None
) -> np.ndarray:
    """The probability that the item at each position is relevant, ties averaged.

    Args:
        ranked: item ids, best first.
        relevant: the relevant item ids.
        scores: the score of each ranked item (None: the order is taken as it is).

    Returns:
        float64 array as long as ``ranked``.
    """
    gains = np.zeros(len(ranked), dtype=np.float64)
    for group in _groups(ranked, relevant, scores):
        gains[group.start : group.start + group.size] = group.relevant / group.size
    return gains


def recall_curve(
    ranked: Sequence[str], relevant: Collection[str], max_k: int, scores: Sequence[float] | None = None
) -> np.ndarray:
    """recall@k for every k from 1 to ``max_k`` (index 0 is recall@1)."""
    _check(relevant, max_k)
    found = np.cumsum(expected_gains(ranked, relevant, scores)[:max_k])
    curve = np.full(max_k, found[-1] if len(found) else 0.0)
    curve[: len(found)] = found
    return curve / len(relevant)


def recall_at_k(
    ranked: Sequence[str], relevant: Collection[str], k: int, scores: Sequence[float] | None = None
) -> float:
    """Share of the relevant items found in the top ``k`` (expected over tie orders)."""
    return float(recall_curve(ranked, relevant, k, scores)[-1])


def hit_curve(
    ranked: Sequence[str], relevant: Collection[str], max_k: int, scores: Sequence[float] | None = None
) -> np.ndarray:
    """hit@k for every k from 1 to ``max_k``: the probability that a relevant item is in the top k."""
    _check(relevant, max_k)
    curve = np.zeros(max_k, dtype=np.float64)
    for group in _groups(ranked, relevant, scores):
        if group.start >= max_k:
            break
        if group.relevant == 0:
            continue
        # Inside the first group holding a relevant item, with m of its n places in the top k,
        # a random order misses every relevant item with probability C(n - r, m) / C(n, m).
        n, r = group.size, group.relevant
        for m in range(1, min(n, max_k - group.start) + 1):
            curve[group.start + m - 1] = 1.0 - math.comb(n - r, m) / math.comb(n, m)
        curve[group.start + n :] = 1.0
        break
    return curve


def hit_at_k(ranked: Sequence[str], relevant: Collection[str], k: int, scores: Sequence[float] | None = None) -> float:
    """1.0 when a relevant item is in the top ``k`` (the probability of it, with ties)."""
    return float(hit_curve(ranked, relevant, k, scores)[-1])


def mrr_at_k(ranked: Sequence[str], relevant: Collection[str], k: int, scores: Sequence[float] | None = None) -> float:
    """Reciprocal rank of the first relevant item within the top ``k`` (0 when there is none)."""
    _check(relevant, k)
    for group in _groups(ranked, relevant, scores):
        if group.start >= k:
            return 0.0
        if group.relevant == 0:
            continue
        # The first relevant item of the group sits j places into it with probability
        # C(n - 1 - j, r - 1) / C(n, r); places past k count 0.
        n, r = group.size, group.relevant
        total = math.comb(n, r)
        return sum(
            math.comb(n - 1 - j, r - 1) / total / (group.start + j + 1)
            for j in range(n - r + 1)
            if group.start + j < k
        )
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int, scores: Sequence[float] | None = None) -> float:
    """Normalised discounted cumulative gain of the top ``k`` with binary relevance."""
    _check(relevant, k)
    gains = expected_gains(ranked, relevant, scores)[:k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    ideal = float(discounts[: min(len(relevant), k)].sum())
    return float((gains * discounts[: len(gains)]).sum() / ideal)


def query_metrics(
    ranked: Sequence[str],
    relevant: Collection[str],
    ks: Sequence[int],
    *,
    scores: Sequence[float] | None = None,
    mrr_k: int = 10,
    ndcg_k: int = 10,
) -> dict[str, float]:
    """Every metric of one query, keyed ``recall@5``, ``hit@5``, ``mrr@10``, ``ndcg@10``.

    Args:
        ranked: item ids, best first.
        relevant: the relevant item ids (not empty).
        ks: the cut-offs of recall and hit.
        scores: the score of each ranked item, for tie handling.
        mrr_k: cut-off of MRR.
        ndcg_k: cut-off of nDCG.
    """
    top = max(ks)
    recall = recall_curve(ranked, relevant, top, scores)
    hit = hit_curve(ranked, relevant, top, scores)
    result: dict[str, float] = {}
    for k in ks:
        result[f"recall@{k}"] = float(recall[k - 1])
    for k in ks:
        result[f"hit@{k}"] = float(hit[k - 1])
    result[f"mrr@{mrr_k}"] = mrr_at_k(ranked, relevant, mrr_k, scores)
    result[f"ndcg@{ndcg_k}"] = ndcg_at_k(ranked, relevant, ndcg_k, scores)
    return result


def first_relevant_rank(ranked: Sequence[str], relevant: Collection[str]) -> int | None:
    """The 1-based position of the first relevant item as listed (None when none is listed)."""
    for position, item in enumerate(ranked, start=1):
        if item in relevant:
            return position
    return None


def mean_metrics(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over queries (an empty dict for no queries)."""
    if not rows:
        return {}
    return {name: float(np.mean([row[name] for row in rows])) for name in rows[0]}
