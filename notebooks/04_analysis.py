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
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

from dlfa import analysis, ranking, replication, summary
from dlfa.io import save_figure, write_csv, write_json
from dlfa.params import load
from dlfa.paths import study_dir
from dlfa.results import (PUBLISHED, interval_table,
                          is_mbert, published_difference, results_table)
from dlfa.runs import study_runs
from dlfa.similarity import similarity_table

params = load(params_file)
out = study_dir(params.study, outputs_dir)
typology_kind, distance_metric = params.typology_kind, params.distance_metric
metrics, failed, missing = study_runs(out, params)  # the runs of this study's grid only
for m in failed:
    print(f"failed, left out: {m['run_id']}: {m['error'].splitlines()[0]}")
if missing:
    print(f"not run yet, left out: {', '.join(missing)}")
if not metrics:
    raise FileNotFoundError(f"no complete run under {out / 'runs'}: run 03_train first (dlfa run PARAMS.yaml)")
results = results_table(metrics)
write_csv(out / "results.csv", results)
collapsed = analysis.collapsed_runs(results)
print(f"{len(metrics)} runs, {len(results)} rows in results.csv")
print(summary.collapse_sentence(collapsed, len(metrics)) or "No run collapsed.")
results.head()

# %% [markdown]
# ## Did every run learn?
# English dev accuracy at the checkpoint each run selected, against the share of the majority
# class: a run at that share, or predicting one class 95% of the time, learnt nothing and is
# flagged `collapsed`.

# %%
learnt = pd.DataFrame([{"run": m["run_id"], "en dev accuracy": m["collapse"]["accuracy"],
                        "majority share": m["collapse"]["majority_share"],
                        "one-class share of predictions": m["collapse"]["predicted_one_class_share"],
                        "collapsed": m["collapse"]["collapsed"]} for m in metrics if m.get("collapse")])
learnt.round(3)

# %% [markdown]
# ## Zero-shot accuracy per language
# Test accuracy at the checkpoint with the best English dev accuracy (`en-dev`, XTREME's protocol),
# seeds averaged. The interval column says what each 95% interval covers: Wilson over test
# examples with one seed; seeds and test examples (crossed) with several.

# %%
accuracy = analysis.accuracy_table(results, out)
write_csv(out / "analysis" / "accuracy.csv", accuracy)
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
ax.set(ylabel="test accuracy", ylim=(0, 1), title=f"{params.target.title} test accuracy (en-dev selection); 95% intervals: {intervals}")
ax.title.set_fontsize(9)
ax.legend(fontsize=8, ncol=2)
save_figure(fig, out / "analysis" / "figures" / "accuracy_by_language.png")
plt.show()
display(interval_table(accuracy, "setting", "accuracy"))

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
paired = analysis.paired_tests(out, results)
write_csv(out / "analysis" / "paired_tests.csv", paired)
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
fusion = analysis.fusion_effect(results, out, confirmatory_layer=params.confirmatory_layer)
write_csv(out / "analysis" / "fusion_effect.csv", fusion)
if fusion.estimate.notna().any():
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
    save_figure(fig, out / "analysis" / "figures" / "fusion_effect.png")
    plt.show()
fusion.drop(columns=["method"]).round(4)

# %% [markdown]
# ### The layer a researcher would choose, estimated honestly
# Dev and test accuracy come from the same runs, so they share each seed's luck: the layer that
# looks best on English dev also tends to look good on test, and its plain test estimate
# (`naive_gain`) overstates it. Cross-fitted over seeds: for each seed, the layer best on the other
# seeds' English dev, its gain on this seed's test, averaged (`crossfit_gain`, with a 95% interval).
# The `oracle` rows choose on the target languages' dev sets: labelled target data, not zero-shot.

# %%
choice = analysis.fusion_choice(results, out)
write_csv(out / "analysis" / "fusion_choice.csv", choice)
print(summary.fusion_sentence(fusion, choice=choice, confirmatory_layer=params.confirmatory_layer))
choice.round(4)

# %% [markdown]
# ## Layer sweep
# Test accuracy by fused layer (no intermediate task, mean over seeds), and the average over the
# study's languages by layer. A study of mBERT draws the published references of its target task:
# XTREME's mBERT average and the DLFA paper's averages by layer (PAWS-X: their baseline 81.94, every
# layer; XNLI: baseline 65.40 and D_11 66.91, the layers a checked source gives).

# %%
test = results[(results.split == "test") & (results.selection == "en-dev") & ~results.collapsed]
sweep = test[test.intermediate_language.isna()].copy()
sweep["layer"] = sweep["fusion_layer"].map(lambda k: "baseline" if pd.isna(k) else f"{int(k)}")
order = ["baseline"] + [f"{k}" for k in sorted(sweep.fusion_layer.dropna().unique())]
table = sweep.pivot_table(index="layer", columns="language", values="accuracy", aggfunc="mean").reindex(order)
table = table[[c for c in params.languages if c in table]]
table["avg"] = table.mean(axis=1)
write_csv(out / "analysis" / "layer_sweep.csv", table.reset_index())
reference = is_mbert(params.model)  # the published numbers are mBERT-base's
published_numbers = PUBLISHED[params.target_task]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.45 * len(table) + 2), width_ratios=[3, 2])
sns.heatmap(table * 100, annot=True, fmt=".1f", cmap="viridis", cbar=False, ax=ax1)
ax1.set(xlabel="language", ylabel="fused layer", title="test accuracy (%), en-dev selection")
x = np.arange(len(table))
ax2.plot(x, table["avg"] * 100, marker="o", label="this study")
if reference:
    ax2.plot(x, [published_numbers.dlfa_baseline if k == "baseline" else published_numbers.dlfa_layers.get(int(k), np.nan)
                 for k in table.index], marker="s", ls="--", label="DLFA paper")
    ax2.axhline(published_numbers.xtreme_average, color="grey", ls=":", label="XTREME mBERT")
ax2.set_xticks(x, table.index)
ax2.set(xlabel="fused layer", ylabel="average accuracy over languages (%)", title="average by layer")
ax2.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, out / "analysis" / "figures" / "layer_sweep.png")
plt.show()
if reference:  # this study minus the published numbers, in points (a published average needs all its languages)
    published = published_difference(table, params.target_task)
    write_csv(out / "analysis" / "published_difference.csv", published)
    display(published.round(2))

# %% [markdown]
# ## Cross-lingual similarity by layer
# The target task's dev rows (PAWS-X's, XNLI's) are parallel across languages. For each layer (0: embeddings), the mean cosine
# similarity between each English pair and its translation, after mean-pooling over tokens and
# centring per language, for the encoder before fine-tuning (`base`: pretrained mBERT, or the tiny
# model's random initialisation) and after it (`fine-tuned`), from the plain baseline runs. The
# DLFA paper's premise is that lower layers are more language-neutral than the last one.

# %%
similarity = similarity_table(metrics)
write_csv(out / "analysis" / "layer_similarity.csv", similarity)
if len(similarity):
    plain = similarity[(similarity.variant == "baseline") & similarity.intermediate_language.isna()]
    plain = plain if len(plain) else similarity
    fig, ax = plt.subplots(figsize=(7.5, 4))
    sns.lineplot(data=plain, x="layer", y="similarity", hue="language", style="model", markers=True,
                 errorbar=None, ax=ax)
    ax.set_xticks(sorted(plain.layer.unique()))
    ax.set(xlabel="layer (0: embeddings)", ylabel="cosine similarity to English (centred)",
           title="How language-neutral is each layer? (parallel dev pairs)")
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    save_figure(fig, out / "analysis" / "figures" / "layer_similarity.png")
    plt.show()
    display(plain.pivot_table(index=["model", "language"], columns="layer", values="similarity").round(3))

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
distances = pd.read_csv(out / "typology" / "distances.csv")
gains, _ = analysis.seed_gains(results)
cells = analysis.cell_gains(gains).merge(distances, left_on=["intermediate_language", "language"],
                                         right_on=["lang_a", "lang_b"]).drop(columns=["lang_a", "lang_b"])
cells["same_language"] = cells.intermediate_language == cells.language
write_csv(out / "analysis" / "typology_cells.csv", cells)
typology_table = analysis.typology_effect(results, distances, out, primary=(typology_kind, distance_metric))
write_csv(out / "analysis" / "typology_effect.csv", typology_table)
print(summary.typology_sentence(typology_table, typology_kind, distance_metric))
typology_table.drop(columns=["method"]).round(4)

# %% [markdown]
# For the study's kind, same-language cells left out as in the fit: left, each cell's gain against
# its distance (the languages' own effects still in); right, the same after removing each
# intermediate language's and each target's mean (double centring: the added-variable plot of the
# fitted slope), or why it cannot be drawn.

# %%
own = cells[(cells.variant != analysis.ALL) & (cells.kind == typology_kind) & (cells.metric == distance_metric)
            & ~cells.same_language].copy()  # the slope's cells
if len(own):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    sns.scatterplot(data=own, x="distance", y="gain", hue="language", style="intermediate_language", ax=axes[0], s=40)
    axes[0].axhline(0, color="grey", lw=0.8, ls=":")
    axes[0].set(title=f"cell gain vs {typology_kind} distance (raw)", xlabel=f"{typology_kind} {distance_metric} distance",
                ylabel="gain (accuracy)")
    axes[0].legend(fontsize=7, ncol=2)
    rows = typology_table[(typology_table.kind == typology_kind) & (typology_table.metric == distance_metric)
                          & (typology_table.variant != analysis.ALL)]
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
                    xlabel=f"{typology_kind} distance (double-centred)", ylabel="gain (double-centred)")
        axes[1].legend(fontsize=7)
    else:
        axes[1].axis("off")
        axes[1].text(0.02, 0.5, "\n".join(textwrap.wrap(rows.note.iloc[0], 60)), fontsize=10,
                     va="center", transform=axes[1].transAxes)
    fig.tight_layout()
    save_figure(fig, out / "analysis" / "figures" / "typology_gain.png")
    plt.show()

# %% [markdown]
# ## How good is typology at choosing?
# LangRank's measure (Lin et al. 2019, `dlfa.ranking`): per target, the NDCG@3 of the intermediate
# languages ranked by their distance to it (nearest first) against the gains observed here
# (relevance n for the largest gain down to 1 for the smallest), beside the expectation of a random
# ranking. Candidates at the same distance count as ranked at random among themselves. It
# describes this study's gains, noise included: no test.

# %%
ndcg = ranking.selection_ndcg(cells[~cells.same_language])  # typology never chooses a target's own language
write_csv(out / "analysis" / "selection_ndcg.csv", ndcg)
mine = ndcg[(ndcg.kind == typology_kind) & (ndcg.metric == distance_metric)]
display(mine.drop(columns=["kind", "metric"]).round(3))
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
lauscher = replication.distance_to_source(results, distances)
turc = replication.source_language(results, out)
write_csv(out / "analysis" / "replication_distance.csv", lauscher)
write_csv(out / "analysis" / "replication_source.csv", turc)
display(lauscher.round(3))
turc.drop(columns=["method"]).round(4)

# %% [markdown]
# ## Failures are an outcome
# How often runs collapsed, per variant and per intermediate setting (exact 95% intervals): a
# variant or language that fails more often is worse in a way its surviving runs hide. The primary
# answers are given with collapsed runs left out (the main analysis) and, where any collapsed,
# again with them counted at their measured accuracy.

# %%
rates = analysis.collapse_rates(results)
write_csv(out / "analysis" / "collapse_rates.csv", rates)
display(rates.round(3))
primary = analysis.primary_rows(typology_table, fusion)
typology_counted = fusion_counted = None
if collapsed:  # the sensitivity analysis: every effect again, collapsed runs at their measured accuracy
    typology_counted = analysis.typology_effect(results, distances, out, primary=(typology_kind, distance_metric),
                                                collapsed="include")
    fusion_counted = analysis.fusion_effect(results, out, confirmatory_layer=params.confirmatory_layer,
                                            collapsed="include")
    write_csv(out / "analysis" / "typology_effect_counted.csv", typology_counted)
    write_csv(out / "analysis" / "fusion_effect_counted.csv", fusion_counted)
    primary = pd.concat([primary, analysis.primary_rows(typology_counted, fusion_counted)], ignore_index=True)
write_csv(out / "analysis" / "primary.csv", primary)
primary.round(4)

# %% [markdown]
# ## The answers, in one sentence each
# What the report puts on top (`analysis/summary.json`).

# %%
answers = {"typology": summary.typology_sentence(typology_table, typology_kind, distance_metric),
           "fusion": summary.fusion_sentence(fusion, choice=choice, confirmatory_layer=params.confirmatory_layer),
           "collapse": summary.collapse_sentence(collapsed, len(metrics)), "collapsed_runs": collapsed,
           "runs": len(metrics)}
if collapsed:  # the same answers with the collapsed runs counted (a collapsed reference leaves no gain otherwise)
    answers["typology_counted"] = summary.typology_sentence(typology_counted, typology_kind, distance_metric)
    answers["fusion_counted"] = summary.fusion_sentence(fusion_counted, confirmatory_layer=params.confirmatory_layer)
write_json(out / "analysis" / "summary.json", answers)
for key in ("typology", "fusion", "collapse", "typology_counted", "fusion_counted"):
    if answers.get(key):
        print(answers[key], end="\n\n")

# %% [markdown]
# ## Model selection: en-dev against oracle
# The oracle picks, per language, the checkpoint with the best dev accuracy in that language; the
# gap says how much the English-dev choice leaves on the table (Keung et al. 2020).

# %%
protocols = results[results.split == "test"].pivot_table(index=["run_id", "language"], columns="selection",
                                                         values="accuracy").reset_index()
fig, ax = plt.subplots(figsize=(4.5, 4.5))
sns.scatterplot(data=protocols, x="en-dev", y="oracle", hue="language", ax=ax)
lims = [min(protocols["en-dev"].min(), protocols["oracle"].min()) - 0.02, 1.0]
ax.plot(lims, lims, color="grey", lw=0.8, ls=":")
ax.set(xlim=lims, ylim=lims, title="test accuracy: en-dev vs oracle selection")
save_figure(fig, out / "analysis" / "figures" / "selection_protocols.png")
plt.show()
