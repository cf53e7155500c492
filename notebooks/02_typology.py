# %% [markdown]
# # 02 · Typology
#
# **What it does.** Computes six URIEL distances (syntactic, phonological, inventory, featural,
# genetic, geographic) between every PAWS-X language and every candidate language of the
# intermediate task, then chooses the intermediate-task languages so that they cover the similarity
# range for the targets.
#
# Distances are recomputed from lang2vec's packaged URIEL vectors (lang2vec's PyPI release has no
# `distance()` and does not ship URIEL's precomputed matrix): they are **not** identical to that
# unreleased matrix.
#
# **Reads.** The params. **Writes** `typology/distances.csv` (kind, metric, lang_a, lang_b,
# distance), `typology/selection.csv` (every candidate x target pair, the chosen ones with the
# reason), `typology/figures/*.png`.

# %% tags=["parameters"]
study = "smoke"
outputs_dir = None
targets = ["de", "es", "fr", "ja", "ko", "zh"]
intermediate_task = "xnli"
candidate_languages = ["de", "fr", "hi", "ru", "tr", "vi"]
intermediate_languages = "typology"
typology_kind = "syntactic"
selection_strategy = "extremes"
selection_budget = 1
distance_metric = "cosine"

# %%
import matplotlib.pyplot as plt
import seaborn as sns

from dlfa import typology
from dlfa.io import save_figure, write_csv
from dlfa.paths import study_dir as find_study
from dlfa.pipeline import notebook_params

P = notebook_params("02_typology", globals())
out = find_study(study, outputs_dir)
languages = ["en"] + P["targets"]
candidates = P["candidate_languages"] if P["intermediate_task"] else []

# %% [markdown]
# ## Distances
# Each row of `distances.csv` is one (kind, PAWS-X language, candidate language) distance in [0, 1].

# %%
rows_langs = list(dict.fromkeys(languages + candidates))
distances = typology.distance_table(rows_langs, rows_langs, metric=P["distance_metric"])
write_csv(out / "typology" / "distances.csv", distances)
distances.pivot_table(index=["lang_a"], columns="kind", values="distance", aggfunc="mean").round(3)

# %%
if candidates:
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True, sharey=True)
    for ax, kind in zip(axes.flat, typology.KINDS):
        matrix = typology.distance_matrix(kind, candidates, metric=P["distance_metric"], columns=languages)
        sns.heatmap(matrix, ax=ax, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f", cbar=False,
                    annot_kws={"size": 7})
        ax.set_title(kind)
        ax.set_xlabel("PAWS-X language")
        ax.set_ylabel(f"{P['intermediate_task']} candidate")
    fig.suptitle(f"URIEL {P['distance_metric']} distance, candidates x PAWS-X languages")
    fig.tight_layout()
    save_figure(fig, out / "typology" / "figures" / "distances.png")
    plt.show()

# %% [markdown]
# ## How much do the kinds agree?
# Spearman correlation between kinds over all (candidate, PAWS-X language) pairs: if they agree,
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
# languages are trained (those chosen for the most targets first).

# %%
if candidates:
    selection = typology.select_languages(P["targets"], candidates, kind=P["typology_kind"],
                                          strategy=P["selection_strategy"], budget=P["selection_budget"],
                                          metric=P["distance_metric"])
    if P["intermediate_languages"] != "typology":  # chosen by hand in the params
        chosen = set(P["intermediate_languages"])
        selection["selected"] = selection["candidate"].isin(chosen)
        selection["reason"] = selection["selected"].map({True: "given in params", False: ""})
    write_csv(out / "typology" / "selection.csv", selection)
    chosen = sorted(selection.loc[selection.selected, "candidate"].unique())
    print("intermediate languages:", chosen)
    display(selection[selection.selected])
