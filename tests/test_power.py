"""Calibration of the study's tests on studies simulated example by example, and power.

The distance matrices are the real ones: the paper profile's chosen XNLI languages (syntactic
typology, extremes) against the six targets, and the smoke profile's six candidates against them.
Each null is simulated 2,000 times: at a true 5% the rejection rate's standard error is 0.5 points,
so a band of 3% to 7% fails a test that rejects 15% of the time.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from dlfa.analysis import calibration, power, simulate, stats
from dlfa.typology import distances as typology
from dlfa.typology.language_choice import select_languages

TARGETS = ["de", "es", "fr", "ja", "ko", "zh"]
PAPER_CANDIDATES = ["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"]
SMOKE_CANDIDATES = ["de", "fr", "hi", "ru", "tr", "vi"]


def _paper_languages():
    chosen = select_languages(TARGETS, PAPER_CANDIDATES, "syntactic", "extremes")
    languages = sorted(chosen[chosen.selected].candidate.unique())
    assert languages == ["el", "en", "es", "ru", "sw", "tr", "zh"]  # what the paper profile trains
    return languages


def _grid(languages):
    return (typology.distance_matrix("syntactic", languages, columns=TARGETS),
            typology.distance_matrix("syntactic", languages, columns=languages))


GRIDS = {"paper": lambda: _grid(_paper_languages()), "smoke": lambda: _grid(SMOKE_CANDIDATES)}


@pytest.mark.parametrize("grid, null", [("paper", null) for null in calibration.TYPOLOGY_NULLS]
                         + [("smoke", "same-language bonus"), ("smoke", "correlated examples")])
def test_the_typology_test_rejects_3_to_7_percent_under_every_null(grid, null):
    distance, between = GRIDS[grid]()
    r = calibration.typology_rejections(distance, null, n_sims=2000, examples=500, language_distance=between,
                                        seed=100 + list(calibration.TYPOLOGY_NULLS).index(null))
    assert 0.03 <= r["examples"]["rate"] <= 0.07, (grid, null, r)
    if null == "correlated examples":  # the calibration can fail: OLS takes the shared errors as independent
        assert r["ols"]["rate"] > r["examples"]["rate"] + 0.01


def test_kept_in_same_language_cells_turn_a_same_language_bonus_into_a_slope():
    distance, _ = GRIDS["paper"]()
    layout = calibration.cell_layout(distance)
    design = stats.fixed_effects(layout.intermediate_language, layout.language)
    p = np.concatenate([stats.slope_tests_with_examples(chunk, layout.distance.to_numpy(), design)["p_value"]
                        for chunk in simulate.typology_studies(distance, 600, examples=500, same_language=0.035,
                                                               seed=5, **calibration.TYPOLOGY_NOISE)])
    assert (p < 0.05).mean() > 0.15  # es -> es and zh -> zh at distance 0, leverage 0.36 and 0.43


def test_a_planted_slope_is_found_with_the_power_the_closed_form_gives():
    distance, _ = GRIDS["paper"]()
    null = calibration.typology_rejections(distance, "headroom and usefulness", n_sims=400, examples=500, seed=7)
    design = power.typology_design(distance)
    slope = -0.05  # 0.5 points of gain per 0.1 of distance
    planted = calibration.typology_rejections(distance, "headroom and usefulness", n_sims=1000, examples=500,
                                              slope=slope, seed=8)
    closed = power.slope_power(slope, design["ss_distance"], null["residual_sd"], design["df"])
    assert planted["examples"]["rate"] == pytest.approx(closed, abs=0.05)


def test_the_simulated_effects_are_exactly_the_planted_ones():
    distance, _ = GRIDS["smoke"]()
    gains = np.concatenate([chunk.sum(-1) for chunk in simulate.typology_studies(
        distance, 400, seeds=2, examples=400, slope=0.0, same_language=0.05, run=0.0, run_target=0.0, cell=0.0,
        seed=3)])
    layout = calibration.cell_layout(distance)
    same = (layout.intermediate_language == layout.language).to_numpy()
    # averaged over simulated studies, a same-language cell gains 5 points and the others nothing
    assert gains[:, same].mean() == pytest.approx(0.05, abs=0.003)
    assert gains[:, ~same].mean() == pytest.approx(0.0, abs=0.0015)
    assert simulate.Examples().room == pytest.approx(0.1248, abs=5e-4)  # E[pi (1 - pi)] at 80% accuracy


# ------------------------------------------------------------------------------ question 2

@pytest.mark.parametrize("regime", list(calibration.FUSION_REGIMES))
def test_the_dlfa_interval_is_never_liberal_where_a_seed_t_test_is(regime):
    r = calibration.fusion_rejections(regime, n_sims=1500, seeds=3, gain=0.02, examples=200, seed=7)
    assert 0.02 <= r["crossed"]["rate"] <= 0.07, r  # the miss rate at the true gain, 2 points
    if regime == "test noise dominates":
        assert r["seeds_only"]["rate"] > 0.15  # three seeds cannot see the test-set error they share


def test_the_cross_fitted_gain_of_the_layer_chosen_on_dev_is_unbiased_where_the_naive_one_is_not():
    # 11 layers that all truly gain 0, 3 seeds, each run's seed luck shared by its dev and test accuracy
    r = calibration.layer_choice(n_sims=1500, seeds=3, regime="seed noise dominates", examples=200, seed=3)
    assert abs(r["crossfit_bias"]) < 3 * r["crossfit_se"]
    assert r["naive_bias"] > 0.004 and r["naive_bias"] > 10 * r["naive_se"]  # the winner's curse
    assert 0.03 <= r["crossfit_missed"]["rate"] <= 0.07
    real = calibration.layer_choice([0.02 if k == 6 else 0.0 for k in range(1, 12)], n_sims=600, seeds=3,
                                    examples=200, seed=4)
    assert abs(real["crossfit_bias"]) < 3 * real["crossfit_se"]


# ---------------------------------------------------------------------------------- the plan

def test_the_plans_power_against_closed_forms():
    # a two-part test is a t-test when all its variance is estimated and a z-test when none is
    df, ncp, alpha = 4, 2.5, 0.05
    crit = sps.t.ppf(1 - alpha / 2, df)
    t_power = sps.nct.sf(crit, df, ncp) + sps.nct.cdf(-crit, df, ncp)
    assert power.two_part_power(ncp, 1.0, 1.0, df, alpha) == pytest.approx(t_power, abs=2e-4)
    z = sps.norm.ppf(1 - alpha / 2)
    assert power.two_part_power(ncp, 1.0, 0.0, df, alpha) == pytest.approx(sps.norm.sf(z - ncp) + sps.norm.cdf(-z - ncp))
    # question 2 by hand: 5 seeds, seed SD 1 point, shared test part 0.3: se^2 = 2 * 0.01^2 / 5 + 0.003^2
    se = np.sqrt(2 * 0.01 ** 2 / 5 + 0.003 ** 2)
    assert power.fusion_design_se(0.01, 0.003, 5) == pytest.approx((se, 2 * 0.01 ** 2 / 5 / se ** 2))
    assert power.fusion_design_power(0.02, 5, 0.01, 1e-9) == pytest.approx(
        sps.nct.sf(sps.t.ppf(0.975, 4), 4, 0.02 / np.sqrt(2 * 0.01 ** 2 / 5))
        + sps.nct.cdf(-sps.t.ppf(0.975, 4), 4, 0.02 / np.sqrt(2 * 0.01 ** 2 / 5)), abs=2e-4)
    # question 1 by hand: the distance's variation once both languages' effects are removed, by statsmodels
    distance, _ = GRIDS["paper"]()
    design = power.typology_design(distance)
    cells = calibration.cell_layout(distance)
    cells = cells[cells.intermediate_language != cells.language]
    import statsmodels.formula.api as smf
    resid = smf.ols("distance ~ C(intermediate_language) + C(language)", data=cells).fit().resid
    assert design["ss_distance"] == pytest.approx(float((resid ** 2).sum())) and design["df"] == 40 - 7 - 5 - 1
    sigma = np.sqrt(0.01 ** 2 + 0.01 ** 2 / 3)
    ncp = 0.05 * np.sqrt(design["ss_distance"]) / sigma
    crit = sps.t.ppf(0.975, design["df"])
    assert power.typology_design_power(0.05, 3, design, 0.01, 0.01) == pytest.approx(
        sps.nct.sf(crit, design["df"], ncp) + sps.nct.cdf(-crit, design["df"], ncp), abs=1e-6)
    # seeds needed: the first count that reaches 80%, or none where cell effects alone cap the power
    needed = power.seeds_needed(lambda n: power.fusion_design_power(0.02, n, 0.01, 0.003))
    assert power.fusion_design_power(0.02, needed, 0.01, 0.003) >= 0.8 > power.fusion_design_power(0.02, needed - 1, 0.01, 0.003)
    assert power.seeds_needed(lambda n: power.typology_design_power(0.025, n, design, 0.01, 0.01)) is None


def test_the_mde_has_80_percent_power_and_its_range_brackets_it():
    rng = np.random.default_rng(6)
    seeds, seed_part, example_part = 3, 0.004 ** 2, 0.003 ** 2  # variances of the mean gain
    share = seed_part / (seed_part + example_part)
    se = np.sqrt(seed_part + example_part)
    gain = power.gain_mde(se, share, seeds)
    sims = 3000
    per_seed = rng.normal(0, np.sqrt(seeds * seed_part), (sims, seeds))
    estimate = gain + per_seed.mean(axis=1) + rng.normal(0, np.sqrt(example_part), sims)
    seed_hat = per_seed.var(axis=1, ddof=1) / seeds
    se_hat = np.sqrt(seed_hat + example_part)
    p = stats.two_part_p_value(np.abs(estimate) / se_hat, seed_hat / se_hat ** 2, seeds - 1)
    assert np.mean(p < 0.05) == pytest.approx(0.80, abs=0.04)
    assert power.gain_mde(se, 0.0, 1) == pytest.approx((sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * se, rel=1e-3)
    low, high = power.mde_range(se, share, seeds - 1)
    assert low < gain < high
    # the range is the MDE at the ends of the seed variance's chi-square interval (2 df)
    true_high = seed_part * 2 / sps.chi2.ppf(0.025, 2)
    assert high == pytest.approx(power.two_part_mde(np.sqrt(true_high + example_part),
                                                    true_high / (true_high + example_part), 2))
    assert np.isnan(power.slope_mde(0.0, 0.01, 5)) and np.isnan(power.gain_mde(0.0, 0.5, 3))


def test_slope_power_is_finite_and_rising_at_small_df_and_holm_alphas():
    from dlfa.analysis.power import slope_mde, two_sided_power

    # 2 intermediate languages x 6 targets leave df 4; at alpha 0.05 / 6 scipy's nct.cdf gave NaN at ncp 8
    for df in (2, 4, 8, 100):
        for alpha in (0.05, 0.05 / 6, 0.001):
            values = [two_sided_power(x, df, alpha) for x in np.linspace(0, 40, 81)]
            assert np.isfinite(values).all() and np.all(np.diff(values) >= -1e-12), (df, alpha)
            assert values[0] == pytest.approx(alpha, rel=1e-6)
    assert np.isfinite(slope_mde(0.05, 0.04, 4, 0.05 / 6))


def test_a_grid_without_variation_left_is_not_estimable_in_the_plan():
    additive = pd.DataFrame([[0.1 * i + 0.01 * j for j in range(3)] for i in range(3)], index=["ar", "bg", "el"],
                            columns=["de", "fr", "ja"])
    assert "additive" in power.typology_design(additive)["reason"]
    one = pd.DataFrame([[0.1, 0.2, 0.3]], index=["tr"], columns=["de", "fr", "ja"])
    assert "two or more intermediate languages" in power.typology_design(one)["reason"]
    assert np.isnan(power.typology_design_power(0.05, 3, power.typology_design(one), 0.01, 0.01))
