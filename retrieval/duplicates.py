"""Near-identical photos in a collection: groups of photos whose image vectors nearly coincide.

Two photos are near-identical when the cosine similarity of their stored vectors is at or above
a threshold; a group is a connected set of such pairs (union-find), so copies A~B and B~C form
one group even when A and C fall just under the threshold.

Every pair is compared, exactly: the stored vectors are read once (a scroll of the collection)
into one float32 matrix, and blocks of it are multiplied with each other (``ROWS`` x ``COLUMNS``
scores at a time, the upper triangle only), keeping the pairs at or above the threshold. The
cost is quadratic but runs at BLAS speed: about ``n**2 * dim`` multiply-adds, 5 * 10**12 for
100,000 photos of 512 dimensions (``benchmarks/duplicates.py`` prints the time at 10,000 and
100,000 photos on the machine it runs on, and the peak memory); memory is the matrix
(``n * dim * 4`` bytes, 205 MB at 100,000 x 512) and one block of scores (32 MB). One nearest
neighbour query per photo, the earlier way, took 19 s for 10,000 photos and did not finish
100,000 on 2 cores, and the vector index could miss a pair.

The computation is written once, as steps that ask for store calls
(:func:`find_duplicates` runs them on a ``VectorStore``, :func:`find_duplicates_async` on an
``AsyncVectorStore``, the block products in a worker thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from qdrant_client import models

from photoseek.errors import QueryError
from photoseek.retrieval.hits import Hit
from photoseek.retrieval.store.base import Record, VectorStore

if TYPE_CHECKING:
    from photoseek.retrieval.store.async_server import AsyncVectorStore

__all__ = [
    "DEFAULT_DUPLICATE_THRESHOLD",
    "DuplicateGroup",
    "check_threshold",
    "find_duplicates",
    "find_duplicates_async",
    "near_pairs",
]

# Cosine similarity at or above which two photos count as near-identical. With CLIP ViT-B/32 a
# resized or re-compressed copy scores 0.98-1.0 with its original and a slightly cropped one
# about 0.95-0.97, while two different shots of one scene mostly stay under 0.95: 0.95 keeps
# copies and edits together without merging a photographer's series. Raise it (0.98) to find
# only exact copies.
DEFAULT_DUPLICATE_THRESHOLD = 0.95
# Points read per scroll page.
BATCH = 1024
# Rows and columns of one block of scores: 1024 x 8192 float32 is 32 MB, large enough for BLAS
# to run at full speed and small enough to stay beside the vectors.
ROWS = 1024
COLUMNS = 8192
# Ids retrieved (for their payloads) per call when the groups are built.
RETRIEVE = 1000


@dataclass(frozen=True)
class DuplicateGroup:
    """Photos that are near-identical to each other.

    Attributes:
        hits: the photos; the first is the group's representative (the photo most others
            match) and each hit's ``score`` is its cosine similarity to it (1.0 for itself).
    """

    hits: list[Hit]

    @property
    def ids(self) -> list[str]:
        """The point ids of the group's photos, in the order of ``hits``."""
        return [h.id for h in self.hits]


def check_threshold(threshold: float | None) -> float:
    """``threshold`` checked: a number in (0, 1]; ``DEFAULT_DUPLICATE_THRESHOLD`` when None."""
    if threshold is None:
        return DEFAULT_DUPLICATE_THRESHOLD
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold <= 1.0:
        raise QueryError(f"the duplicate threshold must be a cosine similarity in (0, 1] (got {threshold!r})")
    return float(threshold)


def near_pairs(
    vectors: np.ndarray,
    threshold: float,
    *,
    rows: int = ROWS,
    columns: int = COLUMNS,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(i, j)``, ``i < j``, of rows whose cosine similarity is at least ``threshold``.

    Args:
        vectors: an ``n x dim`` float32 matrix of unit rows (a zero row matches nothing).
        threshold: the cosine similarity a pair must reach.
        rows, columns: the shape of one block of scores.
        progress: called with the number of rows compared with every later row, after each block row.

    Returns:
        Two int64 arrays ``(i, j)`` of the same length.
    """
    n = len(vectors)
    found_i: list[np.ndarray] = []
    found_j: list[np.ndarray] = []
    # One buffer for the scores of a block: the products write into it, no block allocates.
    buffer = np.empty((min(rows, n), min(columns, n)), dtype=np.float32)
    for top in range(0, n, rows):
        left = vectors[top : top + rows]
        for start in range(top, n, columns):  # the upper triangle: columns from this block row on
            right = vectors[start : start + columns]
            scores = buffer[: len(left), : len(right)]
            np.matmul(left, right.T, out=scores)
            if start == top:
                np.fill_diagonal(scores, -1.0)  # a row with itself is no pair
            # Most rows have no pair: find the rows that do with one pass (a row maximum), and
            # look for the columns only in those (a full nonzero cost as much as the product).
            rows_hit = np.flatnonzero(scores.max(axis=1) >= threshold)
            if not len(rows_hit):
                continue
            sub_i, hit_j = np.nonzero(scores[rows_hit] >= threshold)
            hit_i = rows_hit[sub_i] + top
            hit_j += start
            keep = hit_j > hit_i  # each pair of the diagonal block once
            found_i.append(hit_i[keep])
            found_j.append(hit_j[keep])
        if progress is not None:
            progress(min(top + rows, n))
    if not found_i:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(found_i).astype(np.int64), np.concatenate(found_j).astype(np.int64)


def _components(n: int, pair_i: np.ndarray, pair_j: np.ndarray) -> list[list[int]]:
    """The groups of at least two rows that the pairs join (union-find over row numbers)."""
    parent = list(range(n))

    def find(item: int) -> int:
        root = item
        while parent[root] != root:
            root = parent[root]
        while parent[item] != root:  # path compression: later finds are one step
            parent[item], item = root, parent[item]
        return root

    for a, b in zip(pair_i.tolist(), pair_j.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for item in sorted(set(pair_i.tolist()) | set(pair_j.tolist())):
        members.setdefault(find(item), []).append(item)
    return [rows for rows in members.values() if len(rows) > 1]


@dataclass
class _Scan:
    """The ids and unit vectors read so far, in a matrix that grows as pages arrive."""

    ids: list[str] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.float32))

    def add(self, page: Sequence[Record], expected: int) -> None:
        kept = [r for r in page if r.vector is not None]
        if not kept:
            return
        block = np.stack([np.asarray(r.vector, dtype=np.float32) for r in kept])
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        block /= np.where(norms > 0, norms, 1.0)  # cosine needs unit rows; a zero vector stays zero
        n = len(self.ids)
        if self.matrix.shape[1] != block.shape[1] and n == 0:
            self.matrix = np.empty((max(expected, len(block)), block.shape[1]), dtype=np.float32)
        if n + len(block) > len(self.matrix):  # points added while reading: grow
            grown = np.empty((max(2 * len(self.matrix), n + len(block)), self.matrix.shape[1]), dtype=np.float32)
            grown[:n] = self.matrix[:n]
            self.matrix = grown
        self.matrix[n : n + len(block)] = block
        self.ids.extend(r.id for r in kept)

    def vectors(self) -> np.ndarray:
        return self.matrix[: len(self.ids)]


@dataclass(frozen=True)
class _Call:
    """A store method to call with these arguments (a step of :func:`_steps`)."""

    method: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class _Work:
    """CPU work to run (in a worker thread when driven from asyncio)."""

    run: Callable[[], Any]


_Step = _Call | _Work


def _steps(
    threshold: float | None,
    filter: models.Filter | None,
    batch: int,
    progress: Callable[[int], None] | None,
) -> Generator[_Step, Any, list[DuplicateGroup]]:
    """The duplicate search as steps: each yielded step's result is sent back in."""
    cut = check_threshold(threshold)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise QueryError(f"batch must be an integer >= 1 (got {batch!r})")
    info = yield _Call("info", {})
    scan = _Scan()
    offset: str | None = None
    while True:
        page, offset = yield _Call("scroll", {"limit": batch, "offset": offset, "filter": filter, "with_vectors": True})
        scan.add(page, int(info.points_count))
        if offset is None:
            break
    vectors = scan.vectors()
    pair_i, pair_j = yield _Work(lambda: near_pairs(vectors, cut, progress=progress))
    degree = np.bincount(np.concatenate([pair_i, pair_j]), minlength=len(vectors))
    groups = _components(len(vectors), pair_i, pair_j)
    # The most linked photo first, then by id; the others follow by their similarity to it.
    ordered = [sorted(rows, key=lambda r: (-int(degree[r]), scan.ids[r])) for rows in groups]
    wanted = [scan.ids[r] for rows in ordered for r in rows]
    records: dict[str, Record] = {}
    for start in range(0, len(wanted), RETRIEVE):
        found = yield _Call("retrieve", {"ids": wanted[start : start + RETRIEVE], "with_vectors": False})
        records.update((r.id, r) for r in found)
    built = [g for rows in ordered if (g := _group(rows, scan, records)) is not None]
    return sorted(built, key=lambda g: (-len(g.hits), g.hits[0].id))


def _group(rows: list[int], scan: _Scan, records: dict[str, Record]) -> DuplicateGroup | None:
    present = [r for r in rows if scan.ids[r] in records]  # a photo deleted meanwhile is left out
    if len(present) < 2:
        return None
    vectors = scan.vectors()
    scores = vectors[present] @ vectors[present[0]]
    hits = [Hit.from_record(records[scan.ids[r]], score=float(s)) for r, s in zip(present, scores, strict=True)]
    return DuplicateGroup(hits=[hits[0], *sorted(hits[1:], key=lambda h: (-h.score, h.id))])


def find_duplicates(
    store: VectorStore,
    *,
    threshold: float | None = None,
    filter: models.Filter | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> list[DuplicateGroup]:
    """Groups of near-identical photos in ``store``, largest group first.

    Args:
        store: the collection.
        threshold: cosine similarity at or above which two photos are near-identical
            (default ``DEFAULT_DUPLICATE_THRESHOLD``).
        filter: only photos matching it are compared (a ``qdrant_client.models.Filter``).
        batch: photos read per scroll page.
        progress: called with the number of photos compared with all later ones, after each
            block row of the comparison.

    Raises:
        QueryError: an invalid threshold or batch.
        CollectionNotFound, StoreUnavailable.
    """
    steps = _steps(threshold, filter, batch, progress)
    answer: Any = None
    try:
        while True:
            step = steps.send(answer)
            answer = step.run() if isinstance(step, _Work) else getattr(store, step.method)(**step.kwargs)
    except StopIteration as done:
        result: list[DuplicateGroup] = done.value
        return result


async def find_duplicates_async(
    store: AsyncVectorStore,
    *,
    threshold: float | None = None,
    filter: models.Filter | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> list[DuplicateGroup]:
    """:func:`find_duplicates` on an asyncio store; the block products run in a worker thread."""
    steps = _steps(threshold, filter, batch, progress)
    answer: Any = None
    try:
        while True:
            step = steps.send(answer)
            if isinstance(step, _Work):
                answer = await asyncio.to_thread(step.run)
            else:
                answer = await getattr(store, step.method)(**step.kwargs)
    except StopIteration as done:
        result: list[DuplicateGroup] = done.value
        return result
