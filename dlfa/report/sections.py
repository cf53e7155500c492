"""The report's tables: each section of ``report/index.html`` from the analysis stage's products,
as HTML, with the formatting they share (intervals in points, p-values, detectable effects)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from dlfa.config.fusion import DLFAConfig
from dlfa.config.identity import migrate
from dlfa.config.params import Params
from dlfa.config.runs import intermediate_stage, intermediate_unlearnt, study_runs
from dlfa.layout import StudyLayout


def html_table(frame: pd.DataFrame, digits: int = 3) -> str:
    return frame.round(digits).to_html(index=False, border=0, na_rep="–", escape=True)


def grid_runs(out: Path, params: Params) -> tuple[list[dict], list[dict], list[str]] | None:
    if params.intermediate_task and not StudyLayout(out).selection_csv.is_file():
        return None  # the grid is not known before the typology stage
    return study_runs(out, params)


def _fusion_options(config: dict) -> str:
    """The AIF options a run used: '' for the baseline, 'defaults' or the ones that differ."""
    if config.get("fusion_layer") is None:
        return ""
    changed = DLFAConfig.from_dict(migrate(config)["fusion"]).non_default_options
    return ", ".join(f"{k} {v}" for k, v in changed.items()) if changed else "defaults (r 4, batch, map)"


def runs_section(runs: tuple[list[dict], list[dict], list[str]] | None) -> str:
    """Every run of the grid: finished (time, throughput, device), failed (its error) or not run."""
    if runs is None:
        return "<p>No runs: the typology stage has not run.</p>"
    complete, failed, missing = runs
    rows = [{"run": m["run_id"], "fusion options": _fusion_options(m["config"]),
             "status": "collapsed" if (m.get("collapse") or {}).get("collapsed") else "complete",
             "en dev accuracy": (m.get("collapse") or {}).get("accuracy"),
             "majority share": (m.get("collapse") or {}).get("majority_share"),
             "intermediate dev accuracy": intermediate_stage(m).get("dev_accuracy"),
             "its majority share": intermediate_stage(m).get("dev_majority_share"),
             "wall time (s)": m.get("wall_time_s"), "train examples/s": m.get("train_examples_per_second"),
             "device": m.get("device"),
             "error": "; ".join(x for x in ((m.get("collapse") or {}).get("reason", ""), intermediate_unlearnt(m)) if x)}
            for m in complete]
    rows += [{"run": m["run_id"], "fusion options": _fusion_options(m.get("config", {})), "status": "failed",
              "error": m.get("error", "")} for m in failed]
    rows += [{"run": run_id, "status": "not run", "error": ""} for run_id in missing]
    if not rows:
        return "<p>No runs.</p>"
    frame = pd.DataFrame(rows)
    for column, digits in (("en dev accuracy", 3), ("majority share", 3), ("intermediate dev accuracy", 3),
                           ("its majority share", 3), ("wall time (s)", 1), ("train examples/s", 1)):
        if column in frame:
            frame[column] = frame[column].map(lambda v, d=digits: "–" if pd.isna(v) else f"{v:.{d}f}")
    return html_table(frame)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _fmt_interval(v, low, high, scale=100.0, signed=True) -> str:
    if pd.isna(v):
        return "not estimable"
    f = "{:+.1f}" if signed else "{:.1f}"
    return f"{f.format(scale * v)} [{f.format(scale * low)}, {f.format(scale * high)}]"


def _notes(notes) -> str:
    distinct = [n for n in dict.fromkeys(notes.astype(object).fillna("")) if n]  # an all-NaN column is float
    return "".join(f"<p class='muted'>{html.escape(n[0].upper() + n[1:])}.</p>" for n in distinct)


def _p_text(p_values) -> list[str]:
    """p-values as text: three decimals, or "< 0.001" (rounding would print 0.000)."""
    return ["–" if pd.isna(p) else "< 0.001" if p < 0.001 else f"{p:.3f}" for p in p_values]


def _mde_text(mde, low, high, scale: float) -> list[str]:
    """The detectable effect and the range its estimated noise implies, as text."""
    out = []
    for m, lo, hi in zip(mde, low, high):
        if pd.isna(m):
            out.append("–")
        elif pd.notna(lo) and pd.notna(hi) and lo != hi:
            out.append(f"{scale * m:.1f} ({scale * lo:.1f} to {scale * hi:.1f})")
        else:
            out.append(f"{scale * m:.1f}")
    return out


def _family(family: pd.Series) -> pd.Series:
    """``primary`` or ``exploratory``: which exploratory family a row is in follows from its other
    columns (its variant's kinds; its setting's and languages' layers), as the caption says."""
    return family.astype(object).fillna("").map(lambda f: f.split(":")[0])


def fusion_section(out: Path) -> str:
    path = StudyLayout(out).table("fusion_effect")
    if not path.is_file():
        return ""
    table = pd.read_csv(path)
    if table.empty:
        return "<h3>DLFA by layer</h3><p class='muted'>No fusion layer in this grid.</p>"
    table = pd.concat([table[table.family == "primary"], table[table.family != "primary"]])
    shown = pd.DataFrame({
        "family": _family(table.family), "layer": table.fusion_layer,
        "intermediate": table.intermediate_language.astype(object).fillna("none"), "languages": table.languages,
        "gain, points [95%]": [_fmt_interval(*r) for r in zip(table.estimate, table.ci_low, table.ci_high)],
        "Holm p (family)": _p_text(table.p_holm), "seeds": table.n_seeds,
        "en dev gain": (100 * table.en_dev_estimate).round(1),
        "chosen on en dev": table.chosen_on_dev.map({True: "yes", False: ""}),
        "best on test": table.best_on_test.map({True: "yes", False: ""}),
        "detectable (80%), points (range)": _mde_text(table.mde_80, table.mde_80_low, table.mde_80_high, 100),
        "collapsed": table.n_collapsed})
    sources = "; ".join(sorted(set(table.interval.dropna())))
    return ("<h3>DLFA by layer</h3><p>Gain over the baseline variant of the same seed and intermediate setting, "
            "averaged over all languages or the zero-shot targets; intervals over "
            f"{html.escape(sources or 'nothing estimable')}. The primary row(s) first; every other row is "
            "exploratory, Holm across the layers of its setting and languages. <i>chosen on en dev</i>: the layer with the best gain on English "
            "dev, the zero-shot choice (its test gain is estimated honestly below); <i>detectable</i>: the gain "
            "found with 80% power at the family's first Holm step, from a seed spread estimated on the seeds here, "
            "with the range that estimate implies; <i>collapsed</i>: runs the row left out.</p>"
            + html_table(shown) + _notes(table.note) + choice_section(out))


def choice_section(out: Path) -> str:
    path = StudyLayout(out).table("fusion_choice")
    if not path.is_file():
        return ""
    table = pd.read_csv(path, dtype={"note": str, "fold_layers": str, "interval": str})
    if table.empty or table.n_layers.max() < 2:
        return "<p class='muted'>One fused layer in this grid: no layer is chosen.</p>" \
            if len(table) and table.n_layers.max() == 1 else ""
    shown = pd.DataFrame({
        "intermediate": table.intermediate_language.astype(object).fillna("none"), "languages": table.languages,
        "chosen on": table.choice.map({"en-dev": "English dev", "oracle": "targets' dev (oracle)"}),
        "layer": table.chosen_layer.map(lambda v: "–" if pd.isna(v) else f"{int(v)}"),
        "its test gain (naive)": (100 * table.naive_gain).round(1),
        "cross-fitted gain [95%]": [_fmt_interval(*r) for r in zip(table.crossfit_gain, table.crossfit_ci_low,
                                                                     table.crossfit_ci_high)],
        "each seed's choice": table.fold_layers.fillna(""),
        "best on test": [f"{int(k)}: {100 * g:+.1f}" if pd.notna(k) else "–"
                         for k, g in zip(table.best_on_test_layer, table.best_on_test_gain)],
        "seeds": table.n_seeds})
    return ("<h4>The layer a researcher would choose</h4><p>Dev and test come from the same runs and share each "
            "seed's luck, so the chosen layer's own test gain (<i>naive</i>) overstates it, and the layer best on "
            "test overstates it more. Cross-fitted: for each seed, the layer best on the other seeds' dev, its gain on "
            "this seed's test, averaged, with a 95% interval over seeds and test examples. Choosing on the targets' "
            "dev (oracle) uses labelled target-language data: not zero-shot, shown apart.</p>"
            + html_table(shown) + _notes(table.note))


def typology_section(out: Path, params: Params) -> str:
    path = StudyLayout(out).table("typology_effect")
    if not path.is_file():
        return ""
    table = pd.read_csv(path)
    head = "<h3>Typology by distance kind</h3>"
    if table.empty:
        return head + "<p class='muted'>No intermediate-task runs.</p>"
    if table.estimate.isna().all() and table.note.nunique() == 1:
        return head + f"<p>Every variant, kind and metric: {html.escape(table.note.iloc[0])}.</p>"
    primary = table.family == "primary"
    same = table.kind == "same-language"
    table = pd.concat([table[primary], table[~primary & ~same], table[same]])
    same = table.kind == "same-language"
    scale = [100.0 if s else 10.0 for s in same]
    shown = pd.DataFrame({
        "family": _family(table.family), "variant": table.variant, "kind": table.kind, "metric": table.metric,
        "slope, points per 0.1 [95%]" + (" (same-language: points)" if same.any() else ""): [
            _fmt_interval(v, lo, hi, scale=k) for v, lo, hi, k in zip(table.estimate, table.ci_low, table.ci_high, scale)],
        "Holm p (family)": _p_text(table.p_holm),
        "cells (L x T)": [f"{int(n)} ({a} x {b})" for n, a, b in zip(table.n_cells, table.n_intermediate,
                                                                      table.n_targets)],
        "same-language left out": [0 if s else int(n) for s, n in zip(same, table.n_same_language.fillna(0))],
        "detectable (80%) (range)": _mde_text(table.mde_80, table.mde_80_low, table.mde_80_high, 10),
        "collapsed": table.n_collapsed})
    if not shown["same-language left out"].any():
        shown = shown.drop(columns="same-language left out")
    method = ("the slope's variance counts the test examples the runs share (from predictions)"
              if table.method.astype(str).str.contains("predictions").any() else "OLS")
    return (head + "<p>On the (intermediate language, target) cell means, seeds averaged: "
            "gain ~ distance + C(intermediate) + C(target), so that a target's headroom and a language's overall "
            "usefulness are removed first; negative: closer languages gain more. Same-language cells are left out of "
            "every slope (an in-language intermediate task is another treatment, at distance 0) and contrasted with "
            f"the other cells in the <i>same-language</i> row; {html.escape(method)}. The primary row first (the "
            f"study's own kind, {html.escape(params.typology_kind)}, baseline variant); the rest are exploratory, Holm "
            "across the kinds and metrics of each variant. <i>detectable</i>: the slope found with 80% power (points "
            "per 0.1) from the residual SD estimated here, with the range that estimate implies.</p>" + html_table(shown)
            + _notes(table.note))


def collapse_section(out: Path) -> str:
    """Collapse rates per variant and intermediate setting, and the primary answers with collapsed
    runs counted at their measured accuracy."""
    rates_csv, primary_csv = StudyLayout(out).table("collapse_rates"), StudyLayout(out).table("primary")
    if not rates_csv.is_file():
        return ""
    rates = pd.read_csv(rates_csv)
    if not rates.collapsed.any():
        return ""
    shown = rates.assign(rate=[f"{r:.0%} [{lo:.0%}, {hi:.0%}]" for r, lo, hi in zip(rates.rate, rates.ci_low, rates.ci_high)])
    part = ("<h3>Collapsed runs</h3><p>Failure is an outcome: how often runs collapsed (exact 95% intervals), per "
            "variant and per intermediate setting. A variant or language that fails more often is worse in a way its "
            "surviving runs' accuracy hides.</p>" + html_table(shown.drop(columns=["ci_low", "ci_high"])))
    if primary_csv.is_file():
        primary = pd.read_csv(primary_csv)
        if primary.collapsed_runs.nunique() > 1:
            part += ("<p>The primary answers with collapsed runs left out (the main analysis) and counted at their "
                     "measured accuracy (sensitivity):</p>" + primary_table(primary))
    return part


def primary_table(primary: pd.DataFrame) -> str:
    scale = [10.0 if q.startswith("1") else 100.0 for q in primary.question]
    return html_table(pd.DataFrame({
        "question": primary.question, "test": primary.test,
        "estimate [95%] (slope: points per 0.1; gain: points)": [
            _fmt_interval(v, lo, hi, scale=k) for v, lo, hi, k in zip(primary.estimate, primary.ci_low, primary.ci_high, scale)],
        "p (Holm within the primary family)": _p_text(primary.p_holm), "collapsed runs": [
            f"{int(n)} {c}" if n else "none" for n, c in zip(primary.n_collapsed, primary.collapsed_runs)]}))


def ranking_section(out: Path, params: Params) -> str:
    path = StudyLayout(out).table("selection_ndcg")
    if not path.is_file():
        return ""
    table = pd.read_csv(path, dtype={"note": str, "nearest": str, "best": str}).fillna(
        {"note": "", "nearest": "", "best": ""})  # all-empty text columns read as float otherwise
    head = ("<h3>How good is typology at choosing?</h3><p>LangRank's measure (Lin et al. 2019): per target, "
            "NDCG@3 of the intermediate languages ranked by distance (nearest first) against the gains observed "
            "here (relevance from their order), beside a random ranking's expectation; descriptive, the gains' "
            f"noise included. The study's kind ({html.escape(params.typology_kind)}) and metric:</p>")
    own = table[(table.kind == params.typology_kind) & (table.metric == params.distance_metric)]
    if own.empty:
        return head + ("<p>Not estimable: no (intermediate language, target) cell has a gain (collapsed runs are "
                       "left out).</p>")
    if own.ndcg.isna().all():  # one sentence, not one per target
        most = int(own.languages.max())
        return head + (f"<p>Not estimable for any target: at most {most} intermediate language(s) with a "
                       f"{html.escape(params.typology_kind)} distance were evaluated on each; a ranking needs two or "
                       "more.</p>")
    means = table[table.target == "mean"].pivot_table(index="kind", columns="variant", values="ndcg").round(3)
    return (head + html_table(own.drop(columns=["kind", "metric"])) +
            "<p>Mean NDCG@3 over targets, every kind:</p>" + means.to_html(border=0))


def replication_section(out: Path) -> str:
    parts = []
    lauscher, turc = StudyLayout(out).table("replication_distance"), StudyLayout(out).table("replication_source")
    if lauscher.is_file():
        parts.append("<p><b>Lauscher et al. 2020.</b> Does the plain baseline's zero-shot accuracy fall with the "
                     "target's distance from English? One point per target; Spearman with its exact permutation "
                     "p-value, Holm across kinds.</p>")
        table = pd.read_csv(lauscher)
        parts.append(html_table(table.drop(columns="note").rename(columns={"n_targets": "targets", "ci_low": "Spearman 95% low",
                                                                       "ci_high": "high", "p_value": "p", "p_holm": "Holm p"}))
                     + _notes(table.note))
    if turc.is_file():
        table = pd.read_csv(turc)
        if table.estimate.isna().all():
            parts.append("<p><b>Turc et al. 2021.</b> Does an intermediate task in German or Russian beat the same task "
                         "in English? " + html.escape("; ".join(dict.fromkeys(table.note))) + ".</p>")
            return "<h3>Replication checks</h3>" + "".join(parts)
        shown = pd.DataFrame({"intermediate": table.language, "versus": table.versus, "variant": table.variant,
                              "targets": table.languages,
                              "difference, points [95%]": [_fmt_interval(*r) for r in
                                                           zip(table.estimate, table.ci_low, table.ci_high)],
                              "Holm p": _p_text(table.p_holm), "seeds": table.n_seeds})
        parts.append("<p><b>Turc et al. 2021.</b> Does an intermediate task in German or Russian beat the same task in "
                     "English (same variant and seed, the other zero-shot targets)?</p>" + html_table(shown)
                     + _notes(table.note))
    return "<h3>Replication checks</h3>" + "".join(parts) if parts else ""
