"""The stages as functions, on small inputs: a finished study is written by hand (its typology
choice, every run's metrics.json and predictions.npz with planted accuracies), then the analysis
stage reads it and must write every product and recover what was planted."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_params
from dlfa.config.grid import grid
from dlfa.config.runs import run_config
from dlfa.layout import StudyLayout
from dlfa.stages import analysis as analysis_stage
from dlfa.typology.distances import distance_table

INTERMEDIATE = ["bg", "hi", "ru", "tr"]
N = 400  # test and dev examples per language
DLFA_GAIN = 0.03  # every fused run, every language, every seed
SLOPE = -0.20  # gain per unit of syntactic cosine distance


def _accuracy(params, distances, run, language) -> float:
    base = {"en": 0.80}.get(language, 0.60)
    if run.fusion_layer is not None:
        base += DLFA_GAIN
    if run.intermediate_language:
        d = distances.loc[(run.intermediate_language, language)] if language != "en" else 0.0
        base += 0.08 + SLOPE * d
    return round(base * N) / N  # a whole number of correct examples


def _write_study(root, params):
    """typology/{distances,selection}.csv and one finished run per grid point."""
    layout = StudyLayout(root)
    languages = list(params.languages)
    table = distance_table(sorted(set(languages + INTERMEDIATE)), sorted(set(languages + INTERMEDIATE)),
                           kinds=["syntactic"], metric="cosine")
    layout.typology.mkdir(parents=True)
    table.to_csv(layout.distances_csv, index=False)
    pd.DataFrame({"candidate": INTERMEDIATE, "target": "de", "selected": True}).to_csv(layout.selection_csv,
                                                                                        index=False)
    distances = table.set_index(["lang_a", "lang_b"]).distance
    rng = np.random.default_rng(0)
    for run in grid(params, INTERMEDIATE):
        folder = layout.run(run.run_id)
        folder.folder.mkdir(parents=True)
        accuracy = {lang: _accuracy(params, distances, run, lang) for lang in languages}
        arrays, chosen = {}, {}
        for lang, acc in accuracy.items():
            ids, gold = np.arange(N), (np.arange(N) % 2).astype(np.int8)
            right = np.zeros(N, bool)
            right[rng.choice(N, int(round(acc * N)), replace=False)] = True
            for split in ("dev", "test"):
                arrays[f"id__{lang}__{split}"], arrays[f"label__{lang}__{split}"] = ids, gold
                for protocol in ("en-dev", "oracle"):
                    arrays[f"{protocol}__{lang}__{split}"] = np.where(right, gold, 1 - gold).astype(np.int8)
            chosen[lang] = {"dev": float(right.mean()), "test": float(right.mean()), "step": 10}
        np.savez(folder.predictions, **arrays)
        metrics = {"run_id": run.run_id, "status": "complete", "config": run_config(params, run),
                   "selection": {"en-dev": chosen, "oracle": chosen},
                   "n": {lang: {"dev": N, "test": N} for lang in languages},
                   "collapse": {"collapsed": False, "accuracy": chosen["en"]["dev"], "majority_share": 0.5,
                                "predicted_one_class_share": 0.5}}
        folder.metrics.write_text(json.dumps(metrics))
    return layout


@pytest.fixture
def finished_study(tmp_path):
    params = tiny_params(fusion_layers=[None, 1], confirmatory_layer=1, seeds=[1, 2],
                         candidate_languages=INTERMEDIATE, intermediate_languages=INTERMEDIATE)
    return params, _write_study(tmp_path / "study", params)


def test_the_analysis_stage_writes_every_product_and_recovers_what_was_planted(finished_study):
    params, layout = finished_study
    stage = analysis_stage.run(params, layout)
    runs = len(grid(params, INTERMEDIATE))
    results = pd.read_csv(layout.results_csv)
    assert len(stage.metrics) == runs == 20 and len(results) == runs * len(params.languages) * 2 * 2
    for name in ("accuracy", "paired_tests", "fusion_effect", "fusion_choice", "layer_sweep", "layer_similarity",
                 "typology_cells", "typology_effect", "selection_ndcg", "replication_distance",
                 "replication_source", "collapse_rates", "primary"):
        assert layout.table(name).is_file(), name
        assert pd.read_csv(layout.table(name)).shape[0] == len(stage[name]), name
    assert not layout.table("typology_effect_counted").exists()  # nothing collapsed
    for name, path in stage.figures.items():
        assert path == layout.figure(name) and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"accuracy_by_language", "fusion_effect", "layer_sweep", "typology_gain"} <= set(stage.figures)

    fusion = stage["fusion_effect"].set_index("family")
    assert fusion.loc["primary", "estimate"] == pytest.approx(DLFA_GAIN, abs=1 / N)
    typology = stage["typology_effect"]
    primary = typology[typology.family == "primary"].iloc[0]
    assert primary.estimate == pytest.approx(SLOPE, abs=0.02) and primary.p_value < 0.05
    summary = json.loads(layout.summary_json.read_text())
    assert summary == stage.answers and summary["runs"] == 20 and summary["collapsed_runs"] == []
    assert summary["typology"].startswith("Typology (primary, syntactic cosine distance, baseline)")


def test_the_analysis_stage_refuses_a_study_without_finished_runs(tmp_path):
    params = tiny_params(fusion_layers=[None, 1], candidate_languages=INTERMEDIATE,
                         intermediate_languages=INTERMEDIATE)
    layout = StudyLayout(tmp_path / "empty")
    layout.typology.mkdir(parents=True)
    pd.DataFrame({"candidate": INTERMEDIATE, "target": "de", "selected": True}).to_csv(layout.selection_csv,
                                                                                        index=False)
    with pytest.raises(FileNotFoundError, match="no complete run"):
        analysis_stage.run(params, layout)


def test_the_typology_stage_chooses_what_the_plan_chooses_and_writes_its_products(tmp_path):
    from dlfa.config.runs import chosen_languages
    from dlfa.orchestration.plan import intermediate_languages
    from dlfa.stages import typology as typology_stage
    params = tiny_params(candidate_languages=["bg", "el", "hi", "ru", "tr", "ur", "vi"])
    layout = StudyLayout(tmp_path / "study")
    stage = typology_stage.run(params, layout)
    for path in (layout.distances_csv, layout.selection_csv, layout.source_agreement_csv):
        assert path.is_file()
    assert set(stage.figures) == {"distances", "kind_agreement", "selection"}
    # the nearest and the farthest candidate of each target, as the plan and the run grid read them
    expected = set()
    for target in params.targets:
        rows = stage.distances[(stage.distances.kind == "syntactic") & (stage.distances.lang_b == target)
                               & stage.distances.lang_a.isin(stage.candidates)].sort_values("distance")
        expected |= {rows.lang_a.iloc[0], rows.lang_a.iloc[-1]}
    assert set(stage.chosen) == expected
    assert stage.chosen == sorted(intermediate_languages(params)) == chosen_languages(layout.root, params)
    assert stage.ties.index.name == "kind" and list(stage.ties.columns) == list(params.targets)


def test_the_data_stage_writes_stats_and_figures_and_a_second_run_reads_the_cache(tmp_path):
    from dlfa.stages import data as data_stage
    params = tiny_params(train_size=200, eval_size=40, intermediate_train_size=100,
                         candidate_languages=["tr"], intermediate_languages=["tr"])
    layout = StudyLayout(tmp_path / "study")
    first = data_stage.run(params, layout)
    assert first.reused == 0 and len(first.corpora) == len(first.tokenized)
    stats = pd.read_csv(layout.data_stats)
    assert len(stats) == len(first.corpora)
    train = stats[(stats.corpus == "pawsx") & (stats.split == "train")].iloc[0]
    assert train.language == "en" and train.rows == 200
    assert set(stats[stats.split != "train"].rows) == {40}
    assert (layout.tiny_model / "tokenizer.json").is_file() or any(layout.tiny_model.iterdir())
    for path in first.figures.values():
        assert path.read_bytes()[:4] == b"\x89PNG"
    second = data_stage.run(params, layout)
    assert second.reused == len(second.corpora)
    assert pd.read_csv(layout.data_stats).equals(stats)
