"""Ranking metrics on hand-made rankings with known answers, ties included."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from photoseek.evaluation.metrics import (
    expected_gains,
    first_relevant_rank,
    hit_at_k,
    hit_curve,
    mean_metrics,
    mrr_at_k,
    ndcg_at_k,
    query_metrics,
    recall_at_k,
    recall_curve,
)

RANKED = ["a", "b", "c", "d", "e"]


def test_textbook_values_without_ties() -> None:
    relevant = {"b", "d", "z"}  # z is relevant but was never retrieved
    assert recall_at_k(RANKED, relevant, 1) == 0.0
    assert recall_at_k(RANKED, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, relevant, 5) == pytest.approx(2 / 3)
    assert hit_at_k(RANKED, relevant, 1) == 0.0
    assert hit_at_k(RANKED, relevant, 2) == 1.0
    assert mrr_at_k(RANKED, relevant, 10) == pytest.approx(0.5)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, relevant, 10) == pytest.approx(dcg / ideal)


def test_no_relevant_item_retrieved_scores_zero_everywhere() -> None:
    metrics = query_metrics(RANKED, {"x", "y"}, [1, 5, 10])
    assert set(metrics.values()) == {0.0}
    assert first_relevant_rank(RANKED, {"x"}) is None


def test_a_relevant_item_past_the_cutoff_does_not_count() -> None:
    assert mrr_at_k(RANKED, {"e"}, 4) == 0.0
    assert mrr_at_k(RANKED, {"e"}, 5) == pytest.approx(0.2)
    assert ndcg_at_k(RANKED, {"e"}, 4) == 0.0
    assert hit_at_k(RANKED, {"e"}, 4) == 0.0


def test_k_larger_than_the_collection() -> None:
    ranked = ["a", "b"]
    assert recall_at_k(ranked, {"b"}, 100) == 1.0
    curve = recall_curve(ranked, {"a", "b", "q"}, 10)
    assert len(curve) == 10
    assert curve[0] == pytest.approx(1 / 3) and curve[1] == pytest.approx(2 / 3)
    assert np.all(curve[2:] == pytest.approx(2 / 3))
    # The ideal list holds min(|R|, k) relevant items; a perfect short list still scores 1.
    assert ndcg_at_k(ranked, {"a", "b"}, 100) == pytest.approx(1.0)
    assert recall_at_k([], {"a"}, 10) == 0.0


def test_perfect_ranking_scores_one() -> None:
    metrics = query_metrics(RANKED, {"a"}, [1, 5])
    assert metrics == {"recall@1": 1.0, "recall@5": 1.0, "hit@1": 1.0, "hit@5": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0}


def test_ties_take_the_expected_value_over_every_order() -> None:
    # b and c share a score: half the time c is second, half the time third.
    scores = [0.9, 0.5, 0.5, 0.1, 0.0]
    assert recall_at_k(RANKED, {"c"}, 2, scores) == pytest.approx(0.5)
    assert hit_at_k(RANKED, {"c"}, 2, scores) == pytest.approx(0.5)
    assert mrr_at_k(RANKED, {"c"}, 10, scores) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert ndcg_at_k(RANKED, {"c"}, 10, scores) == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 2)
    # The order in which the engine listed the tied items does not matter.
    swapped = ["a", "c", "b", "d", "e"]
    expected = query_metrics(RANKED, {"c"}, [1, 2, 3], scores=scores)
    assert query_metrics(swapped, {"c"}, [1, 2, 3], scores=scores) == expected


def _brute_force(ranked: list[str], relevant: set[str], scores: list[float], k: int) -> dict[str, float]:
    """Average the no-tie metrics over every order of each tied group."""
    groups = [list(g) for _, g in itertools.groupby(ranked, key=lambda item: scores[ranked.index(item)])]
    totals: dict[str, float] = {}
    orders = list(itertools.product(*(itertools.permutations(g) for g in groups)))
    for order in orders:
        flat = [item for group in order for item in group]
        for name, value in query_metrics(flat, relevant, [1, 2, 3, k], mrr_k=k, ndcg_k=k).items():
            totals[name] = totals.get(name, 0.0) + value
    return {name: value / len(orders) for name, value in totals.items()}


@pytest.mark.parametrize("k", [2, 3, 4, 7])
def test_tie_aware_formulas_match_enumerating_every_order(k: int) -> None:
    ranked = ["a", "b", "c", "d", "e", "f", "g"]
    scores = [0.9, 0.7, 0.7, 0.7, 0.7, 0.2, 0.2]
    relevant = {"c", "e", "g"}
    exact = query_metrics(ranked, relevant, [1, 2, 3, k], scores=scores, mrr_k=k, ndcg_k=k)
    assert exact == pytest.approx(_brute_force(ranked, relevant, scores, k))


def test_curves_are_monotonic_and_consistent() -> None:
    scores = [1.0, 0.8, 0.8, 0.8, 0.1]
    curve = hit_curve(RANKED, {"c", "d"}, 5, scores)
    assert list(curve) == sorted(curve)
    assert curve[0] == 0.0 and curve[1] == pytest.approx(2 / 3) and curve[3] == 1.0
    gains = expected_gains(RANKED, {"c", "d"}, scores)
    assert gains.tolist() == pytest.approx([0, 2 / 3, 2 / 3, 2 / 3, 0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: recall_at_k(RANKED, set(), 5), "no relevant items"),
        (lambda: recall_at_k(RANKED, {"a"}, 0), "k must be"),
        (lambda: mrr_at_k(["a", "a"], {"a"}, 5), "same item twice"),
        (lambda: ndcg_at_k(RANKED, {"a"}, 5, scores=[1.0]), "one score per item"),
    ],
)
def test_invalid_inputs_fail_with_a_clear_message(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_mean_over_queries() -> None:
    rows = [{"recall@1": 1.0, "mrr@10": 0.5}, {"recall@1": 0.0, "mrr@10": 0.25}]
    assert mean_metrics(rows) == {"recall@1": 0.5, "mrr@10": 0.375}
    assert mean_metrics([]) == {}
