"""LangRank's NDCG@3 of typology's ranking against observed gains: hand-computed values, ties, the random baseline."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from dlfa.analysis import ranking


def _dcg(relevances, k=3):
    return sum(r / math.log2(i + 2) for i, r in enumerate(relevances[:k]))


def test_ndcg_by_hand():
    gains = [0.05, 0.02, -0.01]  # relevance 3, 2, 1
    assert ranking.ndcg([0.1, 0.2, 0.3], gains) == pytest.approx(1.0)  # the nearest gained most
    reversed_ = (1 + 2 / math.log2(3) + 3 / 2) / (3 + 2 / math.log2(3) + 1 / 2)
    assert ranking.ndcg([0.3, 0.2, 0.1], gains) == pytest.approx(reversed_)  # 0.790
    # k = 3 of five: positions 4 and 5 do not count
    gains5 = [5, 4, 3, 2, 1]
    assert ranking.ndcg([0.1, 0.2, 0.3, 0.05, 0.04], gains5) == pytest.approx(_dcg([1, 2, 5]) / _dcg([5, 4, 3]))


def test_random_expectation_is_the_mean_over_every_ranking():
    gains = [0.3, -0.1, 0.2, 0.05, 0.0]
    every = [ranking.ndcg(np.argsort(order), gains) for order in itertools.permutations(range(5))]
    assert ranking.random_ndcg(gains) == pytest.approx(np.mean(every))


def test_tied_distances_count_as_ranked_at_random_among_themselves():
    gains = [0.3, -0.1, 0.2, 0.05]
    assert ranking.ndcg([1.0, 1.0, 1.0, 1.0], gains) == pytest.approx(ranking.random_ndcg(gains))
    distances = [0.2, 1.0, 1.0, 0.1]  # 3 first, 0 second, then 1 and 2 in either order
    orders = ([3, 0, 1, 2], [3, 0, 2, 1])
    rel = ranking.relevance(gains)
    expected = np.mean([_dcg(list(rel[list(o)])) for o in orders]) / _dcg(sorted(rel, reverse=True))
    assert ranking.ndcg(distances, gains) == pytest.approx(expected)


def test_typology_that_knows_nothing_scores_the_random_expectation_on_average():
    rng = np.random.default_rng(0)
    draws = [(ranking.ndcg(rng.random(6), g), ranking.random_ndcg(g))
             for g in (rng.normal(size=6) for _ in range(3000))]
    observed, expected = np.mean(draws, axis=0)
    assert observed == pytest.approx(expected, abs=0.01)


def test_selection_table_per_target_with_a_mean_and_not_estimable_where_one_language():
    cells = pd.DataFrame({
        "variant": "baseline", "kind": "syntactic", "metric": "cosine",
        "intermediate_language": ["bg", "tr", "vi", "bg"], "language": ["de", "de", "de", "ja"],
        "gain": [0.05, 0.02, -0.01, 0.03], "distance": [0.1, 0.2, 0.3, 0.4]})
    table = ranking.selection_ndcg(cells)
    assert list(table.columns) == ranking.NDCG_COLUMNS
    table = table.set_index("target")
    assert table.loc["de", "ndcg"] == pytest.approx(1.0) and table.loc["de", "languages"] == 3
    assert (table.loc["de", "nearest"], table.loc["de", "best"]) == ("bg", "bg")
    assert math.isnan(table.loc["ja", "ndcg"]) and table.loc["ja", "note"].startswith("not estimable: 1 intermediate")
    assert table.loc["mean", "ndcg"] == pytest.approx(1.0) and table.loc["mean", "note"] == "over 1 target(s)"
    assert table.loc["mean", "random_ndcg"] == pytest.approx(ranking.random_ndcg([0.05, 0.02, -0.01]))
