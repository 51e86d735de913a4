"""Search modes and fusions: the names the library, the CLI and the HTTP API accept."""

from __future__ import annotations

from typing import get_args

from photoseek.config.settings import FusionName, SearchModeName
from photoseek.errors import QueryError

__all__ = [
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
