"""Before / after the DLFA kernel fixes, measured side by side in one process.

"Before" is ``dlfa/training/aif.py`` and ``dlfa/training/model.py`` as they were at ``BEFORE`` (read with ``git show``
into a throw-away package), "after" is the working tree. Three figures:

- the DLFA module alone (forward + backward) on mBERT-base-shaped hidden states (32 x 56 x 768):
  MaskedBatchNorm as matrix-vector products and one fused multiply-add, no host read of the mask;
- a whole training step of the smoke study's tiny DLFA model, where per-operator overhead rules;
- peak memory of the tensors allocated during one evaluation forward (no_grad) of a 12-layer,
  768-wide DLFA model on 8 x 128 tokens: the model no longer asks the encoder for all 13 hidden
  states (torch.profiler's allocation records, summed in time order).

Skipped, with a reason in results.json, where git or the ``BEFORE`` commit is not available.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers import BertConfig

from .common import ROOT, aten_ops, interleaved, log, median, paired_ratios
from .overhead import MBERT_BASE, TINY, adamw, make_batch, train_step

NAME = "fixes"
BEFORE = "a4e050b"  # the last commit before the fixes
SETTINGS = {"full": dict(repeats=9, module_inner=3, tiny_inner=20), "quick": dict(repeats=5, module_inner=2, tiny_inner=10)}


def before_package(rev: str = BEFORE):
    """``dlfa/training/aif.py`` and ``dlfa/training/model.py`` at ``rev`` as the package ``dlfa_before``."""
    folder = Path(tempfile.mkdtemp(prefix="dlfa-before-")) / "dlfa_before"
    folder.mkdir()
    for name in ("aif.py", "model.py"):
        text = subprocess.run(["git", "show", f"{rev}:dlfa/{name}"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout
        (folder / name).write_text(text)
    (folder / "__init__.py").write_text("")
    sys.path.insert(0, str(folder.parent))
    try:
        return importlib.import_module("dlfa_before.aif"), importlib.import_module("dlfa_before.model")
    finally:
        sys.path.remove(str(folder.parent))


def eval_peak_bytes(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> int:
    """Peak of the bytes allocated and not yet freed during one no_grad forward (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile
    with torch.no_grad():
        model(**batch)
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            model(**batch)
    live = peak = 0
    for event in sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def run(quick: bool = False) -> dict[str, Any]:
    import dlfa.training.aif as aif_after
    import dlfa.training.model as model_after
    from dlfa.config.fusion import DLFAConfig
    s = SETTINGS["quick" if quick else "full"]
    try:
        aif_before, model_before = before_package()
    except (OSError, subprocess.CalledProcessError) as err:
        log(NAME, f"skipped: the code before the fixes ({BEFORE}) cannot be read with git ({err})")
        return {"keys": {}, "skipped": f"git show {BEFORE} failed: {err}"}
    keys, raw = {}, {}

    # 1. the DLFA module, mBERT-base hidden states
    torch.manual_seed(0)
    before, after = aif_before.DLFA(768).train(), aif_after.DLFA(768).train()
    after.load_state_dict(before.state_dict())
    mask = make_batch(32, 56, 1000)["attention_mask"]
    g = torch.Generator().manual_seed(1)
    low, last = (torch.randn(32, 56, 768, generator=g, requires_grad=True) for _ in range(2))
    upstream = torch.randn(32, 56, 768, generator=g)

    def module(m):
        def go() -> float:
            t0 = time.perf_counter()
            for _ in range(s["module_inner"]):
                m(low, last, mask).backward(upstream)
            return (time.perf_counter() - t0) / s["module_inner"]
        return go
    times = interleaved({"before": module(before), "after": module(after)}, s["repeats"], 1, f"{NAME}/dlfa-module")
    ratios = paired_ratios(times["after"], times["before"])
    keys["fixes_after_over_before_dlfa_module_time"] = round(median(ratios), 4)
    ops = {label: aten_ops(lambda m=m: m(low, last, mask).backward(upstream)) for label, m in (("before", before),
                                                                                               ("after", after))}
    raw["dlfa_module"] = {"seconds": times, "paired_ratios": ratios, "median_s": {k: median(v) for k, v in times.items()},
                          "shape": [32, 56, 768], "aten_ops_forward_backward": ops}

    # 2. a training step of the tiny DLFA model
    cfg = BertConfig(num_labels=2, **TINY)
    torch.manual_seed(0)
    models = {"before": model_before.DLFAForSequenceClassification.from_config(cfg, fusion_layer=1).train()}
    models["after"] = model_after.DLFAForSequenceClassification.from_config(cfg, DLFAConfig(1)).train()
    models["after"].load_state_dict(models["before"].state_dict())
    optimizers = {k: adamw(m.parameters(), 1e-3) for k, m in models.items()}
    batch = make_batch(32, 32, TINY["vocab_size"])

    def step(label):
        def go() -> float:
            t0 = time.perf_counter()
            for _ in range(s["tiny_inner"]):
                train_step(models[label], optimizers[label], batch)
            return (time.perf_counter() - t0) / s["tiny_inner"]
        return go
    times = interleaved({"before": step("before"), "after": step("after")}, s["repeats"], 1, f"{NAME}/tiny-step")
    ratios = paired_ratios(times["after"], times["before"])
    keys["fixes_after_over_before_step_time_tiny"] = round(median(ratios), 4)
    raw["tiny_step"] = {"seconds": times, "paired_ratios": ratios, "median_s": {k: median(v) for k, v in times.items()},
                        "batch": [32, 32]}

    # 3. memory of an evaluation forward (12 x 768 layers; the vocabulary does not matter here)
    cfg = BertConfig(num_labels=2, **{**MBERT_BASE, "vocab_size": 1000})
    batch = {k: v for k, v in make_batch(8, 128, 1000).items() if k != "labels"}
    peaks = {}
    for label, module_ in (("before", model_before), ("after", model_after)):
        torch.manual_seed(0)
        fused = {"fusion_layer": 6} if module_ is model_before else {"dlfa": DLFAConfig(6)}  # its API then, ours now
        peaks[label] = eval_peak_bytes(module_.DLFAForSequenceClassification.from_config(cfg, **fused).eval(), batch)
    keys["fixes_after_over_before_eval_peak_memory"] = round(peaks["after"] / peaks["before"], 4)
    raw["eval_forward_peak_mib"] = {k: round(v / 2**20, 2) for k, v in peaks.items()}
    raw["eval_forward_hidden_state_mib"] = round(8 * 128 * 768 * 4 / 2**20, 2)
    log(NAME, f"after / before: DLFA module {keys['fixes_after_over_before_dlfa_module_time']:.3f}, tiny step "
              f"{keys['fixes_after_over_before_step_time_tiny']:.3f}, eval forward peak memory "
              f"{raw['eval_forward_peak_mib']['before']:.1f} -> {raw['eval_forward_peak_mib']['after']:.1f} MiB")
    return {"keys": keys, "raw": raw,
            "settings": {**s, "before": BEFORE, "statistic": "median over rounds of after / before, interleaved"}}
