"""Search modes and fusions: the names the library, the CLI and the HTTP API accept."""

from __future__ import annotations

from typing import get_args

from photoseek.config.settings import FusionName, SearchModeName
from photoseek.errors import QueryError

__all__ = [
    "DEFAULT_MODE",
    "DEFAULT_PREFETCH",
    "FUSIONS",
    "SEARCH_MODES",
    "Fusion",
    "SearchMode",
    "check_fusion",
    "check_mode",
    "check_prefetch",
]

SearchMode = SearchModeName
Fusion = FusionName

# vector: CLIP only (the image's look); keyword: BM25 over the photo's words only; hybrid: both
# lists fused by the engine in one query.
SEARCH_MODES: tuple[SearchMode, ...] = get_args(SearchModeName)
# rrf: reciprocal rank fusion (k = 60), by ranks only; dbsf: distribution-based score fusion,
# each side's scores normalised by their mean and spread, then summed.
FUSIONS: tuple[Fusion, ...] = get_args(FusionName)
# Candidates each side of a hybrid query hands to the fusion (Qdrant measured 2.2 ms p50 at 50).
DEFAULT_PREFETCH = 50

# The default mode (``RetrievalSettings.mode``) stays "vector". Speed does not decide it: on
# 25,000 points in Qdrant Edge (benchmarks/keyword_modes.py, 2 busy cores) a hybrid query took
# 3.0 ms p50 (RRF) and 3.2 ms (DBSF) against 3.6 ms for vector alone, and 0.84 ms against 0.76 ms
# with a 5% filter; keyword alone 0.4-0.6 ms. What decides it: (1) which mode answers better
# depends on the collection and can only be measured with real weights (`photoseek eval
# unsplash --compare`), which the tests here cannot load; (2) vector mode keeps today's scores
# (cosines, which PHOTOSEEK_RETRIEVAL__SCORE_THRESHOLD is written in) and works on every
# collection, including those built before the keyword side and folders of photos without
# words. Set PHOTOSEEK_RETRIEVAL__MODE=hybrid where the evaluation shows it wins.
DEFAULT_MODE: SearchMode = "vector"


def check_mode(mode: object) -> SearchMode:
    """``mode`` if it is one of ``SEARCH_MODES``.

    Raises:
        QueryError: another value.
    """
    if isinstance(mode, str) and mode.strip().lower() in SEARCH_MODES:
        return mode.strip().lower()  # type: ignore[return-value] # checked against the literal's values
    raise QueryError(f"mode must be one of {', '.join(SEARCH_MODES)} (got {mode!r})")


def check_fusion(fusion: object) -> Fusion:
    """``fusion`` if it is one of ``FUSIONS``.

    Raises:
        QueryError: another value.
    """
    if isinstance(fusion, str) and fusion.strip().lower() in FUSIONS:
        return fusion.strip().lower()  # type: ignore[return-value] # checked against the literal's values
    raise QueryError(f"fusion must be one of {', '.join(FUSIONS)} (got {fusion!r})")


def check_prefetch(prefetch: object, limit: int, offset: int) -> int:
    """``prefetch`` if each side of a hybrid query can fill the page: an int >= ``offset + limit``.

    Raises:
        QueryError: another value.
    """
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < offset + limit:
        raise QueryError(
            f"prefetch (candidates from each side of a hybrid search) must be an integer >= offset + limit "
            f"= {offset + limit} (got {prefetch!r})"
        )
    return prefetch
