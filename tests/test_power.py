"""Calibration of the typology test in the study's own design, and power, by simulation.

The distance matrices are the real ones: the paper profile's chosen XNLI languages (syntactic
typology, extremes) against the six targets, and the smoke profile's six candidates against them.
4,000 simulated studies per null: the rejection rate's standard error is 0.35 points, so a band of
3% to 7% fails a test that rejects 15% of the time (let alone the 67% of the old pooled test).
"""

import numpy as np
import pytest
from scipy import stats as sps

from dlfa import calibration, power, stats, typology

TARGETS = ["de", "es", "fr", "ja", "ko", "zh"]
PAPER_CANDIDATES = ["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"]
SMOKE_CANDIDATES = ["de", "fr", "hi", "ru", "tr", "vi"]


def _paper_matrix():
    chosen = typology.select_languages(TARGETS, PAPER_CANDIDATES, "syntactic", "extremes")
    languages = sorted(chosen[chosen.selected].candidate.unique())
    assert languages == ["el", "en", "es", "ru", "sw", "tr", "zh"]  # what the paper profile trains
    return typology.distance_matrix("syntactic", languages, columns=TARGETS)


MATRICES = {"paper": _paper_matrix, "smoke": lambda: typology.distance_matrix("syntactic", SMOKE_CANDIDATES,
                                                                                columns=TARGETS)}


@pytest.mark.parametrize("grid", sorted(MATRICES))
@pytest.mark.parametrize("scenario", calibration.SCENARIOS)
def test_the_typology_test_rejects_about_5_percent_under_every_null(grid, scenario):
    rate = calibration.rejection_rate(MATRICES[grid](), scenario, n_sims=4000, seed=11)
    assert 0.03 <= rate <= 0.07, f"{grid} {scenario}: {rate:.3f}"


def test_the_old_pooled_correlation_rejects_far_too_often():
    rate = calibration.pooled_spearman_rejection(_paper_matrix(), "all", n_sims=400, seed=3)
    assert rate > 0.3


def test_a_planted_slope_is_detected_and_power_at_the_mde_is_80_percent():
    distance = _paper_matrix()
    layout = calibration.cell_layout(distance)
    design = stats.fixed_effects(layout.intermediate_language, layout.language)
    fit = stats.slope_tests(np.zeros(len(layout)), layout.distance, design)
    sigma = 0.01
    mde = power.slope_mde(fit["ss_distance"], sigma, fit["df"])
    rng = np.random.default_rng(4)
    cells = mde * layout.distance.to_numpy() + rng.normal(0, sigma, (4000, len(layout)))
    result = stats.slope_tests(cells, layout.distance, design)
    detected = 2 * sps.t.sf(np.abs(result["t"]), result["df"]) < 0.05
    assert detected.mean() == pytest.approx(0.80, abs=0.025)
    # in the whole simulated study (seeds, runs, test set, confounds), a large slope is found
    assert calibration.simulated_power(distance, slope=-0.1, n_sims=1000, seed=5) > 0.95


def test_the_gain_mde_has_80_percent_power_in_simulation():
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
    # the p-value of stats.seeds_and_examples, without its interval (a root search per study)
    p = [stats.two_part_p_value(abs(e) / s, v / s ** 2, seeds - 1) for e, s, v in zip(estimate, se_hat, seed_hat)]
    assert np.mean(np.array(p) < 0.05) == pytest.approx(0.80, abs=0.04)
    assert power.gain_mde(se, 0.0, 1) == pytest.approx((sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * se, rel=1e-3)
    assert np.isnan(power.slope_mde(0.0, 0.01, 5)) and np.isnan(power.gain_mde(0.0, 0.5, 3))


def test_slope_power_is_finite_and_rising_at_small_df_and_holm_alphas():
    from dlfa.power import _two_sided_power, slope_mde
    # 2 intermediate languages x 6 targets leave df 4; at alpha 0.05 / 6 scipy's nct.cdf gave NaN at ncp 8
    for df in (2, 4, 8, 100):
        for alpha in (0.05, 0.05 / 6, 0.001):
            values = [_two_sided_power(x, df, alpha) for x in np.linspace(0, 40, 81)]
            assert np.isfinite(values).all() and np.all(np.diff(values) >= -1e-12), (df, alpha)
            assert values[0] == pytest.approx(alpha, rel=1e-6)
    assert np.isfinite(slope_mde(0.05, 0.04, 4, 0.05 / 6))
