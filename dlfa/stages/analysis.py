"""Stage 04, analysis: every run's metrics into ``results.csv``, the two questions, the replication
checks, the collapse rates and the one-sentence answers, written under ``analysis/``.

``run(params, layout)`` computes and writes everything and returns it (``AnalysisStage``); notebook
04 calls it and shows the tables and figures. The methods are in ``dlfa.analysis`` and
docs/statistics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dlfa import analysis
from dlfa.analysis import ranking, replication, summary
from dlfa.analysis.results import is_mbert, published_difference, results_table
from dlfa.config.params import Params
from dlfa.config.runs import study_runs
from dlfa.io import write_csv, write_figure, write_json
from dlfa.layout import StudyLayout
from dlfa.stages import analysis_figures as figures
from dlfa.training.similarity import similarity_table


@dataclass
class AnalysisStage:
    """What the analysis stage computed; every table is also written (``layout.table(name)``)."""

    metrics: list[dict]
    failed: list[dict]
    missing: list[str]
    results: pd.DataFrame
    collapsed: list[str]
    learnt: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def learnt_table(metrics: list[dict]) -> pd.DataFrame:
    """Per run: English dev accuracy at its checkpoint, the majority share, the one-class share of
    its predictions and whether it collapsed."""
    return pd.DataFrame([{"run": m["run_id"], "en dev accuracy": m["collapse"]["accuracy"],
                          "majority share": m["collapse"]["majority_share"],
                          "one-class share of predictions": m["collapse"]["predicted_one_class_share"],
                          "collapsed": m["collapse"]["collapsed"]} for m in metrics if m.get("collapse")])


def layer_sweep(results: pd.DataFrame, languages: list[str]) -> pd.DataFrame:
    """Test accuracy by fused layer (no intermediate task, en-dev, collapsed runs left out, seeds
    averaged), one column per language and their average; index ``layer``."""
    test = results[(results.split == "test") & (results.selection == "en-dev") & ~results.collapsed]
    sweep = test[test.intermediate_language.isna()].copy()
    sweep["layer"] = sweep["fusion_layer"].map(lambda k: "baseline" if pd.isna(k) else f"{int(k)}")
    order = ["baseline"] + [f"{k}" for k in sorted(sweep.fusion_layer.dropna().unique())]
    table = sweep.pivot_table(index="layer", columns="language", values="accuracy", aggfunc="mean").reindex(order)
    table = table[[c for c in languages if c in table]]
    table["avg"] = table.mean(axis=1)
    return table


def typology_cells(results: pd.DataFrame, distances: pd.DataFrame) -> pd.DataFrame:
    """Each (variant, intermediate language, target) cell's gain, seeds averaged, beside its
    distances; ``same_language`` marks an intermediate task in the target's own language."""
    gains, _ = analysis.seed_gains(results)
    cells = analysis.cell_gains(gains).merge(distances, left_on=["intermediate_language", "language"],
                                             right_on=["lang_a", "lang_b"]).drop(columns=["lang_a", "lang_b"])
    cells["same_language"] = cells.intermediate_language == cells.language
    return cells


def run(params: Params, layout: StudyLayout) -> AnalysisStage:
    """Read the grid's finished runs and ``typology/distances.csv``; write ``results.csv``, the
    analysis tables, ``summary.json`` and the figures. FileNotFoundError if no run is complete."""
    kind, metric = params.typology_kind, params.distance_metric
    out = layout.root
    metrics, failed, missing = study_runs(out, params)  # the runs of this study's grid only
    if not metrics:
        raise FileNotFoundError(f"no complete run under {layout.runs}: run 03_train first (dlfa run PARAMS.yaml)")
    results = results_table(metrics)
    write_csv(layout.results_csv, results)
    collapsed = analysis.collapsed_runs(results)
    stage = AnalysisStage(metrics, failed, missing, results, collapsed, learnt_table(metrics))
    tables = stage.tables

    def keep(name: str, table: pd.DataFrame) -> pd.DataFrame:
        tables[name] = table
        write_csv(layout.table(name), table)
        return table

    def draw(name: str, fig) -> None:
        stage.figures[name] = write_figure(fig, layout.figure(name))

    accuracy = keep("accuracy", analysis.accuracy_table(results, out))
    draw("accuracy_by_language", figures.accuracy_by_language(accuracy, params.target.title))
    keep("paired_tests", analysis.paired_tests(out, results))

    fusion = keep("fusion_effect", analysis.fusion_effect(results, out, confirmatory_layer=params.confirmatory_layer))
    if fusion.estimate.notna().any():
        draw("fusion_effect", figures.fusion_effect(fusion))
    choice = keep("fusion_choice", analysis.fusion_choice(results, out))

    sweep = layer_sweep(results, params.languages)
    keep("layer_sweep", sweep.reset_index())
    mbert = is_mbert(params.model)  # the published numbers are mBERT-base's
    draw("layer_sweep", figures.layer_sweep(sweep, params.target_task if mbert else None))
    if mbert:  # this study minus the published numbers, in points
        keep("published_difference", published_difference(sweep, params.target_task))

    similarity = keep("layer_similarity", similarity_table(metrics))
    if len(similarity):
        draw("layer_similarity", figures.layer_similarity(similarity))

    distances = pd.read_csv(layout.distances_csv)
    cells = keep("typology_cells", typology_cells(results, distances))
    typology = keep("typology_effect", analysis.typology_effect(results, distances, out, primary=(kind, metric)))
    own = cells[(cells.variant != analysis.ALL) & (cells.kind == kind) & (cells.metric == metric)
                & ~cells.same_language]  # the slope's cells
    if len(own):
        draw("typology_gain", figures.typology_gain(own, typology, kind, metric))
    keep("selection_ndcg", ranking.selection_ndcg(cells[~cells.same_language]))  # never a target's own language
    keep("replication_distance", replication.distance_to_source(results, distances))
    keep("replication_source", replication.source_language(results, out))

    keep("collapse_rates", analysis.collapse_rates(results))
    primary = analysis.primary_rows(typology, fusion)
    if collapsed:  # the sensitivity analysis: every effect again, collapsed runs at their measured accuracy
        typology_counted = keep("typology_effect_counted", analysis.typology_effect(
            results, distances, out, primary=(kind, metric), collapsed="include"))
        fusion_counted = keep("fusion_effect_counted", analysis.fusion_effect(
            results, out, confirmatory_layer=params.confirmatory_layer, collapsed="include"))
        primary = pd.concat([primary, analysis.primary_rows(typology_counted, fusion_counted)], ignore_index=True)
    keep("primary", primary)

    answers = {"typology": summary.typology_sentence(typology, kind, metric),
               "fusion": summary.fusion_sentence(fusion, choice=choice, confirmatory_layer=params.confirmatory_layer),
               "collapse": summary.collapse_sentence(collapsed, len(metrics)), "collapsed_runs": collapsed,
               "runs": len(metrics)}
    if collapsed:  # a collapsed reference leaves no gain otherwise
        answers["typology_counted"] = summary.typology_sentence(tables["typology_effect_counted"], kind, metric)
        answers["fusion_counted"] = summary.fusion_sentence(tables["fusion_effect_counted"],
                                                            confirmatory_layer=params.confirmatory_layer)
    write_json(layout.summary_json, answers)
    stage.answers = answers

    protocols = results[results.split == "test"].pivot_table(index=["run_id", "language"], columns="selection",
                                                             values="accuracy").reset_index()
    tables["protocols"] = protocols
    draw("selection_protocols", figures.selection_protocols(protocols))
    return stage
