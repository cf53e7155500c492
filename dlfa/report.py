"""The study's HTML report, built from its outputs only (no retraining): ``report/index.html``.

One self-contained page (figures embedded as PNG data) with the summary on top, then the figures
with captions, then links to the executed notebooks rendered beside it (code hidden by default).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from .io import write_text
from .results import interval_table, study_runs

FIGURES = [  # (path under the study folder, caption)
    ("analysis/figures/accuracy_by_language.png",
     "PAWS-X test accuracy per language and setting, checkpoint chosen on English dev (XTREME protocol); "
     "bars are 95% intervals."),
    ("analysis/figures/layer_sweep.png",
     "Test accuracy by fused layer and language (no intermediate task), and the average over languages by layer; "
     "in the paper profile with the DLFA paper's and XTREME's published averages."),
    ("analysis/figures/layer_similarity.png",
     "Cosine similarity between English dev pairs and their translations, per layer, before and after "
     "fine-tuning (mean-pooled, centred per language): how language-neutral each layer is."),
    ("analysis/figures/typology_gain.png",
     "Gain from the intermediate task (accuracy with it minus without it) against the URIEL distance "
     "between the intermediate language and the target, one panel per distance kind."),
    ("analysis/figures/selection_protocols.png",
     "Test accuracy under the two checkpoint-selection protocols: English dev vs the target's own dev (oracle)."),
    ("typology/figures/distances.png", "URIEL distances between candidate intermediate languages and PAWS-X languages."),
    ("typology/figures/kind_agreement.png", "How much the six distance kinds agree (Spearman over language pairs)."),
    ("typology/figures/selection.png",
     "The chosen intermediate languages (filled) among each target's candidates, along the selection's distance."),
    ("data/figures/lengths.png", "Pair lengths in tokens (after truncation; dashed: max_length), per corpus, "
     "language and split."),
    ("data/figures/labels.png", "Label shares per corpus, language and split."),
]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1050px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.5}
h1{font-size:1.7em;margin-bottom:.2em} h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.note{background:#fff4d6;border-left:4px solid #e0a800;padding:.7em 1em;margin:1em 0}
table{border-collapse:collapse;font-size:.92em;margin:.6em 0} th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
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


def render_notebook(ipynb: Path, target: Path) -> None:
    """An executed notebook as standalone HTML (images embedded), code hidden until asked for."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    # progress bars redraw with \r: keep each bar's last state, not every redraw on a line of its own
    config = Config({"CoalesceStreamsPreprocessor": {"enabled": True}})
    body, _ = HTMLExporter(template_name="lab", config=config).from_notebook_node(nbformat.read(ipynb, as_version=4))
    write_text(target, body.replace("</head>", HIDE_CODE + "</head>", 1))


def _is_smoke(p: dict[str, Any]) -> bool:
    return p["model"] == "tiny" or p["data_source"] == "synthetic"


def _grid_runs(out: Path, p: dict[str, Any]) -> tuple[list[dict], list[dict], list[str]] | None:
    if p["intermediate_task"] and not (out / "typology" / "selection.csv").is_file():
        return None  # the grid is not known before the typology stage
    return study_runs(out, p)


def _runs_section(runs: tuple[list[dict], list[dict], list[str]] | None) -> str:
    """Every run of the grid: finished (time, throughput, device), failed (its error) or not run."""
    if runs is None:
        return "<p>No runs: the typology stage has not run.</p>"
    complete, failed, missing = runs
    rows = [{"run": m["run_id"], "status": "complete", "wall time (s)": m.get("wall_time_s"),
             "train examples/s": m.get("train_examples_per_second"), "device": m.get("device"), "error": ""}
            for m in complete]
    rows += [{"run": m["run_id"], "status": "failed", "error": m.get("error", "")} for m in failed]
    rows += [{"run": run_id, "status": "not run", "error": ""} for run_id in missing]
    return _table(pd.DataFrame(rows), 1) if rows else "<p>No runs.</p>"


def build(out: str | Path, p: dict[str, Any]) -> Path:
    """Write ``<study>/report/index.html`` (and the notebooks beside it); return its path."""
    out = Path(out)
    report_dir = out / "report"
    parts = [f"<h1>DLFA study · {html.escape(p['study'])}</h1>",
             "<p>Does an intermediate task help mBERT's zero-shot cross-lingual transfer on PAWS-X more when "
             "its language is typologically close to the target language, and does fusing a lower layer with "
             "the last one (DLFA / AIF, Chen et al. 2022) add to that?</p>"]
    if p.get("description"):
        parts.append(f"<p>{html.escape(p['description'])}</p>")
    if _is_smoke(p):
        parts.append('<div class="note"><b>Smoke profile.</b> These numbers come from a tiny randomly '
                     "initialised BERT trained on a synthetic corpus whose languages are built from URIEL word-order "
                     "features and a lexicon shared with English in proportion to genetic closeness. They check that "
                     "every stage of the pipeline works; the corpus is designed so that zero-shot accuracy falls with "
                     "distance to English once the model has learnt the task. They say nothing about mBERT or real "
                     "languages.</div>")

    parts.append("<h2>Summary</h2>")
    runs = _grid_runs(out, p)
    unfinished = [] if runs is None else [m["run_id"] for m in runs[1]] + runs[2]
    if unfinished:
        parts.append(f'<div class="note"><b>Incomplete study.</b> {len(unfinished)} run(s) of the grid did not finish '
                     f"({html.escape(', '.join(unfinished))}); every number below comes from the other runs. "
                     "The Runs section gives each failure; running the study again retries them.</div>")
    accuracy_csv = out / "analysis" / "accuracy.csv"
    if accuracy_csv.is_file():
        acc = pd.read_csv(accuracy_csv)
        wide = acc.pivot_table(index="setting", columns="language", values="accuracy", sort=False)
        languages = [c for c in wide.columns if c != "en"]
        wide["zero-shot avg"] = wide[languages].mean(axis=1)
        wide.columns.name = None
        if "en" in wide and wide["en"].min() < 0.6:
            parts.append(f'<div class="note"><b>Not learnt.</b> English test accuracy is as low as '
                         f'{wide["en"].min():.3f} (chance is about 0.5 to 0.56): those runs did not learn the task, '
                         "so their zero-shot numbers and the correlations below carry no information.</div>")
        headline = interval_table(acc, "setting", "accuracy")
        headline["zero-shot avg"] = wide["zero-shot avg"].map("{:.3f}".format)
        parts.append("<p>Test accuracy (checkpoint chosen on English dev) per setting and language, with 95% "
                     "intervals (bootstrap over seeds; Wilson over test examples when there is one seed):</p>")
        parts.append(_table(headline.reset_index()))
    paired_csv = out / "analysis" / "paired_tests.csv"
    if paired_csv.is_file():
        paired = pd.read_csv(paired_csv)
        if len(paired):
            diff = interval_table(paired.rename(columns={"run_id": "run"}), "run", "difference", signed=True)
            parts.append("<p>Each run minus the plain baseline of its seed, on the same test examples (paired "
                         "bootstrap 95% interval; * paired permutation p &lt; 0.05, uncorrected):</p>")
            parts.append(_table(diff.reset_index()))
    corr_csv = out / "analysis" / "typology_correlation.csv"
    if corr_csv.is_file():
        corr = pd.read_csv(corr_csv)
        parts.append("<p>Spearman correlation between the intermediate task's gain and the distance of its language "
                     "to the target (negative: closer languages gain more), 95% bootstrap CI, permutation p-value:</p>")
        parts.append(_table(corr) if len(corr) else "<p class='muted'>No intermediate-task runs.</p>")
    selection_csv = out / "typology" / "selection.csv"
    if selection_csv.is_file():
        sel = pd.read_csv(selection_csv)
        sel = sel[sel.selected.astype(bool)]
        parts.append("<p>Intermediate-task languages chosen by typology:</p>" +
                     _table(sel[["candidate", "target", "reason"]]))
    parts.append("<p class='muted'>Distances are recomputed from lang2vec's packaged URIEL vectors (its PyPI release "
                 "ships neither <code>distance()</code> nor URIEL's precomputed matrix); they are not identical "
                 "to that matrix.</p>")

    parts.append("<h2>Figures</h2>")
    for rel, caption in FIGURES:
        if (out / rel).is_file():
            parts.append(_figure(out / rel, caption))

    parts.append("<h2>Runs</h2>" + _runs_section(runs))

    parts.append("<h2>Executed notebooks</h2><ul>")
    study_notebooks = {f.with_suffix(".html").name: f for f in (out / "notebooks").glob("*.ipynb")}
    run_notebooks = {f"03_train/{f.parent.name}.html": f for f in (out / "runs").glob("*/03_train.ipynb")}
    for rel, ipynb in sorted({**study_notebooks, **run_notebooks}.items()):  # 01, 02, 03_train/<run>, 04
        rel = Path(rel)
        render_notebook(ipynb, report_dir / "notebooks" / rel)
        parts.append(f'<li><a href="notebooks/{html.escape(str(rel))}">{html.escape(str(rel.with_suffix("")))}</a></li>')
    parts.append("</ul><p class='muted'>Parameters: <code>params.yaml</code> in the study folder.</p>")

    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>DLFA study · {html.escape(p['study'])}"
            f"</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>")
    index = report_dir / "index.html"
    write_text(index, page)
    return index
