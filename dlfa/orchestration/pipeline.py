"""``dlfa run PARAMS.yaml``: validate, execute the stage notebooks in order, render the report.

01_data and 02_typology run once, 03_train once per run of the grid on an executor (see
``executors``; runs whose metrics.json exists for the same configuration are skipped, so an
interrupted study resumes), then 04_analysis and the report. The stages and the local executor's
runs share one notebook kernel (``notebooks.ReusedKernel``: a fresh IPython session per notebook),
so its start and the imports are paid once per study. Stages talk only through files in
``outputs/<study>/``; each notebook reads the study's own copy of its params, ``params.yaml``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dlfa.config.params import Params, ParamsError
from dlfa.config.profiles import dump, load
from dlfa.config.runs import existing_metrics, study_grid, study_runs
from dlfa.io import write_text
from dlfa.layout import StudyLayout
from dlfa.lock import remove_stale_temporaries, study_lock
from dlfa.orchestration import executors
from dlfa.orchestration.notebooks import NotebookFailed, ReusedKernel, execute, parameters
from dlfa.paths import study_dir
from dlfa.report.page import build


class RunsFailed(RuntimeError):
    """The study finished, report included, but some runs of the grid failed."""


def run_study(params_path: str | Path, outputs: str | Path | None = None, log=print, executor: str = "local",
              devices: list[str] | None = None, slurm=None) -> Path:
    """Run a whole study; return the report's path.

    The data and typology stages run here, once; the grid's runs on ``executor`` (``local``: one
    after another in this process; ``gpus``: one worker per GPU, or per ``devices``; ``slurm``: a
    job array, ``slurm`` an :class:`executors.SlurmOptions`); then analysis and report, here.

    Raises ParamsError before writing anything, ``lock.Busy`` when another process is running the
    same study, NotebookFailed when a study-level stage fails, and RunsFailed when some runs did not
    finish: failed runs are reported with the others; runs without metrics (a job that died, a
    worker that was stopped) leave the analysis and report unbuilt until they have them.
    """
    if executor not in executors.EXECUTORS:
        raise ParamsError("--executor", [f"unknown executor {executor!r}; choose from {list(executors.EXECUTORS)}"])
    if executor == "slurm" and not executors.slurm_available():
        raise ParamsError("--executor slurm", [executors.NO_SLURM])
    params = load(params_path)
    out = study_dir(params.study, outputs)
    with study_lock(out), ReusedKernel() as kernel:
        return _run_study(params, out, log, executor, devices, slurm, kernel)


def prepare_study(params_path: str | Path, outputs: str | Path | None = None, log=print) -> Path:
    """The data and typology stages only: what workers (``dlfa worker``) need; returns the study folder."""
    params = load(params_path)
    out = study_dir(params.study, outputs)
    with study_lock(out), ReusedKernel() as kernel:
        _prepare(params, out, log, time.time(), kernel)
    return out


def _stage_logger(log, started: float):
    def stage(i: int, name: str) -> None:
        log(f"[{i}/4 {time.time() - started:6.0f}s] {name}", flush=True)
    return stage


def _prepare(params: Params, out: Path, log, started: float, kernel: ReusedKernel) -> Path:
    """Write the study's params.yaml (what every stage and worker reads), then data and typology."""
    swept = remove_stale_temporaries(out)
    if swept:
        log(f"removed {len(swept)} temporary file(s) an interrupted run left in {out}", flush=True)
    params_file = StudyLayout(out).params_yaml
    write_text(params_file, dump(params))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    stage = _stage_logger(log, started)
    stage(1, "01_data: load, tokenize, cache")
    execute("01_data", StudyLayout(out).notebooks / "01_data.ipynb", parameters("01_data", params_file, out.parent),
            kernel=kernel)
    stage(2, "02_typology: URIEL distances, choice of intermediate languages")
    execute("02_typology", StudyLayout(out).notebooks / "02_typology.ipynb", parameters("02_typology", params_file, out.parent),
            kernel=kernel)
    return params_file


def _run_study(params: Params, out: Path, log, executor: str, devices, slurm, kernel: ReusedKernel) -> Path:
    started = time.time()
    stage = _stage_logger(log, started)
    params_file = _prepare(params, out, log, started, kernel)
    runs = study_grid(out, params)
    todo = [run.run_id for run in runs if existing_metrics(out, params, run) is None]
    stage(3, f"03_train: {len(runs)} runs, {len(runs) - len(todo)} done before, {len(todo)} to train "
             f"({executor} executor)")
    if todo and executor == "local":
        executors.work(params_file, out.parent, todo, log=log, kernel=kernel)
    elif todo and executor == "gpus":
        executors.run_on_gpus(params_file, out.parent, params.gpus_per_run, devices, log=log)
    elif todo:
        executors.run_on_slurm(params_file, out.parent, todo, params.gpus_per_run,
                               slurm or executors.SlurmOptions(), log=log)
    executors.wait_for_others(out, todo, log=log)  # runs another worker was training
    complete, failed, missing = study_runs(out, params)
    if missing:
        raise RunsFailed(f"{len(missing)} of {len(runs)} runs have no metrics: {', '.join(missing)}. Analysis and "
                         "report are built once every run has them: run the same command again (finished runs "
                         "are skipped, interrupted ones resume)")
    if not complete:
        raise NotebookFailed(f"no run of the grid finished ({len(failed)} failed): nothing to analyse; see "
                             f"runs/<run_id>/03_train.ipynb and log.txt in {out / 'runs'}")
    stage(4, "04_analysis: results, statistics, figures")
    execute("04_analysis", StudyLayout(out).notebooks / "04_analysis.ipynb", parameters("04_analysis", params_file, out.parent),
            kernel=kernel)
    stage(4, "report")
    report = build(out, params)
    log(f"done in {time.time() - started:.0f}s; report: {report}", flush=True)
    if failed:
        names = [m["run_id"] for m in failed]
        raise RunsFailed(f"{len(names)} of {len(runs)} runs failed: {', '.join(names)}. The report covers the "
                         f"others and lists these with their errors ({report}); run the same command again "
                         "to retry them (finished runs are skipped)")
    return report
