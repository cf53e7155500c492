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
from IPython.display import Image, display

from dlfa.data.tokenization import tokenizer_fingerprint
from dlfa.layout import StudyLayout
from dlfa.config.profiles import load
from dlfa.stages import data as data_stage

params = load(params_file)
layout = StudyLayout.of(params.study, outputs_dir)
print("study folder:", layout.root)
stage = data_stage.run(params, layout)  # reads, tokenizes and caches every corpus; writes the products below
target = params.target_task

# %% [markdown]
# ## Corpora
# The target task (PAWS-X or XNLI): English train (its only training data), dev and test in every language.
# The intermediate task: its training split in each candidate language. `train_size`, `eval_size`
# and `intermediate_train_size` cap the sizes with label-stratified subsets drawn from `data_seed`
# (null: every row).

# %%
stage.sources()

# %% [markdown]
# A few English training pairs, and the placeholder rows among the evaluation data (if any): with
# the default policy they stay, labelled 0, as in the published numbers.

# %%
display(stage.raw[(target, "en", "train")].to_pandas().head(5))
placeholders = stage.placeholders(target)
print(f"{len(placeholders)} placeholder rows in the {params.target.title} data used"
      + (" (dropped: drop_placeholders is true)" if params.drop_placeholders else ""))
placeholders.groupby(["language", "split"]).size().rename("placeholder rows").to_frame() if len(placeholders) else None

# %% [markdown]
# ## Tokenizer
# The tiny model learns its WordPiece vocabulary from all text above (every language), as mBERT's
# vocabulary was learnt from all its languages; a pretrained model brings its own tokenizer.

# %%
example = stage.raw[(target, "en", "train")][0]
print(f"vocabulary: {len(stage.tokenizer)} entries, fingerprint {tokenizer_fingerprint(stage.tokenizer)}")
print(stage.tokenizer.tokenize(example["sentence1"]))

# %% [markdown]
# ## Tokenize once, cache
# Pairs are tokenized with truncation `longest_first` at `max_length` and no padding (batches are
# padded dynamically). Each corpus is cached under `data/tokenized/`, keyed by its source, its
# subset (size, seed, policy and a digest of the rows themselves), the tokenizer's fingerprint and
# `max_length`: a second run loads the cache; changing any of these re-tokenizes that corpus only.

# %%
print(f"{stage.reused} of {len(stage.corpora)} corpora loaded from the cache, "
      f"{len(stage.corpora) - stage.reused} tokenized; {stage.seconds:.1f} s")

# %% [markdown]
# ## What the study uses
# One row per corpus, language and split: rows used, rows in the source and what the policy dropped,
# placeholder rows kept, pairs whose two sentences are identical, label shares, token lengths (after
# truncation) and the share of pairs cut at `max_length`.

# %%
stage.stats

# %% [markdown]
# ## Lengths and labels
# Token lengths decide how much dynamic padding saves and how much `max_length` cuts (dashed line).
# The real PAWS-X has about 57/43 (label 0 / label 1) in every language; XNLI's labels are thirds.

# %%
display(Image(filename=str(stage.figures["lengths"])))
display(Image(filename=str(stage.figures["labels"])))
