"""GPU benchmark (CUDA only): bf16, SDPA attention, torch.compile; examples/s and model FLOPs
utilisation (MFU) of baseline and DLFA at mBERT-base; an estimate of the paper profile's GPU hours.

Run on a CUDA machine with one command: ``make bench-gpu`` (``python -m benchmarks.gpu``). It writes
``benchmarks/results-gpu.json``; ``docs/benchmarks.md`` shows it from the next ``make bench`` (or
``python -m benchmarks.report``). On a machine without CUDA it stops with a message saying so.

What is measured, per variant (baseline, DLFA on layer 6) and mode (fp32 eager; bf16 autocast with
SDPA attention; the same under ``torch.compile``):

- training: full steps (forward, backward, clipping at 1.0, fused AdamW, zero_grad) of batch 32 on
  length-grouped batches whose widths follow mBERT-like PAWS-X lengths (``benchmarks.lengths``),
  cycling through batches at 8 quantiles of the epoch's padded width; examples/s and tokens/s;
- evaluation: no_grad forwards of batch 256 in the evaluation order (not length-grouped, so a
  batch is as wide as its longest of 256 random rows);
- the bf16 matmul rate, 8192 x 8192 x 8192 products (2 n^3 FLOPs each), the MFU denominator.

MFU = model FLOPs / s / measured bf16 matmul FLOP/s, with model FLOPs per trained token
``6 N + 12 L E T`` (N: parameters outside the embeddings; L layers, E hidden size, T the padded
sequence length: the attention score and mix products, Kaplan et al. 2020 / PaLM appendix B), and
per evaluated token a third of that. Padded positions count as computed tokens.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .common import GPU_RESULTS, ROOT, machine, now, versions, write_json
from .flops import flops_per_token

MESSAGE = ("benchmarks.gpu needs a CUDA GPU, and torch.cuda.is_available() is False here (torch {torch}, {cuda}). "
           "Run `make bench-gpu` on a machine with an NVIDIA GPU and torch's CUDA build (`make install` there "
           "installs it); the CPU benchmarks are `make bench`.")


def matmul_tflops(device: str, n: int = 8192, iters: int = 20, dtype=torch.bfloat16) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        a @ b
    sync(device)
    return 2 * n ** 3 * iters / (time.perf_counter() - t0) / 1e12


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def batches(lengths: np.ndarray, batch: int, k: int, vocab: int, seed: int = 0, grouped: bool = True,
            multiple: int | None = None) -> list[dict[str, torch.Tensor]]:
    """k padded batches: length-grouped at evenly spaced width quantiles, or random (evaluation order)."""
    from .padding import grouped_batches, quantile_batches, random_batches
    if grouped:
        chosen = quantile_batches(grouped_batches(lengths, batch), lengths, k)
    else:
        chosen = random_batches(len(lengths), batch)[:k]
    rng = np.random.default_rng(seed)
    out = []
    for idx in chosen:
        rows = lengths[idx]
        width = int(rows.max())
        if multiple:
            width = int(math.ceil(width / multiple) * multiple)
        ids = torch.zeros(len(idx), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, n in enumerate(rows):
            ids[i, :n] = torch.from_numpy(rng.integers(5, vocab, size=int(n)))
            mask[i, :n] = 1
        out.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids),
                    "labels": torch.from_numpy(rng.integers(0, 2, size=len(idx)))})
    return out


def measure(variant: int | None, mode: str, config_kwargs: dict, train_batches, eval_batches, device: str,
            steps: int, warmup: int) -> dict[str, Any]:
    from transformers import BertConfig

    from dlfa.config.fusion import DLFAConfig
    from dlfa.training.model import DLFAForSequenceClassification

    from .overhead import adamw
    config = BertConfig(num_labels=2, attn_implementation="sdpa", **config_kwargs)
    torch.manual_seed(0)
    model = DLFAForSequenceClassification.from_config(config, DLFAConfig(variant)).to(device).train()
    optimizer = adamw(model.parameters(), 2e-5)
    run_model = torch.compile(model, dynamic=True) if mode.endswith("compile") else model
    bf16 = mode.startswith("bf16")
    autocast = lambda: torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16)  # noqa: E731
    on = lambda b: {k: v.to(device, non_blocking=True) for k, v in b.items()}  # noqa: E731
    train_batches = [on(b) for b in train_batches]
    eval_batches = [on({k: v for k, v in b.items() if k != "labels"}) for b in eval_batches]

    def step(b):
        with autocast():
            loss = run_model(**b).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    t_compile = time.perf_counter()
    for i in range(warmup):
        step(train_batches[i % len(train_batches)])
    sync(device)
    warm_s = time.perf_counter() - t_compile
    t0 = time.perf_counter()
    tokens = 0
    for i in range(steps):
        b = train_batches[i % len(train_batches)]
        step(b)
        tokens += b["input_ids"].numel()
    sync(device)
    train_s = time.perf_counter() - t0
    examples = steps * train_batches[0]["input_ids"].shape[0]
    mean_width = tokens / examples
    model.eval()
    with torch.no_grad(), autocast():
        for b in eval_batches[:1]:
            run_model(**b)
        sync(device)
        t0 = time.perf_counter()
        eval_tokens = 0
        for b in eval_batches:
            run_model(**b)
            eval_tokens += b["input_ids"].numel()
        sync(device)
        eval_s = time.perf_counter() - t0
    eval_examples = sum(b["input_ids"].shape[0] for b in eval_batches)
    per_token = flops_per_token(model, config, round(mean_width))
    eval_width = eval_tokens / eval_examples
    out = {"train_examples_per_s": examples / train_s, "train_tokens_per_s": tokens / train_s,
           "train_step_s": train_s / steps, "mean_padded_width": mean_width,
           "eval_examples_per_s": eval_examples / eval_s, "eval_mean_padded_width": eval_width,
           "train_model_tflops_per_s": per_token * tokens / train_s / 1e12,
           "eval_model_tflops_per_s": flops_per_token(model, config, round(eval_width)) / 3 * eval_tokens / eval_s / 1e12,
           "warmup_s": warm_s}
    if device.startswith("cuda"):
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
    del model, optimizer, run_model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return out


def paper_workload(params_path: Path = ROOT / "params" / "paper.yaml") -> dict[str, Any]:
    """Examples trained and evaluated by the paper profile's grid (the arithmetic behind the GPU hours)."""
    from dlfa.config.profiles import load
    from dlfa.orchestration.plan import workload
    return workload(load(params_path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile mode")
    parser.add_argument("--no-run", action="store_true",
                        help="skip the end-to-end run through `dlfa train` (benchmarks.gpu_run)")
    parser.add_argument("--pad-multiple", type=int, default=8,
                        help="pad batch widths to a multiple of this (tensor cores; fewer recompilations); 0: off")
    parser.add_argument("--results", type=Path, default=GPU_RESULTS)
    parser.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)  # tests: the code path on a tiny model
    args = parser.parse_args(argv)
    if not torch.cuda.is_available() and not args.allow_cpu:
        print(MESSAGE.format(torch=torch.__version__, cuda=f"CUDA build {torch.version.cuda}" if torch.version.cuda
                             else "a CPU-only build"), file=sys.stderr)
        return 2
    from . import lengths as lengths_mod
    from .overhead import MBERT_BASE, TINY
    from .padding import corpus_lengths
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tiny = not torch.cuda.is_available()
    config = {**TINY, "max_position_embeddings": 512} if tiny else MBERT_BASE
    if lengths_mod.sample_available():
        pair_lengths = lengths_mod.english_lengths()["wordpiece_30k"]
    else:
        pair_lengths = lengths_mod.fallback_lengths()
    lengths = corpus_lengths(pair_lengths)
    multiple = args.pad_multiple or None
    steps, warmup = (2, 1) if tiny else ((20, 5) if args.quick else (60, 10))
    train = batches(lengths, 32, 8, config["vocab_size"], multiple=multiple)
    evals = batches(lengths, 256, 2 if tiny else 8, config["vocab_size"], grouped=False, multiple=multiple)
    peak = matmul_tflops(device, n=512 if tiny else 8192, iters=2 if tiny else 20)
    print(f"[gpu] bf16 matmul: {peak:.1f} TFLOP/s", flush=True)
    modes = ["fp32", "bf16-sdpa"] + ([] if args.no_compile or tiny else ["bf16-sdpa-compile"])
    measured: dict[str, dict[str, Any]] = {}
    for mode in modes:
        for label, layer in (("baseline", None), ("dlfa_l6", 1 if tiny else 6)):
            r = measure(layer, mode, config, train, evals, device, steps, warmup)
            r["mfu"] = r["train_model_tflops_per_s"] / peak
            measured[f"{label}/{mode}"] = r
            print(f"[gpu] {label} {mode}: {r['train_examples_per_s']:.0f} train examples/s, MFU {r['mfu']:.1%}, "
                  f"{r['eval_examples_per_s']:.0f} eval examples/s", flush=True)
    best = max(modes, key=lambda m: measured[f"dlfa_l6/{m}"]["train_examples_per_s"])
    work = paper_workload()
    from dlfa.orchestration.plan import gpu_hours
    hours = gpu_hours(work, {v: measured[f"{v}/{best}"] for v in ("baseline", "dlfa_l6")})
    keys = {"gpu_bf16_matmul_tflops": round(peak, 1), "gpu_best_mode": best,
            "gpu_train_examples_per_second_dlfa": round(measured[f"dlfa_l6/{best}"]["train_examples_per_s"], 1),
            "gpu_mfu_dlfa": round(measured[f"dlfa_l6/{best}"]["mfu"], 4),
            "gpu_dlfa_over_baseline_step_time": round(measured[f"dlfa_l6/{best}"]["train_step_s"]
                                                      / measured[f"baseline/{best}"]["train_step_s"], 4),
            "paper_profile_gpu_hours": hours["gpu_hours_max"]}
    end_to_end = None if args.no_run else end_to_end_run(tiny, args.quick, pair_lengths, peak, work)
    if end_to_end is not None:
        keys.update(end_to_end.pop("keys"))
    results = {"date": now(), "command": " ".join(["python -m benchmarks.gpu", *(argv or sys.argv[1:])]),
               "machine": machine(), "versions": versions(), "tiny_cpu_check": tiny, "keys": keys,
               "measured": measured, "paper_workload": work, "gpu_hours": hours, "end_to_end": end_to_end,
               "settings": {"batch": 32, "eval_batch": 256, "steps": steps, "warmup": warmup, "pad_multiple": multiple,
                            "config": config, "modes": modes,
                            "flops": "train: (6 N + 12 L E T) per token, N without embeddings; eval: a third of it",
                            "hours": "runs x (train examples / train examples/s + eval examples / eval examples/s), "
                                     "best mode; a DLFA run costs the same at every fusion layer (layer 6 measured); "
                                     "XNLI pairs assumed as long as PAWS-X pairs; min/max: test sets at no / every "
                                     "evaluation"}}
    write_json(args.results, results)
    print(json.dumps(keys, indent=1))
    return 0


def end_to_end_run(tiny: bool, quick: bool, pair_lengths: np.ndarray, peak: float, work: dict[str, Any]) -> dict:
    """``benchmarks.gpu_run`` in a temporary folder: mBERT-base's shape on a GPU (200 steps with
    ``--quick``, else 400), or the tiny model on a small corpus for the CPU check of the code path."""
    import tempfile

    from . import gpu_run
    from .overhead import MBERT_BASE, TINY
    if tiny:
        shape = dict(config={**TINY, "max_position_embeddings": 512}, steps=20, train_pairs=640, eval_pairs=40,
                     eval_steps=10, languages=("en", "de"), fusion_layer=1)
    else:
        shape = dict(config=MBERT_BASE, steps=200 if quick else 400)
    with tempfile.TemporaryDirectory(prefix="dlfa-bench-gpu-") as tmp:
        measured = gpu_run.measure(Path(tmp), shape.pop("config"), pair_lengths, peak_tflops=peak, **shape)
    from dlfa.orchestration.plan import end_to_end_projection
    measured["projection"] = projected = end_to_end_projection(work, measured["runs"])
    keys = {}
    for precision, run in measured["runs"].items():
        keys[f"gpu_run_examples_per_second_{precision}"] = run["examples_per_s"]
        keys[f"gpu_run_mfu_{precision}"] = run["mfu"]
        keys[f"gpu_run_fixed_seconds_{precision}"] = run["fixed_s"]
    keys["paper_profile_gpu_hours_end_to_end"] = projected["hours"]
    measured["keys"] = keys
    return measured


if __name__ == "__main__":
    sys.exit(main())
