"""Duplicate grouping on every backend, with vectors placed at known cosines."""

from __future__ import annotations

import numpy as np

from photoseek.retrieval.duplicates import find_duplicates, near_pairs
from photoseek.retrieval.schema import point_id

DIM = 48


def _at_angle(base: np.ndarray, other: np.ndarray, cosine: float) -> np.ndarray:
    """A unit vector at ``cosine`` from ``base`` in the plane of ``base`` and ``other``."""
    ortho = other - (other @ base) * base
    ortho /= np.linalg.norm(ortho)
    return (cosine * base + np.sqrt(1 - cosine**2) * ortho).astype(np.float32)


def test_chains_join_large_groups_form_and_loners_stay_out(store_factory):
    rng = np.random.default_rng(11)
    basis = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0].T.astype(np.float32)  # orthonormal rows
    vectors, names = [], []
    # A chain a0 ~ a1 ~ a2 at 0.97 per step: a0 and a2 are about 0.88 apart, yet one group.
    a0 = basis[0]
    a1 = _at_angle(a0, basis[1], 0.97)
    a2 = _at_angle(a1, basis[2], 0.97)
    vectors += [a0, a1, a2]
    names += ["a0", "a1", "a2"]
    # Twenty copies of one picture, more than the neighbours asked per point.
    for i in range(20):
        vectors.append(_at_angle(basis[3], basis[4 + i], 0.995))
        names.append(f"b{i}")
    # Loners: orthogonal to everything, and one just under the threshold from b's centre.
    vectors += [basis[30], basis[31], _at_angle(basis[3], basis[32], 0.9)]
    names += ["c0", "c1", "c2"]
    store = store_factory()
    store.ensure_collection(DIM)
    store.upsert([point_id(n) for n in names], np.stack(vectors), [{"photo_id": n} for n in names])

    groups = find_duplicates(store, threshold=0.95)
    assert [{h.photo_id for h in g.hits} for g in groups] == [{f"b{i}" for i in range(20)}, {"a0", "a1", "a2"}]
    chain = groups[1]
    assert chain.hits[0].photo_id == "a1"  # the photo the others match comes first
    assert chain.ids == [h.id for h in chain.hits]
    # Nothing at 0.999: the b copies are 0.995 from the centre, about 0.99 from each other.
    assert find_duplicates(store, threshold=0.999) == []


def test_block_products_find_exactly_the_brute_force_pairs():
    rng = np.random.default_rng(4)
    for n, dim, rows, columns in ((50, 8, 7, 11), (300, 6, 64, 100), (1000, 4, 128, 256), (257, 3, 1024, 8192)):
        vectors = rng.standard_normal((n, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors[5] = vectors[3]  # an exact copy inside a block, and one across the first and last block
        vectors[n - 1] = vectors[0]
        vectors[7] = 0.0  # a vector of zeros matches nothing
        scores = vectors @ vectors.T
        want = {(i, j) for i in range(n) for j in range(i + 1, n) if scores[i, j] >= 0.9}
        pair_i, pair_j = near_pairs(vectors, 0.9, rows=rows, columns=columns)
        got = list(zip(pair_i.tolist(), pair_j.tolist(), strict=True))
        assert len(got) == len(set(got)) and set(got) == want, (n, rows, columns)
        assert (3, 5) in want and (0, n - 1) in want and not any(7 in p for p in want)
