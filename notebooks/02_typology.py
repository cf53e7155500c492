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
import pandas as pd
from IPython.display import Image, display

from dlfa.layout import StudyLayout
from dlfa.config.profiles import load
from dlfa.stages import typology as typology_stage

params = load(params_file)
layout = StudyLayout.of(params.study, outputs_dir)
stage = typology_stage.run(params, layout)  # computes and writes every product below


def show(name):
    if name in stage.figures:
        display(Image(filename=str(stage.figures[name])))


# %% [markdown]
# ## Distances
# Each row of `distances.csv` is one (kind, metric, language, language) distance in [0, 1], for every
# pair among the study's and candidate languages (URIEL+: empty where a pair shares no feature with a
# value, and its confidence beside each distance). Below, each language's mean distance to the others.

# %%
missing = stage.distances[stage.distances.distance.isna()].groupby("kind").size()
if len(missing):
    print(f"{params.typology_source} has no distance for some pairs (no shared feature with a value):",
          missing.to_dict())
stage.distances.pivot_table(index=["lang_a"], columns="kind", values="distance", aggfunc="mean").round(3)

# %% [markdown]
# Candidates (rows) against the study's languages (columns), one panel per kind. Colour is scaled per
# kind (0 to that kind's largest distance): the kinds spread differently over [0, 1] (geographic
# cosine distances stay below about 0.2), and the selection only uses the order within a kind.

# %%
show("distances")

# %% [markdown]
# Where many candidates sit at exactly the same distance from a target, "nearest" and "farthest"
# are decided by the order of the candidates, not by typology. Genetic distance does this for any
# target unrelated to every candidate (1.0 for all). The count below is, per kind and target, how
# many candidates share their distance with another.

# %%
stage.ties.rename_axis("target", axis=1) if stage.ties is not None else None

# %% [markdown]
# ## How much do the kinds agree?
# Spearman correlation between kinds over all (candidate, study language) pairs: if they agree,
# the choice of kind matters little for the selection below.

# %%
show("kind_agreement")

# %% [markdown]
# ## Selection of intermediate-task languages
# Strategy `extremes` takes the nearest and the farthest candidate per target, `quantiles` the
# nearest, median and farthest, `all` every candidate; `selection_budget` caps how many distinct
# languages are trained (those chosen for the most targets first, then the most extreme). A
# candidate is never chosen for itself as a target. Every (candidate, target) pair, its distance
# under every kind, its rank under the chosen kind, its ties and the reason it was chosen go to
# `typology/selection.csv`.

# %%
if stage.selection is not None:
    print(f"intermediate languages ({params.typology_kind}, {params.selection_strategy}, "
          f"budget {params.selection_budget}):", stage.chosen)
    with pd.option_context("display.max_colwidth", None):
        display(stage.selection[stage.selection.selected].groupby("candidate")["reason"].agg("; ".join)
                .to_frame("chosen because"))

# %% [markdown]
# Each target's candidates along the chosen kind's distance; the chosen ones are filled and named
# in bold. Good coverage means chosen languages both near and far for each target.

# %%
show("selection")

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
stage.agreement.set_index("kind").round(3)
