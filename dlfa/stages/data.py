"""Stage 01, data: the target task's English train and every language's dev and test, the
intermediate task in every candidate language, read (hub, local files or the synthetic corpus),
cut to the params' sizes, tokenized once and cached; ``data/stats.csv`` and two figures describe
what the study trains and evaluates on. The tiny model's tokenizer is learnt here from that text.

``run(params, layout)`` does it all and returns ``DataStage``; notebook 01 calls it and shows it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm  # text bar: tqdm.auto warns without ipywidgets

from dlfa.config import tasks
from dlfa.config.grid import Corpus, study_corpora
from dlfa.config.params import Params
from dlfa.data import corpora as data
from dlfa.data import tokenization
from dlfa.io import write_csv, write_figure
from dlfa.layout import StudyLayout
from dlfa.stages import data_figures as figures
from dlfa.training import tiny
from dlfa.training.pretrain import pretraining_text

Key = tuple[str, str, str]  # (task name, language, split)


@dataclass
class DataStage:
    """What the data stage read and wrote."""

    corpora: list[Corpus]
    raw: dict[Key, Any]
    counts: dict[Key, dict]
    tokenizer: Any
    tokenized: dict[Key, Any] = field(default_factory=dict)
    reused: int = 0
    seconds: float = 0.0
    stats: pd.DataFrame | None = None
    figures: dict[str, Path] = field(default_factory=dict)

    def sources(self) -> pd.DataFrame:
        """One row per corpus read: where from, rows used, and what the row policy dropped."""
        return pd.DataFrame([{"corpus": c.task.title, "language": c.language, "split": c.split,
                              "from": (c.source if c.source in ("hub", "synthetic") else f"files in {c.source}")
                              + (" (planted sharing)" if c.planted else ""),
                              "hub id": c.task.hub_id if c.source == "hub" else "",
                              "rows used": len(self.raw[_key(c)]), **self.counts[_key(c)]} for c in self.corpora])

    def placeholders(self, task: str) -> pd.DataFrame:
        """The placeholder rows (``NS`` and the like for a sentence) in ``task``'s data used."""
        rows = pd.concat([self.raw[key].to_pandas().assign(language=key[1], split=key[2])
                          for key in self.raw if key[0] == task])
        return rows[[data.is_placeholder(a, b) for a, b in zip(rows["sentence1"], rows["sentence2"])]]


def _key(corpus: Corpus) -> Key:
    return corpus.task.name, corpus.language, corpus.split


def load_corpora(params: Params) -> tuple[list[Corpus], dict[Key, Any], dict[Key, dict]]:
    """Every corpus the study reads, as rows (label-stratified subsets from ``data_seed`` where the
    params cap the size), with the row policy's counts."""
    corpora = study_corpora(params)
    raw, counts = {}, {}
    for c in corpora:
        raw[_key(c)], counts[_key(c)] = data.load_corpus(
            c.task, c.source, c.language, c.split, size=c.size, seed=params.data_seed,
            drop_placeholders=params.drop_placeholders, planted=c.planted)
    return corpora, raw, counts


def prepare_tokenizer(params: Params, layout: StudyLayout, raw: dict[Key, Any]):
    """The study's tokenizer: for the tiny model a WordPiece vocabulary learnt from all the text
    read (and its masked-LM pretraining, if asked for), written to ``model/``; else the model's."""
    if params.model != "tiny":
        return tokenization.load_tokenizer(params.model, layout.root)
    texts = (t for ds in raw.values() for col in ("sentence1", "sentence2") for t in data.column(ds, col))
    mlm_text = None
    if params.tiny_model.mlm_epochs:  # masked-LM pretraining on synthetic text in every language (dlfa.training.pretrain)
        languages = list(dict.fromkeys([*params.languages, *params.candidate_languages]))
        mlm_text = pretraining_text([data.synthetic_profile(lang, params.planted_spec) for lang in languages],
                                    params.tiny_model.mlm_sentences, params.data_seed)
        print(f"pretraining text: {params.tiny_model.mlm_sentences} sentences in each of {len(languages)} languages")
    return tiny.prepare(layout.tiny_model, texts, asdict(params.tiny_model), params.max_length, mlm_text,
                        params.data_seed)


def tokenize_corpora(params: Params, layout: StudyLayout, corpora: list[Corpus], raw: dict[Key, Any],
                     tokenizer) -> tuple[dict[Key, Any], int]:
    """Each corpus tokenized (truncation ``longest_first`` at ``max_length``, no padding) or loaded
    from its cache, keyed by source, subset, tokenizer and ``max_length``; and how many came from
    the cache."""
    fingerprint = tokenization.tokenizer_fingerprint(tokenizer)
    tokenized, reused = {}, 0
    with tokenization.quiet_datasets():  # one bar over the corpora instead of two per corpus
        for c in tqdm(corpora, desc="tokenize or load from cache"):
            ds = raw[_key(c)]
            key = tokenization.cache_key(ds, task=c.task.name, source=c.source, language=c.language, split=c.split,
                                 size=c.size, seed=params.data_seed, drop_placeholders=params.drop_placeholders,
                                 tokenizer=fingerprint, max_length=params.max_length)
            tokenized[_key(c)], hit = tokenization.cached_tokenized(
                layout.tokenized(c.task.name, c.language, c.split), key,
                lambda ds=ds: tokenization.tokenize(ds, tokenizer, params.max_length))
            reused += hit
    return tokenized, reused


def run(params: Params, layout: StudyLayout) -> DataStage:
    """Read, tokenize and cache every corpus; write ``data/stats.csv`` and ``data/figures/``."""
    corpora, raw, counts = load_corpora(params)
    stage = DataStage(corpora, raw, counts, prepare_tokenizer(params, layout, raw))
    started = time.perf_counter()
    stage.tokenized, stage.reused = tokenize_corpora(params, layout, corpora, raw, stage.tokenizer)
    stage.seconds = time.perf_counter() - started
    stage.stats = tokenization.stats_table([tokenization.describe(raw[key], stage.tokenized[key], counts[key], *key,
                                                  num_labels=tasks.by_name(key[0]).num_labels) for key in raw])
    write_csv(layout.data_stats, stage.stats)
    stage.figures["lengths"] = write_figure(figures.lengths(stage.tokenized, params.max_length),
                                            layout.figure("lengths", "data"))
    stage.figures["labels"] = write_figure(figures.labels(stage.stats), layout.figure("labels", "data"))
    return stage
