"""Interval and test primitives, on top of scipy.stats and statsmodels.

Every interval here says what it covers (its ``sources``): the training seed, the finite test set,
or both. The design-specific answers (the study's two questions) are in ``dlfa.analysis``.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests

SEEDS = "seeds (t)"
EXAMPLES = "test examples"
BOTH = "seeds + test examples"


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


def two_part_p_value(t, seed_share, df: int):
    """P(|T| > t) for T = Z / sqrt(share * df / U + 1 - share), U ~ chi2(df): the two-sided p-value of
    the generalized pivot of ``seeds_and_examples`` at ``t`` standard errors. ``t`` and ``seed_share``
    broadcast against each other (thousands of simulated studies at once)."""
    t, share = np.broadcast_arrays(np.asarray(t, dtype=float), np.asarray(seed_share, dtype=float))
    if df < 1:
        return 2 * stats.norm.sf(t)
    u, weights = chi2_grid(df)
    scale = np.sqrt(share[..., None] * df / u + 1 - share[..., None])
    tail = (2 * stats.norm.sf(t[..., None] / scale) * weights).sum(axis=-1)
    return np.minimum(1.0, np.where(share <= 0, 2 * stats.norm.sf(t), tail))


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
    return two_part_test(estimate, seed_part, example_part, seeds - 1, confidence, sources)


def two_part_test(estimate: float, estimated_part: float, known_part: float, df: int, confidence: float = 0.95,
                  sources: str = "") -> dict:
    """``seeds_and_examples`` for a variance part estimated on ``df`` degrees of freedom (a seed
    spread, or a residual variance between cells) beside a part taken as known."""
    variance = estimated_part + known_part
    se = float(np.sqrt(max(variance, 0.0)))
    result = {"estimate": float(estimate), "se": se, "df": float(df), "sources": sources}
    if se == 0:
        return {**result, "ci_low": estimate, "ci_high": estimate, "p_value": 1.0 if estimate == 0 else 0.0}
    share = estimated_part / variance
    critical = two_part_critical(share, df, 1 - confidence)
    return {**result, "seed_share": share, "ci_low": estimate - critical * se, "ci_high": estimate + critical * se,
            "p_value": float(two_part_p_value(abs(estimate) / se, share, df))}


def two_part_critical(seed_share: float, df: int, alpha: float = 0.05) -> float:
    """The two-sided critical value of ``seeds_and_examples``'s statistic: between the normal's
    (``seed_share`` 0) and Student's t with ``df`` (``seed_share`` 1)."""
    normal = stats.norm.ppf(1 - alpha / 2)
    if seed_share <= 0 or df < 1:
        return float(normal)
    student = stats.t.ppf(1 - alpha / 2, df)
    return float(optimize.brentq(lambda c: two_part_p_value(c, seed_share, df) - alpha, normal - 1e-9, student + 1e-9))


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
    _, seed_part, example_part = crossed_parts(y)
    result = seeds_and_examples(estimate, float(seed_part), float(example_part), s, confidence, BOTH)
    result.update(var_seed=float(seed_part), var_example=float(example_part))
    return result


def crossed_parts(scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``crossed_mean``'s mean and its two variance parts, over the last two axes (seeds, examples)
    of ``scores``: vectorised over any leading axes. The seed part is the spread of the seed means
    over S (S - 1 degrees of freedom); the example part, the example component all seeds share, from
    the two-way ANOVA mean squares: ``max(MS_example - MS_residual, 0) / (S N)``."""
    y = np.asarray(scores, dtype=float)
    s, n = y.shape[-2:]
    estimate = y.mean(axis=(-2, -1))
    seed_means, example_means = y.mean(axis=-1), y.mean(axis=-2)
    ms_seed = n * seed_means.var(axis=-1, ddof=1)
    ms_example = s * example_means.var(axis=-1, ddof=1)
    residual = y - seed_means[..., :, None] - example_means[..., None, :] + estimate[..., None, None]
    ms_residual = (residual ** 2).sum(axis=(-2, -1)) / ((s - 1) * (n - 1))
    return estimate, ms_seed / (s * n), np.maximum(ms_example - ms_residual, 0.0) / (s * n)


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


def slope_tests_with_examples(scores, distance, design: np.ndarray) -> dict[str, np.ndarray]:
    """``slope_tests`` when each cell's mean is a sum over shared test examples, with the test set's
    sampling error measured from the examples themselves: vectorised over the leading axes of
    ``scores`` (..., cells, examples), where ``scores[..., c, :].sum(-1)`` is cell c's mean.

    The slope is the same linear contrast of the cell means; its variance has two parts. The test
    examples' part is measured directly: for each example (one id: translations of one pair are one
    example), its contribution to the contrast, whose spread over examples gives that part whatever
    the correlation between runs on the same examples (runs from similar languages err on the same
    pairs, which an OLS residual takes as independent across cells). The part between cells (each
    cell's own effect and its runs' seed noise) is the OLS residual variance less what the test
    examples put there in expectation, ``tr(M Sigma_examples)``, on the residual degrees of freedom.
    The p-value is the generalized pivot of ``two_part_test`` (``two_part_p_value``). Returns slope,
    se, p_value, df, residual_sd (the OLS one), between_var (per cell), example_var (of the slope),
    seed_share (the between part's share of the slope's variance) and ss_distance.
    """
    y, d = np.asarray(scores, dtype=float), np.asarray(distance, dtype=float)
    u, singular, _ = np.linalg.svd(design, full_matrices=False)
    rank = int((singular > 1e-10 * singular.max()).sum())
    q = u[:, :rank]
    d_res = d - q @ (q.T @ d)
    ss_d = float(d_res @ d_res)
    df = len(d) - rank - 1
    nan = np.full(y.shape[:-2], np.nan)
    if ss_d <= 1e-12 * max(float(d @ d), 1e-300) or df < 1:
        return {"slope": nan, "se": nan, "p_value": nan, "df": df, "residual_sd": nan, "between_var": nan,
                "example_var": nan, "seed_share": nan, "ss_distance": 0.0 if df >= 1 else ss_d}
    n = y.shape[-1]
    means = y.sum(axis=-1)
    w = d_res / ss_d
    slope = means @ w
    residual = means - (means @ q) @ q.T - slope[..., None] * d_res
    rss = (residual ** 2).sum(axis=-1)
    centred = y - y.mean(axis=-1, keepdims=True)  # each example's deviation, per cell
    along_w = np.einsum("c,...cn->...n", w, centred)
    resid_centred = (centred - np.einsum("ck,...kn->...cn", q, np.einsum("ck,...cn->...kn", q, centred))
                     - d_res[:, None] * along_w[..., None, :])  # M applied to each example's deviations
    correction = n / (n - 1)
    trace = correction * (resid_centred ** 2).sum(axis=(-2, -1))
    example_var = correction * (along_w ** 2).sum(axis=-1)
    ols = rss / df / ss_d  # the OLS variance of the slope: every cell's error taken as independent
    extra = np.maximum(example_var - trace / df / ss_d, 0.0)  # what the examples add along the slope beyond it
    total = ols + extra
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(total)
        share = np.where(total > 0, ols / total, 1.0)
        p = np.where(se > 0, two_part_p_value(np.abs(slope) / np.where(se > 0, se, 1.0), share, df),
                     np.where(slope == 0, 1.0, 0.0))
    return {"slope": slope, "se": se, "p_value": p, "df": df, "residual_sd": np.sqrt(rss / df),
            "ols_var": ols, "extra_var": extra, "seed_share": share, "ss_distance": ss_d}


def crossfit_choice(dev, test) -> dict[str, np.ndarray]:
    """Choose the best of K options on dev and estimate the chosen one on data the choice did not see.

    ``dev``, ``test``: gains per seed and option, ``(..., seeds, K)`` (NaN: missing). ``chosen``: the
    option with the best mean dev gain over every seed (ties: the first), and ``naive``, its mean test
    gain over those seeds. When dev and test come from the same runs they share each seed's effect,
    so ``naive`` keeps the luck that made the option look best. Cross-fitted: for each seed s, the
    option best on the other seeds' dev (``fold_choice``) and its test gain on seed s
    (``fold_estimate``); their mean estimates the true gain of what the procedure picks, free of
    seed s's luck. Needs two or more seeds (NaN otherwise).
    """
    dev, test = np.asarray(dev, dtype=float), np.asarray(test, dtype=float)
    if dev.shape != test.shape or dev.ndim < 2:
        raise ValueError(f"dev and test must both be (..., seeds, options); got {dev.shape} and {test.shape}")
    seeds = dev.shape[-2]
    present = ~np.isnan(dev)
    total, count = np.where(present, dev, 0.0).sum(axis=-2), present.sum(axis=-2)

    def best(sums, counts):  # argmax of the means; -inf where an option has no dev gain
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)
        return means.argmax(axis=-1), np.isfinite(means).any(axis=-1)

    chosen, ok = best(total, count)
    with warnings.catch_warnings():  # an option missing on every seed: NaN, said by the caller
        warnings.simplefilter("ignore", RuntimeWarning)
        naive = np.nanmean(np.take_along_axis(test, chosen[..., None, None].repeat(seeds, axis=-2), axis=-1)[..., 0],
                           axis=-1)
    naive = np.where(ok, naive, np.nan)
    folds, estimates = [], []
    for s in range(seeds):
        own = np.where(present[..., s, :], dev[..., s, :], 0.0)
        choice, fold_ok = best(total - own, count - present[..., s, :])
        estimate = np.take_along_axis(test[..., s, :], choice[..., None], axis=-1)[..., 0]
        folds.append(choice)
        estimates.append(np.where(fold_ok & (seeds > 1), estimate, np.nan))
    fold_estimate = np.stack(estimates, axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        crossfit = np.nanmean(fold_estimate, axis=-1) if seeds > 1 else np.full(chosen.shape, np.nan)
    return {"chosen": chosen, "naive": naive, "fold_choice": np.stack(folds, axis=-1),
            "fold_estimate": fold_estimate, "crossfit": crossfit}
