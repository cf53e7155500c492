"""Calibration of the typology test by simulation, in the study's own design.

:func:`simulate_gains` draws whole studies run by run: for each variant and seed a run without
intermediate task and one per intermediate language, each evaluated on every target, with target
headroom, intermediate-language usefulness, cell effects, seed noise and a finite test set whose
sampling error is shared by every run evaluated on it; under a chosen null or a planted slope.
:func:`rejection_rate` applies the test of ``analysis.typology_effect`` (``stats.slope_tests``, its
vectorised twin) to each; :func:`pooled_spearman_rejection` applies the test this study used
before (one Spearman correlation over every pooled gain). Thousands of studies take seconds.
``python -m dlfa.calibration`` regenerates the figures of ``docs/statistics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from . import stats

SCENARIOS = ("noise", "target", "intermediate", "all")


@dataclass(frozen=True)
class Noise:
    """Standard deviations in accuracy units (0.01 = one point) of the simulated study's parts."""

    run: float = 0.010          # a run's seed effect, shared by all its targets
    run_target: float = 0.008   # a run's seed effect on one target
    test_n: int = 2000          # test examples per target (PAWS-X test_2k)
    test_shared: float = 0.5    # share of a run's test sampling variance common to every run on that test set
    accuracy: float = 0.80      # typical accuracy (for the binomial test noise)
    cell: float = 0.010         # each (L, T) cell's own effect, unrelated to distance
    target: float = 0.030       # targets' own headroom (gain differences between targets)
    intermediate: float = 0.020  # intermediate languages' own usefulness


def simulate_gains(distance: pd.DataFrame, scenario: str = "all", n_sims: int = 2000, seeds: int = 3,
                   variants: int = 1, slope: float = 0.0, noise: Noise = Noise(), seed: int = 0) -> np.ndarray:
    """Seed-level gains of ``n_sims`` simulated studies: ``(n_sims, variants, L, seeds, T)``.

    ``distance``: intermediate languages (rows) x targets (columns). Each variant and seed has a run
    without intermediate task and one per intermediate language, each evaluated on every target;
    the gain is their difference. Scenarios (nulls unless ``slope`` is not 0): ``noise``, seed and
    test noise only; ``target``, plus target headroom that grows with the target's mean distance to
    the intermediate languages (far targets gain more: the confound of ja and ko); ``intermediate``,
    plus intermediate-language usefulness that grows with the language's mean distance to the
    targets; ``all``, both plus cell effects unrelated to distance, shared by every variant and
    seed of a cell.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {SCENARIOS}")
    rng = np.random.default_rng(seed)
    d = distance.to_numpy(dtype=float)
    n_l, n_t = d.shape

    def standardised(v):
        return (v - v.mean()) / v.std() if v.std() > 0 else np.zeros_like(v)

    effect = slope * d  # (L, T)
    if scenario in ("target", "all"):  # confounded with distance on purpose: these must not read as slope
        effect = effect + noise.target * standardised(d.mean(axis=0))[None, :]
    if scenario in ("intermediate", "all"):
        effect = effect + noise.intermediate * standardised(d.mean(axis=1))[:, None]
    cells = rng.normal(0, noise.cell, (n_sims, 1, n_l, 1, n_t)) if scenario == "all" else 0.0

    test_var = noise.accuracy * (1 - noise.accuracy) / noise.test_n
    shared = rng.normal(0, np.sqrt(noise.test_shared * test_var), (n_sims, 1, 1, 1, n_t))  # one test set per target

    def runs(k: int) -> np.ndarray:  # measured accuracy minus truth: (n_sims, variants, k, seeds, T)
        return (rng.normal(0, noise.run, (n_sims, variants, k, seeds, 1))
                + rng.normal(0, noise.run_target, (n_sims, variants, k, seeds, n_t))
                + rng.normal(0, np.sqrt((1 - noise.test_shared) * test_var), (n_sims, variants, k, seeds, n_t))
                + shared)

    baseline, inter = runs(1), runs(n_l)
    return effect[None, None, :, None, :] + cells + inter - baseline


def cell_layout(distance: pd.DataFrame) -> pd.DataFrame:
    """The cells of a distance matrix in row-major order: ``intermediate_language, language, distance``."""
    n_l, n_t = distance.shape
    return pd.DataFrame({"intermediate_language": np.repeat(distance.index.to_numpy(), n_t),
                         "language": np.tile(distance.columns.to_numpy(), n_l),
                         "distance": distance.to_numpy(dtype=float).reshape(-1)})


def simulate_study(distance: pd.DataFrame, scenario: str = "all", n_sims: int = 2000, seeds: int = 3,
                   slope: float = 0.0, noise: Noise = Noise(), seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """One variant's cell gains (seeds averaged) in ``n_sims`` simulated studies, ``(n_sims, cells)``,
    and the cells (``cell_layout``): what ``analysis.typology_effect`` fits, one row per variant."""
    gains = simulate_gains(distance, scenario, n_sims, seeds, 1, slope, noise, seed)
    return gains[:, 0].mean(axis=2).reshape(n_sims, -1), cell_layout(distance)


def rejection_rate(distance: pd.DataFrame, scenario: str = "all", alpha: float = 0.05, **kwargs) -> float:
    """Share of simulated studies in which the typology test rejects at ``alpha``."""
    cells, layout = simulate_study(distance, scenario, **kwargs)
    fit = stats.slope_tests(cells, layout.distance, stats.fixed_effects(layout.intermediate_language, layout.language))
    p = 2 * scipy_stats.t.sf(np.abs(fit["t"]), fit["df"])
    return float((p < alpha).mean())


def pooled_spearman_rejection(distance: pd.DataFrame, scenario: str = "all", alpha: float = 0.05,
                              variants: int = 12, n_sims: int = 2000, seeds: int = 3, noise: Noise = Noise(),
                              seed: int = 0) -> float:
    """The test this study used before: one Spearman correlation over every variant x seed x target
    gain (variants x seeds x cells points, 1,512 in the paper profile), as if they were independent."""
    gains = simulate_gains(distance, scenario, n_sims, seeds, variants, noise=noise, seed=seed)
    y = np.moveaxis(gains, 3, 2).reshape(n_sims, -1)  # (n_sims, variants * L * seeds * T)
    x = np.broadcast_to(distance.to_numpy(dtype=float)[None, :, None, :], gains.shape[1:]).copy()
    x = np.moveaxis(x, 2, 1).reshape(-1)
    rx, ry = scipy_stats.rankdata(x), scipy_stats.rankdata(y, axis=1)
    rx, ry = rx - rx.mean(), ry - ry.mean(axis=1, keepdims=True)
    r = (ry @ rx) / np.sqrt((ry ** 2).sum(axis=1) * (rx @ rx))
    n = len(x)
    t = r * np.sqrt((n - 2) / np.maximum(1 - r ** 2, 1e-12))
    return float((2 * scipy_stats.t.sf(np.abs(t), n - 2) < alpha).mean())


def simulated_power(distance: pd.DataFrame, slope: float, alpha: float = 0.05, **kwargs) -> float:
    """Share of simulated studies (scenario ``all``) that detect a planted ``slope``."""
    return rejection_rate(distance, "all", alpha=alpha, slope=slope, **kwargs)


def fusion_rejection_rates(n_sims: int = 2000, seeds: int = 3, languages: int = 3, examples: int = 400,
                           gain: float = 0.0, seed_sd: float = 0.15, within_sd: float = 0.8, example_sd: float = 1.0,
                           alpha: float = 0.05, seed: int = 0) -> dict[str, float]:
    """Share of simulated DLFA comparisons that reject at ``alpha``: the interval of
    ``analysis.fusion_effect`` (``stats.crossed_mean`` over seeds x parallel test examples) beside a
    t-test over seeds alone.

    Each example ``i`` has a difficulty (a logit, shared by its translations, plus a language part)
    and, for the fused model against the plain one, an effect of its own (SD ``example_sd``,
    symmetric: the two models are equally good on the population of examples unless ``gain``);
    each run has a seed effect (SD ``seed_sd``) and run-by-example noise (SD ``within_sd``).
    """
    rng = np.random.default_rng(seed)
    shape = (n_sims, seeds, languages, examples)
    difficulty = rng.normal(1.2, 1.2, (n_sims, 1, 1, examples)) + rng.normal(0, 0.5, (n_sims, 1, languages, examples))
    own = rng.normal(0, example_sd, (n_sims, 1, 1, examples)) / 2

    def outcomes(shift):
        logit = difficulty + shift + rng.normal(0, seed_sd, (n_sims, seeds, 1, 1)) + rng.normal(0, within_sd, shape)
        return rng.random(shape) < 1 / (1 + np.exp(-logit))

    fused = outcomes(own + gain)  # gain on the logit scale
    plain = outcomes(-own)
    # each example's contribution to the language-averaged difference, scaled so the mean is the difference
    scores = (fused.astype(float) - plain).mean(axis=2)  # (n_sims, seeds, examples)
    crossed = np.array([stats.crossed_mean(table)["p_value"] for table in scores])
    per_seed = scores.mean(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):  # identical seeds: t is infinite or undefined
        t = per_seed.mean(axis=1) / (per_seed.std(axis=1, ddof=1) / np.sqrt(seeds))
    seeds_only = 2 * scipy_stats.t.sf(np.abs(t), seeds - 1)
    return {"crossed": float((crossed < alpha).mean()), "seeds_only": float((seeds_only < alpha).mean())}


# ------------------------------------------------------------------------ docs/statistics.md figures

TARGETS = ["de", "es", "fr", "ja", "ko", "zh"]
PAPER_LANGUAGES = ["el", "en", "es", "ru", "sw", "tr", "zh"]  # the paper profile's typology choice (syntactic)
SMOKE_CANDIDATES = ["de", "fr", "hi", "ru", "tr", "vi"]
MARKERS = ("<!-- generated by python -m dlfa.calibration: start -->", "<!-- generated by python -m dlfa.calibration: end -->")


def grids() -> dict[str, pd.DataFrame]:
    """The real syntactic distance matrices the docs simulate: the paper profile's chosen XNLI
    languages and the smoke profile's six candidates, against the six targets."""
    from .typology import distance_matrix
    return {"paper (7 x 6)": distance_matrix("syntactic", PAPER_LANGUAGES, columns=TARGETS),
            "smoke candidates (6 x 6)": distance_matrix("syntactic", SMOKE_CANDIDATES, columns=TARGETS)}


def _percentile_coverage(n_sims: int = 4000, seeds: int = 3, seed: int = 0) -> dict[str, float]:
    """Coverage of a 95% interval over 3 seeds: the percentile bootstrap this study used before
    (with 3 values it is [min, max] up to resampling noise) against the t-interval."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 1, (n_sims, seeds))
    t_half = scipy_stats.t.ppf(0.975, seeds - 1) * values.std(axis=1, ddof=1) / np.sqrt(seeds)
    t_cover = np.abs(values.mean(axis=1)) <= t_half
    minmax = (values.min(axis=1) <= 0) & (values.max(axis=1) >= 0)
    return {"t": float(t_cover.mean()), "percentile (min-max)": float(minmax.mean())}


def write_docs(doc: str = "docs/statistics.md", figure: str = "docs/figures/statistics.png", n_sims: int = 4000) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import save_figure, write_text
    from .paths import resolve
    from .power import gain_mde, slope_mde

    lines = [MARKERS[0], "", f"Regenerate: `python -m dlfa.calibration` (about a minute on 2 CPU cores); "
             f"{n_sims:,} simulated studies per typology cell below, seeds of the simulation fixed.", ""]
    matrices = grids()
    lines += ["**Typology test, false-positive rate at alpha 0.05** (3 seeds; noise of `calibration.Noise`: seed "
              "1.0 point per run and 0.8 per run and target, 2,000 test examples at 80% accuracy with half of their "
              "sampling variance shared by every run on that test set, cell effects 1.0 point, target headroom SD "
              "3 points and intermediate usefulness SD 2 points, both aligned with the mean distance on purpose). "
              "New: OLS on the cell means with both fixed effects; old: one Spearman correlation over the "
              "12 variants x 3 seeds x cells pooled gains.", "",
              "| grid | null | new test | old pooled Spearman |", "|---|---|---|---|"]
    rates = {}
    for name, matrix in matrices.items():
        for scenario in SCENARIOS:
            new = rejection_rate(matrix, scenario, n_sims=n_sims, seed=1)
            old = pooled_spearman_rejection(matrix, scenario, n_sims=max(n_sims // 4, 200), seed=2)
            rates[(name, scenario)] = (new, old)
            lines.append(f"| {name} | {scenario} | {new:.3f} | {old:.3f} |")
    lines += ["", "**Typology test, power** (scenario `all`, the same noise; slope in points of gain per 0.1 of "
              "syntactic distance):", "", "| grid | " + " | ".join(f"{s:g}" for s in (0.1, 0.2, 0.3, 0.5, 1.0)) + " |",
              "|---|" + "---|" * 5]
    slopes = np.array([0.1, 0.2, 0.3, 0.5, 1.0])
    curves = {}
    for name, matrix in matrices.items():
        curves[name] = [simulated_power(matrix, -s / 10, n_sims=n_sims // 2, seed=3) for s in slopes]
        lines.append(f"| {name} | " + " | ".join(f"{p:.2f}" for p in curves[name]) + " |")
    paper = matrices["paper (7 x 6)"]
    layout = cell_layout(paper)
    fit = stats.slope_tests(np.zeros(len(layout)), layout.distance,
                            stats.fixed_effects(layout.intermediate_language, layout.language))
    lines += ["", "**Paper profile, smallest typology effect detected with 80% power** (42 cells, "
              f"{fit['df']} residual df, from the noncentral t; points per 0.1 of syntactic cosine distance; the "
              "residual SD per cell is unknown until the study runs: cell effects plus seed and test noise "
              "averaged over 3 seeds):", "", "| residual SD per cell | alpha 0.05 | alpha 0.05 / 6 (Holm over 6 kinds) |",
              "|---|---|---|"]
    for sd in (0.005, 0.01, 0.02):
        a, b = (10 * slope_mde(fit["ss_distance"], sd, fit["df"], alpha) for alpha in (0.05, 0.05 / 6))
        lines.append(f"| {100 * sd:.1f} points | {a:.2f} | {b:.2f} |")
    lines += ["", "**DLFA test, false-positive rate at alpha 0.05** (per-example simulation: 3 languages x 400 "
              "parallel test examples; logit noise; `calibration.fusion_rejection_rates`). New: seeds x examples "
              "crossed with the generalized pivot; old: a t-test over the seed-level gains alone.", "",
              "| seeds | regime | new | seeds-only t |", "|---|---|---|---|"]
    regimes = [("seed noise only", dict(example_sd=0.0, seed_sd=0.3)),
               ("both, comparable", dict(example_sd=1.0, seed_sd=0.15)),
               ("examples dominate", dict(example_sd=1.5, seed_sd=0.05))]
    for seeds in (2, 3, 5):
        for label, kwargs in regimes:
            r = fusion_rejection_rates(n_sims=n_sims // 2, seeds=seeds, seed=4, **kwargs)
            lines.append(f"| {seeds} | {label} | {r['crossed']:.3f} | {r['seeds_only']:.3f} |")
    lines += ["", "**Smallest DLFA gain detected with 80% power** (points of accuracy averaged over languages; "
              "assumed noise: SD of one seed's gain, and a test component shared by the seeds of SD 0.3 points). "
              "The paper profile has 3 seeds and 11 layers: Holm tests the first layer at alpha 0.05 / 11, where the "
              "seed part's 2 degrees of freedom have a heavy tail. More seeds, or one layer named in advance, "
              "help most:", "", "| seeds | SD of a seed's gain | alpha 0.05 / 11 (Holm, 11 layers) | "
              "alpha 0.05 (one layer named in advance) |", "|---|---|---|---|"]
    for seeds in (3, 5, 10):
        for seed_sd in (0.005, 0.01):
            seed_part, example_part = seed_sd ** 2 / seeds, 0.003 ** 2
            se = np.sqrt(seed_part + example_part)
            cells = [f"{100 * gain_mde(se, seed_part / se ** 2, seeds, alpha):.2f}" for alpha in (0.05 / 11, 0.05)]
            lines.append(f"| {seeds} | {100 * seed_sd:.1f} points | " + " | ".join(cells) + " |")
    coverage = _percentile_coverage()
    lines += ["", f"**Seed intervals with 3 seeds, coverage of a nominal 95%:** t-interval {coverage['t']:.3f}, "
              f"percentile bootstrap (the old `mean_ci`, min to max) {coverage['percentile (min-max)']:.3f}.", "",
              f"![calibration and power]({Path(figure).relative_to(Path(doc).parent)})", "", MARKERS[1]]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    labels = [f"{n.split(' ')[0]}\n{s}" for n, s in rates]
    x = np.arange(len(labels))
    ax1.bar(x - 0.2, [v[0] for v in rates.values()], 0.4, label="new: cell means, fixed effects")
    ax1.bar(x + 0.2, [v[1] for v in rates.values()], 0.4, label="old: pooled Spearman")
    ax1.axhline(0.05, color="black", lw=0.8, ls="--")
    ax1.set_xticks(x, labels, fontsize=7)
    ax1.set(ylabel="rejection rate at alpha 0.05", title="Typology test under four nulls", ylim=(0, 1))
    ax1.legend(fontsize=8)
    for name, curve in curves.items():
        ax2.plot(slopes, curve, marker="o", label=name)
    ax2.axhline(0.8, color="grey", lw=0.8, ls=":")
    ax2.set_xscale("log")
    ax2.set_xticks(slopes, [f"{v:g}" for v in slopes])
    ax2.minorticks_off()
    ax2.set(xlabel="planted slope (points of gain per 0.1 of distance)", ylabel="power",
            title="Typology test: power (scenario all)", ylim=(0, 1.02))
    ax2.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, resolve(figure))
    text = resolve(doc).read_text()
    start, end = text.index(MARKERS[0]), text.index(MARKERS[1]) + len(MARKERS[1])
    write_text(resolve(doc), text[:start] + "\n".join(lines) + text[end:])


if __name__ == "__main__":
    write_docs()
