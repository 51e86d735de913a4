"""Diverse results: maximal marginal relevance (MMR) and collapsing near-duplicate hits.

Both rerank a list of candidates the store returned best first, with their vectors, here in
the library: one implementation, so every backend gives the same pages. Both are greedy in
rank order, so the first ``n`` results of a longer list are the results for ``n``: a page at
``offset`` is a slice of one list, with no gap and no repeat between pages.

- MMR picks, among the candidates, the one maximising
  ``lambda * cos(query, hit) - (1 - lambda) * max cos(hit, picked)``: lambda 1 is plain
  relevance, lower values trade relevance for variety. It reorders the top ``candidates``
  hits, so its pages end after them.
- ``collapse_duplicates`` drops a hit whose cosine to a better-ranked kept hit is at or above
  a threshold (default ``DEFAULT_COLLAPSE_THRESHOLD``, the duplicates threshold): ten shots of
  one scene become one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from photoseek.errors import QueryError
from photoseek.retrieval.duplicates import DEFAULT_DUPLICATE_THRESHOLD
from photoseek.retrieval.store.base import ScoredRecord

__all__ = [
    "COLLAPSE_POOL",
    "DEFAULT_CANDIDATES",
    "DEFAULT_COLLAPSE_THRESHOLD",
    "DEFAULT_MMR_LAMBDA",
    "Diversity",
    "collapse",
    "diversity_options",
    "mmr",
]

# Relevance against variety: 0.5 weighs them equally (Qdrant measured 1.0 -> 3.8 distinct
# scenes in a top 10 at 0.5, for 1.7 ms).
DEFAULT_MMR_LAMBDA = 0.5
# Candidates MMR chooses among: enough for ten pages of ten.
DEFAULT_CANDIDATES = 100
# A hit this close (cosine) to a better-ranked one is a near-duplicate of it.
DEFAULT_COLLAPSE_THRESHOLD = DEFAULT_DUPLICATE_THRESHOLD
# Candidates a collapsing search reads at most, with their vectors (20 MB of 512-d vectors):
# a page asks for twice its end, then twice as many while too few survive, and in a collection
# of long bursts of near-identical shots that would read the whole collection for one page.
# The pages of a search end where the collapsed first COLLAPSE_POOL hits end.
COLLAPSE_POOL = 10_000


@dataclass(frozen=True)
class Diversity:
    """How a search diversifies its results (None fields: that rerank is off).

    Attributes:
        mmr_lambda: MMR's relevance weight in [0, 1], or None for no MMR.
        candidates: the hits MMR chooses among (its pages end after them).
        collapse_threshold: cosine at or above which a hit is dropped as a near-duplicate
            of a better-ranked one, or None to keep near-duplicates.
        collapse_pool: the candidates collapsing reads at most (its pages end after them).
    """

    mmr_lambda: float | None = None
    candidates: int = DEFAULT_CANDIDATES
    collapse_threshold: float | None = None
    collapse_pool: int = COLLAPSE_POOL


def diversity_options(
    diversity: float | None, candidates: int | None, collapse_duplicates: bool | float
) -> Diversity | None:
    """The search arguments checked and turned into a ``Diversity`` (None when both are off).

    Args:
        diversity: MMR's lambda in [0, 1] (1 = relevance only), or None for no MMR.
        candidates: the hits MMR chooses among (default ``DEFAULT_CANDIDATES``).
        collapse_duplicates: True for ``DEFAULT_COLLAPSE_THRESHOLD``, a cosine in (0, 1], or False.

    Raises:
        QueryError: a value out of range.
    """
    if diversity is not None and (
        isinstance(diversity, bool) or not isinstance(diversity, (int, float)) or not 0.0 <= diversity <= 1.0
    ):
        raise QueryError(f"diversity is MMR's lambda, a number between 0 and 1 (got {diversity!r})")
    if candidates is not None and (isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1):
        raise QueryError(f"candidates must be an integer >= 1 (got {candidates!r})")
    if candidates is not None and diversity is None:
        raise QueryError("candidates sets how many hits diversity (MMR) chooses among: give diversity too")
    threshold: float | None
    if collapse_duplicates is True:
        threshold = DEFAULT_COLLAPSE_THRESHOLD
    elif collapse_duplicates is False or collapse_duplicates is None:
        threshold = None
    elif isinstance(collapse_duplicates, (int, float)) and 0.0 < collapse_duplicates <= 1.0:
        threshold = float(collapse_duplicates)
    else:
        raise QueryError(
            f"collapse_duplicates is True, False or a cosine in (0, 1] (got {collapse_duplicates!r})"
        )
    if diversity is None and threshold is None:
        return None
    return Diversity(
        mmr_lambda=None if diversity is None else float(diversity),
        candidates=DEFAULT_CANDIDATES if candidates is None else candidates,
        collapse_threshold=threshold,
        collapse_pool=COLLAPSE_POOL,
    )


def _unit_rows(records: Sequence[ScoredRecord]) -> np.ndarray:
    matrix = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records])
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def collapse(records: Sequence[ScoredRecord], threshold: float, count: int) -> list[ScoredRecord]:
    """The first ``count`` records, in order, none at cosine >= ``threshold`` to a kept earlier one.

    Records must carry their vectors.
    """
    if not records:
        return []
    unit = _unit_rows(records)
    kept: list[int] = []
    for i in range(len(records)):
        if len(kept) == count:
            break
        if not kept or float(np.max(unit[kept] @ unit[i])) < threshold:
            kept.append(i)
    return [records[i] for i in kept]


def mmr(
    records: Sequence[ScoredRecord], mmr_lambda: float, count: int, collapse_threshold: float | None = None
) -> list[ScoredRecord]:
    """Up to ``count`` records in MMR order (relevance = each record's score, the query cosine).

    With ``collapse_threshold``, a record at or above it to a picked one is never picked.
    Records must carry their vectors; ties go to the better-ranked record.
    """
    if not records:
        return []
    unit = _unit_rows(records)
    relevance = np.array([r.score for r in records], dtype=np.float64)
    closest = np.full(len(records), -np.inf)  # max cosine to a picked record
    open_ = np.ones(len(records), dtype=bool)
    picked: list[int] = []
    while len(picked) < count and open_.any():
        penalty = np.where(np.isfinite(closest), closest, 0.0)
        value = mmr_lambda * relevance - (1.0 - mmr_lambda) * penalty
        value[~open_] = -np.inf
        best = int(np.argmax(value))  # first maximum: the better-ranked on a tie
        picked.append(best)
        open_[best] = False
        closest = np.maximum(closest, unit @ unit[best])
        if collapse_threshold is not None:
            open_ &= closest < collapse_threshold
    return [records[i] for i in picked]
