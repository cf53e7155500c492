"""A study's run folders as records, without torch: configuration, metrics, failures, predictions.

``runs/<run_id>/`` holds ``config.json`` (what the run was configured as), ``metrics.json``
(``status`` complete or failed), ``predictions.npz`` and, while it trains, its checkpoints. The
report, the analysis and the schedulers read these; only training (``dlfa.training.train``) writes weights.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlfa.config.grid import Run, find_run, grid
from dlfa.config.identity import resolved_config, same_run
from dlfa.config.params import Params
from dlfa.io import write_json
from dlfa.layout import RunLayout, StudyLayout


def run_dir(study_dir: str | Path, run: Run | str) -> Path:
    return StudyLayout(Path(study_dir)).run(run if isinstance(run, str) else run.run_id).folder


def run_config(params: Params, run: Run) -> dict[str, Any]:
    """Everything that determines the run's result (``identity.resolved_config``): a recorded run
    with the same identity is reused."""
    return resolved_config(params, run)


def write_failure(folder: Path, params: Params, run: Run, error: str) -> None:
    """``metrics.json`` of a failed run: its error and configuration, so the study can go on and report it."""
    write_json(RunLayout(Path(folder)).metrics, {"run_id": run.run_id, "status": "failed", "error": error,
                                               "config": run_config(params, run),
                                               "failed_at": time.strftime("%Y-%m-%d %H:%M:%S")})


def record_notebook_failure(study_dir: str | Path, params: Params, run: Run, err: Exception) -> None:
    """A run whose notebook failed before training could record it gets its failure recorded here."""
    path = RunLayout(run_dir(study_dir, run)).metrics
    if path.is_file() and json.loads(path.read_text()).get("status") == "failed":
        return  # train_run recorded it, with its own message
    write_failure(path.parent, params, run, str(err))


def existing_metrics(study_dir: str | Path, params: Params, run: Run) -> dict[str, Any] | None:
    """The run's metrics.json if it is complete, was produced by the same configuration and has its
    predictions.npz beside it."""
    files = RunLayout(run_dir(study_dir, run))
    path = files.metrics
    if not path.is_file() or not files.predictions.is_file():
        return None
    metrics = json.loads(path.read_text())
    same = same_run(metrics.get("config"), run_config(params, run))
    return metrics if metrics.get("status") == "complete" and same else None


def world_size() -> int:
    """Processes training together (torchrun / accelerate launch set WORLD_SIZE); 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def remove_checkpoints(folder: Path) -> None:
    shutil.rmtree(folder / "trainer", ignore_errors=True)
    shutil.rmtree(folder / "intermediate", ignore_errors=True)
    shutil.rmtree(folder / "head", ignore_errors=True)


def start_afresh_if_reconfigured(params: Params, run: Run, folder: Path) -> None:
    """Record the run's configuration in ``config.json``; checkpoints left by another configuration
    (say, an earlier learning rate) are removed, never resumed."""
    config = run_config(params, run)
    stamp = RunLayout(folder).config
    if is_main_process():
        if stamp.is_file() and not same_run(json.loads(stamp.read_text() or "null"), config):
            print(f"{run.run_id}: its configuration changed since the last attempt; starting it afresh", flush=True)
            remove_checkpoints(folder)
            RunLayout(folder).predictions.unlink(missing_ok=True)
        write_json(stamp, config)


def last_checkpoint(folder: Path) -> str | None:
    """The newest complete Trainer checkpoint in ``folder`` (trainer_state.json is written last)."""
    done = [c for c in Path(folder).glob("checkpoint-*") if (c / "trainer_state.json").is_file()
            and c.name.split("-")[-1].isdigit()]
    return str(max(done, key=lambda c: int(c.name.split("-")[-1]))) if done else None


def load_predictions(folder: str | Path, protocol: str, language: str, split: str) -> pd.DataFrame:
    """One run's test (or dev) examples: ``id, label, predicted, correct`` at a protocol's checkpoint."""
    with np.load(RunLayout(Path(folder)).predictions) as z:
        frame = pd.DataFrame({"id": z[f"id__{language}__{split}"], "label": z[f"label__{language}__{split}"],
                              "predicted": z[f"{protocol}__{language}__{split}"]})
    frame["correct"] = frame["label"] == frame["predicted"]
    return frame


def job_info() -> dict[str, str] | None:
    """The scheduler job this process runs in (submitit's job environment, or plain Slurm)."""
    if os.environ.get("SUBMITIT_EXECUTOR"):
        import submitit  # only inside a submitit job
        env = submitit.JobEnvironment()
        return {"executor": env.name(), "job_id": str(env.job_id), "host": env.hostname}
    if os.environ.get("SLURM_JOB_ID"):
        return {"executor": "slurm", "job_id": os.environ["SLURM_JOB_ID"]}
    return None


def load_metrics(study_dir: str | Path) -> list[dict]:
    """Every complete run's metrics, ordered by run id."""
    found = []
    for recorded in StudyLayout(Path(study_dir)).recorded_runs():
        metrics = json.loads(recorded.metrics.read_text())
        if metrics.get("status") == "complete":
            found.append(metrics)
    return found


def chosen_languages(study_dir: str | Path, params: Params) -> list[str]:
    """The intermediate languages the typology stage chose (``typology/selection.csv``)."""
    if not params.intermediate_task:
        return []
    path = StudyLayout(Path(study_dir)).selection_csv
    if not path.is_file():
        raise FileNotFoundError(f"{study_dir} has no typology/selection.csv: prepare the study first "
                                "(dlfa prepare PARAMS.yaml, or dlfa run)")
    selection = pd.read_csv(path)
    return sorted(selection.loc[selection["selected"].astype(bool), "candidate"].unique())


def study_grid(study_dir: str | Path, params: Params) -> list[Run]:
    """The runs of a prepared study (its intermediate languages chosen)."""
    return grid(params, chosen_languages(study_dir, params))


def study_run(study_dir: str | Path, params: Params, run_id: str) -> Run:
    """The run of a prepared study called ``run_id`` (ParamsError if its grid has none)."""
    return find_run(params, run_id, chosen_languages(study_dir, params))


def study_runs(study_dir: str | Path, params: Params) -> tuple[list[dict], list[dict], list[str]]:
    """The grid's runs as they stand: (complete metrics, failed metrics, ids of runs not done).

    Only metrics of the params' configuration count: a run folder left by other params (another
    seed list, another learning rate) is neither reported nor analysed.
    """
    complete, failed, missing = [], [], []
    for run in study_grid(study_dir, params):
        metrics = existing_metrics(study_dir, params, run)
        if metrics is not None:
            complete.append(metrics)
            continue
        path = RunLayout(run_dir(study_dir, run)).metrics
        recorded = json.loads(path.read_text()) if path.is_file() else {}
        if recorded.get("status") == "failed" and same_run(recorded.get("config"), run_config(params, run)):
            failed.append(recorded)
        else:
            missing.append(run.run_id)
    return complete, failed, missing


def intermediate_stage(metrics: dict) -> dict:
    """The run's intermediate stage record (its own dev accuracy), or {} for a run without one."""
    return next((s for s in metrics.get("stages", []) if s.get("stage") == "intermediate"), {})


def intermediate_unlearnt(metrics: dict) -> str:
    """Why the run's intermediate stage learnt nothing of its own task (``stats.collapse`` on its
    dev predictions, recorded by ``train.intermediate_dev``), or ""."""
    return (intermediate_stage(metrics).get("dev_collapse") or {}).get("reason", "")
