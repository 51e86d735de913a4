"""Near-identical photos in a collection: groups of photos whose image vectors nearly coincide.

Each stored point is queried for its nearest neighbours above a cosine threshold (a batch of
queries per page of points, through the store's ``query_batch`` and its vector index), and
the pairs found are joined into groups with union-find: copies A~B and B~C form one group
even when A and C fall just under the threshold. The cost is one indexed query per point:
about linear in the collection's size (``benchmarks/duplicates.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from qdrant_client import models

from photoseek.errors import QueryError
from photoseek.retrieval.hits import Hit
from photoseek.retrieval.store.base import Record, VectorStore

__all__ = [
    "DEFAULT_DUPLICATE_THRESHOLD",
    "DuplicateGroup",
    "check_threshold",
    "find_duplicates",
]

# Cosine similarity at or above which two photos count as near-identical. With CLIP ViT-B/32 a
# resized or re-compressed copy scores 0.98-1.0 with its original and a slightly cropped one
# about 0.95-0.97, while two different shots of one scene mostly stay under 0.95: 0.95 keeps
# copies and edits together without merging a photographer's series. Raise it (0.98) to find
# only exact copies.
DEFAULT_DUPLICATE_THRESHOLD = 0.95
# Neighbours asked per point: a group larger than this is still joined whole through its
# members' own neighbours (union-find), so a small number keeps each query cheap.
NEIGHBOURS = 16
# Points scrolled and queried per batch.
BATCH = 256


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


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        root = self.parent.setdefault(item, item)
        while root != self.parent[root]:
            root = self.parent[root]
        while item != root:  # path compression: later finds are one step
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _pages(store: VectorStore, filter: models.Filter | None, batch: int) -> Iterator[list[Record]]:
    offset: str | None = None
    while True:
        page, offset = store.scroll(limit=batch, offset=offset, filter=filter, with_vectors=True)
        if page:
            yield page
        if offset is None:
            return


def find_duplicates(
    store: VectorStore,
    *,
    threshold: float | None = None,
    filter: models.Filter | None = None,
    neighbours: int = NEIGHBOURS,
    batch: int = BATCH,
    exact: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[DuplicateGroup]:
    """Groups of near-identical photos in ``store``, largest group first.

    Args:
        store: the collection.
        threshold: cosine similarity at or above which two photos are near-identical
            (default ``DEFAULT_DUPLICATE_THRESHOLD``).
        filter: only photos matching it are compared (a ``qdrant_client.models.Filter``).
        neighbours: nearest neighbours looked at per photo.
        batch: photos scrolled and queried per round trip.
        exact: exact search instead of the vector index (slow on a large collection).
        progress: called with the number of photos compared so far after each batch.

    Raises:
        QueryError: an invalid threshold, neighbours or batch.
        CollectionNotFound, StoreUnavailable.
    """
    cut = check_threshold(threshold)
    if neighbours < 1 or batch < 1:
        raise QueryError(f"neighbours and batch must be at least 1 (got {neighbours} and {batch})")
    links = _UnionFind()
    degree: dict[str, int] = {}
    seen = 0
    for page in _pages(store, filter, batch):
        vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in page if r.vector is not None])
        owners = [r.id for r in page if r.vector is not None]
        # One more than asked: the point itself comes back first.
        results = store.query_batch(vectors, limit=neighbours + 1, filter=filter, score_threshold=cut, exact=exact)
        for owner, found in zip(owners, results, strict=True):
            for match in found:
                if match.id != owner:
                    links.union(owner, match.id)
                    degree[owner] = degree.get(owner, 0) + 1
        seen += len(page)
        if progress is not None:
            progress(seen)
    members: dict[str, list[str]] = {}
    for item in list(links.parent):
        members.setdefault(links.find(item), []).append(item)
    groups = [g for ids in members.values() if len(ids) > 1 and (g := _group(store, ids, degree)) is not None]
    return sorted(groups, key=lambda g: (-len(g.hits), g.hits[0].id))


def _group(store: VectorStore, ids: list[str], degree: dict[str, int]) -> DuplicateGroup | None:
    """The group's hits: the most linked photo first, the others by similarity to it."""
    found = store.retrieve(sorted(ids, key=lambda i: (-degree.get(i, 0), i)), with_vectors=True)
    records = [r for r in found if r.vector is not None]
    if len(records) < 2:  # deleted meanwhile
        return None
    first = np.asarray(records[0].vector, dtype=np.float32)
    first /= np.linalg.norm(first) or 1.0
    scored = []
    for record in records:
        vector = np.asarray(record.vector, dtype=np.float32)
        scored.append(Hit.from_record(record, score=float(vector @ first / (np.linalg.norm(vector) or 1.0))))
    return DuplicateGroup(hits=[scored[0], *sorted(scored[1:], key=lambda h: (-h.score, h.id))])
