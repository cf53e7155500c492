"""Calibration of the study's tests, by simulating outcomes the way the study produces them.

Every simulated study is drawn example by example (``dlfa.analysis.simulate``): runs answer shared test
sets right or wrong, with example difficulty, seed effects that dev and test share, and errors
shared by runs of close languages. The study's own tests are then applied to what the runs
answered: the typology slope (same-language cells left out, the test examples' part measured
from the predictions, beside plain OLS on the cell means), the DLFA interval (seeds x examples
crossed), and the layer chosen on English dev (naive and cross-fitted). Each rate comes with its
exact binomial interval. ``python -m dlfa.analysis.calibration`` regenerates ``docs/statistics.md``'s
tables and figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from dlfa.analysis import simulate, stats
from dlfa.analysis.power import fusion_design_power, slope_power, typology_design
from dlfa.io import save_figure, write_text
from dlfa.paths import resolve
from dlfa.typology.distances import distance_matrix

# The noise every typology study has (accuracy units): a run's seed effect on all its targets and on
# each, and each (L, T) cell's own effect, unrelated to distance.
TYPOLOGY_NOISE = {"run": 0.010, "run_target": 0.008, "cell": 0.010}
# Nulls: no graded distance effect, but something that could pass for one.
TYPOLOGY_NULLS = {
    "noise": {},
    "headroom and usefulness": {"headroom": 0.03, "usefulness": 0.02},  # aligned with mean distance on purpose
    "same-language bonus": {"same_language": 0.035},  # an in-language intermediate task gains 3.5 points, nothing graded
    "correlated examples": {"run_target": 0.003, "cell": 0.003,  # test noise dominates, shared by close languages
                            "ex": simulate.Examples(group=0.6, scale=0.5)},
}
FUSION_REGIMES = {
    "seed noise dominates": {"run": 0.010, "run_language": 0.005, "ex": simulate.Examples(group=0.0)},
    "seed and test noise comparable": {"run": 0.004, "run_language": 0.003, "ex": simulate.Examples(group=0.3)},
    "test noise dominates": {"run": 0.001, "run_language": 0.001, "ex": simulate.Examples(group=0.6)},
}


def rate(hits: int, n: int) -> dict[str, float]:
    """A rejection rate with its exact (Clopper-Pearson) 95% interval."""
    ci = scipy_stats.binomtest(int(hits), int(n)).proportion_ci(method="exact")
    return {"rate": hits / n, "ci_low": float(ci.low), "ci_high": float(ci.high), "n_sims": int(n)}


def cell_layout(distance: pd.DataFrame) -> pd.DataFrame:
    """The cells of a distance matrix in row-major order: ``intermediate_language, language, distance``."""
    n_l, n_t = distance.shape
    return pd.DataFrame({"intermediate_language": np.repeat(distance.index.to_numpy(), n_t),
                         "language": np.tile(distance.columns.to_numpy(), n_l),
                         "distance": distance.to_numpy(dtype=float).reshape(-1)})


def typology_rejections(distance: pd.DataFrame, null: str = "noise", n_sims: int = 2000, seeds: int = 3,
                        examples: int = 2000, slope: float = 0.0, alpha: float = 0.05,
                        language_distance: pd.DataFrame | None = None, seed: int = 0) -> dict[str, dict]:
    """How often the typology test rejects in ``n_sims`` studies simulated example by example under
    ``null`` (``TYPOLOGY_NULLS``) plus a planted ``slope`` (0: a true null). As the analysis does,
    same-language cells are left out. ``examples``: the study's test (the test examples' part
    measured from predictions, ``stats.slope_tests_with_examples``); ``ols``: OLS on the cell means,
    what the study falls back to without predictions. ``language_distance`` (L x L) sets how much
    runs of close languages share their errors under ``correlated examples``."""
    if null not in TYPOLOGY_NULLS:
        raise ValueError(f"unknown null {null!r}; choose from {list(TYPOLOGY_NULLS)}")
    layout = cell_layout(distance)
    keep = (layout.intermediate_language != layout.language).to_numpy()
    cells = layout[keep]
    design = stats.fixed_effects(cells.intermediate_language, cells.language)
    kwargs = {**TYPOLOGY_NOISE, **TYPOLOGY_NULLS[null]}
    hits, residual = {"examples": 0, "ols": 0}, []
    for chunk in simulate.typology_studies(distance, n_sims, seeds, examples, slope=slope, seed=seed,
                                           language_distance=language_distance, **kwargs):
        fit = stats.slope_tests_with_examples(chunk[:, keep], cells.distance.to_numpy(), design)
        ols_p = 2 * scipy_stats.t.sf(np.abs(fit["slope"]) / np.sqrt(fit["ols_var"]), fit["df"])
        hits["examples"] += int((fit["p_value"] < alpha).sum())
        hits["ols"] += int((ols_p < alpha).sum())
        residual.append(fit["residual_sd"])
    return {**{method: rate(k, n_sims) for method, k in hits.items()},
            "residual_sd": float(np.sqrt(np.mean(np.concatenate(residual) ** 2)))}


def _crossed_p(table: np.ndarray, truth) -> np.ndarray:
    """The p-value of ``stats.crossed_mean`` at ``truth``, for a stack of seeds x examples tables."""
    seeds = table.shape[-2]
    estimate, seed_part, example_part = stats.crossed_parts(table)
    se = np.sqrt(seed_part + example_part)
    share = np.where(se > 0, seed_part / np.where(se > 0, se ** 2, 1.0), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(se > 0, stats.two_part_p_value(np.abs(estimate - truth) / np.where(se > 0, se, 1.0), share,
                                                       seeds - 1), 1.0)


def fusion_rejections(regime: str, n_sims: int = 2000, seeds: int = 3, gain: float = 0.0, languages: int = 6,
                      examples: int = 400, alpha: float = 0.05, seed: int = 0) -> dict[str, dict]:
    """How often the DLFA interval misses the true gain (1 - coverage; with ``gain`` 0, the false
    positive rate) in studies simulated example by example (``FUSION_REGIMES``): ``crossed`` is the
    study's interval (``stats.crossed_mean``), ``seeds_only`` a t-test over the seed gains alone."""
    hits = {"crossed": 0, "seeds_only": 0}
    for chunk in simulate.fusion_studies([gain], n_sims, seeds, languages, examples, seed=seed,
                                         **FUSION_REGIMES[regime]):
        table = chunk["test"][:, 0].astype(float)  # (n, seeds, examples)
        hits["crossed"] += int((_crossed_p(table, gain) < alpha).sum())
        per_seed = table.mean(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (per_seed.mean(axis=1) - gain) / (per_seed.std(axis=1, ddof=1) / np.sqrt(seeds))
        hits["seeds_only"] += int((2 * scipy_stats.t.sf(np.abs(t), seeds - 1) < alpha).sum())
    return {method: rate(k, n_sims) for method, k in hits.items()}


def layer_choice(gains=(0.0,) * 11, n_sims: int = 2000, seeds: int = 3, regime: str = "seed noise dominates",
                 languages: int = 6, examples: int = 400, dev_examples: int = 2000, alpha: float = 0.05,
                 seed: int = 0) -> dict:
    """The layer a researcher chooses on English dev, in studies simulated example by example:
    ``naive`` (its test gain over every seed: the seeds that made it look best on dev) and
    ``crossfit`` (``stats.crossfit_choice``) against the true gain of what was chosen. Returns each
    estimator's mean error and its simulation standard error, the cross-fitted interval's miss rate
    at the truth, how often the layer chosen on dev is also the best on test, and the per-study
    values (for the figure). ``dev_examples``: English dev's size (PAWS-X: 2,000), which sets how
    much of a layer's dev lead is its seed's luck rather than dev sampling noise."""
    gains = np.asarray(gains, dtype=float)
    naive_err, cross_err, best_too, missed = [], [], [], 0
    for chunk in simulate.fusion_studies(gains, n_sims, seeds, languages, examples, dev_examples, seed=seed,
                                         **FUSION_REGIMES[regime]):
        test = chunk["test"].astype(float)                          # (n, K, S, N)
        test_gain = test.mean(axis=-1).transpose(0, 2, 1)             # (n, S, K)
        picked = stats.crossfit_choice(chunk["dev"], test_gain)
        naive_err.append(picked["naive"] - gains[picked["chosen"]])
        truth = gains[picked["fold_choice"]].mean(axis=-1)
        cross_err.append(picked["crossfit"] - truth)
        best_too.append(picked["chosen"] == test_gain.mean(axis=1).argmax(axis=-1))
        folds = np.take_along_axis(test, picked["fold_choice"][:, None, :, None], axis=1)[:, 0]  # (n, S, N)
        missed += int((_crossed_p(folds, truth) < alpha).sum())
    naive, cross = np.concatenate(naive_err), np.concatenate(cross_err)
    return {"naive_bias": float(naive.mean()), "naive_se": float(naive.std(ddof=1) / np.sqrt(len(naive))),
            "crossfit_bias": float(cross.mean()), "crossfit_se": float(cross.std(ddof=1) / np.sqrt(len(cross))),
            "crossfit_missed": rate(missed, n_sims), "chosen_best_on_test": float(np.concatenate(best_too).mean()),
            "naive": naive, "crossfit": cross}


# ------------------------------------------------------------------------ docs/statistics.md figures

TARGETS = ["de", "es", "fr", "ja", "ko", "zh"]
PAPER_LANGUAGES = ["el", "en", "es", "ru", "sw", "tr", "zh"]  # the paper profile's typology choice (syntactic)
SMOKE_CANDIDATES = ["de", "fr", "hi", "ru", "tr", "vi"]
MARKERS = ("<!-- generated by python -m dlfa.analysis.calibration: start -->", "<!-- generated by python -m dlfa.analysis.calibration: end -->")


def grids() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """The real syntactic distance matrices the docs simulate (intermediate x targets, and between
    the intermediate languages): the paper profile's chosen XNLI languages, and the smoke profile's
    six candidates."""
    return {name: (distance_matrix("syntactic", languages, columns=TARGETS),
                   distance_matrix("syntactic", languages, columns=languages))
            for name, languages in (("paper (7 x 6)", PAPER_LANGUAGES), ("smoke candidates (6 x 6)", SMOKE_CANDIDATES))}


def _cell(r: dict) -> str:
    return f"{r['rate']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


def write_docs(doc: str = "docs/statistics.md", figure: str = "docs/figures/statistics.png", n_sims: int = 2000) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    lines = [MARKERS[0], "", f"Regenerate: `make statistics` (`python -m dlfa.analysis.calibration`, about 6 minutes on 2 CPU "
             f"cores); {n_sims:,} studies simulated example by example per row unless stated, seeds of the simulation "
             "fixed; 95% exact binomial intervals in brackets.", ""]
    noise = ", ".join(f"{k} {100 * v:.1f}" for k, v in TYPOLOGY_NOISE.items())
    lines += ["**Typology test under nulls, rejection rate at alpha 0.05** (3 seeds, 2,000 parallel test examples per "
              f"target; noise in points: {noise}; nulls in `calibration.TYPOLOGY_NULLS`: headroom SD 3 and usefulness "
              "SD 2 points aligned with the mean distances; a same-language bonus of 3.5 points and no graded effect; "
              "test noise dominating and shared by the runs of close languages, corr exp(-d / 0.5) over 60% of each "
              "example's latent). *Study's test*: same-language cells left out, the test examples' part of the "
              "variance measured from predictions; *OLS*: the same cells, every cell's error taken as independent "
              "(the fallback without predictions).", "",
              "| grid | null | study's test | OLS on cell means |", "|---|---|---|---|"]
    rates = {}
    matrices = grids()
    for name, (matrix, between) in matrices.items():
        for i, null in enumerate(TYPOLOGY_NULLS):
            r = typology_rejections(matrix, null, n_sims=n_sims, language_distance=between, seed=10 + i)
            rates[(name, null)] = r
            lines.append(f"| {name} | {null} | {_cell(r['examples'])} | {_cell(r['ols'])} |")
    paper = matrices["paper (7 x 6)"][0]
    layout = cell_layout(paper)
    with_same = stats.fixed_effects(layout.intermediate_language, layout.language)
    fits = [stats.slope_tests(c.sum(-1), layout.distance, with_same) for c in
            simulate.typology_studies(paper, n_sims, 3, 2000, same_language=0.035, seed=20, **TYPOLOGY_NOISE)]
    kept_in_rate = float(np.mean(np.concatenate([2 * scipy_stats.t.sf(np.abs(f["t"]), f["df"]) for f in fits]) < 0.05))
    lines += ["", f"Kept in, the two same-language cells (es -> es, zh -> zh) make the same-language bonus read as a "
              f"slope: OLS on all 42 cells rejects {kept_in_rate:.3f} of the same studies.", ""]
    design = typology_design(paper)
    residual = rates[("paper (7 x 6)", "headroom and usefulness")]["residual_sd"]
    lines += ["**Typology test, power** (paper grid, the noise above with headroom and usefulness, a slope planted "
              "in points of gain per 0.1 of syntactic distance; beside it the plan's closed form (noncentral t) at the "
              f"residual SD per cell these simulations give, {100 * residual:.2f} points):", "",
              "| slope per 0.1 | simulated power (study's test) | closed form (`dlfa plan`) |", "|---|---|---|"]
    for step in (0.25, 0.5, 1.0):
        slope = -step / 10  # accuracy per unit distance
        r = typology_rejections(paper, "headroom and usefulness", n_sims=n_sims // 2, slope=slope, seed=30)
        closed = slope_power(slope, design["ss_distance"], residual, design["df"])
        lines.append(f"| {step:g} | {_cell(r['examples'])} | {closed:.3f} |")
    lines += ["", "**DLFA interval, miss rate at alpha 0.05** (1 - coverage of the true gain; 6 languages x 400 "
              "parallel test examples; `calibration.FUSION_REGIMES`). *Crossed*: the study's interval (seeds x "
              "examples, generalized pivot); *seeds only*: a t-test over the seed gains.", "",
              "| seeds | regime | true gain 0: crossed | seeds only | true gain 2 points: crossed | seeds only |",
              "|---|---|---|---|---|---|"]
    for seeds in (3, 5):
        for i, regime in enumerate(FUSION_REGIMES):
            null = fusion_rejections(regime, n_sims, seeds, 0.0, seed=40 + i)
            real = fusion_rejections(regime, n_sims, seeds, 0.02, seed=50 + i)
            lines.append(f"| {seeds} | {regime} | {_cell(null['crossed'])} | {_cell(null['seeds_only'])} | "
                         f"{_cell(real['crossed'])} | {_cell(real['seeds_only'])} |")
    lines += ["", "**Choosing a layer on English dev** (11 layers, 3 seeds, each run's seed effect shared by its dev "
              "and test accuracy; error of each estimate of the chosen layer's true gain, points, mean over studies "
              "with its simulation SE):", "",
              "| true gains | regime | naive (chosen on all seeds) | cross-fitted | cross-fitted interval misses | "
              "chosen on dev is also best on test |", "|---|---|---|---|---|---|"]
    curves = {}
    for label, gains in (("all 0", (0.0,) * 11), ("layer 6 +2 points, others 0", tuple(0.02 if k == 6 else 0.0
                                                                                     for k in range(1, 12)))):
        for i, regime in enumerate(("seed noise dominates", "seed and test noise comparable")):
            r = layer_choice(gains, n_sims, 3, regime, seed=60 + i)
            curves.setdefault(label, r)
            lines.append(f"| {label} | {regime} | {100 * r['naive_bias']:+.2f} ({100 * r['naive_se']:.2f}) | "
                         f"{100 * r['crossfit_bias']:+.2f} ({100 * r['crossfit_se']:.2f}) | "
                         f"{_cell(r['crossfit_missed'])} | {r['chosen_best_on_test']:.2f} |")
    lines += ["", "**Question 2's power by design** (`dlfa plan`; true gain in points; the default `noise_priors`: "
              "seed SD 1.0 point per run, a shared test part of 0.3 points):", "",
              "| seeds | 1 point, one layer named in advance | 2 points | 2.43 points | 2.43 points, Holm over 11 layers |",
              "|---|---|---|---|---|"]
    for seeds in (3, 5, 7, 10):
        powers = [fusion_design_power(g, seeds, 0.01, 0.003) for g in (0.01, 0.02, 0.0243)]
        holm = fusion_design_power(0.0243, seeds, 0.01, 0.003, 0.05 / 11)
        lines.append(f"| {seeds} | " + " | ".join(f"{p:.2f}" for p in powers) + f" | {holm:.2f} |")
    lines += ["", f"![calibration and power]({Path(figure).relative_to(Path(doc).parent)})", "", MARKERS[1]]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    paper_rates = [(null, r) for (grid, null), r in rates.items() if grid.startswith("paper")]
    x = np.arange(len(paper_rates))
    for offset, method, label in ((-0.2, "examples", "study's test"), (0.2, "ols", "OLS on cell means")):
        values = np.array([r[method]["rate"] for _, r in paper_rates])
        errors = np.array([[r[method]["rate"] - r[method]["ci_low"], r[method]["ci_high"] - r[method]["rate"]]
                           for _, r in paper_rates]).T
        ax1.bar(x + offset, values, 0.4, yerr=errors, capsize=3, label=label)
    ax1.axhspan(0.03, 0.07, color="grey", alpha=0.15, lw=0, label="3% to 7%")
    ax1.axhline(0.05, color="black", lw=0.8, ls="--")
    ax1.set_xticks(x, [n.replace(" and ", " and\n").replace(" examples", "\nexamples") for n, _ in paper_rates],
                   fontsize=8)
    ax1.set(ylabel="rejection rate at alpha 0.05", title="Typology test under four nulls (paper grid)")
    ax1.legend(fontsize=8)
    null = curves["all 0"]
    bins = np.linspace(-4, 6, 41)
    ax2.hist(100 * null["naive"], bins=bins, alpha=0.6, label=f"naive: mean {100 * null['naive_bias']:+.2f}")
    ax2.hist(100 * null["crossfit"], bins=bins, alpha=0.6, label=f"cross-fitted: mean {100 * null['crossfit_bias']:+.2f}")
    ax2.axvline(0, color="black", lw=0.8)
    ax2.set(xlabel="estimated gain of the layer chosen on English dev (points); every layer's true gain is 0",
            ylabel="simulated studies", title="Choosing 1 of 11 null layers, 3 seeds")
    ax2.xaxis.label.set_fontsize(8)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, resolve(figure))
    text = resolve(doc).read_text()
    start, end = text.index(MARKERS[0]), text.index(MARKERS[1]) + len(MARKERS[1])
    write_text(resolve(doc), text[:start] + "\n".join(lines) + text[end:])


if __name__ == "__main__":
    write_docs()
