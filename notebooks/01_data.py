# %% [markdown]
# # 01 · Data
#
# **What it does.** Loads PAWS-X (English train, dev and test; dev and test of every target language)
# and the intermediate task's training data in every candidate language, from the hub, from files in
# the official layout, or from the synthetic corpus; prepares the tokenizer (for the `tiny` model, a
# WordPiece vocabulary learnt from this text); tokenizes everything once and caches it.
#
# **Reads.** The params (below). **Writes** under `outputs/<study>/`: `data/tokenized/<task>/<lang>/<split>`
# (datasets on disk), `data/stats.csv`, `data/figures/*.png`, and for the tiny model `model/`
# (tokenizer and config).

# %% tags=["parameters"]
study = "smoke"
outputs_dir = None
model = "tiny"
tiny_model = {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128, "vocab_size": 1000}
data_source = "synthetic"
targets = ["de", "es", "fr", "ja", "ko", "zh"]
intermediate_task = "xnli"
candidate_languages = ["de", "fr", "hi", "ru", "tr", "vi"]
data_seed = 0
train_size = 12000
eval_size = 400
intermediate_train_size = 3000
max_length = 64

# %%
import hashlib
import json

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from transformers import AutoTokenizer

from dlfa import data, tiny
from dlfa.io import save_figure, write_csv
from dlfa.paths import study_dir as find_study
from dlfa.pipeline import notebook_params
from dlfa.train import tokenized_path

P = notebook_params("01_data", globals())
out = find_study(study, outputs_dir)
languages = ["en"] + P["targets"]
print("study folder:", out)

# %% [markdown]
# ## Raw corpora
# PAWS-X: English train (the only training data of the target task), dev and test in every language.
# Intermediate task: the training split in each candidate language. Sizes are capped by
# `train_size`, `eval_size` and `intermediate_train_size` (label-stratified subsets, seeded).

# %%
def size_for(split):
    return P["train_size"] if split == "train" else P["eval_size"]


raw = {}
for lang in languages:
    for split in (["train"] if lang == "en" else []) + ["validation", "test"]:
        ds = data.load_pawsx(P["data_source"], lang, split, size=size_for(split), seed=P["data_seed"])
        raw[("pawsx", lang, split)] = data.subset(ds, size_for(split), P["data_seed"])
if P["intermediate_task"]:
    for lang in P["candidate_languages"]:
        ds = data.load_intermediate(P["intermediate_task"], P["data_source"], lang, "train",
                                    size=P["intermediate_train_size"], seed=P["data_seed"])
        raw[(P["intermediate_task"], lang, "train")] = data.subset(ds, P["intermediate_train_size"], P["data_seed"])
print(f"{len(raw)} corpora loaded")
ex = raw[("pawsx", "en", "train")]
pd.DataFrame(ex[:6])

# %% [markdown]
# ## Tokenizer
# The tiny model learns its WordPiece vocabulary from all text above (every language), as mBERT's
# vocabulary was learnt from all its languages; a pretrained model brings its own tokenizer.

# %%
if P["model"] == "tiny":
    texts = (t for ds in raw.values() for col in ("sentence1", "sentence2") for t in ds[col])
    tokenizer = tiny.prepare(out / "model", texts, P["tiny_model"], P["max_length"])
else:
    tokenizer = AutoTokenizer.from_pretrained(P["model"])
fingerprint = hashlib.sha1(json.dumps(tokenizer.get_vocab(), sort_keys=True).encode()).hexdigest()[:12]
print(f"vocabulary: {len(tokenizer)} entries, fingerprint {fingerprint}")
print(tokenizer.tokenize(ex[0]["sentence1"]))

# %% [markdown]
# ## Tokenize once, cache
# Pairs are tokenized with truncation `longest_first` at `max_length` and no padding (batches are
# padded dynamically). A cached copy is reused only if it was built from the same source, sizes,
# seed, tokenizer and `max_length`.

# %%
stats, tokenized = [], {}
for (task, lang, split), ds in raw.items():
    key = {"task": task, "language": lang, "split": split, "source": str(P["data_source"]), "n": len(ds),
           "seed": P["data_seed"], "tokenizer": fingerprint, "max_length": P["max_length"]}
    tok = data.cached_tokenized(tokenized_path(out, task, lang, split), key,
                                lambda ds=ds: data.tokenize(ds, tokenizer, P["max_length"]))
    tokenized[(task, lang, split)] = tok
    stats.append(data.describe(tok, task, lang, split))
stats = pd.DataFrame(stats)
write_csv(out / "data" / "stats.csv", stats)
stats

# %% [markdown]
# ## Lengths and labels
# Token lengths decide how much dynamic padding saves; label shares should be close to PAWS-X's
# 57/43 (label 0 / label 1) and to XNLI's thirds.

# %%
lengths = pd.DataFrame([{"language": lang, "split": split, "tokens": len(ids)}
                        for (task, lang, split), ds in tokenized.items() if task == "pawsx"
                        for ids in ds["input_ids"]])
fig, ax = plt.subplots(figsize=(8, 3.5))
sns.boxplot(data=lengths, x="language", y="tokens", hue="split", ax=ax, fliersize=1)
ax.set_title("PAWS-X pair length in tokens (after truncation)")
save_figure(fig, out / "data" / "figures" / "lengths.png")
plt.show()

# %%
shares = stats.melt(id_vars=["task", "language", "split"], value_vars=[c for c in stats if c.startswith("label_")],
                    var_name="label", value_name="share").dropna()
shares["label"] = shares["label"].str.replace("label_", "").str.replace("_share", "")
fig, ax = plt.subplots(figsize=(8, 3.5))
sns.barplot(data=shares, x="language", y="share", hue="label", ax=ax, errorbar=None)
ax.set_title("Label shares across tasks and splits")
save_figure(fig, out / "data" / "figures" / "labels.png")
plt.show()
