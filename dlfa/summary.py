"""The report's one-sentence answers to the study's two questions, from the analysis tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .analysis import ZERO_SHOT


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def typology_sentence(table: pd.DataFrame, kind: str, metric: str, variant: str = "baseline") -> str:
    """Question 1 for the study's chosen distance kind and metric, for ``variant`` (or the first
    variant in the table), in points of accuracy per 0.1 of distance."""
    rows = table[(table.kind == kind) & (table.metric == metric)]
    if rows.empty:
        return f"Typology ({kind}, {metric}): not estimable: the study has no {kind} {metric} distances or no intermediate runs."
    chosen = rows[rows.variant == variant]
    row = (chosen if len(chosen) else rows).iloc[0]
    head = f"Typology ({kind} {metric} distance, {row.variant})"
    if pd.isna(row.estimate):
        return f"{head}: {row.note}."
    per = 0.1  # a step of 0.1 in distance
    verdict = ("closer languages gain more" if row.estimate < 0 else "farther languages gain more") \
        if row.p_holm < 0.05 else "no dependence on distance is shown"
    return (f"{head}: the intermediate task's gain changes by {_points(row.estimate * per)} points per 0.1 of "
            f"distance [{_points(row.ci_low * per)}, {_points(row.ci_high * per)}] (95%, {int(row.n_cells)} "
            f"(intermediate, target) cells of {int(row.n_intermediate)} x {int(row.n_targets)}, their own effects "
            f"removed), Holm p = {row.p_holm:.3g}: {verdict}. With the residual noise measured here "
            f"({100 * row.residual_sd:.1f} points per cell), the grid detects a change of "
            f"{100 * row.mde_80 * per:.1f} points per 0.1 with 80% power.")


def fusion_sentence(table: pd.DataFrame, intermediate_language=None, languages: str = ZERO_SHOT) -> str:
    """Question 2 for one intermediate setting (None: no intermediate task), the layer chosen on dev
    beside the layer that is best on test."""
    setting = table.intermediate_language.isna() if intermediate_language is None \
        else table.intermediate_language == intermediate_language
    rows = table[setting & (table.languages == languages)]
    if rows.empty:
        rows = table[setting]
    if rows.empty:
        return "DLFA: not estimable with this grid: it needs a fusion layer beside the baseline variant."
    estimable = rows[rows.estimate.notna()]
    if estimable.empty:
        return f"DLFA: {rows.note.iloc[0]}."
    chosen = estimable[estimable.chosen_on_dev]
    chosen = chosen.iloc[0] if len(chosen) else estimable.iloc[0]
    best = estimable[estimable.best_on_test].iloc[0]
    scope = "zero-shot" if languages == ZERO_SHOT else "average"
    which = (f"layer {int(chosen.fusion_layer)} (the best on dev of {len(estimable)} layers)" if len(estimable) > 1
             else f"layer {int(chosen.fusion_layer)}")
    seeds = f"; {int(chosen.n_seeds)} seeds" if chosen.n_seeds > 1 else ""
    sentence = (f"DLFA: fusing {which} changes {scope} test accuracy by {_points(chosen.estimate)} points "
                f"[{_points(chosen.ci_low)}, {_points(chosen.ci_high)}] (95% over {chosen.interval}{seeds}), "
                f"Holm p = {chosen.p_holm:.3g}.")
    if best.fusion_layer != chosen.fusion_layer:
        sentence += (f" The layer best on test, {int(best.fusion_layer)}, shows {_points(best.estimate)}: "
                     f"reporting it would overstate the gain by {100 * (best.estimate - chosen.estimate):.1f} points "
                     "(the winner's curse of choosing on test).")
    if np.isfinite(chosen.mde_80):
        sentence += f" With the noise measured here, a gain of {100 * chosen.mde_80:.1f} points is detected with 80% power."
    return sentence


def collapse_sentence(collapsed: list[str], runs: int) -> str | None:
    if not collapsed:
        return None
    if len(collapsed) == runs:
        return (f"Every run collapsed ({runs} of {runs}: one class predicted, or English dev accuracy at the "
                "majority share): the study learnt nothing, and no effect below can be estimated.")
    return (f"{len(collapsed)} of {runs} runs collapsed and are left out of every effect: {', '.join(collapsed)}.")
