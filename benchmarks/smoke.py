"""The smoke study end to end: ``dlfa run params/smoke.yaml --outputs <tmp>`` in a subprocess.

Wall time, and the peak memory of the whole process tree (the pipeline and its notebook kernels,
RSS summed over the tree, sampled every 0.2 s), plus where the time goes: each stage from the
pipeline's own log, each run's training time from its metrics.json. The ratio key compares the
study's wall time with the summed training time of its runs (Trainer's ``train_runtime``): what
the pipeline, data, typology, evaluation, analysis and report cost around the training itself.

QUICK runs a reduced smoke study (``QUICK_OVERRIDES``: smaller corpora, same grid and stages), so
that every benchmark fits in five minutes; results.json marks it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from .common import ROOT, log

NAME = "smoke"
PARAMS = ROOT / "params" / "smoke.yaml"
QUICK_OVERRIDES = {"train_size": 2000, "eval_size": 100, "intermediate_train_size": 600, "num_train_epochs": 1.0,
                   "intermediate_epochs": 1.0}
STAGE = re.compile(r"^\[(\d)/4\s+(\d+)s\] (.*)$")


def _tree_rss(proc) -> tuple[int, int]:
    """(RSS summed over ``proc`` and its descendants, the largest single RSS among them), in bytes."""
    import psutil
    sizes = []
    try:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                sizes.append(p.memory_info().rss)
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return sum(sizes), max(sizes, default=0)


def run_study(params_path: Path, outputs: Path, keep_log: Path) -> dict[str, Any]:
    """Run one study in a subprocess; its wall time, peak memory and the pipeline's stage lines."""
    command = [sys.executable, "-m", "dlfa", "run", str(params_path), "--outputs", str(outputs)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    peak = {"tree_rss": 0, "process_rss": 0}
    stages: list[tuple[int, str]] = []
    started = time.perf_counter()
    try:
        import psutil
        proc = psutil.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except ImportError:
        psutil, proc = None, subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True)
    done = threading.Event()

    def sample():
        while not done.is_set():
            total, largest = _tree_rss(proc)
            peak["tree_rss"], peak["process_rss"] = max(peak["tree_rss"], total), max(peak["process_rss"], largest)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True) if psutil else None
    if sampler:
        sampler.start()
    with open(keep_log, "w") as logfile:
        for line in proc.stdout:
            logfile.write(line)
            match = STAGE.match(line.strip())
            if match:
                stages.append((int(match.group(2)), match.group(3)))
                log(NAME, f"{time.perf_counter() - started:5.0f} s  {line.strip()}")
    code = proc.wait()
    wall = time.perf_counter() - started
    done.set()
    if sampler:
        sampler.join()
    if code != 0:
        tail = Path(keep_log).read_text().splitlines()[-30:]
        raise RuntimeError(f"the smoke study failed ({' '.join(command)}, exit {code}):\n" + "\n".join(tail))
    return {"wall_s": wall, "peak_tree_rss_bytes": peak["tree_rss"] or None,
            "peak_process_rss_bytes": peak["process_rss"] or None, "stage_lines": stages,
            "command": " ".join(["python", *command[1:]]).replace(str(outputs), "<tmp>").replace(f"{ROOT}/", "")}


def notebook_split(path: Path) -> dict[str, float]:
    """Where an executed notebook's time went, from papermill's own record: the kernel's start and
    papermill around the cells, the cells up to and including the first after the parameters (the
    imports), and the others."""
    nb = json.loads(path.read_text())
    total = nb["metadata"]["papermill"]["duration"]
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    durations = [(c["metadata"].get("papermill", {}).get("duration") or 0.0) for c in code]
    tags = [c["metadata"].get("tags", []) for c in code]
    first = max(i for i, t in enumerate(tags) if "parameters" in t or "injected-parameters" in t) + 1
    return {"notebook_s": round(total, 2), "kernel_and_papermill_s": round(total - sum(durations), 2),
            "imports_s": round(sum(durations[:first + 1]), 2), "cells_s": round(sum(durations[first + 1:]), 2)}


def breakdown(study: Path, wall: float, stage_lines: list[tuple[int, str]]) -> dict[str, Any]:
    """Seconds per stage (from the pipeline's log: each line says when a stage began) and per run:
    its notebook split by ``notebook_split``, inside ``train_run`` each stage's Trainer time
    (training and evaluation) and what ``train_run`` records around it (``metrics.json`` seconds).
    ``fixed_s`` is everything a run costs beyond its Trainers' training and evaluation."""
    marks = stage_lines + [(wall, "end (report included)")]
    stages = [{"stage": text, "seconds": round(marks[i + 1][0] - t, 1)} for i, (t, text) in enumerate(marks[:-1])]
    for stage in stages:
        name = stage["stage"].split(":")[0]
        if (study / "notebooks" / f"{name}.ipynb").is_file():
            stage.update(notebook_split(study / "notebooks" / f"{name}.ipynb"))
    runs = {}
    for metrics in sorted((study / "runs").glob("*/metrics.json")):
        m = json.loads(metrics.read_text())
        trained = round(sum(s.get("train_runtime", 0.0) for s in m["stages"]), 2)
        run = {"wall_time_s": m["wall_time_s"], "train_runtime_s": trained, "train_run_seconds": m.get("seconds", {})}
        if (metrics.parent / "03_train.ipynb").is_file():
            run.update(notebook_split(metrics.parent / "03_train.ipynb"))
            run["fixed_s"] = round(run["notebook_s"] - trained, 2)
        runs[m["run_id"]] = run
    return {"stages": stages, "runs": runs}


def run(quick: bool = False, keep: Path | None = None) -> dict[str, Any]:
    """``keep``: a folder to copy the finished study into (the evaluation benchmark reuses its data)."""
    tmp = Path(tempfile.mkdtemp(prefix="dlfa-bench-smoke-"))
    try:
        params_path = PARAMS
        params = yaml.safe_load(PARAMS.read_text())
        if quick:
            params.update(QUICK_OVERRIDES)
            params_path = tmp / "smoke-quick.yaml"
            params_path.write_text(yaml.safe_dump(params, sort_keys=False))
        result = run_study(params_path, tmp / "outputs", tmp / "study.log")
        study = tmp / "outputs" / params["study"]
        parts = breakdown(study, result["wall_s"], result.pop("stage_lines"))
        if keep is not None:
            for part in ("data", "model"):
                shutil.copytree(study / part, Path(keep) / part, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    train = sum(r["train_runtime_s"] for r in parts["runs"].values())
    wall = result["wall_s"]
    training_stage = next((st["seconds"] for st in parts["stages"] if st["stage"].startswith("03_train")), None)
    runs = len(parts["runs"])
    # per run, everything the 03 stage spent beyond its Trainers' training and evaluation: kernel,
    # imports, model building, similarity, predictions, figures, the executor between notebooks
    fixed = round((training_stage - train) / runs, 2) if training_stage is not None and runs else None
    log(NAME, f"{'reduced ' if quick else ''}smoke study: {wall:.1f} s, peak RSS of the process tree "
              f"{(result['peak_tree_rss_bytes'] or 0) / 2**20:.0f} MiB; its runs trained for {train:.1f} s")
    return {"keys": {"smoke_study_seconds": round(wall, 1),
                     "smoke_study_over_training_time": round(wall / train, 3) if train else None,
                     "fixed_seconds_per_run": fixed},
            "raw": {**result, "peak_tree_rss_mib": round((result["peak_tree_rss_bytes"] or 0) / 2**20, 1),
                    "peak_process_rss_mib": round((result["peak_process_rss_bytes"] or 0) / 2**20, 1),
                    "runs_training_seconds": round(train, 2), **parts},
            "settings": {"params": str(PARAMS.relative_to(ROOT)), "reduced": quick,
                         "overrides": QUICK_OVERRIDES if quick else {},
                         "memory": "RSS summed over the process tree and the largest single process's RSS, "
                                   "sampled every 0.2 s (psutil)"}}
