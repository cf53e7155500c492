"""Power of the study's tests: the power at a stated effect, and the smallest effect detected with
80% power, with the range an estimated noise level implies.

The slope test of question 1 without example-level predictions is an OLS t-test, so its power at a
slope ``g`` is that of a noncentral t (df, ncp = g sqrt(SS_d) / sigma), where SS_d is the distance's
sum of squares left once the languages' own effects are removed. The other tests (the DLFA gain,
the slope with predictions) are two-part pivots (``stats.two_part_test``): a variance part
estimated on ``df`` degrees of freedom beside a part taken as known; their power is integrated over
the estimated part's chi-square. ``tests/test_power.py`` checks them against closed forms and
against simulation in the study's design.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy import stats as scipy_stats

from dlfa.analysis import stats


def two_sided_power(ncp: float, df: float, alpha: float) -> float:
    """Power of a two-sided t test at level ``alpha`` with ``df`` degrees of freedom when the true
    effect is ``ncp`` standard errors (the normal limit above 1,000 df)."""
    if df > 1000:  # the normal limit (scipy's nct loses precision there)
        crit = scipy_stats.norm.ppf(1 - alpha / 2)
        return float(scipy_stats.norm.sf(crit - ncp) + scipy_stats.norm.cdf(-crit - ncp))
    crit = scipy_stats.t.ppf(1 - alpha / 2, df)
    # The lower tail P(T < -crit | ncp) as P(T > crit | -ncp): scipy's nct.cdf returns NaN far in the
    # lower tail at small df and large ncp (df 4, ncp 8), where sf stays finite.
    return float(scipy_stats.nct.sf(crit, df, ncp) + scipy_stats.nct.sf(crit, df, -ncp))


def _invert(power_at, power: float) -> float:
    """The smallest effect (in units of the standard error) with the given power."""
    high = 1.0
    while power_at(high) < power:  # bracket the root: power rises with the effect
        high *= 2
        if high > 1e3:
            return float("nan")
    return float(optimize.brentq(lambda x: power_at(x) - power, 0.0, high))


def slope_power(slope: float, ss_distance: float, residual_sd: float, df: float, alpha: float = 0.05) -> float:
    """Power of the OLS slope test at a true ``slope`` (gain per unit distance)."""
    if not (ss_distance > 0 and residual_sd > 0 and df >= 1):
        return float("nan")
    return two_sided_power(abs(slope) * np.sqrt(ss_distance) / residual_sd, df, alpha)


def slope_mde(ss_distance: float, residual_sd: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |slope| (gain per unit distance) the OLS typology test detects with ``power``."""
    if not (ss_distance > 0 and residual_sd > 0 and df >= 1):
        return float("nan")
    units = _invert(lambda ncp: two_sided_power(ncp, df, alpha), power)
    return units * residual_sd / np.sqrt(ss_distance)


def two_part_power(effect: float, se: float, seed_share: float, df: int, alpha: float = 0.05) -> float:
    """Power of ``stats.two_part_test`` at a true ``effect``, given its true standard error and the
    estimated part's share of that variance: the test rejects when |effect / se + Z| exceeds its
    critical value times sqrt(W), W = share * chi2_df / df + 1 - share the estimated over the true
    variance, integrated over the chi-square."""
    if not (se > 0 and 0 <= seed_share <= 1):
        return float("nan")
    return _two_part_power_at(abs(effect) / se, seed_share, df, alpha)


def _two_part_power_at(ncp: float, seed_share: float, df: int, alpha: float) -> float:
    critical = stats.two_part_critical(seed_share, df, alpha)
    if seed_share <= 0 or df < 1:
        return float(scipy_stats.norm.sf(critical - ncp) + scipy_stats.norm.cdf(-critical - ncp))
    u, weights = stats.chi2_grid(df)
    bound = critical * np.sqrt(seed_share * u / df + 1 - seed_share)  # the critical value, in true-se units
    return float(((scipy_stats.norm.sf(bound - ncp) + scipy_stats.norm.cdf(-bound - ncp)) * weights).sum())


def two_part_mde(se: float, seed_share: float, df: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |effect| ``stats.two_part_test`` detects with ``power``."""
    if not (se > 0 and 0 <= seed_share <= 1):
        return float("nan")
    return _invert(lambda ncp: _two_part_power_at(ncp, seed_share, df, alpha), power) * se


def gain_mde(se: float, seed_share: float, seeds: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |gain| the DLFA test (``stats.seeds_and_examples``, seeds - 1 degrees of freedom)
    detects with ``power``, given its standard error and the seeds' share of its variance."""
    if not seeds >= 1:
        return float("nan")
    return two_part_mde(se, seed_share, seeds - 1, alpha, power)


def mde_range(se: float, seed_share: float, df: int, alpha: float = 0.05, power: float = 0.8,
              confidence: float = 0.95) -> tuple[float, float]:
    """The smallest detectable effect under the two ends of a ``confidence`` interval for the
    estimated variance part (chi-square on ``df`` degrees of freedom; the known part held fixed):
    how far an MDE computed from a few seeds (or cells) can be from the design's own."""
    if not (se > 0 and 0 <= seed_share <= 1) or df < 1 or seed_share == 0:
        mde = two_part_mde(se, seed_share, df, alpha, power)
        return mde, mde
    estimated, known = seed_share * se ** 2, (1 - seed_share) * se ** 2
    ends = []
    for q in (1 - (1 - confidence) / 2, (1 - confidence) / 2):  # a large chi-square: a small true variance
        true = estimated * df / scipy_stats.chi2.ppf(q, df)
        total = true + known
        ends.append(two_part_mde(np.sqrt(total), true / total, df, alpha, power))
    return ends[0], ends[1]


# ------------------------------------------------------------------ power as a design input (dlfa plan)

def fusion_design_se(seed_sd: float, test_shared_sd: float, seeds: int) -> tuple[float, float]:
    """The standard error of a DLFA gain averaged over ``seeds`` paired seeds, and the seeds' share of
    its variance: each seed's gain is the difference of two runs (2 x seed_sd^2), the shared test
    part does not shrink with seeds."""
    seed_part = 2 * seed_sd ** 2 / seeds
    total = seed_part + test_shared_sd ** 2
    return float(np.sqrt(total)), float(seed_part / total)


def fusion_design_power(gain: float, seeds: int, seed_sd: float, test_shared_sd: float, alpha: float = 0.05) -> float:
    """Power of question 2's test (``stats.seeds_and_examples``) at a true ``gain`` with ``seeds`` seeds."""
    se, share = fusion_design_se(seed_sd, test_shared_sd, seeds)
    return two_part_power(gain, se, share, seeds - 1, alpha)


def typology_design(distance) -> dict:
    """What the slope test of question 1 has to work with in a grid: ``distance`` is intermediate
    languages (rows) x targets (columns); same-language cells are left out, as the analysis does.
    Returns cells, ss_distance (the distance's variation left once both languages' effects are
    removed) and df, or a ``reason`` it is not estimable."""
    import pandas as pd  # the grid as a table of cells

    cells = [(a, b, float(distance.loc[a, b])) for a in distance.index for b in distance.columns if a != b]
    frame = pd.DataFrame(cells, columns=["intermediate_language", "language", "distance"])
    if frame.intermediate_language.nunique() < 2 or frame.language.nunique() < 2:
        return {"cells": len(frame), "ss_distance": 0.0, "df": 0,
                "reason": "it needs two or more intermediate languages and two or more targets"}
    design = stats.fixed_effects(frame.intermediate_language, frame.language)
    fit = stats.slope_tests(np.zeros(len(frame)), frame.distance, design)
    reason = None
    if fit["ss_distance"] <= 0:
        reason = "the distance is additive in intermediate language and target"
    elif fit["df"] < 1:
        reason = "no residual degrees of freedom once the languages' effects are fitted"
    return {"cells": len(frame), "ss_distance": fit["ss_distance"], "df": int(fit["df"]), "reason": reason,
            "same_language": int(sum(a in distance.columns for a in distance.index))}


def typology_design_power(slope: float, seeds: int, design: dict, cell_sd: float, cell_seed_sd: float,
                          alpha: float = 0.05) -> float:
    """Power of question 1's slope test at a true ``slope`` (gain per unit distance): the residual SD
    per cell is the cells' own effects plus the seed-and-test noise of one run averaged over seeds."""
    if design["reason"]:
        return float("nan")
    residual = np.sqrt(cell_sd ** 2 + cell_seed_sd ** 2 / seeds)
    return slope_power(slope, design["ss_distance"], residual, design["df"], alpha)


def seeds_needed(power_at_seeds, target: float = 0.8, most: int = 200) -> int | None:
    """The fewest seeds (2 to ``most``) at which ``power_at_seeds(seeds)`` reaches ``target``; None if
    none does (power rises with seeds, so the search stops at the first)."""
    for seeds in range(2, most + 1):
        if power_at_seeds(seeds) >= target:
            return seeds
    return None
