"""Interval and test primitives, on top of scipy.stats and statsmodels.

Every interval here says what it covers (its ``sources``): the training seed, the finite test set,
or both. The design-specific answers (the study's two questions) are in ``dlfa.analysis``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests

SEEDS = "seeds (t)"
EXAMPLES = "test examples"
BOTH = "seeds + test examples"


def accuracy_ci(accuracy: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson interval for an accuracy measured on ``n`` independent test examples."""
    k = int(round(accuracy * n))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval over seeds; fewer than two values have no interval (NaN).

    Not a percentile bootstrap: with 3 seeds that interval is [min, max] (each extreme resample has
    probability 1/27), and covers the mean about 81% of the time instead of 95%.
    """
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (float(values.mean()) if len(values) else np.nan), np.nan, np.nan
    mean, se = float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * se
    return mean, mean - half, mean + half


def _t_result(estimate: float, variance: float, df: float, confidence: float, sources: str) -> dict:
    se = float(np.sqrt(max(variance, 0.0)))
    if se == 0:
        p = 1.0 if estimate == 0 else 0.0
        return {"estimate": estimate, "se": 0.0, "df": df, "ci_low": estimate, "ci_high": estimate, "p_value": p,
                "sources": sources}
    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    p = 2 * stats.t.sf(abs(estimate) / se, df)
    return {"estimate": estimate, "se": se, "df": float(df), "ci_low": estimate - half, "ci_high": estimate + half,
            "p_value": float(p), "sources": sources}


@functools.lru_cache(maxsize=None)
def chi2_grid(df: int, nodes: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``u`` and trapezoid weights for expectations over a chi-square with ``df`` degrees of
    freedom, on a log scale (the density of chi2(1) is unbounded at 0, where the heavy tail of a
    one-degree-of-freedom statistic comes from; plain adaptive quadrature misses it)."""
    log_u = np.linspace(np.log(stats.chi2.ppf(1e-14, df)), np.log(stats.chi2.ppf(1 - 1e-14, df)), nodes)
    u = np.exp(log_u)
    weights = stats.chi2.pdf(u, df) * u * np.gradient(log_u)
    weights[[0, -1]] /= 2
    return u, weights / weights.sum()


def _two_part_tail(t, seed_share: float, df: int):
    """P(|T| > t) for T = Z / sqrt(share * df / U + 1 - share), U ~ chi2(df): the generalized pivot
    of ``seeds_and_examples`` in units of the estimated standard error."""
    t = np.asarray(t, dtype=float)
    if seed_share <= 0 or df < 1:
        return 2 * stats.norm.sf(t)
    u, weights = chi2_grid(df)
    scale = np.sqrt(seed_share * df / u + 1 - seed_share)
    return np.minimum(1.0, (2 * stats.norm.sf(t[..., None] / scale) * weights).sum(axis=-1))


def seeds_and_examples(estimate: float, seed_part: float, example_part: float, seeds: int, confidence: float = 0.95,
                       sources: str = "") -> dict:
    """Interval and p-value for an estimate whose variance is ``seed_part`` (from ``seeds`` seeds:
    ``seeds - 1`` degrees of freedom) plus ``example_part`` (from thousands of test examples: taken
    as known). The reference distribution is that of the generalized pivot (Weerahandi 1993):
    ``Z * sqrt(seed_part * k / chi2_k + example_part)``, integrated over the chi-square. With two or
    three seeds a Satterthwaite t is liberal (7% to 13% at alpha 0.05 in ``tests/test_stats.py``'s
    simulations) because a chance-small seed spread earns it many degrees of freedom; the pivot is
    never liberal and falls to the seed t-test or the normal test at either extreme.
    """
    variance = seed_part + example_part
    se = float(np.sqrt(max(variance, 0.0)))
    result = {"estimate": float(estimate), "se": se, "df": float(seeds - 1), "sources": sources}
    if se == 0:
        return {**result, "ci_low": estimate, "ci_high": estimate, "p_value": 1.0 if estimate == 0 else 0.0}
    share = seed_part / variance
    critical = two_part_critical(share, seeds - 1, 1 - confidence)
    return {**result, "seed_share": share, "ci_low": estimate - critical * se, "ci_high": estimate + critical * se,
            "p_value": float(_two_part_tail(abs(estimate) / se, share, seeds - 1))}


def two_part_critical(seed_share: float, df: int, alpha: float = 0.05) -> float:
    """The two-sided critical value of ``seeds_and_examples``'s statistic: between the normal's
    (``seed_share`` 0) and Student's t with ``df`` (``seed_share`` 1)."""
    normal = stats.norm.ppf(1 - alpha / 2)
    if seed_share <= 0 or df < 1:
        return float(normal)
    student = stats.t.ppf(1 - alpha / 2, df)
    return float(optimize.brentq(lambda c: _two_part_tail(c, seed_share, df) - alpha, normal - 1e-9, student + 1e-9))


def crossed_mean(scores, confidence: float = 0.95) -> dict:
    """Mean of a seeds x examples table of scores, with an interval for both sources of noise.

    ``scores[s, i]``: run of seed ``s`` on test example ``i`` (a 0/1 outcome, or a paired difference
    of outcomes). Seeds and examples are crossed random factors (every seed's run sees the same test
    set), so ``Var(mean) = var_seed / S + var_example / N + var_residual / (S N)``. Estimated from the
    two-way ANOVA mean squares as ``MS_seed / (S N)`` (the spread of the seed means, over S) plus
    ``max(MS_example - MS_residual, 0) / (S N)`` (the example component all seeds share); interval
    and p-value from ``seeds_and_examples``. A seed-only t-interval misses the part of the test set's
    sampling error that all seeds share; an example-only interval misses seed noise.
    With one seed, seed noise cannot be estimated: the interval is over test examples only, and
    ``sources`` says so.
    """
    y = np.asarray(scores, dtype=float)
    if y.ndim != 2 or y.shape[1] < 2:
        raise ValueError(f"scores must be seeds x examples with two or more examples; got shape {y.shape}")
    s, n = y.shape
    estimate = float(y.mean())
    if s == 1:
        return {**_t_result(estimate, y.var(ddof=1) / n, n - 1, confidence,
                            f"{EXAMPLES}; 1 seed: seed noise not estimable"), "seed_share": 0.0}
    seed_means, example_means = y.mean(axis=1), y.mean(axis=0)
    ms_seed = n * seed_means.var(ddof=1)
    ms_example = s * example_means.var(ddof=1)
    residual = y - seed_means[:, None] - example_means[None, :] + estimate
    ms_residual = float((residual ** 2).sum() / ((s - 1) * (n - 1)))
    # Var(mean) = Var(seed means) / S, the seeds' own spread (S - 1 degrees of freedom), plus the
    # example component that all seeds share (estimated from thousands of examples).
    seed_part = ms_seed / (s * n)
    example_part = max(ms_example - ms_residual, 0.0) / (s * n)
    result = seeds_and_examples(estimate, seed_part, example_part, s, confidence, BOTH)
    result.update(var_seed=seed_part, var_example=example_part)
    return result


def seeds_and_binomial(per_seed, binomial_variance, confidence: float = 0.95) -> dict:
    """Mean over seeds when only accuracies and test sizes are known (no example-level predictions).

    ``per_seed``: one estimate per seed; ``binomial_variance``: each one's test-set sampling
    variance from accuracy and n alone (a bound: see ``dlfa.analysis``). Variance: the seeds' spread
    over S, plus the mean binomial variance for the part of the test error that seeds share. That
    part cannot be told apart from the seed-specific part without predictions, so it is counted as
    if all of it were shared: conservative.
    """
    values, binomial = np.asarray(per_seed, dtype=float), np.asarray(binomial_variance, dtype=float)
    s = len(values)
    if s == 0:
        raise ValueError("no seeds")
    test_part = float(binomial.mean())
    if s == 1:
        return {**_t_result(float(values[0]), test_part, float("inf"), confidence,
                            f"{EXAMPLES}, binomial bound; 1 seed: seed noise not estimable"), "seed_share": 0.0}
    return seeds_and_examples(float(values.mean()), float(values.var(ddof=1) / s), test_part, s, confidence,
                              f"{BOTH}, binomial bound (no predictions; conservative)")

def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values (family: the values given; NaN stays NaN and is not counted)."""
    return _adjust(p_values, "holm")


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values (family: the values given; NaN stays NaN and is not counted)."""
    return _adjust(p_values, "fdr_bh")


def _adjust(p_values, method: str) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def fixed_effects(first, second) -> np.ndarray:
    """Design matrix of an intercept and the dummies of two crossed factors (first level dropped),
    e.g. intermediate language and target."""
    first, second = np.asarray(first), np.asarray(second)
    li, ti = pd.Index(pd.unique(first)), pd.Index(pd.unique(second))
    a = np.eye(len(li))[li.get_indexer(first)][:, 1:]
    b = np.eye(len(ti))[ti.get_indexer(second)][:, 1:]
    return np.column_stack([np.ones(len(a)), a, b])


def slope_tests(y, distance, design: np.ndarray) -> dict[str, np.ndarray]:
    """OLS slope of ``y`` on ``distance`` given the columns of ``design`` (fixed effects), vectorised
    over the leading axes of ``y`` (..., cells): the fit ``analysis.typology_effect`` makes with
    statsmodels, fast enough for thousands of simulated studies. Returns slope, se, t, df,
    residual_sd and ``ss_distance``, the distance's sum of squares left once the fixed effects are
    removed (0: the slope is not estimable, and slope, se and t are NaN)."""
    y, d = np.asarray(y, dtype=float), np.asarray(distance, dtype=float)
    u, singular, _ = np.linalg.svd(design, full_matrices=False)
    rank = int((singular > 1e-10 * singular.max()).sum())
    q = u[:, :rank]  # orthonormal basis of the fixed effects' column space
    d_res = d - q @ (q.T @ d)
    y_res = y - (y @ q) @ q.T
    ss_d = float(d_res @ d_res)
    if ss_d <= 1e-12 * max(float(d @ d), 1e-300):  # rounding residue of a distance the effects explain
        ss_d, d_res = 0.0, np.full_like(d_res, np.nan)
    df = len(d) - rank - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (y_res @ d_res) / ss_d
        rss = (y_res ** 2).sum(axis=-1) - slope ** 2 * ss_d
        sigma = np.sqrt(np.maximum(rss, 0) / df) if df > 0 else np.full(np.shape(slope), np.nan)
        se = sigma / np.sqrt(ss_d)
        t = slope / se
    return {"slope": slope, "se": se, "t": t, "df": df, "residual_sd": sigma, "ss_distance": ss_d}


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
