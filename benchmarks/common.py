"""What every benchmark shares: interleaved timing, medians and ratios, the machine and library
versions, and the results file (written whole, then renamed)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
QUICK_RESULTS = ROOT / "benchmarks" / "results-quick.json"
from dlfa.orchestration.plan import GPU_RESULTS  # noqa: E402  (one spelling: dlfa plan reads what bench-gpu writes)

DOCS = ROOT / "docs" / "benchmarks.md"
SAMPLE = ROOT.parent / "shared" / "data" / "pawsx-sample"  # the real PAWS-X sample, beside the checkout

# Key -> (target, direction): "<=" the value must not exceed the target, ">=" must reach it.
TARGETS = {
    "dlfa_over_baseline_step_time": (1.03, "<="),
    "dynamic_over_fixed_throughput": (2.5, ">="),
    # targets for the fixed costs of a study (2 CPU cores)
    "smoke_study_seconds": (120.0, "<="),
    "smoke_study_over_training_time": (1.3, "<="),
    "fixed_seconds_per_run": (3.0, "<="),
}


def log(name: str, message: str) -> None:
    """One progress line per measurement (benchmarks run for minutes; the terminal shows where)."""
    print(f"[{name}] {message}", flush=True)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def paired_ratios(numerator: list[float], denominator: list[float]) -> list[float]:
    """Ratios of measurements taken side by side (round i of one against round i of the other)."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(f"paired ratios need two equally long, non-empty lists; got {len(numerator)} "
                         f"and {len(denominator)}")
    return [a / b for a, b in zip(numerator, denominator)]


def interleaved(candidates: dict[str, Callable[[], float]], repeats: int, warmup: int = 1,
                name: str = "bench", unit: str = "s") -> dict[str, list[float]]:
    """Measure each candidate ``repeats`` times in rounds whose order rotates (A B C, B C A, C A B;
    with two: A B, B A), after ``warmup`` discarded calls each. A candidate returns the seconds it
    measured itself, so that set-up (a fresh folder, a new batch) stays outside the figure. Rotating
    the order gives every candidate every position: a drift in machine load, or an advantage of going
    first or after a given other, falls on all of them alike."""
    order = list(candidates)
    for label in order:
        for i in range(warmup):
            seconds = candidates[label]()
            log(name, f"{label}: warm-up {i + 1}/{warmup} {seconds:.3f} {unit} (discarded)")
    times: dict[str, list[float]] = {label: [] for label in order}
    for r in range(repeats):
        for label in order[r % len(order):] + order[:r % len(order)]:
            seconds = candidates[label]()
            times[label].append(seconds)
            log(name, f"{label}: {r + 1}/{repeats} {seconds:.3f} {unit}")
    return times


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for module in ("torch", "transformers", "datasets", "tokenizers", "numpy", "papermill"):
        try:
            out[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001 - a missing optional library is just not listed
            pass
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    import torch
    info: dict[str, Any] = {
        "platform": platform.platform(), "cpu": _cpu_model(), "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import psutil
        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    if hasattr(os, "getloadavg"):
        info["load_average_1_5_15_min"] = [round(x, 2) for x in os.getloadavg()]  # when the results were written
    return info


def git_state() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.splitlines()
        own = {"benchmarks/results.json", "benchmarks/results-quick.json", "benchmarks/results-gpu.json",
               "docs/benchmarks.md"}  # what a run itself writes
        dirty = any(line[3:].strip() not in own for line in changed)
        return {"commit": commit, "uncommitted_changes": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def load_results(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def merge_results(previous: dict[str, Any], sections: dict[str, dict], *, quick: bool, command: str) -> dict[str, Any]:
    """The results file after this invocation: its benchmark sections replace the same sections of
    ``previous`` (kept from an earlier run of the same mode), and the flat ``keys`` are rebuilt."""
    kept = previous.get("benchmarks", {}) if previous.get("quick") == quick else {}
    benchmarks = {**kept, **sections}
    keys = {k: v for section in benchmarks.values() for k, v in section.get("keys", {}).items()}
    return {"quick": quick, "command": command, "date": now(), "machine": machine(), "versions": versions(),
            "git": git_state(), "keys": keys,
            "targets": {k: {"target": t, "direction": d} for k, (t, d) in TARGETS.items()},
            "benchmarks": benchmarks}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def python() -> str:
    return sys.executable


def aten_ops(fn) -> int:
    """How many ATen operators one call of ``fn`` dispatches (views and copies included): at small
    sizes each costs microseconds of dispatch whatever its arithmetic."""
    from torch.profiler import ProfilerActivity, profile
    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return sum(1 for e in prof.events() if e.name.startswith("aten::"))
