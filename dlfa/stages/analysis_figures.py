"""The analysis stage's figures, each drawn from the table it shows (``analysis/figures/*.png``)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from dlfa import analysis
from dlfa.analysis.results import PUBLISHED


def accuracy_by_language(accuracy: pd.DataFrame, task_title: str):
    """Test accuracy per setting and language with its 95% interval."""
    languages = list(dict.fromkeys(accuracy.language))
    settings = list(dict.fromkeys(accuracy.setting))
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(settings)
    for i, setting in enumerate(settings):
        a = accuracy[accuracy.setting == setting].set_index("language").loc[languages]
        x = np.arange(len(languages)) + i * width
        ax.bar(x, a.accuracy, width, label=setting, yerr=[a.accuracy - a.ci_low, a.ci_high - a.accuracy], capsize=2)
    ax.set_xticks(np.arange(len(languages)) + 0.4 - width / 2, languages)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    intervals = "; ".join(sorted(set(accuracy.interval)))
    ax.set(ylabel="test accuracy", ylim=(0, 1),
           title=f"{task_title} test accuracy (en-dev selection); 95% intervals: {intervals}")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8, ncol=2)
    return fig


def fusion_effect(fusion: pd.DataFrame):
    """DLFA gain by fused layer, one panel per language scope, the layer chosen on English dev circled."""
    scopes = list(dict.fromkeys(fusion.languages))
    fig, axes = plt.subplots(1, len(scopes), figsize=(5.5 * len(scopes), 3.8), sharey=True, squeeze=False)
    for ax, scope in zip(axes[0], scopes):
        rows = fusion[(fusion.languages == scope) & fusion.estimate.notna()]
        settings = list(dict.fromkeys(rows.intermediate_language.fillna("none")))
        for i, setting in enumerate(settings):
            g = rows[rows.intermediate_language.fillna("none") == setting]
            x = g.fusion_layer.astype(float) + 0.12 * (i - (len(settings) - 1) / 2)
            ax.errorbar(x, 100 * g.estimate, yerr=[100 * (g.estimate - g.ci_low), 100 * (g.ci_high - g.estimate)],
                        marker="o", capsize=3, label=f"intermediate: {setting}")
            chosen = g.chosen_on_dev.to_numpy()
            ax.scatter(x[chosen], 100 * g.estimate[chosen], s=150, facecolors="none", edgecolors="black", zorder=5)
        layers = sorted(rows.fusion_layer.unique())
        ax.set_xticks(layers)
        ax.set_xlim(min(layers) - 0.6, max(layers) + 0.6)
        ax.axhline(0, color="grey", lw=0.8, ls=":")
        ax.set(xlabel="fused layer", title=f"{scope} languages")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("gain over the baseline (points)")
    fig.suptitle("DLFA gain by layer, 95% intervals over " + "; ".join(sorted(set(fusion.interval.dropna())))
                 + " (circled: chosen on English dev)", fontsize=9)
    fig.tight_layout()
    return fig


def layer_sweep(sweep: pd.DataFrame, published_task: str | None):
    """Accuracy by fused layer and language, and the average by layer beside the published
    references of ``published_task`` (None: no reference, the encoder is not mBERT)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.45 * len(sweep) + 2), width_ratios=[3, 2])
    sns.heatmap(sweep * 100, annot=True, fmt=".1f", cmap="viridis", cbar=False, ax=ax1)
    ax1.set(xlabel="language", ylabel="fused layer", title="test accuracy (%), en-dev selection")
    x = np.arange(len(sweep))
    ax2.plot(x, sweep["avg"] * 100, marker="o", label="this study")
    if published_task is not None:
        published = PUBLISHED[published_task]
        ax2.plot(x, [published.dlfa_baseline if k == "baseline" else published.dlfa_layers.get(int(k), np.nan)
                     for k in sweep.index], marker="s", ls="--", label="DLFA paper")
        ax2.axhline(published.xtreme_average, color="grey", ls=":", label="XTREME mBERT")
    ax2.set_xticks(x, sweep.index)
    ax2.set(xlabel="fused layer", ylabel="average accuracy over languages (%)", title="average by layer")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plain_similarity(similarity: pd.DataFrame) -> pd.DataFrame:
    """The plain baseline's rows (no fusion, no intermediate task), or every row if it has none."""
    plain = similarity[(similarity.variant == "baseline") & similarity.intermediate_language.isna()]
    return plain if len(plain) else similarity


def layer_similarity(similarity: pd.DataFrame):
    """Cosine similarity to English by layer, before and after fine-tuning."""
    plain = plain_similarity(similarity)
    fig, ax = plt.subplots(figsize=(7.5, 4))
    sns.lineplot(data=plain, x="layer", y="similarity", hue="language", style="model", markers=True,
                 errorbar=None, ax=ax)
    ax.set_xticks(sorted(plain.layer.unique()))
    ax.set(xlabel="layer (0: embeddings)", ylabel="cosine similarity to English (centred)",
           title="How language-neutral is each layer? (parallel dev pairs)")
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    return fig


def typology_gain(own: pd.DataFrame, typology: pd.DataFrame, kind: str, metric: str):
    """Each cell's gain against its distance: raw, and double-centred with the fitted slope (or why
    the slope cannot be drawn)."""
    own = own.copy()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    sns.scatterplot(data=own, x="distance", y="gain", hue="language", style="intermediate_language", ax=axes[0], s=40)
    axes[0].axhline(0, color="grey", lw=0.8, ls=":")
    axes[0].set(title=f"cell gain vs {kind} distance (raw)", xlabel=f"{kind} {metric} distance",
                ylabel="gain (accuracy)")
    axes[0].legend(fontsize=7, ncol=2)
    rows = typology[(typology.kind == kind) & (typology.metric == metric) & (typology.variant != analysis.ALL)]
    if rows.estimate.notna().any():
        for column in ("gain", "distance"):
            own[f"{column}_centred"] = (own[column]
                                        - own.groupby(["variant", "intermediate_language"])[column].transform("mean")
                                        - own.groupby(["variant", "language"])[column].transform("mean")
                                        + own.groupby("variant")[column].transform("mean"))
        sns.scatterplot(data=own, x="distance_centred", y="gain_centred", hue="variant", ax=axes[1], s=40)
        for row in rows.dropna(subset=["estimate"]).itertuples():
            g = own[own.variant == row.variant]
            xs = np.linspace(g.distance_centred.min(), g.distance_centred.max(), 2)
            axes[1].plot(xs, row.estimate * xs, lw=1, label=f"{row.variant}: slope {row.estimate:+.3f}")
        axes[1].axhline(0, color="grey", lw=0.8, ls=":")
        axes[1].set(title="the same, the languages' own effects removed",
                    xlabel=f"{kind} distance (double-centred)", ylabel="gain (double-centred)")
        axes[1].legend(fontsize=7)
    else:
        axes[1].axis("off")
        axes[1].text(0.02, 0.5, "\n".join(textwrap.wrap(rows.note.iloc[0], 60)), fontsize=10,
                     va="center", transform=axes[1].transAxes)
    fig.tight_layout()
    return fig


def selection_protocols(protocols: pd.DataFrame):
    """Test accuracy under en-dev selection against the oracle's, per run and language."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    sns.scatterplot(data=protocols, x="en-dev", y="oracle", hue="language", ax=ax)
    lims = [min(protocols["en-dev"].min(), protocols["oracle"].min()) - 0.02, 1.0]
    ax.plot(lims, lims, color="grey", lw=0.8, ls=":")
    ax.set(xlim=lims, ylim=lims, title="test accuracy: en-dev vs oracle selection")
    return fig
