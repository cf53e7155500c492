"""Padding and order: examples per second of the training path's two orders against fixed padding to 128.

The training path (dlfa.training.train) pads each batch to its longest row (``DataCollatorWithPadding``) and
draws batches either grouped by length (``train_order: length``: ``EpochSeededLengthSampler``, groups
of the effective batch) or in random order (``train_order: random``, XTREME's ``RandomSampler``).
The reference pads every row to 128 (``padding="max_length"``, the XTREME / run_glue default) and
draws batches in random order. Both run full training steps (row fetch from a ``datasets.Dataset``,
collation, forward, backward, clipping, fused AdamW) of the same DLFA model on a PAWS-X-sized
corpus (49,401 English pairs) whose lengths follow mBERT-like lengths of real PAWS-X pairs (see
``benchmarks.lengths``). The length-grouped steps are the batches at evenly spaced quantiles of the
epoch's padded widths, so that a few steps stand for the whole epoch; blocks of each kind alternate.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from . import lengths as lengths_mod
from .common import interleaved, log, median
from .overhead import MBERT_BASE, adamw, train_step

NAME = "padding"
CORPUS = 49_401  # English PAWS-X train pairs
MAX_LENGTH = lengths_mod.MAX_LENGTH
# BERT-shaped slice for QUICK: mBERT-base's layer shape (768 wide, 12 heads, 3072) with 2 of its 12 layers
# and 1/6 of its vocabulary, so that the per-token work and the per-step (embedding, optimizer) work keep
# mBERT-base's proportions at a sixth of the cost.
SLICE = {**MBERT_BASE, "num_hidden_layers": 2, "vocab_size": MBERT_BASE["vocab_size"] // 6}
SETTINGS = {
    "full": dict(model="mbert-base", config=MBERT_BASE, fusion_layer=6, batch=32, dynamic_batches=4, fixed_batches=2,
                 random_batches=2, repeats=3, warmup=1),
    "quick": dict(model="bert-slice (2 layers, vocab 19,924)", config=SLICE, fusion_layer=1, batch=32,
                  dynamic_batches=4, fixed_batches=2, random_batches=2, repeats=2, warmup=1),
}


def corpus_lengths(pair_lengths: np.ndarray, n: int = CORPUS, seed: int = 0) -> np.ndarray:
    """A corpus of ``n`` pairs whose lengths are drawn (with replacement) from measured pair lengths."""
    return np.random.default_rng(seed).choice(np.asarray(pair_lengths), size=n, replace=True)


def grouped_batches(lengths: np.ndarray, batch: int, seed: int = 1) -> list[list[int]]:
    """The training path's batches for one epoch: length-grouped order, cut into full batches."""
    from dlfa.training.trainer import EpochSeededLengthSampler
    order = list(EpochSeededLengthSampler(batch, [int(x) for x in lengths], seed))
    return [order[i:i + batch] for i in range(0, len(order) - batch + 1, batch)]


def random_batches(n: int, batch: int, seed: int = 1) -> list[list[int]]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return [order[i:i + batch] for i in range(0, n - batch + 1, batch)]


def quantile_batches(batches: list[list[int]], lengths: np.ndarray, k: int) -> list[list[int]]:
    """``k`` batches at evenly spaced quantiles (the midpoints of k strata) of the padded width."""
    widths = np.array([lengths[b].max() for b in batches])
    ranked = np.argsort(widths, kind="stable")
    return [batches[ranked[int((j + 0.5) / k * len(batches))]] for j in range(k)]


def corpus_dataset(lengths: np.ndarray, vocab: int, seed: int = 0):
    """Token rows shaped like the tokenized corpus (random ids: speed does not read them)."""
    import datasets
    rng = np.random.default_rng(seed)
    ids = [rng.integers(5, vocab, size=int(n)).tolist() for n in lengths]
    return datasets.Dataset.from_dict({
        "input_ids": ids, "token_type_ids": [[0] * (len(x) // 2) + [1] * (len(x) - len(x) // 2) for x in ids],
        "attention_mask": [[1] * len(x) for x in ids], "labels": rng.integers(0, 2, size=len(ids)).tolist()})


def fit_step_time(widths: list[float], seconds: list[float]) -> list[float] | None:
    """Least-squares polynomial t(w) through the measured steps, lowest power first: quadratic (the
    attention scores grow with w^2) where three widths or more were measured, else a line."""
    distinct = len(set(widths))
    if distinct < 2:
        return None
    return np.polyfit(np.asarray(widths, float), np.asarray(seconds, float), min(2, distinct - 1))[::-1].tolist()


def predicted_ratio(coef: list[float], lengths: np.ndarray, batch: int, order: str = "length") -> float:
    """Examples/s over a whole epoch of dynamically padded batches in ``order`` (length or random)
    against fixed 128, from the fitted t(w)."""
    t = lambda w: sum(c * w ** i for i, c in enumerate(coef))  # noqa: E731
    batches = grouped_batches(lengths, batch) if order == "length" else random_batches(len(lengths), batch)
    widths = np.array([lengths[b].max() for b in batches], float)
    return float(t(MAX_LENGTH) / t(widths).mean())


def run(quick: bool = False) -> dict[str, Any]:
    from transformers import BertConfig, DataCollatorWithPadding

    from dlfa.config.fusion import DLFAConfig
    from dlfa.training.model import DLFAForSequenceClassification
    s = SETTINGS["quick" if quick else "full"]
    if lengths_mod.sample_available():
        measured = lengths_mod.english_lengths()
        tokenizer, pair_lengths = measured.pop("tokenizer"), measured["wordpiece_30k"]
        source = {"kind": "real sample", "detail": measured["source"]}
        alternatives = {k: measured[k] for k in ("wordpiece_16k", "pretokens")}
    else:
        from dlfa.training.tiny import train_tokenizer
        tokenizer, pair_lengths = train_tokenizer(["a"], 100), lengths_mod.fallback_lengths()
        source = {"kind": "synthetic", "detail": "no sample at ../shared/data/pawsx-sample: lengths drawn from "
                                                  "benchmarks.lengths.FALLBACK_QUANTILES"}
        alternatives = {}
    lengths = corpus_lengths(pair_lengths)
    log(NAME, f"lengths ({source['kind']}): {lengths_mod.describe(pair_lengths)}")
    ds = corpus_dataset(lengths, s["config"]["vocab_size"])
    grouped = grouped_batches(lengths, s["batch"])
    chosen = quantile_batches(grouped, lengths, s["dynamic_batches"])
    shuffled = random_batches(len(lengths), s["batch"])
    fixed = shuffled[: s["fixed_batches"]]
    randomly = shuffled[s["fixed_batches"]: s["fixed_batches"] + s["random_batches"]]  # other rows than fixed's
    dynamic = DataCollatorWithPadding(tokenizer)
    collators = {"dynamic": dynamic, "random": dynamic,
                 "fixed": DataCollatorWithPadding(tokenizer, padding="max_length", max_length=MAX_LENGTH)}

    torch.manual_seed(0)
    model = DLFAForSequenceClassification.from_config(BertConfig(num_labels=2, **s["config"]),
                                                      DLFAConfig(s["fusion_layer"])).train()
    optimizer = adamw(model.parameters(), 2e-5)
    steps: dict[str, list[tuple[int, float]]] = {kind: [] for kind in collators}

    def block(kind: str, batches: list[list[int]]):
        def go() -> float:
            total = 0.0
            for idx in batches:
                started = time.perf_counter()
                batch = collators[kind](ds.__getitems__(idx))
                train_step(model, optimizer, batch)
                seconds = time.perf_counter() - started
                steps[kind].append((int(batch["input_ids"].shape[1]), seconds))
                total += seconds
                log(NAME, f"  {kind} step, {len(idx)} x {batch['input_ids'].shape[1]} tokens: {seconds:.2f} s")
            return total
        return go

    arms = {"dynamic": chosen, "random": randomly, "fixed": fixed}
    for kind, batches in arms.items():
        log(NAME, f"warm-up {kind}: {block(kind, batches[-1:])():.2f} s (discarded)")
    steps = {kind: [] for kind in collators}
    times = interleaved({kind: block(kind, batches) for kind, batches in arms.items()}, s["repeats"],
                        warmup=0, name=NAME)
    examples = {kind: len(batches) * s["batch"] for kind, batches in arms.items()}
    throughput = {k: [examples[k] / t for t in v] for k, v in times.items()}
    ratios = [d / f for d, f in zip(throughput["dynamic"], throughput["fixed"])]
    key = median(ratios)
    # Length-grouped against random order, both padded per batch: measured on a few batches, and
    # predicted over whole epochs from t(width) (random batches' widths vary little: near the max of 32 draws).
    order_ratios = [d / r for d, r in zip(throughput["dynamic"], throughput["random"])]

    all_widths = np.array([lengths[b].max() for b in grouped])
    coef = fit_step_time([w for kind in steps for w, _ in steps[kind]], [t for kind in steps for _, t in steps[kind]])
    predicted = {}
    if coef is not None:
        predicted["wordpiece_30k (measured lengths)"] = round(predicted_ratio(coef, lengths, s["batch"]), 3)
        predicted["random order, dynamic padding"] = round(predicted_ratio(coef, lengths, s["batch"], "random"), 3)
        for label, alt in alternatives.items():
            predicted[label] = round(predicted_ratio(coef, corpus_lengths(alt), s["batch"]), 3)
    log(NAME, f"dynamic / fixed examples per second = {key:.3f} (per repeat {[round(r, 3) for r in ratios]}); "
              f"length-grouped / random order = {median(order_ratios):.3f}; "
              f"predicted over a whole epoch from t(width): {predicted}")
    random_widths = np.array([lengths[b].max() for b in shuffled])
    return {
        "keys": {"dynamic_over_fixed_throughput": round(key, 4),
                 "length_over_random_order_throughput": round(median(order_ratios), 4)},
        "raw": {"block_seconds": times, "examples_per_block": examples,
                "examples_per_second": {k: [round(x, 3) for x in v] for k, v in throughput.items()},
                "ratio_per_repeat": ratios, "length_over_random_per_repeat": order_ratios,
                "steps_width_seconds": steps,
                "step_time_fit": coef, "predicted_epoch_ratio": predicted},
        "lengths": {"source": source, "pairs": lengths_mod.describe(pair_lengths),
                    "corpus": lengths_mod.describe(lengths),
                    "alternatives": {k: lengths_mod.describe(v) for k, v in alternatives.items()},
                    "grouped_batch_width": {"mean": round(float(all_widths.mean()), 2),
                                            "p50": float(np.median(all_widths)), "max": int(all_widths.max()),
                                            "measured": [int(lengths[b].max()) for b in chosen]},
                    "random_batch_width": {"mean": round(float(random_widths.mean()), 2),
                                           "p50": float(np.median(random_widths)), "max": int(random_widths.max()),
                                           "measured": [int(lengths[b].max()) for b in randomly]},
                    "padding_share": {"dynamic": round(1 - float(lengths.sum()) / float(all_widths.sum() * s["batch"]), 4),
                                      "random": round(1 - float(lengths[np.concatenate(shuffled)].sum())
                                                      / float(random_widths.sum() * s["batch"]), 4),
                                      "fixed": round(1 - float(lengths.mean()) / MAX_LENGTH, 4)}},
        "settings": {**{k: v for k, v in s.items() if k != "config"}, "config": s["config"], "corpus_pairs": CORPUS,
                     "max_length": MAX_LENGTH, "quick_model_is_a_slice": quick,
                     "statistic": "median over repeats of (dynamic examples/s) / (fixed examples/s), and of (length-grouped "
                                  "examples/s) / (random-order examples/s), blocks interleaved"},
    }
