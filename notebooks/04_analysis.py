# %% [markdown]
# # 04 · Analysis
#
# **What it does.** Gathers every run's metrics into one tidy table and answers the study's two
# questions: does an intermediate task help more when its language is typologically closer to the
# target, and does DLFA fusion add accuracy?
#
# **Reads** `runs/*/metrics.json` and `runs/*/predictions.npz`, `typology/distances.csv`. **Writes**
# `results.csv`, `analysis/accuracy.csv`, `analysis/paired_tests.csv`, `analysis/layer_sweep.csv`,
# `analysis/layer_similarity.csv`,
# `analysis/typology_gain.csv`, `analysis/typology_correlation.csv`, `analysis/figures/*.png`.

# %% tags=["parameters"]
study = "smoke"
outputs_dir = None
model = "tiny"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

from dlfa import stats
from dlfa.io import save_figure, write_csv
from dlfa.paths import study_dir as find_study
from dlfa.params import load as load_params
from dlfa.results import (DLFA_PAPER_BASELINE_AVERAGE, DLFA_PAPER_LAYER_AVERAGE, XTREME_MBERT, interval_table,
                          load_metrics, paired_tests, results_table, study_runs)
from dlfa.similarity import similarity_table

out = find_study(study, outputs_dir)
if (out / "params.yaml").is_file():  # written by `dlfa run`: analyse the runs of its grid only
    metrics, failed, missing = study_runs(out, load_params(out / "params.yaml"))
    for m in failed:
        print(f"failed, left out: {m['run_id']}: {m['error'].splitlines()[0]}")
    if missing:
        print(f"not run yet, left out: {', '.join(missing)}")
else:  # notebooks run by hand: every complete run in the folder
    metrics = load_metrics(out)
if not metrics:
    raise FileNotFoundError(f"no complete run under {out / 'runs'}: run 03_train first (dlfa run PARAMS.yaml)")
results = results_table(metrics)
write_csv(out / "results.csv", results)
print(f"{len(metrics)} runs, {len(results)} rows in results.csv")
results.head()

# %% [markdown]
# ## Zero-shot accuracy per language
# Test accuracy at the checkpoint with the best English dev accuracy (`en-dev`, XTREME's protocol).
# Error bars: 95% Wilson intervals over test examples (one seed), or bootstrap over seeds.

# %%
test = results[(results.split == "test") & (results.selection == "en-dev")].copy()
test["setting"] = test["variant"] + " · " + test["intermediate_language"].fillna("none").map(
    lambda l: "no intermediate" if l == "none" else f"xnli-{l}")
rows = []
for (setting, lang), g in test.groupby(["setting", "language"], sort=False):
    if len(g) > 1:
        mean, low, high = stats.mean_ci(g.accuracy)
    else:
        mean = g.accuracy.iloc[0]
        low, high = stats.accuracy_ci(mean, int(g.n.iloc[0]))
    rows.append({"setting": setting, "language": lang, "accuracy": mean, "ci_low": low, "ci_high": high,
                 "seeds": len(g)})
accuracy = pd.DataFrame(rows)
write_csv(out / "analysis" / "accuracy.csv", accuracy)
languages = list(dict.fromkeys(test.language))
settings = list(dict.fromkeys(accuracy.setting))
fig, ax = plt.subplots(figsize=(10, 4))
width = 0.8 / len(settings)
for i, setting in enumerate(settings):
    a = accuracy[accuracy.setting == setting].set_index("language").loc[languages]
    x = np.arange(len(languages)) + i * width
    ax.bar(x, a.accuracy, width, label=setting,
           yerr=[a.accuracy - a.ci_low, a.ci_high - a.accuracy], capsize=2)
ax.set_xticks(np.arange(len(languages)) + 0.4 - width / 2, languages)
ax.axhline(0.5, color="grey", lw=0.8, ls=":")
ax.set(ylabel="test accuracy", ylim=(0, 1), title="PAWS-X test accuracy (en-dev selection)")
ax.legend(fontsize=8, ncol=2)
save_figure(fig, out / "analysis" / "figures" / "accuracy_by_language.png")
plt.show()
summary = accuracy[accuracy.language != "en"].groupby("setting", sort=False).accuracy.mean().rename("zero-shot avg")
summary.to_frame().join(accuracy[accuracy.language == "en"].set_index("setting").accuracy.rename("en")).round(3)

# %% [markdown]
# ## Against the baseline, example by example
# Each run against the plain baseline of the same seed (no fusion, no intermediate task), on the
# same test examples at the checkpoints each selected on English dev: the accuracy difference, a
# 95% paired bootstrap interval and a paired permutation p-value (for right/wrong outcomes, the
# exact McNemar test). One row per run and language in `analysis/paired_tests.csv`.

# %%
paired = paired_tests(out, results)
write_csv(out / "analysis" / "paired_tests.csv", paired)
if len(paired):
    shown = paired.assign(run=paired.variant + " · " + paired.intermediate_language.fillna("none"))
    display(interval_table(shown, ["run", "seed"], "difference", signed=True))
    print("* p < 0.05 (paired permutation test; not corrected for the number of comparisons)")

# %% [markdown]
# ## Layer sweep
# Test accuracy by fused layer (no intermediate task, mean over seeds), and the average over the
# seven languages by layer. The paper profile draws the published references: XTREME's mBERT and
# the DLFA paper's averages by layer (their baseline: 81.94).

# %%
sweep = test[test.intermediate_language.isna()].copy()
sweep["layer"] = sweep["fusion_layer"].map(lambda k: "baseline" if pd.isna(k) else f"{int(k)}")
order = ["baseline"] + [f"{k}" for k in sorted(sweep.fusion_layer.dropna().unique())]
table = sweep.pivot_table(index="layer", columns="language", values="accuracy", aggfunc="mean").reindex(order)
table = table[[c for c in ["en", "de", "es", "fr", "ja", "ko", "zh"] if c in table]]
table["avg"] = table.mean(axis=1)
write_csv(out / "analysis" / "layer_sweep.csv", table.reset_index())
reference = model != "tiny"  # the published numbers are mBERT's
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.45 * len(table) + 2), width_ratios=[3, 2])
sns.heatmap(table * 100, annot=True, fmt=".1f", cmap="viridis", cbar=False, ax=ax1)
ax1.set(xlabel="language", ylabel="fused layer", title="test accuracy (%), en-dev selection")
x = np.arange(len(table))
ax2.plot(x, table["avg"] * 100, marker="o", label="this study")
if reference:
    ax2.plot(x, [DLFA_PAPER_BASELINE_AVERAGE if k == "baseline" else DLFA_PAPER_LAYER_AVERAGE.get(int(k), np.nan)
                 for k in table.index], marker="s", ls="--", label="DLFA paper")
    ax2.axhline(np.mean(list(XTREME_MBERT.values())), color="grey", ls=":", label="XTREME mBERT")
ax2.set_xticks(x, table.index)
ax2.set(xlabel="fused layer", ylabel="average accuracy over languages (%)", title="average by layer")
ax2.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, out / "analysis" / "figures" / "layer_sweep.png")
plt.show()

# %% [markdown]
# ## Cross-lingual similarity by layer
# PAWS-X dev rows are parallel across languages. For each layer (0: embeddings), the mean cosine
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
# ## Typology: is the intermediate task's gain larger for closer languages?
# Gain = test accuracy with the intermediate task minus without it (same variant and seed), per
# target language, against the URIEL distance between the intermediate language and the target.

# %%
distances = pd.read_csv(out / "typology" / "distances.csv")
base = test[test.intermediate_language.isna()][["variant", "seed", "language", "accuracy"]]
inter = test[test.intermediate_language.notna() & (test.language != "en")]
gain = inter.merge(base, on=["variant", "seed", "language"], suffixes=("", "_none"))
gain["gain"] = gain["accuracy"] - gain["accuracy_none"]
gain = gain.merge(distances, left_on=["intermediate_language", "language"], right_on=["lang_a", "lang_b"])
write_csv(out / "analysis" / "typology_gain.csv",
          gain[["run_id", "variant", "seed", "intermediate_language", "language", "kind", "metric", "distance", "gain"]])
rows = []
for (kind, metric), g in gain.groupby(["kind", "metric"]):
    r = stats.correlation(g.distance, g.gain, method="spearman")
    rows.append({"kind": kind, "metric": metric, "spearman": r["statistic"], "ci_low": r["ci_low"],
                 "ci_high": r["ci_high"], "p_value": r["p_value"], "n": r["n"]})
correlation = pd.DataFrame(rows, columns=["kind", "metric", "spearman", "ci_low", "ci_high", "p_value", "n"])
write_csv(out / "analysis" / "typology_correlation.csv", correlation)
if len(gain):
    grid = sns.lmplot(data=gain, x="distance", y="gain", col="kind", col_wrap=3, hue="variant", height=2.6,
                      facet_kws={"sharex": False}, ci=None, scatter_kws={"s": 18})
    for ax in grid.axes.flat:
        ax.axhline(0, color="grey", lw=0.8, ls=":")
    grid.figure.suptitle("Gain from the intermediate task vs distance to the target", y=1.03)
    save_figure(grid.figure, out / "analysis" / "figures" / "typology_gain.png")
    plt.show()
correlation.round(3)

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
