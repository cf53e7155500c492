"""The report's one-sentence answers to the study's two questions, from the analysis tables.

Each question's answer is its primary row (``family == "primary"``: declared before the study
ran); every other number is exploratory and the sentences say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlfa.analysis import EN_DEV, PRIMARY, SAME_LANGUAGE, ZERO_SHOT


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def _detectable(row, scale: float, units: str, what: str) -> str:
    """The MDE sentence: from a noise level estimated on few degrees of freedom, with the range that
    estimate implies (``power.mde_range``)."""
    if not np.isfinite(row.mde_80):
        return ""
    text = (f" With the noise estimated here ({what}), the smallest effect detected with 80% power is "
            f"{scale * row.mde_80:.1f} {units}")
    if np.isfinite(row.mde_80_low) and np.isfinite(row.mde_80_high) and row.mde_80_low != row.mde_80_high:
        text += (f"; that noise estimate's 95% interval puts it between {scale * row.mde_80_low:.1f} and "
                 f"{scale * row.mde_80_high:.1f}")
    return text + "."


def typology_sentence(table: pd.DataFrame, kind: str, metric: str, variant: str = "baseline") -> str:
    """Question 1: the primary row (or the row of ``kind``, ``metric`` and ``variant``), in points of
    accuracy per 0.1 of distance; the same-language contrast beside it where the grid has one."""
    rows = table[(table.kind == kind) & (table.metric == metric)]
    if rows.empty:
        return f"Typology ({kind}, {metric}): not estimable: the study has no {kind} {metric} distances or no intermediate runs."
    primary = rows[rows.family == PRIMARY]
    chosen = primary if len(primary) else rows[rows.variant == variant]
    row = (chosen if len(chosen) else rows).iloc[0]
    label = "primary, " if row.family == PRIMARY else "exploratory, "
    head = f"Typology ({label}{kind} {metric} distance, {row.variant})"
    if pd.isna(row.estimate):
        return f"{head}: {row.note}."
    per = 0.1  # a step of 0.1 in distance
    p_name, p = ("p", row.p_value) if row.family == PRIMARY else ("Holm p", row.p_holm)
    verdict = ("closer languages gain more" if row.estimate < 0 else "farther languages gain more") \
        if p < 0.05 else "no dependence on distance is shown"
    left_out = f"; the {int(row.n_same_language)} same-language cell(s) left out" if row.n_same_language else ""
    collapsed = (f"; {int(row.n_collapsed)} collapsed run(s) {row.collapsed_runs}" if row.n_collapsed else "")
    sentence = (f"{head}: the intermediate task's gain changes by {_points(row.estimate * per)} points per 0.1 of "
                f"distance [{_points(row.ci_low * per)}, {_points(row.ci_high * per)}] (95%, {int(row.n_cells)} "
                f"(intermediate, target) cells of {int(row.n_intermediate)} x {int(row.n_targets)}, their own effects "
                f"removed{left_out}{collapsed}), {p_name} = {p:.3g}: {verdict}.")
    sentence += _detectable(row, 100 * per, "points per 0.1", f"residual SD {100 * row.residual_sd:.1f} points per "
                            f"cell, {int(row.df)} degrees of freedom")
    same = table[(table.kind == SAME_LANGUAGE) & (table.variant == row.variant) & table.estimate.notna()]
    if len(same):
        s = same.iloc[0]
        sentence += (f" Exploratory: an in-language intermediate task gains {_points(s.estimate)} points "
                     f"[{_points(s.ci_low)}, {_points(s.ci_high)}] over the other cells (p = {s.p_value:.3g}).")
    return sentence


def _scope(table: pd.DataFrame, intermediate_language, languages: str) -> pd.DataFrame:
    setting = table.intermediate_language.isna() if intermediate_language is None \
        else table.intermediate_language == intermediate_language
    rows = table[setting & (table.languages == languages)]
    return rows if len(rows) else table[setting]


def fusion_sentence(table: pd.DataFrame, intermediate_language=None, languages: str = ZERO_SHOT,
                    choice: pd.DataFrame | None = None, confirmatory_layer: int | None = None) -> str:
    """Question 2 for one intermediate setting (None: no intermediate task): the primary test (the
    ``confirmatory_layer`` named in advance, or the layers with Holm across them), then the layer a
    researcher would choose on English dev, its gain estimated cross-fitted over seeds (``choice``:
    ``analysis.fusion_choice``'s table)."""
    rows = _scope(table, intermediate_language, languages)
    if rows.empty:
        return "DLFA: not estimable with this grid: it needs a fusion layer beside the baseline variant."
    estimable = rows[rows.estimate.notna()]
    if estimable.empty:
        return f"DLFA: {rows.note.iloc[0]}."
    scope = "zero-shot" if estimable.languages.iloc[0] == ZERO_SHOT else "average"
    primary = estimable[estimable.family == PRIMARY]
    if len(primary) == 1:
        row = primary.iloc[0]
        if row.n_seeds < 2:
            verdict = ("one seed: the interval covers the test examples only, so it says nothing of another seed's "
                       "runs and is no test of fusion")
        else:
            verdict = "a gain is shown" if row.p_value < 0.05 and row.estimate > 0 else \
                "a loss is shown" if row.p_value < 0.05 else "no gain is shown"
        which = "named in advance" if row.fusion_layer == confirmatory_layer else "the grid's only layer"
        seeds = f"; {int(row.n_seeds)} seeds" if row.n_seeds > 1 else ""
        sentence = (f"DLFA (primary: layer {int(row.fusion_layer)}, {which}): fusing it changes {scope} test "
                    f"accuracy by {_points(row.estimate)} points [{_points(row.ci_low)}, {_points(row.ci_high)}] "
                    f"(95% over {row.interval}{seeds}), p = {row.p_value:.3g}: {verdict}.")
    else:
        family = primary if len(primary) else estimable
        label = "primary" if len(primary) else "exploratory"
        best = family.loc[family.p_holm.idxmin()]
        shown = family[family.p_holm < 0.05]
        layers = f"layers {int(family.fusion_layer.min())} to {int(family.fusion_layer.max())}" if len(family) > 1 \
            else f"layer {int(family.fusion_layer.iloc[0])}"
        verdict = ("no layer's gain is shown" if shown.empty else
                   "a change is shown for layer(s) " + ", ".join(f"{int(k)} ({_points(e)})" for k, e in
                                                                  zip(shown.fusion_layer, shown.estimate)))
        sentence = (f"DLFA ({label}: {layers}, Holm across them): {verdict}; the smallest Holm p is "
                    f"{best.p_holm:.3g}, layer {int(best.fusion_layer)}, {_points(best.estimate)} points "
                    f"[{_points(best.ci_low)}, {_points(best.ci_high)}] (95% over {best.interval}).")
        row = best
    collapsed = rows.n_collapsed.max()
    if collapsed:
        sentence += f" {int(collapsed)} collapsed run(s) {rows.collapsed_runs.iloc[0]}."
    sentence += _choice_sentence(choice, intermediate_language, estimable.languages.iloc[0])
    seeds = int(row.n_seeds)
    if seeds < 2:  # the test examples' noise alone would state a power the design does not have
        return sentence + (" The smallest detectable effect is not estimable from one seed: the seed noise that "
                           "dominates it needs two or more (`dlfa plan` gives the design's power under the params' "
                           "noise priors).")
    what = f"the seed spread from {seeds} seeds, {seeds - 1} degree{'s' if seeds != 2 else ''} of freedom"
    return sentence + _detectable(row, 100, "points", what)


def _choice_sentence(choice: pd.DataFrame | None, intermediate_language, languages: str) -> str:
    """The layer chosen on English dev: its naive and its cross-fitted test gain."""
    if choice is None or choice.empty:
        return ""
    rows = _scope(choice, intermediate_language, languages)
    rows = rows[(rows.choice == EN_DEV) & rows.naive_gain.notna() & (rows.n_layers > 1)]
    if rows.empty:  # one layer: nothing is chosen
        return ""
    c = rows.iloc[0]
    sentence = (f" Choosing among {int(c.n_layers)} layer{'s' if c.n_layers != 1 else ''} on English dev picks layer "
                f"{int(c.chosen_layer)}, whose test estimate {_points(c.naive_gain)} keeps the seed luck that made it "
                "look best (dev and test come from the same runs).")
    if pd.isna(c.crossfit_gain):
        return sentence + f" Its gain on data the choice did not see is {c.note}."
    return sentence + (f" Estimated on seeds the choice did not see (cross-fitted: {c.fold_layers}), the layer a "
                       f"researcher would choose gains {_points(c.crossfit_gain)} points [{_points(c.crossfit_ci_low)}, "
                       f"{_points(c.crossfit_ci_high)}] (95% over {c.interval}).")


def collapse_sentence(collapsed: list[str], runs: int) -> str | None:
    if not collapsed:
        return None
    if len(collapsed) == runs:
        return (f"Every run collapsed ({runs} of {runs}: one class predicted, or English dev accuracy at the "
                "majority share): the study learnt nothing, and no effect below can be estimated.")
    return (f"{len(collapsed)} of {runs} runs collapsed and are left out of every effect: {', '.join(collapsed)} "
            "(the collapse rates and the answers with them counted at their measured accuracy are below).")
