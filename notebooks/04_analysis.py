# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Analysis
#
# **What it does.** Gathers every run's metrics into one tidy table and answers the study's two
# questions with `dlfa.analysis` (its methods are in `docs/statistics.md`):
#
# 1. **Typology.** Does an intermediate task help more when its language is typologically closer
#    to the target? The unit is the (intermediate language, target) cell, seeds averaged; each
#    language's and each target's own effect is removed before the gain is related to distance,
#    and same-language cells (es -> es) are left out of the slope and contrasted on their own.
# 2. **DLFA.** Does fusing layer k add accuracy over the plain model of the same seed? With an
#    interval for both the training seed and the finite test set; the layer a researcher would
#    choose on English dev, its gain estimated on seeds the choice did not see.
#
# Each question has one primary test, declared before the study ran (question 1: the baseline
# variant at the study's distance kind; question 2: `confirmatory_layer`, or every layer with Holm
# across them, no intermediate task, zero-shot targets); every other row is exploratory. Runs that
# learnt nothing (`collapsed`) are left out of every effect, counted in each row, and the primary
# answers are given again with them counted at their measured accuracy.
#
# **Reads** `runs/*/metrics.json` and `runs/*/predictions.npz`, `typology/distances.csv`. **Writes**
# `results.csv` and, under `analysis/`: `accuracy.csv`, `paired_tests.csv`, `fusion_effect.csv`,
# `fusion_choice.csv`, `layer_sweep.csv`, `layer_similarity.csv`, `typology_cells.csv`, `typology_effect.csv`,
# `collapse_rates.csv`, `primary.csv` (and, where runs collapsed, `typology_effect_counted.csv` and
# `fusion_effect_counted.csv`), `selection_ndcg.csv`, `replication_distance.csv`, `replication_source.csv`,
# `summary.json` and `figures/*.png`.

# %% tags=["parameters"]
params_file = "params/smoke.yaml"  # the study's params (dlfa run passes its copy, outputs/<study>/params.yaml)
outputs_dir = None  # where study folders live (None: outputs/, or $DLFA_OUTPUTS)

# %%
from IPython.display import Image, display

from dlfa.layout import StudyLayout
from dlfa.config.profiles import load
from dlfa.analysis.results import interval_table
from dlfa.stages import analysis as analysis_stage
from dlfa.stages.analysis_figures import plain_similarity

params = load(params_file)
layout = StudyLayout.of(params.study, outputs_dir)
stage = analysis_stage.run(params, layout)  # computes and writes every product below


def show(name):
    if name in stage.figures:
        display(Image(filename=str(stage.figures[name])))


for m in stage.failed:
    print(f"failed, left out: {m['run_id']}: {m['error'].splitlines()[0]}")
if stage.missing:
    print(f"not run yet, left out: {', '.join(stage.missing)}")
print(f"{len(stage.metrics)} runs, {len(stage.results)} rows in results.csv")
print(stage.answers["collapse"] or "No run collapsed.")
stage.results.head()

# %% [markdown]
# ## Did every run learn?
# English dev accuracy at the checkpoint each run selected, against the share of the majority
# class: a run at that share, or predicting one class 95% of the time, learnt nothing and is
# flagged `collapsed`.

# %%
stage.learnt.round(3)

# %% [markdown]
# ## Zero-shot accuracy per language
# Test accuracy at the checkpoint with the best English dev accuracy (`en-dev`, XTREME's protocol),
# seeds averaged. The interval column says what each 95% interval covers: Wilson over test
# examples with one seed; seeds and test examples (crossed) with several.

# %%
show("accuracy_by_language")
interval_table(stage["accuracy"], "setting", "accuracy")

# %% [markdown]
# ## Each run against the plain baseline, example by example
# Each run against the plain baseline of the same seed (no fusion, no intermediate task), on the
# same test examples at the checkpoints each selected on English dev: the accuracy difference, a
# 95% paired bootstrap interval over test examples and the exact McNemar p-value (binomial test of
# the discordant examples; `q_value`: Benjamini-Hochberg over the table). Their null is "these two
# runs are equally accurate on this test set's population": it takes the two runs as given and does
# not generalise over seeds (two runs of one variant with different seeds differ too), so no star
# marks them; the seed-aware answers are the two questions below.

# %%
paired = stage["paired_tests"]
if len(paired):
    shown = paired.assign(run=paired.variant + " · " + paired.intermediate_language.fillna("none"))
    display(interval_table(shown, ["run", "seed"], "difference", signed=True))

# %% [markdown]
# ## Question 2 · DLFA: does fusing layer k add accuracy?
# The mean gain over the baseline variant of the same seed and intermediate setting, averaged over
# all seven languages (`all`) or the six zero-shot targets, with a 95% interval for both the
# training seed and the finite test set. `family` says which row is the primary answer (the
# confirmatory layer, or every layer with Holm across them) and which are exploratory (Holm within
# each family). `chosen_on_dev` is the layer a researcher would pick on English dev (XTREME's
# zero-shot choice); `best_on_test` the one that looks best on test. `mde_80`: the smallest gain
# this grid detects with 80% power, from a seed spread estimated on few seeds (`mde_80_low` to
# `mde_80_high`: the range that estimate implies).

# %%
show("fusion_effect")
stage["fusion_effect"].drop(columns=["method"]).round(4)

# %% [markdown]
# ### The layer a researcher would choose, estimated honestly
# Dev and test accuracy come from the same runs, so they share each seed's luck: the layer that
# looks best on English dev also tends to look good on test, and its plain test estimate
# (`naive_gain`) overstates it. Cross-fitted over seeds: for each seed, the layer best on the other
# seeds' English dev, its gain on this seed's test, averaged (`crossfit_gain`, with a 95% interval).
# The `oracle` rows choose on the target languages' dev sets: labelled target data, not zero-shot.

# %%
print(stage.answers["fusion"])
stage["fusion_choice"].round(4)

# %% [markdown]
# ## Layer sweep
# Test accuracy by fused layer (no intermediate task, mean over seeds), and the average over the
# study's languages by layer. A study of mBERT draws the published references of its target task:
# XTREME's mBERT average and the DLFA paper's averages by layer (PAWS-X: their baseline 81.94, every
# layer; XNLI: baseline 65.40 and D_11 66.91, the layers a checked source gives).

# %%
show("layer_sweep")
stage.tables.get("published_difference", stage["layer_sweep"]).round(3)

# %% [markdown]
# ## Cross-lingual similarity by layer
# The target task's dev rows (PAWS-X's, XNLI's) are parallel across languages. For each layer (0: embeddings), the mean cosine
# similarity between each English pair and its translation, after mean-pooling over tokens and
# centring per language, for the encoder before fine-tuning (`base`: pretrained mBERT, or the tiny
# model's random initialisation) and after it (`fine-tuned`), from the plain baseline runs. The
# DLFA paper's premise is that lower layers are more language-neutral than the last one.

# %%
show("layer_similarity")
if len(stage["layer_similarity"]):
    plain_similarity(stage["layer_similarity"]).pivot_table(index=["model", "language"], columns="layer",
                                                            values="similarity").round(3)

# %% [markdown]
# ## Question 1 · Typology: is the intermediate task's gain larger for closer languages?
# Gain = test accuracy with the intermediate task minus without it (same variant and seed), per
# target. The unit is the (intermediate language, target) cell, seeds averaged: every intermediate
# run is evaluated on every target, so the cells form a crossed table. The fit is
# `gain ~ distance + C(intermediate) + C(target)` on the cell means: a target's headroom and a
# language's overall usefulness are removed before the gain is related to distance, and the error
# term carries each cell's own effect. `estimate`: gain per unit of distance (negative: closer
# languages gain more). Same-language cells (an intermediate task in the target's own language) are
# left out of the slope: another treatment at distance 0, whose bonus alone would read as a slope;
# the `same-language` row contrasts them with the other cells. With predictions the slope's
# interval counts the test examples the runs share (`method`). `family`: the primary row (the
# baseline variant at the study's kind and metric) and the exploratory ones (Holm within each
# family); `mde_80`: the smallest |slope| this grid detects with 80% power, with the range its
# estimated residual SD implies. A grid that cannot separate distance from the languages' own
# effects (one intermediate language, one target, a distance that is the same everywhere) says
# "not estimable" and what it needs.

# %%
print(stage.answers["typology"])
stage["typology_effect"].drop(columns=["method"]).round(4)

# %% [markdown]
# For the study's kind, same-language cells left out as in the fit: left, each cell's gain against
# its distance (the languages' own effects still in); right, the same after removing each
# intermediate language's and each target's mean (double centring: the added-variable plot of the
# fitted slope), or why it cannot be drawn.

# %%
show("typology_gain")

# %% [markdown]
# ## How good is typology at choosing?
# LangRank's measure (Lin et al. 2019, `dlfa.analysis.ranking`): per target, the NDCG@3 of the intermediate
# languages ranked by their distance to it (nearest first) against the gains observed here
# (relevance n for the largest gain down to 1 for the smallest), beside the expectation of a random
# ranking. Candidates at the same distance count as ranked at random among themselves. It
# describes this study's gains, noise included: no test.

# %%
ndcg = stage["selection_ndcg"]
display(ndcg[(ndcg.kind == params.typology_kind) & (ndcg.metric == params.distance_metric)]
        .drop(columns=["kind", "metric"]).round(3))
ndcg[ndcg.target == "mean"].pivot_table(index="kind", columns="variant", values=["ndcg", "random_ndcg"]).round(3)

# %% [markdown]
# ## Two replication checks
# **Lauscher et al. 2020:** zero-shot accuracy of the plain baseline falls with the target's
# distance from English (the fine-tuning language). One point per target (six in PAWS-X, up to 14 in XNLI), Spearman
# with its exact permutation p-value, Pearson beside it, Holm across kinds.
# **Turc et al. 2021:** German or Russian as the intermediate-task language against English, same
# variant and seed, averaged over the other zero-shot targets; "not estimable" when the grid lacks
# one of them.

# %%
display(stage["replication_distance"].round(3))
stage["replication_source"].drop(columns=["method"]).round(4)

# %% [markdown]
# ## Failures are an outcome
# How often runs collapsed, per variant and per intermediate setting (exact 95% intervals): a
# variant or language that fails more often is worse in a way its surviving runs hide. The primary
# answers are given with collapsed runs left out (the main analysis) and, where any collapsed,
# again with them counted at their measured accuracy.

# %%
display(stage["collapse_rates"].round(3))
stage["primary"].round(4)

# %% [markdown]
# ## The answers, in one sentence each
# What the report puts on top (`analysis/summary.json`).

# %%
for key in ("typology", "fusion", "collapse", "typology_counted", "fusion_counted"):
    if stage.answers.get(key):
        print(stage.answers[key], end="\n\n")

# %% [markdown]
# ## Model selection: en-dev against oracle
# The oracle picks, per language, the checkpoint with the best dev accuracy in that language; the
# gap says how much the English-dev choice leaves on the table (Keung et al. 2020).

# %%
show("selection_protocols")
