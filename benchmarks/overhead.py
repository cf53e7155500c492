"""DLFA overhead: the time of one full training step of DLFA on layer 6 against the plain baseline.

A step is what ``Trainer`` does for one optimizer update: forward, backward, gradient clipping at
1.0, fused AdamW, zero_grad. Baseline and DLFA are one randomly initialised model (speed does not
need trained weights) with its DLFA module detached or attached (see ``variants``), on the same
batch; their steps are interleaved in rotating order and the key is the median of the per-round
ratios DLFA / baseline. The baseline is measured twice per round, an A/A control of the method.
A torch.profiler trace of one DLFA step and the time of the DLFA module alone (forward +
backward) say where the time goes.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from transformers import BertConfig

from dlfa.config.fusion import DLFAConfig
from dlfa.training.model import DLFAForSequenceClassification

from .common import aten_ops, interleaved, log, median, paired_ratios

NAME = "overhead"
MBERT_BASE = dict(vocab_size=119547, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                  intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)
# The smoke study's tiny model (dlfa.training.tiny.tiny_config with params/smoke.yaml), its fusion on layer 1.
TINY = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
            max_position_embeddings=64, type_vocab_size=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)

SETTINGS = {
    # batch 32 = XTREME's effective batch (params/paper.yaml: no accumulation); 56 tokens = the median padded
    # width of a length-grouped PAWS-X batch (see the padding benchmark); a few rows 1-7 tokens shorter.
    "full": {"base": dict(batch=32, tokens=56, fusion_layer=6, repeats=8, warmup=1, inner=1),
             "tiny": dict(batch=32, tokens=32, fusion_layer=1, repeats=15, warmup=1, inner=20)},
    "quick": {"base": dict(batch=8, tokens=56, fusion_layer=6, repeats=6, warmup=1, inner=1),
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


def build(config: dict, fusion_layer: int, lr: float = 2e-5):
    """One randomly initialised DLFA model and its optimizer."""
    torch.manual_seed(0)
    model = DLFAForSequenceClassification.from_config(BertConfig(num_labels=2, **config),
                                                      DLFAConfig(fusion_layer)).train()
    return model, adamw(model.parameters(), lr)


def variants(model: DLFAForSequenceClassification) -> dict[str, Any]:
    """Baseline and DLFA as one model with its fusion module detached or attached.

    The baseline step of a model without ``dlfa`` is exactly ``fusion_layer=None``'s (the fusion
    parameters get no gradient, so clipping and AdamW skip them), and both variants share every
    encoder weight, optimizer state and memory page: two separately built models differ by a few
    percent for where their 700 MB of parameters happen to lie, which an A/A check showed.
    ``baseline_again`` is that A/A check: the baseline measured a second time in every round.
    """
    module = model.dlfa
    return {"baseline": None, f"dlfa_l{model.fusion_layer}": module, "baseline_again": None}


def compare(config: dict, setting: dict, name: str) -> dict[str, Any]:
    """Interleaved baseline / DLFA / baseline steps on one config; seconds per step and their ratios."""
    model, optimizer = build(config, setting["fusion_layer"])
    batch = make_batch(setting["batch"], setting["tokens"], config["vocab_size"])
    modules = variants(model)

    def candidate(label):
        def run() -> float:
            model.dlfa = modules[label]
            started = time.perf_counter()
            for _ in range(setting["inner"]):
                train_step(model, optimizer, batch)
            return (time.perf_counter() - started) / setting["inner"]
        return run

    labels = list(modules)
    times = interleaved({label: candidate(label) for label in labels}, setting["repeats"], setting["warmup"],
                        name=name)
    model.dlfa = modules[labels[1]]
    ratios = paired_ratios(times[labels[1]], times[labels[0]])
    control = paired_ratios(times["baseline_again"], times["baseline"])
    return {"model": model, "optimizer": optimizer, "modules": modules, "batch": batch, "times_s": times,
            "paired_ratios": ratios, "ratio": median(ratios),
            # the baseline against itself, measured the same way: how far the method alone is off 1
            "control_paired_ratios": control, "control_ratio": median(control),
            "ratio_of_medians": median(times[labels[1]]) / median(times[labels[0]]),
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
    internal = ("model", "optimizer", "modules", "batch")
    tiny = compare(TINY, settings["tiny"], f"{NAME}/tiny")
    keys["dlfa_over_baseline_step_time_tiny"] = round(tiny["ratio"], 4)
    keys["control_baseline_over_baseline_step_time_tiny"] = round(tiny["control_ratio"], 4)
    ops = {}
    for label in ("baseline", next(k for k in tiny["modules"] if k.startswith("dlfa"))):
        tiny["model"].dlfa = tiny["modules"][label]
        ops[label] = aten_ops(lambda: train_step(tiny["model"], tiny["optimizer"], tiny["batch"]))
    raw["tiny"] = {**{k: v for k, v in tiny.items() if k not in internal}, "aten_ops_per_step": ops}
    del tiny
    base = compare(MBERT_BASE, settings["base"], f"{NAME}/mbert-base")
    keys["dlfa_over_baseline_step_time"] = round(base["ratio"], 4)
    keys["control_baseline_over_baseline_step_time"] = round(base["control_ratio"], 4)
    raw["mbert_base"] = {k: v for k, v in base.items() if k not in internal}
    dlfa_label = next(label for label in base["modules"] if label.startswith("dlfa"))
    model, optimizer = base["model"], base["optimizer"]
    model.dlfa = base["modules"][dlfa_label]
    log(NAME, "profiling one DLFA step (mBERT-base)")
    profile = profile_step(model, optimizer, base["batch"])
    module_s = dlfa_module_seconds(model.dlfa, base["batch"], MBERT_BASE["hidden_size"], repeats=7)
    step_s = base["median_s"][dlfa_label]
    profile.update({"dlfa_module_forward_backward_s": round(module_s, 5),
                    "dlfa_module_share_of_step": round(module_s / step_s, 4),
                    "step_time_difference_share": round(1 - base["median_s"]["baseline"] / step_s, 4)})
    log(NAME, f"mBERT-base: DLFA / baseline = {keys['dlfa_over_baseline_step_time']:.4f}, A/A control "
              f"{keys['control_baseline_over_baseline_step_time']:.4f} (step {step_s:.2f} s, DLFA module "
              f"{module_s * 1e3:.1f} ms = {100 * module_s / step_s:.2f}% of it); tiny: "
              f"{keys['dlfa_over_baseline_step_time_tiny']:.4f}")
    return {"keys": keys, "raw": raw, "profile": profile,
            "settings": {"mbert_base": {**settings["base"], "config": MBERT_BASE},
                         "tiny": {**settings["tiny"], "config": TINY},
                         "step": "forward, backward, clip_grad_norm_(1.0), fused AdamW (lr 2e-5), zero_grad",
                         "variants": "one model, its DLFA module attached (DLFA) or detached (baseline)",
                         "statistic": "median over rounds of DLFA / baseline, the order rotated each round "
                                      "(A B C, B C A, C A B, ...)",
                         "control": "the baseline measured twice in every round: the ratio of the two shows the "
                                    "method's own error"}}
