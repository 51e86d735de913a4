"""Checks of what callers hand a store: point ids, vector batches, query vectors, pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

import numpy as np

from photoseek.errors import QueryError

# A UUID already written the way str(uuid.UUID(...)) writes it: such an id is kept as it is.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_ids(ids: Sequence[str]) -> list[str]:
    """Point ids in canonical UUID form (lowercase, hyphenated), as both engines return them.

    Raises:
        ValueError: an id is not a UUID (photoseek ids come from ``schema.point_id``).
    """
    if isinstance(ids, str):
        raise ValueError("ids must be a sequence of UUID strings, not one string")
    out = []
    canonical = _CANONICAL_UUID.fullmatch
    for point_id in ids:
        # photoseek's ids (schema.point_id) are canonical already: a match is 10x cheaper than a parse.
        if type(point_id) is str and canonical(point_id):
            out.append(point_id)
            continue
        try:
            out.append(str(uuid.UUID(str(point_id))))
        except ValueError:
            raise ValueError(
                f"point id {point_id!r} is not a UUID; build ids with retrieval.schema.point_id()"
            ) from None
    return out


def vector_batch(vectors: np.ndarray, rows: int, size: int) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 matrix of ``rows`` x ``size`` finite values.

    Raises:
        ValueError: wrong shape or non-finite values.
    """
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape != (rows, size):
        raise ValueError(f"expected {rows} vectors of size {size}, got an array of shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors hold NaN or infinite values")
    return matrix


def query_vector(vector: np.ndarray, size: int) -> np.ndarray:
    """One query vector as float32 of the collection's size (a 1 x size matrix is accepted).

    Raises:
        QueryError: wrong size, all zeros, or non-finite values.
    """
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1 or array.shape[0] != size:
        raise QueryError(f"query vector must have {size} values, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise QueryError("query vector holds NaN or infinite values")
    if not array.any():
        # Cosine similarity to a zero vector is undefined; the engines would return noise.
        raise QueryError("query vector is all zeros")
    return np.ascontiguousarray(array)


def query_matrix(vectors: np.ndarray, size: int) -> np.ndarray:
    """Several query vectors, one per row, each checked like ``query_vector``."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != size:
        raise QueryError(f"query vectors must be a matrix with {size} columns, got shape {matrix.shape}")
    return np.stack([query_vector(row, size) for row in matrix]) if len(matrix) else matrix


def check_page(limit: int, offset: int) -> None:
    """A page of results: at least one, from offset 0 on.

    Raises:
        QueryError: ``limit`` < 1 or ``offset`` < 0.
    """
    if limit < 1 or offset < 0:
        raise QueryError(f"limit must be at least 1 and offset at least 0, got {limit} and {offset}")
