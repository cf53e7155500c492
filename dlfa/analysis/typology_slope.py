"""Question 1: does an intermediate task help more when its language is closer to the target?"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from dlfa.analysis import stats
from dlfa.analysis.common import (ALL, EXAMPLES_METHOD, LEFT_OUT_SAME, NONE, OLS_METHOD, PRIMARY, SAME_LANGUAGE, SOURCE,
                                  TYPOLOGY_COLUMNS, _collapsed_label, _holm_by_family, _mde, check_protocol,
                                  protocol_rows, with_collapsed)
from dlfa.config.runs import load_predictions
from dlfa.layout import StudyLayout

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
