"""The study's answers, as functions of its tidy tables (``results.csv``, ``typology/distances.csv``)
and, where the runs wrote them, their example-level predictions.

One concept, the analysis of the two questions (hence its length). Every method, null and
calibration is in ``docs/statistics.md``.

Question 1, typology (:func:`typology_effect`). The gain of intermediate language L on target T is
acc(run with L, T) - acc(run without, T), same variant and seed. Every intermediate run is evaluated
on every target, so the gains form a crossed L x T table. The unit is the (L, T) cell, seeds
averaged: the variant x seed repeats of one cell are not extra observations. A target's headroom
and a language's overall usefulness are removed as fixed effects, and the question is whether what
remains depends on the distance d(L, T):

    gain(L, T) = mu + a(L) + b(T) + slope * d(L, T) + e(L, T)        (on the cell means)

Cells whose intermediate language is the target (es -> es) are left out: an in-language
intermediate task is another treatment, at distance 0, and with high leverage a same-language
bonus alone would read as a slope. Their contrast with the other cells is a row of its own. With
predictions the slope's variance counts the test examples the runs share (runs from close
languages err on the same pairs: ``stats.slope_tests_with_examples``); without, it is OLS's.

Question 2, DLFA (:func:`fusion_effect`, :func:`fusion_choice`). Per fusion layer and intermediate
setting: the mean gain over the plain variant of the same seed, averaged over languages, with an
interval for both the training seed and the finite test set (``stats.crossed_mean``), and the
gain on English dev, the only data a zero-shot researcher may choose a layer on. The chosen
layer's own test estimate keeps the luck that made it look best (dev and test come from the same
runs); :func:`fusion_choice` estimates it cross-fitted over seeds.

Families. The primary answer to each question is one declared test: question 1, the baseline
variant at the study's distance kind and metric; question 2, the confirmatory layer (or, without
one, the family of layers, Holm across them), no intermediate task, zero-shot languages. Every other
row is exploratory, labelled so in ``family``, with Holm within its family.

Runs flagged ``collapsed`` (they learnt nothing) are left out of every effect by default and
counted in each row that loses them (``n_collapsed``); ``collapsed="include"`` counts them at their
measured accuracy instead (the sensitivity analysis: failure is an outcome too). Tables with only
the contract's columns (no ``collapsed`` column) are taken as having no collapsed run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats as scipy_stats

from . import stats
from .layout import StudyLayout
from .power import mde_range, two_part_mde
from .runs import load_predictions

ALL, ZERO_SHOT = "all", "zero-shot"
SOURCE = "en"  # the fine-tuning language; every other language is a zero-shot target
NONE = "none"  # the intermediate setting of runs without an intermediate task
PRIMARY = "primary"
LEFT_OUT, COUNTED = "left out", "counted at measured accuracy"
SAME_LANGUAGE = "same-language"  # the typology table's kind for the in-language contrast
EN_DEV, ORACLE = "en-dev", "oracle"  # how a layer is chosen: English dev (zero-shot), or the targets' dev

TYPOLOGY_COLUMNS = ["variant", "kind", "metric", "family", "estimate", "ci_low", "ci_high", "p_value", "p_holm",
                    "n_cells", "n_intermediate", "n_targets", "n_same_language", "method", "df", "residual_sd",
                    "mde_80", "mde_80_low", "mde_80_high", "n_collapsed", "collapsed_runs", "note"]
FUSION_COLUMNS = ["variant", "fusion_layer", "intermediate_language", "languages", "family", "estimate", "ci_low",
                  "ci_high", "p_value", "p_holm", "n_seeds", "interval", "method", "df", "en_dev_estimate",
                  "chosen_on_dev", "best_on_test", "mde_80", "mde_80_low", "mde_80_high", "n_collapsed",
                  "collapsed_runs", "note"]
CHOICE_COLUMNS = ["intermediate_language", "languages", "choice", "chosen_layer", "naive_gain", "crossfit_gain",
                  "crossfit_ci_low", "crossfit_ci_high", "crossfit_p_value", "fold_layers", "best_on_test_layer",
                  "best_on_test_gain", "n_seeds", "n_layers", "interval", "n_collapsed", "collapsed_runs", "note"]
OLS_METHOD = "OLS on (L, T) cell means, seeds averaged{left_out}: {x} + C(intermediate) + C(target); t-test"
LEFT_OUT_SAME = ", same-language cells left out"
EXAMPLES_METHOD = ("the same fit; variance: between cells (OLS residual, df) + the test examples' part measured from "
                   "predictions (shared by runs that err on the same pairs); generalized pivot")
COLLAPSED_CHOICES = ("exclude", "include")


def with_collapsed(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with a boolean ``collapsed`` column (False where the table has none)."""
    if "collapsed" in results:
        return results.assign(collapsed=results["collapsed"].fillna(False).astype(bool))
    return results.assign(collapsed=False)


def collapsed_runs(results: pd.DataFrame) -> list[str]:
    results = with_collapsed(results)
    return sorted(results.loc[results.collapsed, "run_id"].unique())


def _check_collapsed(collapsed: str) -> None:
    if collapsed not in COLLAPSED_CHOICES:
        raise ValueError(f"collapsed must be one of {COLLAPSED_CHOICES}; got {collapsed!r}")


def protocol_rows(results: pd.DataFrame, selection: str, split: str,
                  collapsed: str = "exclude") -> tuple[pd.DataFrame, list[str]]:
    """The rows of one selection protocol and split, and the collapsed runs among them: left out
    (``collapsed="exclude"``) or kept at their measured accuracy (``"include"``)."""
    _check_collapsed(collapsed)
    results = with_collapsed(results)
    chosen = results[(results.selection == selection) & (results.split == split)]
    flagged = sorted(chosen.loc[chosen.collapsed, "run_id"].unique())
    chosen = (chosen[~chosen.collapsed] if collapsed == "exclude" else chosen).copy()
    chosen["setting"] = chosen["intermediate_language"].fillna(NONE)
    return chosen, flagged


def check_protocol(results: pd.DataFrame, selection: str, split: str) -> None:
    for column, value in (("selection", selection), ("split", split)):
        if value not in set(results[column]):
            raise ValueError(f"no results with {column} {value!r}; the table has {sorted(set(results[column]))}")


def _collapsed_label(collapsed: str) -> str:
    return LEFT_OUT if collapsed == "exclude" else COUNTED


def _holm_by_family(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """``p_holm`` within each ``family`` and the alpha of its first step (for the MDE)."""
    family = table.groupby("family", sort=False, dropna=False)["p_value"]
    table["p_holm"] = family.transform(stats.holm)
    table["_alpha"] = alpha / family.transform(lambda p: max(int(p.notna().sum()), 1))
    return table


def _mde(table: pd.DataFrame, power: float) -> pd.DataFrame:
    """``mde_80`` and the range an estimated variance implies (``power.mde_range``), per row."""
    low, mid, high = [], [], []
    for se, share, df, a in zip(table["_se"], table["_share"], table["df"], table["_alpha"]):
        if not (pd.notna(se) and pd.notna(share) and pd.notna(df)):
            low.append(np.nan), mid.append(np.nan), high.append(np.nan)
            continue
        mid.append(two_part_mde(se, share, int(df), a, power))
        lo, hi = mde_range(se, share, int(df), a, power)
        low.append(lo), high.append(hi)
    return table.assign(mde_80=mid, mde_80_low=low, mde_80_high=high)


# --------------------------------------------------------------------------------------- question 1

def seed_gains(results: pd.DataFrame, selection: str = "en-dev", split: str = "test",
               collapsed: str = "exclude") -> tuple[pd.DataFrame, list[str]]:
    """Gain of each intermediate run over the run without one (same variant, seed, target):
    ``variant, seed, intermediate_language, language, gain, run_id, run_id_none``; and the collapsed
    runs (left out, or counted: ``collapsed``)."""
    rows, flagged = protocol_rows(results, selection, split, collapsed)
    rows = rows[rows.language != SOURCE]
    base = rows[rows.setting == NONE][["variant", "seed", "language", "accuracy", "run_id"]]
    inter = rows[rows.setting != NONE]
    gain = inter.merge(base, on=["variant", "seed", "language"], suffixes=("", "_none"), validate="many_to_one")
    gain["gain"] = gain["accuracy"] - gain["accuracy_none"]
    return gain[["variant", "seed", "intermediate_language", "language", "gain", "run_id", "run_id_none"]], flagged


def cell_gains(gains: pd.DataFrame, pooled: bool = True) -> pd.DataFrame:
    """The (variant, L, T) cells, seeds averaged: ``variant, intermediate_language, language, gain, n_seeds``.
    ``pooled`` adds variant ``all``: each cell's gain averaged over variants (one cell still one unit)."""
    cells = gains.groupby(["variant", "intermediate_language", "language"], as_index=False).agg(
        gain=("gain", "mean"), n_seeds=("seed", "nunique"))
    if pooled and cells.variant.nunique() > 1:
        both = cells.groupby(["intermediate_language", "language"], as_index=False).agg(
            gain=("gain", "mean"), n_seeds=("n_seeds", "min")).assign(variant=ALL)
        cells = pd.concat([cells, both[cells.columns]], ignore_index=True)
    return cells


def _cell_scores(study_dir: Path, gains: pd.DataFrame, selection: str, split: str) -> dict | None:
    """Each (variant, L, T) cell's gain as a sum over test examples: ``{(variant, L, T): Series}``
    indexed by example id (the cell mean is the Series' sum), pooled variant ``all`` included. None
    when a run has no predictions."""
    cache: dict[tuple[str, str], pd.Series] = {}

    def correct(run_id: str, language: str) -> pd.Series:
        if (run_id, language) not in cache:
            frame = load_predictions(StudyLayout(study_dir).run(run_id).folder, selection, language, split)
            cache[run_id, language] = frame.set_index("id")["correct"].astype(float)
        return cache[run_id, language]

    scores = {}
    try:
        for (variant, inter, language), group in gains.groupby(["variant", "intermediate_language", "language"]):
            seeds = [correct(r.run_id, language) - correct(r.run_id_none, language) for r in group.itertuples()]
            scores[variant, inter, language] = sum(seeds) / (len(seeds) * len(seeds[0]))
    except (FileNotFoundError, KeyError):
        return None
    variants = sorted({v for v, _, _ in scores})
    if len(variants) > 1:
        for inter, language in {(i, t) for _, i, t in scores}:
            parts = [scores[v, inter, language] for v in variants if (v, inter, language) in scores]
            scores[ALL, inter, language] = sum(parts) / len(parts)
    return scores


def _not_estimable(cells: pd.DataFrame, what: str, kind: str = "") -> str | None:
    """Why ``x`` (``what``: distance, or the same-language indicator; ``kind``: the distance's kind)
    cannot be related to the gain once the languages' own effects are removed, or None."""
    inter, targets = sorted(cells.intermediate_language.unique()), sorted(cells.language.unique())
    if len(inter) < 2:
        return (f"not estimable with this grid: one intermediate language ({', '.join(inter) or 'none'}) cannot "
                f"separate {what} from that language's own effect; it needs two or more intermediate languages, "
                "each evaluated on the same targets")
    if len(targets) < 2:
        return (f"not estimable with this grid: one target ({', '.join(targets)}) cannot separate {what} from the "
                "target's own headroom; it needs two or more targets")
    named = f"{kind} {what}".strip()
    if np.ptp(cells.x) == 0:
        return (f"not estimable: the {named} is {cells.x.iloc[0]:.3g} for every (intermediate, target) cell, so "
                "there is nothing to relate the gain to")
    design = stats.fixed_effects(cells.intermediate_language, cells.language)
    fit = stats.slope_tests(np.zeros(len(cells)), cells.x, design)
    if fit["ss_distance"] <= 1e-12 * max(1.0, float((cells.x ** 2).sum())):
        return (f"not estimable: the {named} is additive in intermediate language and target (no variation "
                "is left once their own effects are removed)")
    if fit["df"] < 1:
        return (f"not estimable with this grid: {len(cells)} cells leave no degrees of freedom for the error once "
                f"the {len(inter)} intermediate-language and {len(targets)} target effects and the slope are fitted; "
                "it needs more intermediate languages or targets")
    return None


def _cell_test(cells: pd.DataFrame, scores: dict | None, what: str, left_out: str = LEFT_OUT_SAME) -> dict:
    """The effect of ``x`` on the cells' gains, the languages' own effects removed: OLS on the cell
    means, or with the test examples' part measured from ``scores`` (``stats.slope_tests_with_examples``)."""
    design = stats.fixed_effects(cells.intermediate_language, cells.language)
    keys = list(zip(cells.variant, cells.intermediate_language, cells.language))
    if scores is not None and all(k in scores for k in keys):
        matrix = pd.concat([scores[k] for k in keys], axis=1).fillna(0.0).to_numpy().T  # cells x examples
        fit = stats.slope_tests_with_examples(matrix, cells.x.to_numpy(), design)
        se, share, df = float(fit["se"]), float(fit["seed_share"]), int(fit["df"])
        half = stats.two_part_critical(share, df) * se
        return {"estimate": float(fit["slope"]), "ci_low": float(fit["slope"]) - half,
                "ci_high": float(fit["slope"]) + half, "p_value": float(fit["p_value"]), "df": df,
                "residual_sd": float(fit["residual_sd"]), "_se": se, "_share": share,
                "method": OLS_METHOD.format(x=what, left_out=left_out) + "; " + EXAMPLES_METHOD}
    fit = smf.ols("gain ~ x + C(intermediate_language) + C(language)", data=cells).fit()
    low, high = fit.conf_int().loc["x"]
    return {"estimate": fit.params["x"], "ci_low": low, "ci_high": high, "p_value": fit.pvalues["x"],
            "df": fit.df_resid, "residual_sd": np.sqrt(fit.scale), "_se": fit.bse["x"], "_share": 1.0,
            "method": OLS_METHOD.format(x=what, left_out=left_out)
            + " (no predictions: runs' shared test examples not counted)"}


def typology_effect(results: pd.DataFrame, distances: pd.DataFrame, study_dir: str | Path | None = None,
                    selection: str = "en-dev", split: str = "test", pooled: bool = True, power: float = 0.8,
                    alpha: float = 0.05, primary: tuple[str, str] | None = None,
                    collapsed: str = "exclude") -> pd.DataFrame:
    """Does the intermediate task's gain depend on the distance between its language and the target?

    One row per (variant, kind, metric): ``estimate`` is the slope of the gain (accuracy difference)
    per unit of distance once each intermediate language's and each target's own effects are
    removed (negative: closer languages gain more), with a 95% interval and p-value, on the (L, T)
    cell means without the same-language cells (``n_same_language`` counts them). Where the grid
    has such cells, a row of kind ``same-language`` gives their gain over the other cells, the
    languages' own effects removed. With ``study_dir`` (predictions) the test examples the runs share
    are counted in the variance (``method`` says which). ``family``: ``primary`` for ``primary`` =
    (kind, metric) of the baseline variant, the declared answer; every other row is exploratory,
    with Holm within its family (``p_holm``). ``mde_80``: the smallest |slope| detected with 80% power
    at the family's first Holm step, from the noise measured here, and the range its estimate implies
    (``mde_80_low``, ``mde_80_high``). ``pooled`` adds variant ``all`` (cell gains averaged over
    variants). Rows that cannot be estimated have NaN numbers and say why in ``note``.
    """
    check_protocol(results, selection, split)
    gains, flagged = seed_gains(results, selection, split, collapsed)
    cells_all = cell_gains(gains, pooled=pooled)
    scores = _cell_scores(Path(study_dir), gains, selection, split) if study_dir is not None and len(gains) else None
    collapsed_by_variant = with_collapsed(results)[lambda r: r.collapsed].groupby("variant").run_id.nunique()
    rows = []
    with_inter = results[results.intermediate_language.notna()]
    variants = list(dict.fromkeys(with_inter.variant))  # collapsed runs' variants too: their rows say why
    if pooled and len(variants) > 1:
        variants.append(ALL)
    primary_variant = "baseline" if "baseline" in variants else (variants[0] if variants else None)
    for variant in variants:
        cells_v = cells_all[cells_all.variant == variant]
        same = cells_v.intermediate_language == cells_v.language
        n_collapsed = int(collapsed_by_variant.sum() if variant == ALL else collapsed_by_variant.get(variant, 0))
        base = {"variant": variant, "n_collapsed": n_collapsed, "collapsed_runs": _collapsed_label(collapsed),
                "n_same_language": int(same.sum())}
        same_note = ([f"{int(same.sum())} same-language cell(s) left out "
                      f"({', '.join(f'{t}->{t}' for t in cells_v[same].language)}): see the same-language row"]
                     if same.any() else [])
        for (kind, metric), dist in distances.groupby(["kind", "metric"], sort=False):
            lookup = dist.set_index(["lang_a", "lang_b"])["distance"]
            keys = list(zip(cells_v.intermediate_language, cells_v.language))
            cells = cells_v[~same].assign(x=lookup.reindex(keys).to_numpy()[~same.to_numpy()])
            missing = cells[cells.x.isna()]
            cells = cells.dropna(subset=["x"])
            row = {**base, "kind": kind, "metric": metric, "n_cells": len(cells),
                   "n_intermediate": cells.intermediate_language.nunique(), "n_targets": cells.language.nunique(),
                   "method": OLS_METHOD.format(x="distance", left_out=LEFT_OUT_SAME)}
            notes = same_note + ([f"{len(missing)} cell(s) without a {kind} distance left out"] if len(missing) else [])
            if len(cells):
                reason = _not_estimable(cells, "distance", kind)
            elif len(cells_v):
                reason = "not estimable: no cell has a distance"
            else:
                reason = ("not estimable: no intermediate run has a run without one to compare with"
                          + (f" (collapsed runs left out: {', '.join(flagged)})" if flagged and collapsed == "exclude"
                             else ""))
            if reason:
                rows.append({**row, "note": "; ".join([reason] + notes)})
                continue
            rows.append({**row, **_cell_test(cells, scores, "distance"), "note": "; ".join(notes)})
        if same.any():
            cells = cells_v.assign(x=same.astype(float))
            row = {**base, "kind": SAME_LANGUAGE, "metric": "in-language vs other cells", "n_cells": len(cells),
                   "n_intermediate": cells.intermediate_language.nunique(), "n_targets": cells.language.nunique(),
                   "method": OLS_METHOD.format(x="same language", left_out="")}
            reason = _not_estimable(cells, "same-language indicator")
            rows.append({**row, "note": reason} if reason else {**row, **_cell_test(cells, scores, "same language", ""),
                                                               "note": "an in-language intermediate task against "
                                                                       "the other cells (accuracy difference)"})
    table = pd.DataFrame(rows)
    for column in TYPOLOGY_COLUMNS + ["_se", "_share"]:
        if column not in table:
            table[column] = np.nan
    is_primary = ((table.variant == primary_variant) & (table.kind == (primary or (None, None))[0])
                  & (table.metric == (primary or (None, None))[1]))
    table["family"] = np.where(is_primary, PRIMARY, "exploratory: " + table.variant.astype(str) + ", "
                               + np.where(table.kind == SAME_LANGUAGE, "same-language contrast", "distance kinds"))
    table = _mde(_holm_by_family(table, alpha), power)
    return table[TYPOLOGY_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------------------- question 2

def _pairs(rows: pd.DataFrame, variant_a: str, setting_a: str, variant_b: str, setting_b: str) -> pd.DataFrame:
    """Runs of (variant_b, setting_b) beside the run of (variant_a, setting_a) of the same seed."""
    runs = rows[["run_id", "variant", "setting", "seed"]].drop_duplicates()
    a = runs[(runs.variant == variant_a) & (runs.setting == setting_a)]
    b = runs[(runs.variant == variant_b) & (runs.setting == setting_b)]
    return a.merge(b, on="seed", suffixes=("_a", "_b"), validate="one_to_one").sort_values("seed")


def _example_scores(study_dir: Path, pairs: pd.DataFrame, languages: list[str], selection: str,
                    split: str) -> np.ndarray | None:
    """Seeds x test examples: each example's contribution to the language-averaged accuracy
    difference (B - A) of each pair (``run_id_a``, ``run_id_b``), scaled so that the table's mean is
    that difference. Examples with the same id in several languages (PAWS-X is parallel) are one
    example: their sampling errors are shared. None when a run has no predictions."""
    per_seed = []
    for pair in pairs.itertuples():
        contribution: dict[int, float] = {}
        for language in languages:
            try:
                a = load_predictions(StudyLayout(study_dir).run(pair.run_id_a).folder, selection, language, split)
                b = load_predictions(StudyLayout(study_dir).run(pair.run_id_b).folder, selection, language, split)
            except (FileNotFoundError, KeyError):
                return None
            both = a.merge(b, on="id", suffixes=("_a", "_b"), validate="one_to_one")
            diff = (both.correct_b.astype(float) - both.correct_a.astype(float)) / (len(languages) * len(both))
            for i, v in zip(both.id, diff):
                contribution[i] = contribution.get(i, 0.0) + v
        per_seed.append(pd.Series(contribution))
    table = pd.concat(per_seed, axis=1).fillna(0.0).to_numpy().T  # (seeds, examples)
    return table * table.shape[1]


def _bounded(rows: pd.DataFrame, pairs: pd.DataFrame, languages: list[str]) -> tuple[list[float], list[float]]:
    """Per pair, B - A averaged over ``languages`` from accuracies alone, and a bound on its test-set
    variance (runs taken as independent and languages as perfectly correlated: both upper bounds)."""
    acc = rows.set_index(["run_id", "language"])
    per_seed, binomial = [], []
    for pair in pairs.itertuples():
        a = acc.loc[[(pair.run_id_a, lang) for lang in languages]]
        b = acc.loc[[(pair.run_id_b, lang) for lang in languages]]
        pa, pb, n = a.accuracy.to_numpy(), b.accuracy.to_numpy(), a.n.to_numpy()
        per_seed.append(float((pb - pa).mean()))
        binomial.append(float(np.mean(np.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n)) ** 2))
    return per_seed, binomial


def _paired_interval(rows: pd.DataFrame, pairs: pd.DataFrame, languages: list[str], study_dir, selection: str,
                     split: str) -> dict:
    """The mean over ``pairs`` of B - A, with an interval for seeds and test examples."""
    scores = _example_scores(Path(study_dir), pairs, languages, selection, split) if study_dir else None
    if scores is not None:
        result = stats.crossed_mean(scores)
        result["method"] = "paired by seed; seeds x test examples crossed, from example-level predictions"
    else:
        result = stats.seeds_and_binomial(*_bounded(rows, pairs, languages))
        result["method"] = "paired by seed; t over seeds + binomial bound from accuracy and n (no predictions)"
    result["n_seeds"] = len(pairs)
    return result


def compare(rows: pd.DataFrame, variant_a: str, setting_a: str, variant_b: str, setting_b: str,
            languages: list[str], study_dir: str | Path | None = None, selection: str = "en-dev",
            split: str = "test") -> dict | None:
    """B minus A in accuracy averaged over ``languages``, paired by seed, with an interval for seeds
    and test examples. ``rows``: one protocol and split of the results (see ``protocol_rows``)."""
    pairs = _pairs(rows, variant_a, setting_a, variant_b, setting_b)
    if pairs.empty:
        return None
    return _paired_interval(rows, pairs, languages, study_dir, selection, split)


def _languages(rows: pd.DataFrame) -> dict[str, list[str]]:
    languages = list(dict.fromkeys(rows.language))
    zero_shot = [lang for lang in languages if lang != SOURCE]
    return {ALL: languages, ZERO_SHOT: zero_shot} if zero_shot and len(zero_shot) < len(languages) else {ALL: languages}


def _en_dev_gain(dev: pd.DataFrame, variant: str, setting: str) -> float:
    """The mean over seeds of the gain over the baseline on English dev (NaN without it)."""
    if dev.empty or SOURCE not in set(dev.language):
        return np.nan
    pairs = _pairs(dev, "baseline", setting, variant, setting)
    return float(np.mean(_bounded(dev, pairs, [SOURCE])[0])) if len(pairs) else np.nan


def _primary_scope(languages: dict[str, list[str]]) -> str:
    return ZERO_SHOT if ZERO_SHOT in languages else ALL


def fusion_effect(results: pd.DataFrame, study_dir: str | Path | None = None, selection: str = "en-dev",
                  split: str = "test", dev_split: str = "dev", power: float = 0.8, alpha: float = 0.05,
                  confirmatory_layer: int | None = None, collapsed: str = "exclude") -> pd.DataFrame:
    """Does fusing layer k add accuracy over the plain model?

    One row per (fusion layer, intermediate setting, languages): ``estimate`` is the mean over
    seeds of the accuracy gain over the baseline variant of the same seed and intermediate setting,
    averaged over ``languages`` (``all``, or the ``zero-shot`` targets); 95% interval and p-value
    for seeds and test examples (``method`` says how). ``en_dev_estimate``: the same gain on English
    dev, and ``chosen_on_dev`` the layer a zero-shot researcher would pick on it (XTREME chooses on
    English dev; choosing on the targets' dev uses labelled target data: ``fusion_choice``'s oracle).
    ``best_on_test`` marks the layer that looks best on test. ``family``: ``primary`` for the
    ``confirmatory_layer`` with no intermediate task on the zero-shot languages (without one: every
    layer there, Holm across them); the rest exploratory, Holm within each family. ``mde_80``: the
    smallest gain detected with 80% power at the family's first Holm step, from the noise measured
    for that row, and the range its estimated seed spread implies (``mde_80_low``, ``mde_80_high``);
    missing with one seed. ``n_collapsed``: the row's collapsed runs (baseline and d_k in its setting).
    """
    check_protocol(results, selection, split)
    rows, _ = protocol_rows(results, selection, split, collapsed)
    dev = protocol_rows(results, selection, dev_split, collapsed)[0] if dev_split in set(results.split) else rows.iloc[:0]
    everything = with_collapsed(results)
    everything = everything[(everything.selection == selection) & (everything.split == split)]
    layers = sorted(int(k) for k in everything.fusion_layer.dropna().unique())  # collapsed runs' layers too
    settings = dict.fromkeys(everything.intermediate_language.fillna(NONE))
    flagged_runs = everything[everything.collapsed][["run_id", "variant", "intermediate_language"]].drop_duplicates()
    flagged_runs = flagged_runs.assign(setting=flagged_runs.intermediate_language.fillna(NONE))
    scopes = _languages(everything)
    out = []
    for setting in settings:
        for name, languages in scopes.items():
            for k in layers:
                n_collapsed = int(((flagged_runs.setting == setting)
                                   & flagged_runs.variant.isin(["baseline", f"d{k}"])).sum())
                row = {"variant": f"d{k}", "fusion_layer": k, "intermediate_language": None if setting == NONE else setting,
                       "languages": name, "n_collapsed": n_collapsed, "collapsed_runs": _collapsed_label(collapsed)}
                result = compare(rows, "baseline", setting, f"d{k}", setting, languages, study_dir, selection, split)
                if result is None:
                    have = sorted(set(rows[(rows.setting == setting)].variant))
                    why = (f"; {n_collapsed} collapsed run(s) left out" if n_collapsed and collapsed == "exclude"
                           else "")
                    out.append({**row, "n_seeds": 0, "note": f"not estimable: no seed has both the baseline and d{k} "
                                                            f"with intermediate {setting} (variants left: "
                                                            f"{', '.join(have) or 'none'}){why}"})
                    continue
                out.append({**row, **{c: result[c] for c in ("estimate", "ci_low", "ci_high", "p_value", "n_seeds",
                                                             "method")},
                            # one seed: no seed spread, so no power (the test examples' alone would overstate it)
                            "df": result["n_seeds"] - 1 if result["n_seeds"] > 1 else np.nan,
                            "interval": result["sources"], "_se": result["se"],
                            "_share": result.get("seed_share", np.nan),
                            "en_dev_estimate": _en_dev_gain(dev, f"d{k}", setting),
                            "note": "" if result["n_seeds"] > 1 else "one seed: the interval covers test examples only"})
    table = pd.DataFrame(out)
    for column in FUSION_COLUMNS + ["_se", "_share"]:
        if column not in table:
            table[column] = np.nan
    if table.empty:
        return table[FUSION_COLUMNS]
    main = table.intermediate_language.isna() & (table.languages == _primary_scope(scopes))
    if confirmatory_layer is not None:
        confirmatory = main & (table.fusion_layer == confirmatory_layer)
        table["family"] = np.where(confirmatory, PRIMARY, "exploratory: " + table.intermediate_language.fillna(NONE)
                                   + ", " + table.languages + np.where(main, ", other layers", ""))
    else:
        table["family"] = np.where(main, PRIMARY, "exploratory: " + table.intermediate_language.fillna(NONE) + ", "
                                   + table.languages)
    table = _mde(_holm_by_family(table, alpha), power)
    choice = table.groupby(["intermediate_language", "languages"], dropna=False, sort=False)
    table["chosen_on_dev"] = _is_best(table, choice, "en_dev_estimate")
    table["best_on_test"] = _is_best(table, choice, "estimate")
    return table[FUSION_COLUMNS].reset_index(drop=True)


def _is_best(table: pd.DataFrame, family, column: str) -> pd.Series:
    best = family[column].transform(lambda v: v.max() if v.notna().any() else np.nan)
    return (table[column] == best) & best.notna()


def fusion_choice(results: pd.DataFrame, study_dir: str | Path | None = None, selection: str = "en-dev",
                  split: str = "test", dev_split: str = "dev", collapsed: str = "exclude") -> pd.DataFrame:
    """The gain of the layer a researcher would choose, estimated on data the choice did not see.

    One row per (intermediate setting, languages, choice). ``choice`` ``en-dev``: the layer with the
    best gain on English dev, as XTREME chooses (zero-shot); ``oracle``: on the dev sets of the row's
    languages, labelled target-language data (not zero-shot), a separate protocol. ``chosen_layer``
    is the choice over every seed and ``naive_gain`` its plain test estimate: dev and test come from
    the same runs, so it keeps the seed luck that made the layer look best. ``crossfit_gain``: for
    each seed, the layer best on the other seeds' dev, its test gain on this seed, averaged
    (``stats.crossfit_choice``; ``fold_layers`` names each seed's choice), with a 95% interval for
    seeds and test examples (``interval``). ``best_on_test_layer`` and its gain: what choosing on test
    would report. With one seed the cross-fitted gain is "not estimable".
    """
    check_protocol(results, selection, split)
    rows, _ = protocol_rows(results, selection, split, collapsed)
    dev = protocol_rows(results, selection, dev_split, collapsed)[0] if dev_split in set(results.split) else rows.iloc[:0]
    everything = with_collapsed(results)
    everything = everything[(everything.selection == selection) & (everything.split == split)]
    layers = sorted(int(k) for k in rows.fusion_layer.dropna().unique())
    scopes = _languages(everything)
    flagged = everything[everything.collapsed][["run_id", "intermediate_language"]].drop_duplicates()
    out = []
    for setting in dict.fromkeys(everything.intermediate_language.fillna(NONE)):
        n_collapsed = int((flagged.intermediate_language.fillna(NONE) == setting).sum())
        seeds = sorted(set(rows[(rows.setting == setting) & (rows.variant == "baseline")].seed))
        for name, languages in scopes.items():
            for choice, chosen_on in ((EN_DEV, [SOURCE]), (ORACLE, languages)):
                row = {"intermediate_language": None if setting == NONE else setting, "languages": name,
                       "choice": choice, "n_seeds": len(seeds), "n_layers": len(layers), "n_collapsed": n_collapsed,
                       "collapsed_runs": _collapsed_label(collapsed)}
                if not layers or not seeds:
                    out.append({**row, "note": "not estimable with this grid: it needs a fusion layer beside the "
                                               f"baseline variant with intermediate {setting}"})
                    continue
                dev_gain, test_gain = (_gain_matrix(frame, setting, seeds, layers, langs)
                                       for frame, langs in ((dev, chosen_on), (rows, languages)))
                if choice == ORACLE:
                    row["note"] = ("chosen on the dev sets of the row's languages: labelled target-language data, so "
                                   "not zero-shot (XTREME chooses on English dev)")
                if not np.isfinite(dev_gain).any() or not np.isfinite(test_gain).any():
                    out.append({**row, "note": f"not estimable: no {choice} dev gain or no test gain (a dev split "
                                               "or the runs are missing)"})
                    continue
                picked = stats.crossfit_choice(dev_gain, test_gain)
                mean_test = np.nanmean(test_gain, axis=0)
                row.update(chosen_layer=layers[int(picked["chosen"])], naive_gain=float(picked["naive"]),
                           best_on_test_layer=layers[int(np.nanargmax(mean_test))],
                           best_on_test_gain=float(np.nanmax(mean_test)))
                if len(seeds) < 2:
                    out.append({**row, "note": "not estimable with one seed: cross-fitting chooses on the other seeds' "
                                               "dev and estimates on this seed's test; it needs two or more seeds"})
                    continue
                folds = [(s, layers[int(c)], e) for s, c, e in
                         zip(seeds, picked["fold_choice"], picked["fold_estimate"]) if np.isfinite(e)]
                pairs = pd.DataFrame([{"seed": s, "run_id_a": _run(rows, "baseline", setting, s),
                                       "run_id_b": _run(rows, f"d{k}", setting, s)} for s, k, _ in folds])
                result = _paired_interval(rows, pairs, languages, study_dir, selection, split)
                row.update(crossfit_gain=result["estimate"], crossfit_ci_low=result["ci_low"],
                           crossfit_ci_high=result["ci_high"], crossfit_p_value=result["p_value"],
                           interval=result["sources"], fold_layers=", ".join(f"s{s}: {k}" for s, k, _ in folds))
                dropped = len(seeds) - len(folds)
                notes = [row.get("note", "")] + ([f"{dropped} seed(s) without the layer their fold chose"]
                                                  if dropped else [])
                out.append({**row, "note": "; ".join(n for n in notes if n)})
    table = pd.DataFrame(out)
    for column in CHOICE_COLUMNS:
        if column not in table:
            table[column] = np.nan
    return table[CHOICE_COLUMNS].reset_index(drop=True)


def _run(rows: pd.DataFrame, variant: str, setting: str, seed: int) -> str:
    return rows[(rows.variant == variant) & (rows.setting == setting) & (rows.seed == seed)].run_id.iloc[0]


def _gain_matrix(rows: pd.DataFrame, setting: str, seeds: list[int], layers: list[int],
                 languages: list[str]) -> np.ndarray:
    """Seeds x layers: d_k minus the baseline of the same seed, averaged over ``languages`` (NaN where
    a run or a language is missing)."""
    rows = rows[(rows.setting == setting) & rows.language.isin(languages)]
    wide = rows.pivot_table(index=["seed", "language"], columns="variant", values="accuracy")
    if "baseline" not in wide:
        return np.full((len(seeds), len(layers)), np.nan)
    gain = wide.sub(wide["baseline"], axis=0).groupby(level="seed").mean()
    return gain.reindex(index=seeds, columns=[f"d{k}" for k in layers]).to_numpy(dtype=float)


def collapse_rates(results: pd.DataFrame, selection: str = "en-dev") -> pd.DataFrame:
    """How often runs collapsed, per variant and per intermediate setting: ``by, level, runs,
    collapsed, rate`` with an exact (Clopper-Pearson) 95% interval. Collapse is an outcome: a variant or
    language that fails more often is worse in a way its surviving runs' accuracy hides."""
    runs = with_collapsed(results)
    runs = runs[runs.selection == selection][["run_id", "variant", "intermediate_language", "collapsed"]]
    runs = runs.drop_duplicates("run_id").assign(setting=lambda r: r.intermediate_language.fillna(NONE))
    out = []
    for by, column in (("variant", "variant"), ("intermediate", "setting")):
        for level, group in runs.groupby(column, sort=False):
            k, n = int(group.collapsed.sum()), len(group)
            ci = scipy_stats.binomtest(k, n).proportion_ci(method="exact")
            out.append({"by": by, "level": level, "runs": n, "collapsed": k, "rate": k / n,
                        "ci_low": float(ci.low), "ci_high": float(ci.high)})
    return pd.DataFrame(out, columns=["by", "level", "runs", "collapsed", "rate", "ci_low", "ci_high"])


# ------------------------------------------------------------------------- accuracy and paired tests

def setting_label(variant: str, intermediate_task, intermediate_language) -> str:
    inter = "no intermediate" if pd.isna(intermediate_language) else f"{intermediate_task}-{intermediate_language}"
    return f"{variant} · {inter}"


def accuracy_table(results: pd.DataFrame, study_dir: str | Path | None = None, selection: str = "en-dev",
                   split: str = "test") -> pd.DataFrame:
    """Accuracy per setting (variant x intermediate) and language, seeds averaged, with a 95% interval
    that says what it covers (``interval``): Wilson over test examples with one seed; seeds and test
    examples (crossed, from predictions) with two or more; seeds (t) + a binomial bound without
    predictions. Collapsed runs are left out of a setting's mean (``collapsed`` counts them) unless
    every run of the setting collapsed: then the row shows them, flagged."""
    check_protocol(results, selection, split)
    results = with_collapsed(results)
    rows = results[(results.selection == selection) & (results.split == split)]
    out = []
    for (variant, task, language_i, language), group in rows.groupby(
            ["variant", "intermediate_task", "intermediate_language", "language"], sort=False, dropna=False):
        learnt = group[~group.collapsed]
        used = learnt if len(learnt) else group
        mean = float(used.accuracy.mean())
        if len(used) == 1:
            low, high = stats.accuracy_ci(mean, int(used.n.iloc[0]))
            interval = f"Wilson over {stats.EXAMPLES} (1 seed)"
        else:
            scores = _correct_table(Path(study_dir), used, selection, language, split) if study_dir else None
            result = stats.crossed_mean(scores) if scores is not None else stats.seeds_and_binomial(
                used.accuracy, used.accuracy * (1 - used.accuracy) / used.n)
            low, high, interval = result["ci_low"], result["ci_high"], result["sources"]
        out.append({"setting": setting_label(variant, task, language_i) + ("" if len(learnt) else " (collapsed)"),
                    "language": language, "accuracy": mean, "ci_low": low, "ci_high": high, "seeds": len(used),
                    "collapsed": int(group.collapsed.sum()), "interval": interval})
    return pd.DataFrame(out, columns=["setting", "language", "accuracy", "ci_low", "ci_high", "seeds", "collapsed",
                                      "interval"])


def _correct_table(study_dir: Path, group: pd.DataFrame, selection: str, language: str, split: str) -> np.ndarray | None:
    try:
        frames = [load_predictions(StudyLayout(study_dir).run(r).folder, selection, language, split).set_index("id").correct
                  for r in group.run_id]
    except (FileNotFoundError, KeyError):
        return None
    return pd.concat(frames, axis=1, join="inner").to_numpy(dtype=float).T


PAIRED_COLUMNS = ["run_id", "baseline_run_id", "variant", "intermediate_language", "seed", "selection", "language",
                  "accuracy", "baseline_accuracy", "difference", "ci_low", "ci_high", "b_only", "a_only", "p_value",
                  "q_value", "n"]


def paired_tests(study_dir: str | Path, results: pd.DataFrame, selection: str = "en-dev",
                 split: str = "test") -> pd.DataFrame:
    """Every run against the plain baseline of the same seed (no fusion, no intermediate task), per
    language, on the same test examples at each run's selected checkpoint (``stats.paired_difference``:
    ``b_only`` and ``a_only`` count the examples only the run, or only the baseline, gets right; the
    exact McNemar p-value). Their null is "these two runs are equally accurate on examples like
    these": the two runs as given, one seed each, so a difference between two seeds of one variant is
    as significant as one between variants; the seed-aware answers are ``fusion_effect`` and
    ``typology_effect``. ``q_value``: Benjamini-Hochberg over the whole table."""
    runs = results[["run_id", "variant", "intermediate_language", "seed"]].drop_duplicates()
    plain = runs[(runs.variant == "baseline") & runs.intermediate_language.isna()].set_index("seed")["run_id"]
    languages = list(dict.fromkeys(results.language))
    rows = []
    for run in runs.itertuples():
        if run.seed not in plain.index or run.run_id == plain[run.seed]:
            continue
        for language in languages:
            a = load_predictions(Path(study_dir, "runs", plain[run.seed]), selection, language, split)
            b = load_predictions(Path(study_dir, "runs", run.run_id), selection, language, split)
            pair = a.merge(b, on="id", suffixes=("_a", "_b"), validate="one_to_one")
            test = stats.paired_difference(pair.correct_a, pair.correct_b)
            rows.append({"run_id": run.run_id, "baseline_run_id": plain[run.seed], "variant": run.variant,
                         "intermediate_language": run.intermediate_language, "seed": run.seed,
                         "selection": selection, "language": language, "accuracy": pair.correct_b.mean(),
                         "baseline_accuracy": pair.correct_a.mean(), **test})
    table = pd.DataFrame(rows, columns=[c for c in PAIRED_COLUMNS if c != "q_value"])
    table["q_value"] = stats.benjamini_hochberg(table["p_value"]) if len(table) else []
    return table[PAIRED_COLUMNS]


PRIMARY_COLUMNS = ["question", "test", "estimate", "ci_low", "ci_high", "p_holm", "n_collapsed", "collapsed_runs",
                   "note"]


def primary_rows(typology: pd.DataFrame, fusion: pd.DataFrame) -> pd.DataFrame:
    """The declared answers (``family == "primary"``) of both questions in one table: the typology
    slope (per unit distance) and the DLFA gain (per layer of the primary family). ``p_holm`` is Holm
    within the primary family: the p-value itself for a family of one test."""
    out = []
    for row in typology[typology.family == PRIMARY].itertuples():
        out.append({"question": "1 typology", "test": f"slope per unit of {row.kind} {row.metric} distance, {row.variant}",
                    **{c: getattr(row, c) for c in PRIMARY_COLUMNS[2:]}})
    for row in fusion[fusion.family == PRIMARY].itertuples():
        out.append({"question": "2 DLFA", "test": f"layer {row.fusion_layer} gain, {row.languages}, no intermediate task",
                    **{c: getattr(row, c) for c in PRIMARY_COLUMNS[2:]}})
    return pd.DataFrame(out, columns=PRIMARY_COLUMNS)
