"""Statistics primitives against scipy, statsmodels and hand-computed values; their calibration."""

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from dlfa.analysis import per_run, stats


def test_wilson_interval_by_hand():
    # 90 of 100: centre (k + z^2/2)/(n + z^2), half-width z/(n + z^2) * sqrt(k(n-k)/n + z^2/4)
    z = sps.norm.ppf(0.975)
    centre = (90 + z * z / 2) / (100 + z * z)
    half = z / (100 + z * z) * np.sqrt(90 * 10 / 100 + z * z / 4)
    assert per_run.accuracy_ci(0.9, 100) == pytest.approx((centre - half, centre + half), abs=1e-9)


def test_mean_ci_is_the_t_interval_not_the_min_max_range():
    mean, low, high = stats.mean_ci([0.80, 0.82, 0.84])
    # sd 0.02, se 0.02 / sqrt(3), t(0.975, 2) = 4.303: (0.7703, 0.8697); the percentile bootstrap gave (0.80, 0.84)
    assert (mean, low, high) == pytest.approx((0.82, 0.82 - 4.302653 * 0.02 / np.sqrt(3), 0.82 + 4.302653 * 0.02 / np.sqrt(3)))
    assert low < 0.80 and high > 0.84
    assert np.isnan(stats.mean_ci([0.8])[1]) and stats.mean_ci([0.8])[0] == 0.8


def test_the_seed_interval_covers_the_mean_95_percent_of_the_time_with_three_seeds():
    rng = np.random.default_rng(0)
    seeds = rng.normal(0.8, 0.01, (4000, 3))
    covered = [low <= 0.8 <= high for _, low, high in map(stats.mean_ci, seeds)]
    assert np.mean(covered) >= 0.93  # the percentile bootstrap covered about 0.81


def test_correlation_matches_scipy_and_permutation_is_exact_for_small_n():
    x, y = [1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5]
    r = per_run.correlation(x, y, "spearman")
    assert r["statistic"] == pytest.approx(sps.spearmanr(x, y).statistic)
    # 6! = 720 pairings < n_resamples: scipy enumerates them, so the p-value is exact.
    rho = np.array([sps.spearmanr(x, p).statistic for p in itertools.permutations(y)])
    obs = r["statistic"]
    exact = min(1.0, 2 * min(np.mean(rho >= obs - 1e-12), np.mean(rho <= obs + 1e-12)))
    assert r["p_value"] == pytest.approx(exact)
    assert r["ci_low"] <= r["statistic"] <= r["ci_high"] and r["n"] == 6
    p = per_run.correlation(x, y, "pearson")
    assert p["statistic"] == pytest.approx(sps.pearsonr(x, y).statistic)


def test_correlation_interval_has_bounds_at_small_n_with_ties():
    # 4 points with ties: many bootstrap resamples are constant; they used to make the bounds NaN
    r = per_run.correlation([0.1, 0.1, 0.5, 0.9], [0.6, 0.7, 0.5, 0.4])
    assert np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"]) and r["n_degenerate"] > 0
    assert -1 <= r["ci_low"] <= r["statistic"] <= r["ci_high"] <= 1


def test_correlation_degenerate_and_bad_input():
    assert np.isnan(per_run.correlation([1, 2], [3, 4])["statistic"])
    assert np.isnan(per_run.correlation([1, 1, 1], [1, 2, 3])["statistic"])
    with pytest.raises(ValueError, match="method must be"):
        per_run.correlation([1, 2, 3], [1, 2, 3], "kendall")
    with pytest.raises(ValueError, match="equal length"):
        per_run.correlation([1, 2, 3], [1, 2])


def test_paired_difference_is_the_exact_mcnemar_test_on_few_examples():
    a = np.array([1, 1, 0, 1, 0, 1, 1, 0, 1, 1], bool)
    b = np.array([1, 1, 1, 1, 1, 1, 0, 1, 1, 1], bool)  # B alone right on 3 examples, A alone on 1
    r = per_run.paired_difference(a, b)
    assert r["difference"] == pytest.approx(0.2) and r["n"] == 10 and (r["b_only"], r["a_only"]) == (3, 1)
    assert r["p_value"] == pytest.approx(0.625)  # 2 * P(X >= 3), X ~ Binomial(4, 1/2) = 2 * 5/16
    assert r["ci_low"] < 0.2 < r["ci_high"]


def test_the_mcnemar_p_value_is_exact_far_below_any_resampling_floor():
    # 150 examples right only for B, 30 only for A, 1,820 right or wrong for both
    a = np.r_[np.zeros(150, bool), np.ones(30, bool), np.ones(1500, bool), np.zeros(320, bool)]
    b = np.r_[np.ones(150, bool), np.zeros(30, bool), np.ones(1500, bool), np.zeros(320, bool)]
    r = per_run.paired_difference(a, b)
    assert r["p_value"] == pytest.approx(sps.binomtest(150, 180, 0.5).pvalue, rel=1e-9)
    assert 1e-20 < r["p_value"] < 5e-20  # about 2.2e-20; a 5,000-resample test could not go below 2.0e-4
    assert r["difference"] == pytest.approx(120 / 2000)


def test_paired_difference_on_a_test_set_sized_sample():
    rng = np.random.default_rng(0)
    a = rng.random(2000) < 0.8
    b = np.where(rng.random(2000) < 0.1, ~a, a)  # 10% of outcomes flipped
    r = per_run.paired_difference(a, b)
    d = b.astype(float) - a.astype(float)
    assert r["difference"] == pytest.approx(d.mean())
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))  # the normal approximation's half-width
    assert r["ci_low"] == pytest.approx(d.mean() - half, abs=0.004)
    assert r["ci_high"] == pytest.approx(d.mean() + half, abs=0.004)
    assert r["p_value"] == pytest.approx(sps.binomtest(int((d > 0).sum()), int((d != 0).sum()), 0.5).pvalue)
    assert per_run.paired_difference(a, a) == {"difference": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0,
                                             "n": 2000, "b_only": 0, "a_only": 0}
    with pytest.raises(ValueError, match="the same examples in the same order"):
        per_run.paired_difference(a, b[:-1])


def test_holm_and_benjamini_hochberg_are_statsmodels_and_skip_nan():
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.5])
    ok = ~np.isnan(p)
    assert np.allclose(stats.holm(p)[ok], multipletests(p[ok], method="holm")[1])
    assert np.allclose(stats.benjamini_hochberg(p)[ok], multipletests(p[ok], method="fdr_bh")[1])
    assert np.isnan(stats.holm(p)[1]) and np.isnan(stats.benjamini_hochberg(p)[1])
    assert np.isnan(stats.holm([np.nan])).all()


def test_crossed_mean_by_hand():
    y = np.array([[1, 0, 1, 1], [1, 1, 0, 1], [0, 0, 1, 1]], float)  # 3 seeds x 4 examples
    r = stats.crossed_mean(y)
    s, n = y.shape
    ms_seed = n * y.mean(1).var(ddof=1)
    ms_example = s * y.mean(0).var(ddof=1)
    resid = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    ms_resid = (resid ** 2).sum() / ((s - 1) * (n - 1))
    assert r["estimate"] == pytest.approx(y.mean())
    assert r["var_seed"] == pytest.approx(ms_seed / (s * n))  # the seed means' spread over S
    assert r["var_example"] == pytest.approx(max(ms_example - ms_resid, 0) / (s * n))
    assert r["se"] ** 2 == pytest.approx(r["var_seed"] + r["var_example"])
    assert r["sources"] == stats.BOTH and r["ci_low"] < r["estimate"] < r["ci_high"]


def test_crossed_mean_with_one_seed_covers_test_examples_only_and_says_so():
    y = (np.arange(200) % 4 != 0).astype(float)[None, :]
    r = stats.crossed_mean(y)
    assert "1 seed" in r["sources"] and "not estimable" in r["sources"]
    assert r["se"] == pytest.approx(y.std(ddof=1) / np.sqrt(200))
    with pytest.raises(ValueError, match="seeds x examples"):
        stats.crossed_mean([1.0, 0.0])


def test_seeds_and_examples_falls_to_the_seed_t_test_and_to_the_normal_test_at_the_extremes():
    t_only = stats.seeds_and_examples(1.0, 0.25, 0.0, seeds=3)  # se 0.5, seeds alone
    assert t_only["ci_high"] - 1.0 == pytest.approx(sps.t.ppf(0.975, 2) * 0.5, rel=1e-3)
    assert t_only["p_value"] == pytest.approx(2 * sps.t.sf(2.0, 2), rel=1e-3)
    normal = stats.seeds_and_examples(1.0, 0.0, 0.25, seeds=3)
    assert normal["ci_high"] - 1.0 == pytest.approx(1.959964 * 0.5, rel=1e-4)
    between = stats.seeds_and_examples(1.0, 0.125, 0.125, seeds=3)
    assert 1.959964 * 0.5 < between["ci_high"] - 1.0 < sps.t.ppf(0.975, 2) * 0.5
    # the one-degree-of-freedom tail is heavy: it comes from the chi-square near 0, which quadrature misses
    assert stats.two_part_p_value(30.0, 0.05, 1) > 1e-3


def test_seeds_and_binomial_without_predictions_is_conservative_and_labelled():
    r = stats.seeds_and_binomial([0.02, 0.03, 0.01], [1e-4, 1e-4, 1e-4])
    assert r["se"] ** 2 == pytest.approx(np.var([0.02, 0.03, 0.01], ddof=1) / 3 + 1e-4)
    assert "binomial bound" in r["sources"] and "conservative" in r["sources"]
    one = stats.seeds_and_binomial([0.02], [1e-4])
    assert one["se"] == pytest.approx(0.01) and "1 seed" in one["sources"]


def test_slope_tests_equal_statsmodels_ols_with_fixed_effects():
    rng = np.random.default_rng(3)
    cells = pd.DataFrame([(a, b) for a in "pqrs" for b in "uvwxyz"], columns=["inter", "target"])
    cells["distance"] = rng.random(len(cells))
    cells["gain"] = 0.3 * cells.distance + rng.normal(0, 0.1, len(cells))
    fit = smf.ols("gain ~ distance + C(inter) + C(target)", data=cells).fit()
    ours = stats.slope_tests(cells.gain.to_numpy(), cells.distance, stats.fixed_effects(cells.inter, cells.target))
    assert ours["slope"] == pytest.approx(fit.params["distance"])
    assert ours["se"] == pytest.approx(fit.bse["distance"])
    assert ours["df"] == fit.df_resid and ours["residual_sd"] == pytest.approx(np.sqrt(fit.scale))
    many = stats.slope_tests(np.stack([cells.gain, cells.gain * 2]), cells.distance,
                             stats.fixed_effects(cells.inter, cells.target))
    assert many["slope"] == pytest.approx([fit.params["distance"], 2 * fit.params["distance"]])
    additive = stats.slope_tests(cells.gain.to_numpy(), cells.inter.map({"p": 0.1, "q": 0.2, "r": 0.3, "s": 0.4}),
                                 stats.fixed_effects(cells.inter, cells.target))
    assert additive["ss_distance"] == 0 and np.isnan(additive["slope"])


def test_collapse_rule_on_hand_made_predictions():
    gold = np.array([0] * 60 + [1] * 40)
    one_class = per_run.collapse(np.zeros(100, int), gold)
    assert one_class["collapsed"] and "100.0% of English dev predictions are one class" in one_class["reason"]
    assert one_class["majority_share"] == 0.6 and one_class["accuracy"] == 0.6
    almost = np.zeros(100, int)
    almost[[60, 61, 62, 63]] = 1  # 96% one class, accuracy 0.64: collapsed on the one-class rule alone
    assert per_run.collapse(almost, gold)["collapsed"]
    at_majority = np.where(np.arange(100) % 2 == 0, gold, 1 - gold)  # balanced predictions, accuracy 0.5 < 0.61
    flagged = per_run.collapse(at_majority, gold)
    assert flagged["collapsed"] and "within 1% of the majority share" in flagged["reason"]
    learnt = gold.copy()
    learnt[:10] = 1  # accuracy 0.9
    assert not per_run.collapse(learnt, gold)["collapsed"] and per_run.collapse(learnt, gold)["reason"] == ""
    with pytest.raises(ValueError, match="equal length"):
        per_run.collapse([0, 1], [0])
