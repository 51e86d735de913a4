"""Facet counts: which payload fields can be counted, and the checks on a facet request.

A facet counts the values of a keyword-indexed field (countries, keywords, photographers,
orientation, camera makers) among the photos that match a filter. Both engines count from
the field's keyword index, so only those fields can be faceted; the ``where`` key names of
``filters.WHERE_KEYS`` that test one such field (``country``, ``camera_make``) are accepted
as names for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qdrant_client import models

from photoseek.errors import QueryError
from photoseek.retrieval.filters import WHERE_KEYS, build_filter
from photoseek.retrieval.schema import INDEXED_FIELDS, IndexKind
from photoseek.retrieval.store.base import FacetCount, VectorStore, collection_not_found

__all__ = ["DEFAULT_FACET_LIMIT", "FacetCount", "count_values", "facet_field", "facetable_fields"]

# Values returned when no limit is given: enough for a country or photographer list at a glance.
DEFAULT_FACET_LIMIT = 10


def facetable_fields() -> list[str]:
    """The payload fields ``facets`` can count: the keyword-indexed fields of ``schema.FIELDS``."""
    return [path for path, kind in INDEXED_FIELDS.items() if kind is IndexKind.KEYWORD]


def _aliases() -> dict[str, str]:
    fields = set(facetable_fields())
    return {k.name: k.field for k in WHERE_KEYS.values() if k.op == "match" and k.field in fields}


def facet_field(field: str) -> str:
    """The payload path to count for ``field``: a facetable path, or a ``where`` key naming one.

    Raises:
        QueryError: ``field`` is not keyword-indexed; the message lists the fields that are.
    """
    if not isinstance(field, str) or not field.strip():
        raise QueryError(f"give a field to count the values of; one of: {', '.join(facetable_fields())}")
    name = field.strip()
    if name in facetable_fields():
        return name
    alias = _aliases().get(name)
    if alias is not None:
        return alias
    raise QueryError(
        f"cannot count the values of {name!r}: only keyword-indexed fields can be faceted: "
        f"{', '.join(facetable_fields())} (or the names {', '.join(_aliases())})"
    )


def check_facet_limit(limit: int | None) -> int:
    """``limit`` checked (an int >= 1), ``DEFAULT_FACET_LIMIT`` when None."""
    if limit is None:
        return DEFAULT_FACET_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise QueryError(f"limit must be an integer >= 1 (got {limit!r})")
    return limit


def count_values(
    store: VectorStore,
    field: str,
    *,
    limit: int | None = None,
    filter: models.Filter | None = None,
    where: Mapping[str, Any] | None = None,
    exact: bool = False,
) -> list[FacetCount]:
    """Facet counts straight from a store, without a model (``photoseek facets`` uses this).

    Args:
        store: the collection to count in.
        field: a facetable field or a ``where`` key naming one (see :func:`facet_field`).
        limit: how many values, most frequent first (default ``DEFAULT_FACET_LIMIT``).
        filter: a ``qdrant_client.models.Filter``, ANDed with ``where``.
        where: keyword filters (``filters.WHERE_KEYS``).
        exact: count point by point instead of from the payload index.

    Raises:
        QueryError: an unfacetable field, a bad limit or filter.
        CollectionNotFound: the collection does not exist.
    """
    key, count = facet_field(field), check_facet_limit(limit)
    query_filter = build_filter(filter, dict(where or {}))
    if not store.collection_exists():
        raise collection_not_found(store.collection, store.backend, store.location)
    return store.facet(key, limit=count, filter=query_filter, exact=exact)
