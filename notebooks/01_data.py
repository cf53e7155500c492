# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Data
#
# **What it does.** Loads the target task, PAWS-X or XNLI (`target_task`: English train, dev and test;
# dev and test of every target language) and the intermediate task's training data in every candidate language, from the Hugging Face hub,
# from local files in the official layout, or from the synthetic corpus; prepares the tokenizer (for
# the `tiny` model, a WordPiece vocabulary learnt from this text); tokenizes everything once and
# caches it; describes what the study will train and evaluate on.
#
# **Reads.** The params (below). **Writes** under `outputs/<study>/`: `data/tokenized/<task>/<lang>/<split>`
# (datasets on disk), `data/stats.csv`, `data/figures/lengths.png` and `labels.png`, and for the tiny
# model `model/` (tokenizer and config).
#
# **Row policy.** Every row of the official files is kept by default, as the published numbers use
# them, including the *placeholder* rows of the translated files (a translator wrote `NS`, or a stray
# `ns` or `WL`, instead of a sentence; all labelled 0). `drop_placeholders: true` drops them. Rows
# labelled -1 (the hub's marker of a missing or wrong label) are always dropped. Both are counted in
# `data/stats.csv`. Official TSV files are read with quoting disabled: they contain literal `"`.

# %% tags=["parameters"]
params_file = "params/smoke.yaml"  # the study's params (dlfa run passes its copy, outputs/<study>/params.yaml)
outputs_dir = None  # where study folders live (None: outputs/, or $DLFA_OUTPUTS)

# %%
import time
from dataclasses import asdict

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from tqdm import tqdm  # text bar: tqdm.auto warns without ipywidgets

from dlfa import data, tasks, tiny
from dlfa.io import save_figure, write_csv
from dlfa.params import load, study_corpora
from dlfa.paths import study_dir
from dlfa.pretrain import pretraining_text

params = load(params_file)
out = study_dir(params.study, outputs_dir)
print("study folder:", out)

# %% [markdown]
# ## Corpora
# The target task (PAWS-X or XNLI): English train (its only training data), dev and test in every language.
# The intermediate task: its training split in each candidate language. `train_size`, `eval_size`
# and `intermediate_train_size` cap the sizes with label-stratified subsets drawn from `data_seed`
# (null: every row).

# %%
reads = study_corpora(params)
planted = {c.task.name: c.planted for c in reads}  # synthetic: a planted typology effect
corpora = [(c.task, c.source, c.language, c.split, c.size) for c in reads]

raw, counts = {}, {}
for task, source, lang, split, size in corpora:
    raw[(task.name, lang, split)], counts[(task.name, lang, split)] = data.load_corpus(
        task, source, lang, split, size=size, seed=params.data_seed, drop_placeholders=params.drop_placeholders,
        planted=planted[task.name])
sources = pd.DataFrame([{"corpus": t.title, "language": lang, "split": split,
                         "from": (s if s in ("hub", "synthetic") else f"files in {s}")
                         + (" (planted sharing)" if planted[t.name] else ""),
                         "hub id": t.hub_id if s == "hub" else "", "rows used": len(raw[(t.name, lang, split)]),
                         **counts[(t.name, lang, split)]} for t, s, lang, split, _ in corpora])
sources

# %% [markdown]
# A few English training pairs, and the placeholder rows among the evaluation data (if any): with
# the default policy they stay, labelled 0, as in the published numbers.

# %%
target = params.target_task
pd.DataFrame(raw[(target, "en", "train")][:5])

# %%
placeholders = pd.concat([raw[key].to_pandas().assign(language=key[1], split=key[2])
                          for key in raw if key[0] == target])
placeholders = placeholders[[data.is_placeholder(a, b) for a, b in
                             zip(placeholders["sentence1"], placeholders["sentence2"])]]
print(f"{len(placeholders)} placeholder rows in the {params.target.title} data used"
      + (" (dropped: drop_placeholders is true)" if params.drop_placeholders else ""))
placeholders.groupby(["language", "split"]).size().rename("placeholder rows").to_frame() if len(placeholders) else None

# %% [markdown]
# ## Tokenizer
# The tiny model learns its WordPiece vocabulary from all text above (every language), as mBERT's
# vocabulary was learnt from all its languages; a pretrained model brings its own tokenizer.

# %%
if params.model == "tiny":
    texts = (t for ds in raw.values() for col in ("sentence1", "sentence2") for t in data.column(ds, col))
    mlm_text = None
    if params.tiny_model.mlm_epochs:  # masked-LM pretraining on synthetic text in every language (dlfa.pretrain)
        languages = list(dict.fromkeys([*params.languages, *params.candidate_languages]))
        mlm_text = pretraining_text([data.synthetic_profile(lang, params.planted_spec) for lang in languages],
                                    params.tiny_model.mlm_sentences, params.data_seed)
        print(f"pretraining text: {params.tiny_model.mlm_sentences} sentences in each of {len(languages)} languages")
    tokenizer = tiny.prepare(out / "model", texts, asdict(params.tiny_model), params.max_length, mlm_text,
                             params.data_seed)
else:
    tokenizer = data.load_tokenizer(params.model, out)
fingerprint = data.tokenizer_fingerprint(tokenizer)
example = raw[(target, "en", "train")][0]
print(f"vocabulary: {len(tokenizer)} entries, fingerprint {fingerprint}")
print(tokenizer.tokenize(example["sentence1"]))

# %% [markdown]
# ## Tokenize once, cache
# Pairs are tokenized with truncation `longest_first` at `max_length` and no padding (batches are
# padded dynamically). Each corpus is cached under `data/tokenized/`, keyed by its source, its
# subset (size, seed, policy and a digest of the rows themselves), the tokenizer's fingerprint and
# `max_length`: a second run loads the cache; changing any of these re-tokenizes that corpus only.

# %%
started, tokenized, reused = time.perf_counter(), {}, []
with data.quiet_datasets():  # one bar over the corpora instead of two per corpus
    for task, source, lang, split, size in tqdm(corpora, desc="tokenize or load from cache"):
        ds = raw[(task.name, lang, split)]
        key = data.cache_key(ds, task=task.name, source=source, language=lang, split=split, size=size,
                             seed=params.data_seed, drop_placeholders=params.drop_placeholders, tokenizer=fingerprint,
                             max_length=params.max_length)
        tokenized[(task.name, lang, split)], hit = data.cached_tokenized(
            data.tokenized_path(out, task.name, lang, split), key,
            lambda ds=ds: data.tokenize(ds, tokenizer, params.max_length))
        reused.append(hit)
print(f"{sum(reused)} of {len(reused)} corpora loaded from the cache, {len(reused) - sum(reused)} tokenized; "
      f"{time.perf_counter() - started:.1f} s")

# %% [markdown]
# ## What the study uses
# One row per corpus, language and split: rows used, rows in the source and what the policy dropped,
# placeholder rows kept, pairs whose two sentences are identical, label shares, token lengths (after
# truncation) and the share of pairs cut at `max_length`.

# %%
stats = data.stats_table([data.describe(raw[key], tokenized[key], counts[key], *key,
                                    num_labels=tasks.by_name(key[0]).num_labels)
                      for key in raw])
write_csv(out / "data" / "stats.csv", stats)
stats

# %% [markdown]
# ## Lengths and labels
# Token lengths decide how much dynamic padding saves and how much `max_length` cuts (dashed line).
# The real PAWS-X has about 57/43 (label 0 / label 1) in every language; XNLI's labels are thirds.

# %%
lengths = pd.concat([pd.DataFrame({"corpus": tasks.by_name(task_name).title,
                                   "language": lang, "split": split,
                                   "tokens": data.token_lengths(ds)})
                     for (task_name, lang, split), ds in tokenized.items()])
panels = list(lengths["corpus"].unique())
fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), sharex=True, squeeze=False)
for ax, corpus in zip(axes[0], panels):
    part = lengths[lengths["corpus"] == corpus]
    sns.boxplot(data=part, y="language", x="tokens", hue="split", ax=ax, fliersize=1, orient="h",
                hue_order=[s for s in ("train", "validation", "test") if s in set(part["split"])])
    ax.axvline(params.max_length, color="0.3", ls="--", lw=1)
    ax.set_title(f"{corpus}: pair length in tokens")
    ax.set_xlabel(f"tokens ([CLS] a [SEP] b [SEP]); max_length {params.max_length}")
fig.tight_layout()
save_figure(fig, out / "data" / "figures" / "lengths.png")
plt.show()

# %%
corpora_in_stats = list(stats["corpus"].unique())
bars = [int((stats["corpus"] == name).sum()) for name in corpora_in_stats]
fig, axes = plt.subplots(len(bars), 1, figsize=(8, 0.3 * sum(bars) + 1.0 * len(bars)), height_ratios=bars,
                         squeeze=False)
for ax, name in zip(axes[:, 0], corpora_in_stats):
    task = tasks.by_name(name)
    part = stats[stats["corpus"] == name].set_index(["language", "split"])
    shares = part[[f"label_{i}_share" for i in range(task.num_labels)]]
    shares.columns = [f"{i} {label}" for i, label in enumerate(task.label_names)]
    shares.index = [f"{lang} {split}" for lang, split in shares.index]
    shares.plot.barh(stacked=True, ax=ax, width=0.75, color=sns.color_palette("colorblind", task.num_labels))
    for y, share in enumerate(shares.iloc[:, 0]):
        ax.text(share / 2, y, f"{share:.2f}", ha="center", va="center", fontsize=8, color="white")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(f"{task.title}: label balance")
    ax.legend(title="label", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
axes[-1, 0].set_xlabel("share of rows")
fig.tight_layout()
save_figure(fig, out / "data" / "figures" / "labels.png")
plt.show()
