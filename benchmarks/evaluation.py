"""Evaluation: test sets only where a step can be selected, against every test set at every step.

One run of the smoke study (the plain baseline, no intermediate task; QUICK: the reduced smoke
corpora) is trained twice from the same seed through ``dlfa.training.train.train_run``, once with
``_StudyTrainer.test_every_evaluation = True`` (what training did before) and once with the
default. The figure is the ratio of the seconds spent in evaluation (Trainer's per-set
``eval_runtime``, summed); the two runs must select the same checkpoints with the same test
accuracy, which is checked.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainerCallback

from .common import ROOT, log
from .smoke import PARAMS, QUICK_OVERRIDES

NAME = "evaluation"


class _EvalClock(TrainerCallback):
    def __init__(self):
        self.seconds = {"dev": 0.0, "test": 0.0}
        self.sets = {"dev": 0, "test": 0}

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        for key, value in (metrics or {}).items():
            if key.endswith("_runtime"):
                split = "test" if key.endswith("_test_runtime") else "dev"
                self.seconds[split] += value
                self.sets[split] += 1


def prepare(params_file: Path, study_name: str, folder: Path) -> Path:
    """A study folder with the data stage done (01_data executed with papermill)."""
    from dlfa.orchestration import notebooks
    study = folder / study_name
    notebooks.execute("01_data", study / "notebooks" / "01_data.ipynb",
                      notebooks.parameters("01_data", params_file, folder))
    return study


def run(quick: bool = False, study: Path | None = None) -> dict[str, Any]:
    from dlfa.config.grid import Run
    from dlfa.config.profiles import dump, validate
    from dlfa.training.train import train_run
    from dlfa.training.trainer import StudyTrainer
    raw_params = yaml.safe_load(PARAMS.read_text())
    if quick:
        raw_params.update(QUICK_OVERRIDES)
    params = validate(raw_params)
    tmp = Path(tempfile.mkdtemp(prefix="dlfa-bench-eval-"))
    run_ = Run(None, None, None, params.seeds[0])
    results = {}
    try:
        if study is None or not (study / "data").is_dir():
            log(NAME, "preparing the data stage (01_data)")
            params_file = tmp / "params.yaml"
            params_file.write_text(dump(params))
            study = prepare(params_file, params.study, tmp / "prepared")
        for every in (True, False):
            folder = tmp / f"every-{every}" / params.study
            for part in ("data", "model"):
                shutil.copytree(study / part, folder / part)
            clock = _EvalClock()
            StudyTrainer.test_every_evaluation = every
            started = time.perf_counter()
            try:
                metrics = train_run(params, run_, folder, callbacks=[clock])
            finally:
                StudyTrainer.test_every_evaluation = False
            label = "every_test_every_time" if every else "tests_where_selectable"
            results[label] = {"wall_s": round(time.perf_counter() - started, 2), "eval_seconds": clock.seconds,
                              "sets_evaluated": clock.sets, "selection": metrics["selection"]}
            log(NAME, f"{label}: evaluation {sum(clock.seconds.values()):.1f} s "
                      f"({clock.sets['test']} test-set evaluations), run {results[label]['wall_s']:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    a, b = results["every_test_every_time"], results["tests_where_selectable"]
    same = a.pop("selection") == b.pop("selection")
    if not same:
        raise RuntimeError("selective test evaluation changed the selected checkpoints or their accuracy")
    ratio = sum(b["eval_seconds"].values()) / sum(a["eval_seconds"].values())
    log(NAME, f"evaluation time: selective / every = {ratio:.3f}; run time {b['wall_s'] / a['wall_s']:.3f}")
    return {"keys": {"selective_over_every_eval_time": round(ratio, 4),
                     "selective_over_every_run_time": round(b["wall_s"] / a["wall_s"], 4)},
            "raw": {**results, "same_selection": same},
            "settings": {"run": run_.run_id, "params": str(PARAMS.relative_to(ROOT)), "reduced": quick,
                         "overrides": QUICK_OVERRIDES if quick else {}, "repeats": 1,
                         "note": "one run each way, in sequence (each takes minutes; the figure is a sum over "
                                 "hundreds of evaluations)"}}
