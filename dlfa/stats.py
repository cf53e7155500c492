"""Uncertainty and association, on top of scipy.stats."""

from __future__ import annotations

import numpy as np
from scipy import stats


def accuracy_ci(accuracy: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson interval for an accuracy measured on ``n`` independent test examples."""
    k = int(round(accuracy * n))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def mean_ci(values, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval (over seeds); a single value has no interval (NaN)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()) if len(values) else np.nan, np.nan, np.nan
    res = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                          method="percentile", random_state=seed)
    return float(values.mean()), float(res.confidence_interval.low), float(res.confidence_interval.high)


def correlation(x, y, method: str = "spearman", confidence: float = 0.95, n_resamples: int = 2000,
                seed: int = 0) -> dict[str, float]:
    """Spearman or Pearson r, a paired percentile-bootstrap CI and a two-sided permutation p-value
    (twice the smaller one-sided tail, as scipy.stats.permutation_test defines it)."""
    if method not in ("spearman", "pearson"):
        raise ValueError(f"method must be 'spearman' or 'pearson'; got {method!r}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of equal length; got {x.shape} and {y.shape}")
    n = len(x)
    nan = {"statistic": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "n": n}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return nan

    def r(a, b):
        return (stats.spearmanr(a, b) if method == "spearman" else stats.pearsonr(a, b)).statistic

    with np.errstate(invalid="ignore", divide="ignore"):  # constant resamples give NaN; dropped below
        boot = stats.bootstrap((x, y), r, paired=True, vectorized=False, confidence_level=confidence,
                               n_resamples=n_resamples, method="percentile", random_state=seed)
        # Permuting y alone gives n! pairings: enumerated exactly when n! <= n_resamples (n <= 6 here).
        perm = stats.permutation_test((y,), lambda yy: r(x, yy), permutation_type="pairings",
                                      vectorized=False, n_resamples=n_resamples, random_state=seed)
    return {"statistic": float(r(x, y)), "ci_low": float(boot.confidence_interval.low),
            "ci_high": float(boot.confidence_interval.high), "p_value": float(perm.pvalue), "n": n}


def paired_difference(correct_a, correct_b, confidence: float = 0.95, n_resamples: int = 5000,
                      seed: int = 0) -> dict[str, float]:
    """Accuracy of B minus accuracy of A on the same examples (``correct_*``: one bool per example).

    CI: percentile bootstrap over examples, resampled in pairs. p-value: two-sided paired
    permutation test (each example's two outcomes swapped at random), exact when 2^n <= n_resamples.
    For 0/1 outcomes that is the exact McNemar (sign) test on the discordant examples.
    """
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"correct_a and correct_b must be 1-D, non-empty and of equal length (the same "
                         f"examples in the same order); got {a.shape} and {b.shape}")
    n, difference = len(a), float(b.mean() - a.mean())
    if np.array_equal(a, b):  # no discordant example: no evidence of a difference, and nothing to resample
        return {"difference": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0, "n": n}

    def diff(x, y, axis=-1):
        return np.mean(y, axis=axis) - np.mean(x, axis=axis)

    boot = stats.bootstrap((a, b), diff, paired=True, vectorized=True, confidence_level=confidence,
                           n_resamples=n_resamples, method="percentile", random_state=seed)
    perm = stats.permutation_test((a, b), diff, permutation_type="samples", vectorized=True,
                                  n_resamples=n_resamples, random_state=seed)
    return {"difference": difference, "ci_low": float(boot.confidence_interval.low),
            "ci_high": float(boot.confidence_interval.high), "p_value": float(perm.pvalue), "n": n}
