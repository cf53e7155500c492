"""Every path a study reads or writes, named once: ``StudyLayout(outputs/<study>)``.

The stages write these products, ``dlfa.config.runs`` and the report read them; no product name is
spelled anywhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dlfa.paths import study_dir


@dataclass(frozen=True)
class RunLayout:
    """One run's folder, ``runs/<run_id>/``."""

    folder: Path

    @property
    def metrics(self) -> Path:
        return self.folder / "metrics.json"

    @property
    def predictions(self) -> Path:
        return self.folder / "predictions.npz"

    @property
    def config(self) -> Path:
        return self.folder / "config.json"

    @property
    def curve(self) -> Path:
        return self.folder / "curve.png"

    @property
    def log(self) -> Path:
        return self.folder / "log.txt"


@dataclass(frozen=True)
class StudyLayout:
    """The folder of one study and its products, stage by stage."""

    root: Path

    @classmethod
    def of(cls, study: str, outputs: str | os.PathLike | None = None) -> StudyLayout:
        """``outputs/<study>`` (or under ``outputs``, or ``$DLFA_OUTPUTS``)."""
        return cls(study_dir(study, outputs))

    # the study's own copy of its params
    @property
    def params_yaml(self) -> Path:
        return self.root / "params.yaml"

    # 01 data
    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def data_stats(self) -> Path:
        return self.data / "stats.csv"

    def tokenized(self, task: str, language: str, split: str) -> Path:
        return self.data / "tokenized" / task / language / split

    @property
    def data_figures(self) -> Path:
        return self.data / "figures"

    @property
    def tiny_model(self) -> Path:
        return self.root / "model"

    # 02 typology
    @property
    def typology(self) -> Path:
        return self.root / "typology"

    @property
    def distances_csv(self) -> Path:
        return self.typology / "distances.csv"

    @property
    def selection_csv(self) -> Path:
        return self.typology / "selection.csv"

    @property
    def source_agreement_csv(self) -> Path:
        return self.typology / "source_agreement.csv"

    @property
    def typology_figures(self) -> Path:
        return self.typology / "figures"

    # 03 train
    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run(self, run_id: str) -> RunLayout:
        return RunLayout(self.runs / run_id)

    def recorded_runs(self) -> list[RunLayout]:
        """Every run folder with a ``metrics.json``, by run id."""
        return [RunLayout(path.parent) for path in sorted(self.runs.glob("*/metrics.json"))]

    @property
    def similarity(self) -> Path:
        return self.root / "similarity"

    # 04 analysis
    @property
    def results_csv(self) -> Path:
        return self.root / "results.csv"

    @property
    def analysis(self) -> Path:
        return self.root / "analysis"

    def table(self, name: str) -> Path:
        """``analysis/<name>.csv``: one of the analysis stage's tables."""
        return self.analysis / f"{name}.csv"

    @property
    def summary_json(self) -> Path:
        return self.analysis / "summary.json"

    @property
    def analysis_figures(self) -> Path:
        return self.analysis / "figures"

    def figure(self, name: str, stage: str = "analysis") -> Path:
        """``<stage>/figures/<name>.png`` (stage: data, typology or analysis)."""
        folders = {"data": self.data_figures, "typology": self.typology_figures, "analysis": self.analysis_figures}
        return folders[stage] / f"{name}.png"

    # the report and the executed notebooks
    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def report_html(self) -> Path:
        return self.report / "index.html"
