"""Tokenizing a study's corpora once and caching them, the tokenizer a study uses, and what the
data stage reports of the tokens (lengths, truncation, label shares).

A corpus is cached under ``data/tokenized/<task>/<lang>/<split>`` keyed by its source, its subset
(size, seed, policy, a digest of the rows), the tokenizer's fingerprint and ``max_length``: a
second study loads it, and a change re-tokenizes only the corpora it affects.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import datasets
import numpy as np
import pandas as pd
from transformers import AutoTokenizer

from dlfa.checkpoints import local_model
from dlfa.data.corpora import COLUMNS, column, is_placeholder
from dlfa.io import write_json
from dlfa.layout import StudyLayout
from dlfa.paths import resolve

CACHE_FORMAT = 2  # bump when the tokenized layout changes: old caches are rebuilt
MODEL_COLUMNS = ["input_ids", "token_type_ids", "attention_mask", "labels"]


def tokenizer_fingerprint(tokenizer) -> str:
    """A digest of everything that decides token ids: vocabulary, normaliser, pre-tokenizer, templates."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    spec.pop("truncation", None), spec.pop("padding", None)  # set per call, not part of the tokenizer
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def rows_fingerprint(ds: datasets.Dataset) -> str:
    """A digest of the rows themselves: a changed file or subset re-tokenizes, an unchanged one does not."""
    hashes = pd.util.hash_pandas_object(ds.select_columns(COLUMNS).to_pandas(), index=False)
    return hashlib.sha1(hashes.to_numpy().tobytes()).hexdigest()[:16]


def cache_key(ds: datasets.Dataset, *, task: str, source: str, language: str, split: str, size: int | None,
              seed: int, drop_placeholders: bool, tokenizer: str, max_length: int) -> dict[str, Any]:
    """What a tokenized corpus depends on; ``tokenizer`` is ``tokenizer_fingerprint(...)``."""
    where = source if source in ("hub", "synthetic") else str(resolve(source))
    return {"task": task, "language": language, "split": split, "source": where, "size": size, "seed": seed,
            "drop_placeholders": drop_placeholders, "rows": rows_fingerprint(ds), "tokenizer": tokenizer,
            "max_length": max_length}


def tokenize(ds: datasets.Dataset, tokenizer, max_length: int) -> datasets.Dataset:
    """Pairs -> ``id``, the model's inputs and ``labels``, plus ``truncated`` (the pair was cut).

    Truncation ``longest_first`` at ``max_length``; no padding (batches are padded dynamically).
    """
    def encode(batch):
        enc = tokenizer(batch["sentence1"], batch["sentence2"], truncation="longest_first", max_length=max_length)
        out = {"id": batch["id"], **enc, "labels": batch["label"]}
        if enc.encodings is not None:  # fast tokenizers keep what truncation cut off
            out["truncated"] = [bool(e.overflowing) for e in enc.encodings]
        else:
            full = tokenizer(batch["sentence1"], batch["sentence2"])["input_ids"]
            out["truncated"] = [len(ids) > max_length for ids in full]
        return out
    return ds.map(encode, batched=True, remove_columns=ds.column_names, desc="tokenizing")


def token_lengths(tokenized: datasets.Dataset) -> np.ndarray:
    """Each row's number of tokens, read from the Arrow list offsets (a Python loop over 12,000 rows
    took a second)."""
    import pyarrow.compute as pc
    ids = tokenized.with_format("arrow")["input_ids"]  # an indices mapping (select, shuffle) applied
    return pc.list_value_length(ids).to_numpy().astype(int)


def cached_tokenized(path: str | os.PathLike, key: dict[str, Any], build: Callable[[], datasets.Dataset]
                     ) -> tuple[datasets.Dataset, bool]:
    """(dataset, reused): the copy at ``path`` if it was built for ``key``, else ``build()`` saved there.

    The copy is written under a temporary name and renamed into place, so it is whole or absent. A
    copy that no longer loads is rebuilt with a warning.
    """
    path = Path(path)
    key = {"format": CACHE_FORMAT, **key}
    stamp = path / "dlfa_key.json"
    if stamp.is_file():
        try:
            same = json.loads(stamp.read_text()) == json.loads(json.dumps(key))
        except ValueError:
            same = False
        if same:
            try:
                return datasets.load_from_disk(str(path)), True
            except Exception as err:  # a damaged copy: rebuilding costs minutes, failing costs the study
                warnings.warn(f"the tokenized cache at {path} does not load ({type(err).__name__}: {err}); "
                              "rebuilding it", stacklevel=2)
    ds = build()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        ds.save_to_disk(str(tmp))
        write_json(tmp / "dlfa_key.json", key)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return datasets.load_from_disk(str(path)), False


@contextmanager
def quiet_datasets() -> Iterator[None]:
    """Silence datasets' per-operation progress bars (map, save) while a loop shows its own."""
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        datasets.enable_progress_bars()


# --- description -------------------------------------------------------------------------------

PERCENTILES = (50, 90, 95, 99)


def describe(raw: datasets.Dataset, tokenized: datasets.Dataset, counts: dict[str, int], task: str,
             language: str, split: str, num_labels: int) -> dict[str, Any]:
    """One row of ``data/stats.csv``: what the study uses of one corpus, language and split."""
    labels = np.asarray(column(raw, "label"))
    first, second = column(raw, "sentence1"), column(raw, "sentence2")
    lengths = token_lengths(tokenized)
    row: dict[str, Any] = {"corpus": task, "language": language, "split": split, "rows": len(raw), **counts,
                           "placeholder_rows": sum(is_placeholder(a, b) for a, b in zip(first, second)),
                           "identical_pairs": sum(a == b for a, b in zip(first, second))}
    for cls in range(num_labels):
        row[f"label_{cls}_share"] = round(float((labels == cls).mean()), 4) if len(labels) else float("nan")
    row["tokens_mean"] = round(float(lengths.mean()), 2)
    for q in PERCENTILES:
        row[f"tokens_p{q}"] = round(float(np.percentile(lengths, q)), 1)
    row["tokens_max"] = int(lengths.max())
    row["truncated_share"] = round(float(np.mean(tokenized["truncated"])), 4)
    return row


def stats_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``describe`` rows as one table, label shares side by side (tasks differ in label count)."""
    frame = pd.DataFrame(rows)
    labels = sorted((c for c in frame if c.startswith("label_")), key=lambda c: int(c.split("_")[1]))
    tokens = [c for c in frame if c.startswith("tokens_") or c == "truncated_share"]
    return frame[[c for c in frame if c not in labels + tokens] + labels + tokens]


def tokenized_path(study_dir: str | os.PathLike, task: str, language: str, split: str) -> Path:
    """Where 01_data caches a tokenized corpus of the study."""
    return StudyLayout(Path(study_dir)).tokenized(task, language, split)


def load_tokenized(study_dir: str | os.PathLike, task: str, language: str, split: str) -> datasets.Dataset:
    """A corpus as 01_data cached it, reduced to the model's inputs and labels."""
    path = tokenized_path(study_dir, task, language, split)
    if not (path / "dlfa_key.json").is_file():
        raise FileNotFoundError(f"no tokenized {task} {language} {split} at {path}: run 01_data for this study first")
    ds = datasets.load_from_disk(str(path))
    return ds.select_columns([c for c in MODEL_COLUMNS if c in ds.column_names])  # XLM-R: no token_type_ids


def model_source(model: str, study_dir: str | os.PathLike) -> str:
    """Where weights, config and tokenizer come from: the study's tiny model folder, a local
    directory (relative paths from the project root), a packaged checkpoint (``package:<module>``)
    or a hub id."""
    if model == "tiny":
        return str(StudyLayout(Path(study_dir)).tiny_model)
    local = local_model(model)
    return str(local) if local is not None else model


def load_tokenizer(model: str, study_dir: str | os.PathLike):
    """The model's tokenizer; offline without a cached copy, an error that says how to get one."""
    source = model_source(model, study_dir)
    try:
        return AutoTokenizer.from_pretrained(source)
    except OSError as err:
        raise RuntimeError(f"could not load the tokenizer of {source!r} [{err.__class__.__name__}: "
                           f"{str(err).splitlines()[0]}]. Run once with the Hugging Face hub reachable to "
                           "cache it, or set 'model' to a local directory holding it (save_pretrained).") from None
