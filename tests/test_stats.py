"""Statistics against scipy and hand-computed values."""

import numpy as np
import pytest
from scipy import stats as sps

from dlfa import stats


def test_wilson_interval_by_hand():
    # 90 of 100: centre (k + z^2/2)/(n + z^2), half-width z/(n + z^2) * sqrt(k(n-k)/n + z^2/4)
    z = sps.norm.ppf(0.975)
    centre = (90 + z * z / 2) / (100 + z * z)
    half = z / (100 + z * z) * np.sqrt(90 * 10 / 100 + z * z / 4)
    assert stats.accuracy_ci(0.9, 100) == pytest.approx((centre - half, centre + half), abs=1e-9)


def test_mean_ci_over_seeds():
    mean, low, high = stats.mean_ci([0.80, 0.82, 0.84, 0.86])
    assert mean == pytest.approx(0.83) and 0.80 <= low < mean < high <= 0.86
    assert np.isnan(stats.mean_ci([0.8])[1])


def test_correlation_matches_scipy_and_permutation_is_exact_for_small_n():
    x, y = [1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5]
    r = stats.correlation(x, y, "spearman")
    assert r["statistic"] == pytest.approx(sps.spearmanr(x, y).statistic)
    # 6! = 720 pairings < n_resamples: scipy enumerates them, so the p-value is exact.
    rho = [sps.spearmanr(x, p).statistic for p in __import__("itertools").permutations(y)]
    rho, obs = np.array(rho), r["statistic"]
    exact = min(1.0, 2 * min(np.mean(rho >= obs - 1e-12), np.mean(rho <= obs + 1e-12)))
    assert r["p_value"] == pytest.approx(exact)
    assert r["ci_low"] <= r["statistic"] <= r["ci_high"] and r["n"] == 6
    p = stats.correlation(x, y, "pearson")
    assert p["statistic"] == pytest.approx(sps.pearsonr(x, y).statistic)


def test_correlation_degenerate_and_bad_input():
    assert np.isnan(stats.correlation([1, 2], [3, 4])["statistic"])
    assert np.isnan(stats.correlation([1, 1, 1], [1, 2, 3])["statistic"])
    with pytest.raises(ValueError, match="method must be"):
        stats.correlation([1, 2, 3], [1, 2, 3], "kendall")
    with pytest.raises(ValueError, match="equal length"):
        stats.correlation([1, 2, 3], [1, 2])


def test_paired_difference_is_the_exact_mcnemar_test_on_few_examples():
    a = np.array([1, 1, 0, 1, 0, 1, 1, 0, 1, 1], bool)
    b = np.array([1, 1, 1, 1, 1, 1, 0, 1, 1, 1], bool)  # B alone right on 3 examples, A alone on 1
    r = stats.paired_difference(a, b)
    assert r["difference"] == pytest.approx(0.2) and r["n"] == 10
    assert r["p_value"] == pytest.approx(sps.binomtest(3, 4, 0.5).pvalue)  # 0.625: 2^10 pairings enumerated
    assert r["ci_low"] < 0.2 < r["ci_high"]


def test_paired_difference_on_a_test_set_sized_sample():
    rng = np.random.default_rng(0)
    a = rng.random(2000) < 0.8
    b = np.where(rng.random(2000) < 0.1, ~a, a)  # 10% of outcomes flipped
    r = stats.paired_difference(a, b)
    d = b.astype(float) - a.astype(float)
    assert r["difference"] == pytest.approx(d.mean())
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))  # the normal approximation's half-width
    assert r["ci_low"] == pytest.approx(d.mean() - half, abs=0.004)
    assert r["ci_high"] == pytest.approx(d.mean() + half, abs=0.004)
    exact = sps.binomtest(int((d > 0).sum()), int((d != 0).sum()), 0.5).pvalue
    assert r["p_value"] == pytest.approx(max(exact, 1 / 5001), abs=1e-3)  # Monte Carlo floor 1/(n+1)
    assert stats.paired_difference(a, a) == {"difference": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0,
                                             "n": 2000}
    with pytest.raises(ValueError, match="the same examples in the same order"):
        stats.paired_difference(a, b[:-1])
