"""Stage 02, typology: URIEL distances between the study's and the candidate languages, the choice
of intermediate languages per target, and how far lang2vec and URIEL+ agree.

``run(params, layout)`` writes ``typology/distances.csv``, ``selection.csv``,
``source_agreement.csv`` and the figures, and returns ``TypologyStage``; notebook 02 shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dlfa.config.params import Params
from dlfa.io import write_csv, write_figure
from dlfa.layout import StudyLayout
from dlfa.stages import typology_figures as figures
from dlfa.typology import distances as typology
from dlfa.typology.language_choice import choice_table, chosen


@dataclass
class TypologyStage:
    """What the typology stage computed and wrote."""

    kinds: list[str]
    candidates: list[str]
    distances: pd.DataFrame
    selection: pd.DataFrame | None
    agreement: pd.DataFrame
    ties: pd.DataFrame | None = None
    figures: dict[str, Path] = field(default_factory=dict)

    @property
    def chosen(self) -> list[str]:
        """The intermediate languages the study trains."""
        return [] if self.selection is None else chosen(self.selection)


def tied_candidates(params: Params, candidates: list[str], kinds: list[str]) -> pd.DataFrame:
    """Per kind (rows) and target (columns): how many candidates share their distance to the target
    with another candidate, so that candidate order, not typology, ranks them."""
    return pd.DataFrame({kind: {t: int(typology.distance_matrix(kind, candidates, metric=params.distance_metric,
                                                                 columns=[t], source=params.typology_source)[t]
                                       .drop(t, errors="ignore").dropna().round(12).duplicated(keep=False).sum())
                                for t in params.targets} for kind in kinds}).T.rename_axis("kind")


def run(params: Params, layout: StudyLayout) -> TypologyStage:
    """Distances, the choice of intermediate languages and the sources' agreement, written."""
    source = params.typology_source
    kinds = typology.source_kinds(source)
    candidates = list(params.candidate_languages) if params.intermediate_task else []
    languages = list(dict.fromkeys(list(params.languages) + candidates))
    distances = typology.distance_table(languages, languages, kinds=kinds, metric=params.distance_metric,
                                        source=source)
    write_csv(layout.distances_csv, distances)
    stage = TypologyStage(kinds, candidates, distances, None, pd.DataFrame())
    if candidates:
        stage.figures["distances"] = write_figure(figures.distances(params, candidates, kinds),
                                                  layout.figure("distances", "typology"))
        stage.ties = tied_candidates(params, candidates, kinds)
        stage.figures["kind_agreement"] = write_figure(figures.kind_agreement(distances, candidates, params.languages),
                                                       layout.figure("kind_agreement", "typology"))
        stage.selection = choice_table(params, candidates)
        write_csv(layout.selection_csv, stage.selection)
        stage.figures["selection"] = write_figure(figures.selection(params, stage.selection),
                                                  layout.figure("selection", "typology"))
    stage.agreement = typology.source_agreement(metric=params.distance_metric)
    write_csv(layout.source_agreement_csv, stage.agreement)
    return stage
