# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Typology
#
# **What it does.** Computes URIEL distances (lang2vec: syntactic, phonological, inventory,
# featural, genetic, geographic; URIEL+ adds morphological and script) between every target-task
# language and every candidate language of the intermediate task, then chooses the
# intermediate-task languages so that they cover the similarity range for the targets, and
# compares the two sources.
#
# `typology_source: lang2vec` (the default) recomputes distances from lang2vec's packaged URIEL
# vectors, k-NN imputed (lang2vec's PyPI release has no `distance()` and does not ship URIEL's
# precomputed matrix: they are **not** identical to that unreleased matrix); `urielplus` takes
# URIEL+'s observed values, each pair over the features both languages have, with URIEL+'s
# confidence in each distance.
#
# **Reads.** The params. **Writes** `typology/distances.csv` (kind, metric, lang_a, lang_b,
# distance; URIEL+: source_agreement and coverage too), `typology/selection.csv` (every candidate x
# target pair, the chosen ones with the reason), `typology/source_agreement.csv` (lang2vec against
# URIEL+, per kind), `typology/figures/distances.png`, `kind_agreement.png` and `selection.png`.

# %% tags=["parameters"]
params_file = "params/smoke.yaml"  # the study's params (dlfa run passes its copy, outputs/<study>/params.yaml)
outputs_dir = None  # where study folders live (None: outputs/, or $DLFA_OUTPUTS)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

from dlfa import typology
from dlfa.io import save_figure, write_csv
from dlfa.params import load
from dlfa.paths import study_dir

params = load(params_file)
out = study_dir(params.study, outputs_dir)
languages = params.languages
candidates = list(params.candidate_languages) if params.intermediate_task else []

# %% [markdown]
# ## Distances
# Each row of `distances.csv` is one (kind, metric, language, language) distance in [0, 1], for every
# pair among the study's and candidate languages (URIEL+: empty where a pair shares no feature with a
# value, and its confidence beside each distance). Below, each language's mean distance to the others.

# %%
source = params.typology_source
kinds = typology.source_kinds(source)
rows_langs = list(dict.fromkeys(languages + candidates))
distances = typology.distance_table(rows_langs, rows_langs, kinds=kinds, metric=params.distance_metric, source=source)
missing = distances[distances.distance.isna()].groupby("kind").size()
if len(missing):
    print(f"{source} has no distance for some pairs (no shared feature with a value):", missing.to_dict())
write_csv(out / "typology" / "distances.csv", distances)
distances.pivot_table(index=["lang_a"], columns="kind", values="distance", aggfunc="mean").round(3)

# %% [markdown]
# Candidates (rows) against the study's languages (columns), one panel per kind. Colour is scaled per
# kind (0 to that kind's largest distance): the kinds spread differently over [0, 1] (geographic
# cosine distances stay below about 0.2), and the selection only uses the order within a kind.

# %%
if candidates:
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
    save_figure(fig, out / "typology" / "figures" / "distances.png")
    plt.show()

# %% [markdown]
# Where many candidates sit at exactly the same distance from a target, "nearest" and "farthest"
# are decided by the order of the candidates, not by typology. Genetic distance does this for any
# target unrelated to every candidate (1.0 for all). The count below is, per kind and target, how
# many candidates share their distance with another.

# %%
if candidates:
    tied = pd.DataFrame({kind: {t: int(typology.distance_matrix(kind, candidates, metric=params.distance_metric,
                                                                 columns=[t], source=source)[t]
                                       .drop(t, errors="ignore").dropna().round(12).duplicated(keep=False).sum())
                                for t in params.targets} for kind in kinds})
    display(tied.T.rename_axis("kind").rename_axis("target", axis=1))

# %% [markdown]
# ## How much do the kinds agree?
# Spearman correlation between kinds over all (candidate, study language) pairs: if they agree,
# the choice of kind matters little for the selection below.

# %%
if candidates:
    pairs = distances[distances.lang_a.isin(candidates) & distances.lang_b.isin(languages)
                      & (distances.lang_a != distances.lang_b)]
    wide = pairs.pivot_table(index=["lang_a", "lang_b"], columns="kind", values="distance")
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.heatmap(wide.corr(method="spearman"), vmin=-1, vmax=1, cmap="coolwarm", annot=True, fmt=".2f", ax=ax)
    ax.set_title("Agreement between distance kinds (Spearman)")
    save_figure(fig, out / "typology" / "figures" / "kind_agreement.png")
    plt.show()

# %% [markdown]
# ## Selection of intermediate-task languages
# Strategy `extremes` takes the nearest and the farthest candidate per target, `quantiles` the
# nearest, median and farthest, `all` every candidate; `selection_budget` caps how many distinct
# languages are trained (those chosen for the most targets first, then the most extreme). A
# candidate is never chosen for itself as a target. Every (candidate, target) pair, its distance
# under every kind, its rank under the chosen kind, its ties and the reason it was chosen go to
# `typology/selection.csv`.

# %%
if candidates:
    selection = typology.select_languages(params.targets, candidates, kind=params.typology_kind,
                                          strategy=params.selection_strategy, budget=params.selection_budget,
                                          metric=params.distance_metric, source=source)
    if params.intermediate_languages != "typology":  # chosen by hand in the params
        chosen = set(params.intermediate_languages)
        selection["selected"] = selection["candidate"].isin(chosen)
        selection["reason"] = selection["selected"].map({True: "given in params", False: ""})
    write_csv(out / "typology" / "selection.csv", selection)
    chosen = sorted(selection.loc[selection.selected, "candidate"].unique())
    print(f"intermediate languages ({params.typology_kind}, {params.selection_strategy}, "
          f"budget {params.selection_budget}):", chosen)
    with pd.option_context("display.max_colwidth", None):
        display(selection[selection.selected].groupby("candidate")["reason"].agg("; ".join).to_frame("chosen because"))

# %% [markdown]
# Each target's candidates along the chosen kind's distance; the chosen ones are filled and named
# in bold. Good coverage means chosen languages both near and far for each target.

# %%
if candidates:
    column = f"distance_{params.typology_kind}"
    eligible = selection[selection["rank"].notna()]
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
    save_figure(fig, out / "typology" / "figures" / "selection.png")
    plt.show()

# %% [markdown]
# ## lang2vec against URIEL+
# The two sources rank language pairs alike or not: per kind they share, the Spearman correlation
# of their distances over every pair of the 15 XNLI languages x the 7 PAWS-X languages (English
# and Chinese pairs with themselves left out), in this study's metric. lang2vec's syntactic,
# phonological and inventory vectors are k-NN predictions for every feature, URIEL+'s the observed
# values only, each pair over the features both have; genetic and geographic data are the same
# URIEL data in both, so they should agree closely. The values cannot be compared across sources,
# only their order.

# %%
agreement = typology.source_agreement(metric=params.distance_metric)
write_csv(out / "typology" / "source_agreement.csv", agreement)
agreement.set_index("kind").round(3)
