"""PAWS-X and intermediate-task corpora: from the hub, from official files, or synthetic; tokenized.

Every loader returns a ``datasets.Dataset`` with columns ``id, sentence1, sentence2, label``
(XNLI's premise/hypothesis become sentence1/sentence2 so one tokenization serves every task).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pandas as pd

from .io import write_json
from .paths import resolve

SPLITS = ("train", "validation", "test")
PAWSX_HUB = "google-research-datasets/paws-x"
XNLI_HUB = "facebook/xnli"
# Official x-final layout: split -> file name (English train is train.tsv, others translated_train.tsv)
_OFFICIAL_FILES = {"validation": "dev_2k.tsv", "test": "test_2k.tsv"}
SYNTHETIC_SIZES = {"train": 4000, "validation": 500, "test": 500}
# The synthetic corpora's knobs (see dlfa.synthetic). A tiny BERT trained from scratch for ~1,500
# steps learns only pairs that differ in many words: argument swaps (PAWS's core) need 3,000+ steps
# and one-word lexical changes stay at chance. So the smoke PAWS-X rows are lexical pairs that
# respell every content word (synonyms: paraphrase; other words: not), judged by shared vocabulary.
SYNTHETIC_PAWSX = {"passive_share": 0.2, "moved_adverbs": True, "lexical_share": 1.0, "lexical_words": None}
SYNTHETIC_NLI = {"passive_share": 0.2}

COLUMNS = ["id", "sentence1", "sentence2", "label"]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")


def _from_hub(repo: str, config: str, split: str) -> datasets.Dataset:
    try:
        return datasets.load_dataset(repo, config, split=split)
    except Exception as err:  # offline, missing cache, no network: say what is missing and how to get it
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
        raise RuntimeError(
            f"could not load the hub dataset {repo!r} (config {config!r}, split {split!r})"
            + (" with HF_HUB_OFFLINE=1 and no cached copy" if offline else "")
            + f": {type(err).__name__}: {err}. Run once with the Hugging Face hub reachable to cache it, "
            "or use data_source: a local directory in the official layout, or 'synthetic'.") from None


def read_official_tsv(path: str | os.PathLike) -> datasets.Dataset:
    """One PAWS-X TSV: tab-separated, header ``id sentence1 sentence2 label``, quoting disabled."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing PAWS-X file {path} (the official x-final layout has "
                                "en/train.tsv, <lang>/translated_train.tsv, <lang>/dev_2k.tsv, <lang>/test_2k.tsv)")
    frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False,
                        encoding="utf-8")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected header {COLUMNS}")
    frame = frame[COLUMNS].astype({"id": "int64", "label": "int64"})
    return datasets.Dataset.from_pandas(frame, preserve_index=False)


def load_pawsx(source: str, language: str, split: str, size: int | None = None, seed: int = 0) -> datasets.Dataset:
    """PAWS-X in ``language`` and ``split`` (train, validation, test).

    ``source``: ``"hub"`` (google-research-datasets/paws-x), ``"synthetic"`` (generated, ``size``
    rows, default ``SYNTHETIC_SIZES``) or a directory in the official x-final layout.
    Rows with label -1 (the hub's marker of a missing label) are dropped.
    """
    _check_split(split)
    if source == "synthetic":
        from . import synthetic
        n = size or SYNTHETIC_SIZES[split]
        rows = synthetic.pawsx_rows(synthetic_profile(language), n, seed, split,
                                   **SYNTHETIC_PAWSX)
        return datasets.Dataset.from_dict({c: rows[c] for c in COLUMNS})
    if source == "hub":
        ds = _from_hub(PAWSX_HUB, language, split)
    else:
        root = resolve(source)
        name = _OFFICIAL_FILES.get(split) or ("train.tsv" if language == "en" else "translated_train.tsv")
        ds = read_official_tsv(root / language / name)
    ds = ds.filter(lambda label: label != -1, input_columns="label")
    return ds.select_columns(COLUMNS)


def load_intermediate(task: str, source: str, language: str, split: str = "train", size: int | None = None,
                      seed: int = 0) -> datasets.Dataset:
    """An intermediate task's split in ``language`` (XNLI: 0 entailment, 1 neutral, 2 contradiction)."""
    _check_split(split)
    if task != "xnli":
        raise ValueError(f"unknown intermediate task {task!r}; available: ['xnli']")
    if source == "synthetic":
        from . import synthetic
        n = size or SYNTHETIC_SIZES[split]
        rows = synthetic.nli_rows(synthetic_profile(language), n, seed, split,
                                 **SYNTHETIC_NLI)
        ds = datasets.Dataset.from_dict(rows)
    else:  # hub, also when PAWS-X comes from local files
        ds = _from_hub(XNLI_HUB, language, split)
        ds = ds.add_column("id", list(range(len(ds))))
    ds = ds.rename_columns({"premise": "sentence1", "hypothesis": "sentence2"})
    return ds.select_columns(COLUMNS)


def subset(ds: datasets.Dataset, size: int | None, seed: int) -> datasets.Dataset:
    """A label-stratified random subset of ``size`` rows (all rows when size is None or larger)."""
    if size is None or size >= len(ds):
        return ds
    labels = np.asarray(ds["label"])
    rng = np.random.default_rng(seed)
    keep = []
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.floor(counts / counts.sum() * size).astype(int)
    quota[: size - quota.sum()] += 1  # distribute the rounding remainder
    for cls, q in zip(classes, quota):
        idx = np.flatnonzero(labels == cls)
        keep.extend(rng.choice(idx, size=min(q, len(idx)), replace=False).tolist())
    return ds.select(sorted(keep))


def synthetic_profile(language: str):
    """The synthetic stand-in for a real language: its word order from URIEL syntax features,
    its share of English words falling with URIEL genetic distance to English."""
    from . import synthetic, typology
    if language == "en":
        return synthetic.ENGLISH
    syntax = typology.syntax_profile(language)
    genetic = typology.distance("genetic", "en", language)
    shared = float(np.clip(0.9 - 0.6 * genetic, 0.1, 0.9))
    return synthetic.LanguageProfile(language, syntax["order"], syntax["adj_before_noun"],
                                     syntax["adposition_before_noun"], round(shared, 3))


def tokenize(ds: datasets.Dataset, tokenizer, max_length: int) -> datasets.Dataset:
    """Pairs -> input_ids, token_type_ids, attention_mask, labels; truncation longest_first, no padding."""
    def encode(batch):
        enc = tokenizer(batch["sentence1"], batch["sentence2"], truncation="longest_first",
                        max_length=max_length)
        enc["labels"] = batch["label"]
        return enc
    return ds.map(encode, batched=True, remove_columns=ds.column_names, desc="tokenizing")


def cached_tokenized(path: str | os.PathLike, key: dict[str, Any], build) -> datasets.Dataset:
    """Load the tokenized dataset at ``path`` if it was built for ``key``; else build, save, load."""
    path = Path(path)
    stamp = path / "dlfa_key.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == key:
        return datasets.load_from_disk(str(path))
    ds = build()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")  # written whole, then renamed into place
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        ds.save_to_disk(str(tmp))
        write_json(tmp / "dlfa_key.json", key)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return datasets.load_from_disk(str(path))


def describe(ds: datasets.Dataset, task: str, language: str, split: str) -> dict[str, Any]:
    """One row of data/stats.csv: size, label shares, token lengths."""
    lengths = np.asarray([len(x) for x in ds["input_ids"]])
    labels = np.asarray(ds["labels"])
    row = {"task": task, "language": language, "split": split, "n": len(ds),
           "mean_tokens": round(float(lengths.mean()), 2), "p95_tokens": float(np.percentile(lengths, 95)),
           "max_tokens": int(lengths.max())}
    for cls in sorted(set(labels.tolist())):
        row[f"label_{cls}_share"] = round(float((labels == cls).mean()), 4)
    return row
