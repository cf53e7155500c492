"""DLFA overhead: the time of one full training step of DLFA on layer 6 against the plain baseline.

A step is what ``Trainer`` does for one optimizer update: forward, backward, gradient clipping at
1.0, fused AdamW, zero_grad. Both models are built from the same ``BertConfig`` (random weights:
speed does not need the trained ones) and see the same batch; their steps are interleaved and the
key is the median of the per-round ratios DLFA / baseline. A torch.profiler trace of one DLFA step
and the time of the DLFA module alone (forward + backward) say where the time goes.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from transformers import BertConfig

from dlfa.model import DLFAForSequenceClassification

from .common import interleaved, log, median, paired_ratios

NAME = "overhead"
MBERT_BASE = dict(vocab_size=119547, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                  intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)
# The smoke study's tiny model (dlfa.tiny.tiny_config with params/smoke.yaml), its fusion on layer 1.
TINY = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
            max_position_embeddings=64, type_vocab_size=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)

SETTINGS = {
    # batch 32 = XTREME's effective batch (params/paper.yaml: no accumulation); 56 tokens = the median padded
    # width of a length-grouped PAWS-X batch (see the padding benchmark); a few rows 1-7 tokens shorter.
    "full": {"base": dict(batch=32, tokens=56, fusion_layer=6, repeats=8, warmup=1, inner=1),
             "tiny": dict(batch=32, tokens=32, fusion_layer=1, repeats=15, warmup=1, inner=20)},
    "quick": {"base": dict(batch=8, tokens=56, fusion_layer=6, repeats=4, warmup=1, inner=1),
              "tiny": dict(batch=32, tokens=32, fusion_layer=1, repeats=9, warmup=1, inner=20)},
}


def adamw(params, lr: float) -> torch.optim.Optimizer:
    """AdamW as Trainer's default (``adamw_torch_fused``), the for-each one where fused is missing."""
    try:
        return torch.optim.AdamW(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=lr, foreach=True)


def make_batch(batch: int, tokens: int, vocab: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A length-grouped batch: the longest row has ``tokens`` tokens, the others up to 7 fewer."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(batch, tokens, dtype=torch.long)
    mask, types = torch.zeros_like(ids), torch.zeros_like(ids)
    for i in range(batch):
        n = tokens - (i % 8)
        ids[i, :n] = torch.randint(min(1000, vocab // 2), vocab, (n,), generator=g)
        mask[i, :n] = 1
        types[i, n // 2:n] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types,
            "labels": torch.randint(0, 2, (batch,), generator=g)}


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor]) -> None:
    """One optimizer update as Trainer makes it (max_grad_norm 1.0)."""
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def models(config: dict, fusion_layer: int, lr: float = 2e-5):
    cfg = BertConfig(num_labels=2, **config)
    torch.manual_seed(0)
    out = {}
    for label, layer in (("baseline", None), (f"dlfa_l{fusion_layer}", fusion_layer)):
        model = DLFAForSequenceClassification.from_config(cfg, fusion_layer=layer).train()
        out[label] = (model, adamw(model.parameters(), lr))
    return out


def compare(config: dict, setting: dict, name: str) -> dict[str, Any]:
    """Interleaved baseline / DLFA steps on one config; seconds per step and their ratios."""
    built = models(config, setting["fusion_layer"])
    batch = make_batch(setting["batch"], setting["tokens"], config["vocab_size"])

    def candidate(label):
        model, optimizer = built[label]

        def run() -> float:
            started = time.perf_counter()
            for _ in range(setting["inner"]):
                train_step(model, optimizer, batch)
            return (time.perf_counter() - started) / setting["inner"]
        return run

    labels = list(built)
    times = interleaved({label: candidate(label) for label in labels}, setting["repeats"], setting["warmup"],
                        name=name)
    ratios = paired_ratios(times[labels[1]], times[labels[0]])
    return {"built": built, "batch": batch, "times_s": times, "paired_ratios": ratios,
            "ratio": median(ratios), "ratio_of_medians": median(times[labels[1]]) / median(times[labels[0]]),
            # the least disturbed step of each: a shared machine only ever adds time
            "ratio_of_minimums": min(times[labels[1]]) / min(times[labels[0]]),
            "median_s": {label: median(t) for label, t in times.items()}}


def profile_step(model, optimizer, batch, top: int = 12) -> dict[str, Any]:
    """torch.profiler on one step: the phases and the operators with the most self time."""
    from torch.profiler import ProfilerActivity, profile, record_function

    def step():
        with record_function("phase: forward"):
            loss = model(**batch).loss
        with record_function("phase: backward"):
            loss.backward()
        with record_function("phase: clip + optimizer + zero_grad"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    phases = {e.key.removeprefix("phase: "): round(e.cpu_time_total / 1e6, 4) for e in events
              if e.key.startswith("phase: ")}
    ops = sorted((e for e in events if not e.key.startswith("phase: ")), key=lambda e: -e.self_cpu_time_total)
    return {"phases_s": phases, "profiled_total_s": round(total / 1e6, 4),
            "top_ops": [{"op": e.key, "self_s": round(e.self_cpu_time_total / 1e6, 4),
                         "share": round(e.self_cpu_time_total / total, 4), "calls": e.count} for e in ops[:top]]}


def dlfa_module_seconds(module: torch.nn.Module, batch: dict[str, torch.Tensor], hidden: int,
                        repeats: int) -> float:
    """The DLFA module alone, forward + backward, on inputs shaped like the encoder's hidden states."""
    g = torch.Generator().manual_seed(1)
    shape = (*batch["input_ids"].shape, hidden)
    low = torch.randn(shape, generator=g, requires_grad=True)
    last = torch.randn(shape, generator=g, requires_grad=True)
    upstream = torch.randn(shape, generator=g)
    times = []
    for i in range(repeats + 1):
        started = time.perf_counter()
        module(low, last, batch["attention_mask"]).backward(upstream)
        if i:  # the first is a warm-up
            times.append(time.perf_counter() - started)
    module.zero_grad(set_to_none=True)
    return median(times)


def run(quick: bool = False) -> dict[str, Any]:
    settings = SETTINGS["quick" if quick else "full"]
    raw, keys = {}, {}
    tiny = compare(TINY, settings["tiny"], f"{NAME}/tiny")
    keys["dlfa_over_baseline_step_time_tiny"] = round(tiny["ratio"], 4)
    raw["tiny"] = {k: v for k, v in tiny.items() if k not in ("built", "batch")}
    del tiny
    base = compare(MBERT_BASE, settings["base"], f"{NAME}/mbert-base")
    keys["dlfa_over_baseline_step_time"] = round(base["ratio"], 4)
    raw["mbert_base"] = {k: v for k, v in base.items() if k not in ("built", "batch")}
    dlfa_label = next(label for label in base["built"] if label != "baseline")
    model, optimizer = base["built"][dlfa_label]
    log(NAME, "profiling one DLFA step (mBERT-base)")
    profile = profile_step(model, optimizer, base["batch"])
    module_s = dlfa_module_seconds(model.dlfa, base["batch"], MBERT_BASE["hidden_size"], repeats=7)
    step_s = base["median_s"][dlfa_label]
    profile.update({"dlfa_module_forward_backward_s": round(module_s, 5),
                    "dlfa_module_share_of_step": round(module_s / step_s, 4),
                    "step_time_difference_share": round(1 - base["median_s"]["baseline"] / step_s, 4)})
    log(NAME, f"mBERT-base: DLFA / baseline = {keys['dlfa_over_baseline_step_time']:.4f} "
              f"(step {step_s:.2f} s, DLFA module {module_s * 1e3:.1f} ms = "
              f"{100 * module_s / step_s:.2f}% of it); tiny: {keys['dlfa_over_baseline_step_time_tiny']:.4f}")
    return {"keys": keys, "raw": raw, "profile": profile,
            "settings": {"mbert_base": {**settings["base"], "config": MBERT_BASE},
                         "tiny": {**settings["tiny"], "config": TINY},
                         "step": "forward, backward, clip_grad_norm_(1.0), fused AdamW (lr 2e-5), zero_grad",
                         "statistic": "median over rounds of DLFA / baseline, rounds interleaved (A B, B A, ...)"}}
