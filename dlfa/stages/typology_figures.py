"""The typology stage's figures: distances per kind, agreement between kinds, the choice."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from dlfa.config.params import Params
from dlfa.typology import distances as typology


def distances(params: Params, candidates: list[str], kinds: list[str]):
    """Candidates x the study's languages, one panel per kind, colour scaled per kind."""
    source, languages = params.typology_source, list(params.languages)
    fig, axes = plt.subplots(2, len(kinds) // 2, figsize=(4.4 * len(kinds) // 2, 7), sharex=True, sharey=True)
    for ax, kind in zip(axes.flat, kinds):
        matrix = typology.distance_matrix(kind, candidates, metric=params.distance_metric, columns=languages,
                                          source=source)
        top = float(np.nanmax(matrix.to_numpy(), initial=0.0))
        sns.heatmap(matrix, ax=ax, vmin=0, vmax=max(top, 1e-9), cmap="viridis", annot=True,
                    fmt=".2f", cbar=False, annot_kws={"size": 7})
        ax.set_title(f"{kind} (max {top:.2f})" if matrix.notna().any(axis=None) else f"{kind}: no data")
        ax.set_xlabel(f"{params.target.title} language")
        ax.set_ylabel(f"{params.intermediate_task} candidate")
    fig.suptitle(f"URIEL ({source}) {params.distance_metric} distance, candidates x {params.target.title} languages "
                 "(colour scaled per kind)")
    fig.tight_layout()
    return fig


def kind_agreement(table: pd.DataFrame, candidates: list[str], languages) -> plt.Figure:
    """Spearman correlation between kinds over every (candidate, study language) pair."""
    pairs = table[table.lang_a.isin(candidates) & table.lang_b.isin(languages) & (table.lang_a != table.lang_b)]
    wide = pairs.pivot_table(index=["lang_a", "lang_b"], columns="kind", values="distance")
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.heatmap(wide.corr(method="spearman"), vmin=-1, vmax=1, cmap="coolwarm", annot=True, fmt=".2f", ax=ax)
    ax.set_title("Agreement between distance kinds (Spearman)")
    return fig


def selection(params: Params, chosen: pd.DataFrame):
    """Each target's candidates along the chosen kind's distance; the chosen ones filled and named in bold."""
    column = f"distance_{params.typology_kind}"
    eligible = chosen[chosen["rank"].notna()]
    fig, ax = plt.subplots(figsize=(11, 0.7 * len(params.targets) + 1.2))
    for y, target in enumerate(params.targets):
        rows = eligible[eligible.target == target]
        for chosen_here, style in ((False, {"facecolors": "none", "edgecolors": "0.5"}),
                                   (True, {"color": "tab:red"})):
            part = rows[rows.selected == chosen_here]
            ax.scatter(part[column], [y] * len(part), s=40, zorder=3, **style)
        for _, row in rows.iterrows():
            ax.annotate(row.candidate, (row[column], y), xytext=(0, 7 if row["rank"] % 2 else -12),
                        textcoords="offset points", ha="center", fontsize=7,
                        fontweight="bold" if row.selected else "normal", color="tab:red" if row.selected else "0.35")
    ax.set_yticks(range(len(params.targets)), params.targets)
    ax.set_ylim(len(params.targets) - 0.4, -0.6)
    ax.set_xlabel(f"{params.typology_kind} {params.distance_metric} distance to the target")
    ax.set_ylabel("target")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"Chosen intermediate languages ({params.selection_strategy}, budget {params.selection_budget or 'none'})")
    return fig
