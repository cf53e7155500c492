"""Power of the study's two tests: the smallest effects they detect with 80% power.

The slope test of question 1 is an OLS t-test, so its power at a slope ``g`` is that of a
noncentral t (df, ncp = g sqrt(SS_d) / sigma), where SS_d is the distance's sum of squares left
once the languages' own effects are removed; the gain test of question 2 is a t-test with
a variance in two parts (seeds, test examples), its power integrated over the seeds' chi-square. ``slope_mde`` and
``gain_mde`` invert them for 80% power; ``tests/test_power.py`` checks both against direct
simulation in the study's design.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy import stats as scipy_stats

from . import stats


def _two_sided_power(ncp: float, df: float, alpha: float) -> float:
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


def slope_mde(ss_distance: float, residual_sd: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |slope| (gain per unit distance) the typology test detects with ``power``."""
    if not (ss_distance > 0 and residual_sd > 0 and df >= 1):
        return float("nan")
    units = _invert(lambda ncp: _two_sided_power(ncp, df, alpha), power)
    return units * residual_sd / np.sqrt(ss_distance)


def gain_mde(se: float, seed_share: float, seeds: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |gain| the DLFA test (``stats.seeds_and_examples``) detects with ``power``, given its
    standard error, the seeds' share of its variance and the number of seeds: the test rejects when
    |gain / se + Z| exceeds its critical value times sqrt(W), W = share * chi2_k / k + 1 - share the
    estimated over the true variance, integrated over the chi-square."""
    if not (se > 0 and seeds >= 1 and 0 <= seed_share <= 1):
        return float("nan")
    k = seeds - 1
    critical = stats.two_part_critical(seed_share, k, alpha)
    if seed_share <= 0 or k < 1:
        return _invert(lambda ncp: _two_sided_power(ncp, float("inf"), alpha), power) * se

    u, weights = stats.chi2_grid(k)
    bound = critical * np.sqrt(seed_share * u / k + 1 - seed_share)  # the critical value, in true-se units

    def power_at(ncp: float) -> float:
        return float(((scipy_stats.norm.sf(bound - ncp) + scipy_stats.norm.cdf(-bound - ncp)) * weights).sum())

    return _invert(power_at, power) * se
