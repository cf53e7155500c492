"""The report built from a study's analysis tables: the primary answers first, the layer choice, the
collapse rates with the sensitivity rows, and per-run paired tests without stars."""

import json

import pandas as pd
from test_analysis import DIST, layered, make_distances, make_results

from conftest import tiny_params
from dlfa import analysis
from dlfa.analysis import summary
from dlfa.io import write_csv
from dlfa.report import page as report


def _study(tmp_path, results):
    """An analysis folder as notebook 04 writes it, from a hand-made results table."""
    out = tmp_path / "study"
    fusion = analysis.fusion_effect(results, confirmatory_layer=6)
    typology = analysis.typology_effect(results, make_distances(DIST), primary=("syntactic", "cosine"))
    choice = analysis.fusion_choice(results)
    primary = pd.concat([analysis.primary_rows(typology, fusion), analysis.primary_rows(
        analysis.typology_effect(results, make_distances(DIST), primary=("syntactic", "cosine"), collapsed="include"),
        analysis.fusion_effect(results, confirmatory_layer=6, collapsed="include"))], ignore_index=True)
    for name, table in (("fusion_effect", fusion), ("typology_effect", typology), ("fusion_choice", choice),
                        ("collapse_rates", analysis.collapse_rates(results)), ("primary", primary)):
        write_csv(out / "analysis" / f"{name}.csv", table)
    collapsed = analysis.collapsed_runs(results)
    (out / "analysis" / "summary.json").write_text(json.dumps({
        "typology": summary.typology_sentence(typology, "syntactic", "cosine"),
        "fusion": summary.fusion_sentence(fusion, choice=choice, confirmatory_layer=6),
        "collapse": summary.collapse_sentence(collapsed, results.run_id.nunique()), "collapsed_runs": collapsed,
        "runs": results.run_id.nunique()}))
    return out


def test_the_report_leads_with_the_primary_answers_and_shows_collapse_and_the_layer_choice(tmp_path):
    results = make_results(layered({"d3": 0.02, "d6": 0.01}, seed_noise=0.005), seeds=(1, 2, 3),
                           variants=("baseline", "d3", "d6"), intermediates=(None, "de", "ru", "tr"))
    results["collapsed"] = results.run_id == "d6__none__s2"  # a run of question 2's primary test
    results.loc[results.collapsed, "accuracy"] = 0.5
    out = _study(tmp_path, results)
    page = report.build(out, tiny_params(study="study", fusion_layers=[None, 1])).read_text()
    summary_part = page[page.index("<h2>Summary</h2>"):page.index("<h3>DLFA by layer</h3>")]
    assert "Question 2.</b> DLFA (primary: layer 6, named in advance)" in summary_part
    assert "declared before the study ran" in summary_part and "layer 6 gain, zero-shot" in summary_part
    assert "<h4>The layer a researcher would choose</h4>" in page and "cross-fitted gain [95%]" in page
    assert "targets&#x27; dev (oracle)" in page or "targets' dev (oracle)" in page
    collapse = page[page.index("<h3>Collapsed runs</h3>"):]
    assert "8% [0%, 38%]" in collapse  # 1 of d6's 12 runs, Clopper-Pearson
    assert "counted at measured accuracy" in collapse and "1 left out" in collapse
    # the primary DLFA gain with that run left out (2 seeds), and counted at 0.5 (3 seeds, far lower)
    primary = pd.read_csv(out / "analysis" / "primary.csv")
    dlfa = primary[primary.question == "2 DLFA"].set_index("collapsed_runs").estimate
    assert dlfa[analysis.COUNTED] < dlfa[analysis.LEFT_OUT] - 0.05


def test_per_run_paired_tests_are_shown_without_stars(tmp_path):
    results = make_results(layered({"d6": 0.02}), seeds=(1,), variants=("baseline", "d6"), intermediates=(None,))
    out = _study(tmp_path, results)
    paired = pd.DataFrame([{"run_id": "d6__none__s1", "baseline_run_id": "baseline__none__s1", "variant": "d6",
                            "intermediate_language": None, "seed": 1, "selection": "en-dev", "language": lang,
                            "accuracy": 0.82, "baseline_accuracy": 0.8, "difference": 0.02, "ci_low": 0.01,
                            "ci_high": 0.03, "b_only": 60, "a_only": 20, "p_value": 1e-6, "q_value": 1e-6, "n": 2000}
                           for lang in ("en", "de")])
    write_csv(out / "analysis" / "paired_tests.csv", paired)
    page = report.build(out, tiny_params(study="study", fusion_layers=[None, 1])).read_text()
    part = page[page.index("<h3>Each run against the plain baseline</h3>"):]
    part = part[:part.index("</table>")]
    assert "+0.020 [+0.010, +0.030]" in part and " *" not in part
    assert "not whether the variants do" in part
    # one fused layer and one seed: nothing is chosen, and the summary says the interval is no test of fusion
    assert "no layer is chosen" in page and "no test of fusion" in page
    # and states no power from the test examples' noise alone
    assert "smallest detectable effect is not estimable from one seed" in page


def test_the_report_says_once_why_no_ranking_can_be_scored(tmp_path):
    from dlfa.analysis.ranking import selection_ndcg
    cells = pd.DataFrame({"variant": "baseline", "kind": "syntactic", "metric": "cosine", "intermediate_language": "tr",
                          "language": ["de", "ja"], "gain": [0.01, 0.02], "distance": [0.4, 0.3]})
    (tmp_path / "analysis").mkdir()
    selection_ndcg(cells).to_csv(tmp_path / "analysis" / "selection_ndcg.csv", index=False)
    page = report.build(tmp_path, tiny_params()).read_text()
    text = page[page.index("<h3>How good is typology at choosing?</h3>"):]
    text = text[:text.index("<h", 5)]
    assert text.count("Not estimable") == 1
    assert "at most 1 intermediate language(s) with a syntactic distance were evaluated on each" in text


def test_a_control_reports_what_it_plants_not_the_smoke_corpus(tmp_path):
    from dlfa.config.profiles import load
    from dlfa.orchestration.validation import CONTROLS
    from dlfa.paths import ROOT

    def note(params):  # the report's note on what the numbers are evidence of
        page = report.build(tmp_path / params.study, params).read_text()
        start = page.index('<div class="note">')
        return page[start:page.index("</div>", start) + 6]
    positive, null = (load(ROOT / f) for f in CONTROLS.values())
    text = note(positive)
    assert text.startswith('<div class="note"><b>Planted control.</b>') and "Smoke profile" not in text
    assert "keeps English word order and spells 10% of its words as English does" in text
    assert "exp(-3.5 d) of their syntactic cosine distance d (a positive control)" in text
    assert "In 50% of the intermediate task's rows the premise is in English." in text
    assert "<b>Null control.</b>" in note(null) and "random permutation" in note(null)
    assert "<b>Smoke profile.</b>" in note(load(ROOT / "params/smoke.yaml"))
