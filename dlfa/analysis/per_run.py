"""Statistics of one run, or of two runs, on one test set: an accuracy's interval, the exact paired
test of two runs (McNemar), the correlation of two rankings, and whether a run collapsed to one
label. None of them generalises over training seeds; ``dlfa.analysis.stats`` does that.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def accuracy_ci(accuracy: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson interval for an accuracy measured on ``n`` independent test examples."""
    k = int(round(accuracy * n))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def correlation(x, y, method: str = "spearman", confidence: float = 0.95, n_resamples: int = 2000,
                seed: int = 0) -> dict[str, float]:
    """Spearman or Pearson r, a paired percentile-bootstrap CI and a two-sided permutation p-value
    (twice the smaller one-sided tail, as scipy.stats.permutation_test defines it).

    Resamples in which x or y is constant have no correlation; they are redrawn, so the interval
    always has bounds (``n_degenerate`` counts them).
    """
    if method not in ("spearman", "pearson"):
        raise ValueError(f"method must be 'spearman' or 'pearson'; got {method!r}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of equal length; got {x.shape} and {y.shape}")
    n = len(x)
    nan = {"statistic": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "n": n, "n_degenerate": 0}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return nan

    def r(a, b):
        return (stats.spearmanr(a, b) if method == "spearman" else stats.pearsonr(a, b)).statistic

    def rows_r(a, b):  # r of each row pair, vectorised over resamples
        if method == "spearman":
            a, b = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
        a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))

    rng = np.random.default_rng(seed)
    boot, degenerate = np.empty(0), 0
    while len(boot) < n_resamples:
        idx = rng.integers(0, n, size=(n_resamples, n))
        ok = (np.ptp(x[idx], axis=1) > 0) & (np.ptp(y[idx], axis=1) > 0)
        degenerate += int((~ok).sum())
        boot = np.concatenate([boot, rows_r(x[idx[ok]], y[idx[ok]])])[:n_resamples]
    low, high = np.quantile(boot, [0.5 - confidence / 2, 0.5 + confidence / 2])
    # Permuting y alone gives n! pairings: enumerated exactly when n! <= n_resamples (n <= 6 here).
    def null_r(yy, axis=-1):  # r(x, each permuted y), all at once: scipy's per-permutation calls took seconds
        yy = np.moveaxis(yy, axis, -1)
        flat = yy.reshape(-1, n)
        return rows_r(np.broadcast_to(x, flat.shape), flat).reshape(yy.shape[:-1])

    perm = stats.permutation_test((y,), null_r, permutation_type="pairings",
                                  vectorized=True, n_resamples=n_resamples, random_state=seed)
    return {"statistic": float(r(x, y)), "ci_low": float(low), "ci_high": float(high),
            "p_value": float(perm.pvalue), "n": n, "n_degenerate": degenerate}


def paired_difference(correct_a, correct_b, confidence: float = 0.95, n_resamples: int = 5000,
                      seed: int = 0) -> dict[str, float]:
    """Accuracy of B minus accuracy of A on the same examples (``correct_*``: one bool per example).

    p-value: the exact McNemar test, a two-sided binomial test of the discordant examples (B alone
    right against A alone right) at one half (``scipy.stats.binomtest``), at every n: a resampled
    p-value has a floor of 1 / (resamples + 1) that no multiplicity correction can get under. CI:
    percentile bootstrap over examples, resampled in pairs. Its null is "these two runs are equally
    accurate on examples like these": it covers the test set only, with the two runs as given (one
    seed each), and says nothing about the variants they come from (two runs of the same variant
    with different seeds differ too). ``b_only`` and ``a_only`` count the discordant examples.
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"correct_a and correct_b must be 1-D, non-empty and of equal length (the same "
                         f"examples in the same order); got {a.shape} and {b.shape}")
    n = len(a)
    b_only, a_only = int((b & ~a).sum()), int((a & ~b).sum())
    if b_only + a_only == 0:  # no discordant example: no evidence of a difference, and nothing to resample
        return {"difference": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0, "n": n, "b_only": 0, "a_only": 0}

    def diff(x, y, axis=-1):
        return np.mean(y, axis=axis) - np.mean(x, axis=axis)

    boot = stats.bootstrap((a.astype(float), b.astype(float)), diff, paired=True, vectorized=True,
                           confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                           random_state=seed)
    return {"difference": (b_only - a_only) / n, "ci_low": float(boot.confidence_interval.low),
            "ci_high": float(boot.confidence_interval.high),
            "p_value": float(stats.binomtest(b_only, b_only + a_only, 0.5).pvalue), "n": n,
            "b_only": b_only, "a_only": a_only}


def collapse(predicted, gold, share: float = 0.95, margin: float = 0.01, what: str = "English dev") -> dict:
    """Did a run learn nothing? From its predictions on English dev at the selected checkpoint (or,
    ``what`` naming them, on another split: the intermediate stage's own dev split).

    Collapsed: ``share`` or more of the predictions are one class, or the accuracy is less than
    ``margin`` above the majority class's share of the gold labels (what always answering that class
    scores). About 50% on PAWS-X is the usual sign of such a run.
    """
    predicted, gold = np.asarray(predicted), np.asarray(gold)
    if predicted.shape != gold.shape or predicted.ndim != 1 or len(gold) == 0:
        raise ValueError(f"predicted and gold must be 1-D, non-empty and of equal length; got {predicted.shape} "
                         f"and {gold.shape}")
    _, predicted_counts = np.unique(predicted, return_counts=True)
    _, gold_counts = np.unique(gold, return_counts=True)
    one_class = float(predicted_counts.max() / len(predicted))
    majority = float(gold_counts.max() / len(gold))
    accuracy = float((predicted == gold).mean())
    reasons = []
    if one_class >= share:
        reasons.append(f"{one_class:.1%} of {what} predictions are one class")
    if accuracy < majority + margin:
        reasons.append(f"{what} accuracy {accuracy:.3f} is within {margin:.0%} of the majority share "
                       f"{majority:.3f}")
    return {"collapsed": bool(reasons), "reason": "; ".join(reasons), "predicted_one_class_share": one_class,
            "majority_share": majority, "accuracy": accuracy}
