"""``dlfa run PARAMS.yaml``: validate, execute the notebooks with papermill in order, render the report.

01_data and 02_typology run once, 03_train once per run of the grid on an executor (see
``executors``; runs whose metrics.json exists for the same configuration are skipped, so an
interrupted study resumes), then 04_analysis and the report. Stages talk only through files in
``outputs/<study>/``. Exit codes: 0 done, 1 a stage or some runs failed, 2 bad input, 3 busy.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from . import params as params_mod
from .io import atomic_path, write_text
from .lock import Busy, remove_stale_temporaries, run_lock, study_lock
from .paths import NOTEBOOKS, study_dir
from .results import chosen_languages, study_runs

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUSY = 1, 2, 3  # dlfa's exit codes besides 0
STAGES = ("01_data", "02_typology", "03_train", "04_analysis")
RUN_PARAMETERS = {"fusion_layer", "intermediate_language", "seed"}  # 03_train's per-run parameters


class NotebookFailed(RuntimeError):
    pass


def notebook_parameters(name: str) -> dict[str, Any]:
    """The names and default values assigned in a notebook's cell tagged ``parameters``."""
    return dict(_parse_parameters(name))


@functools.lru_cache(maxsize=None)  # a study asks once per stage and run; the source does not change
def _parse_parameters(name: str) -> dict[str, Any]:
    import jupytext
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"notebooks/{name}.py must have exactly one cell tagged 'parameters'; found {len(cells)}")
    found = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


def notebook_params(name: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Validate a notebook's parameter values (from its globals) as a params file; return them complete.

    03_train's per-run values are checked as a one-point grid (``fusion_layer`` -> ``fusion_layers``).
    """
    values = {k: namespace[k] for k in notebook_parameters(name) if k != "outputs_dir"}
    if "fusion_layer" in values:
        values["fusion_layers"] = [values.pop("fusion_layer")]
        values["seeds"] = [values.pop("seed")]
        language = values.pop("intermediate_language")
        if language is not None:
            values["intermediate_languages"] = [language]
            values["candidate_languages"] = [language]
    return params_mod.validate(values, f"notebooks/{name}.py parameters")


def execute(name: str, out_path: Path, parameters: dict[str, Any], log_path: Path | None = None) -> None:
    """Execute notebooks/<name>.py into ``out_path`` with the parameters it declares; the kernel's
    output also goes to ``log_path`` as it runs, if given."""
    import jupytext
    import papermill as pm
    declared = notebook_parameters(name)
    unknown = set(parameters) - set(declared)
    if unknown:  # papermill would only warn
        raise ValueError(f"notebooks/{name}.py has no parameter(s) {sorted(unknown)}")
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    with atomic_path(out_path) as tmp, log or contextlib.nullcontext():  # the notebook appears whole, failed or not
        try:
            pm.execute_notebook(nb, str(tmp), parameters=parameters, kernel_name="python3",
                                progress_bar=False, cwd=str(NOTEBOOKS), stdout_file=log, stderr_file=log,
                                extra_arguments=["--IPKernelApp.log_level=ERROR"])  # no TCP warning
        except pm.PapermillExecutionError as err:
            os.replace(tmp, out_path)
            where = ""
            if not err.evalue:  # e.g. a bare assert: show where it happened
                lines = [re.sub(r"\x1b\[[0-9;]*m", "", t).strip() for t in "\n".join(err.traceback).splitlines()]
                where = "\n    " + "\n    ".join([t for t in lines if t][-3:])
            raise NotebookFailed(f"{name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}{where}\n"
                                 f"  executed notebook: {out_path}") from None


def parameters_for(name: str, p: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The params a notebook declares as parameters, with ``extra`` (outputs folder, a run's values)."""
    declared = notebook_parameters(name)
    return {**{k: v for k, v in p.items() if k in declared}, **extra}


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
    from .executors import EXECUTORS
    if executor not in EXECUTORS:
        raise params_mod.ParamsError("--executor", [f"unknown executor {executor!r}; choose from {list(EXECUTORS)}"])
    p = params_mod.load(params_path)
    out = study_dir(p["study"], outputs)
    with study_lock(out):
        return _run_study(p, out, log, executor, devices, slurm)


def prepare_study(params_path: str | Path, outputs: str | Path | None = None, log=print) -> Path:
    """The data and typology stages only: what workers (``dlfa worker``) need; returns the study folder."""
    p = params_mod.load(params_path)
    out = study_dir(p["study"], outputs)
    with study_lock(out):
        _prepare(p, out, log, time.time())
    return out


def _stage_logger(log, started: float):
    def stage(i: int, name: str) -> None:
        log(f"[{i}/4 {time.time() - started:6.0f}s] {name}", flush=True)
    return stage


def _prepare(p: dict[str, Any], out: Path, log, started: float) -> None:
    swept = remove_stale_temporaries(out)
    if swept:
        log(f"removed {len(swept)} temporary file(s) an interrupted run left in {out}", flush=True)
    write_text(out / "params.yaml", yaml.safe_dump(p, sort_keys=False))  # what the runs' workers read
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    common = {"outputs_dir": str(out.parent)}
    stage = _stage_logger(log, started)
    stage(1, "01_data: load, tokenize, cache")
    execute("01_data", out / "notebooks" / "01_data.ipynb", parameters_for("01_data", p, common))
    stage(2, "02_typology: URIEL distances, choice of intermediate languages")
    execute("02_typology", out / "notebooks" / "02_typology.ipynb", parameters_for("02_typology", p, common))


def _run_study(p: dict[str, Any], out: Path, log, executor: str, devices, slurm) -> Path:
    from . import executors
    from .train import existing_metrics
    started = time.time()
    stage = _stage_logger(log, started)
    _prepare(p, out, log, started)
    params_file = out / "params.yaml"
    runs = params_mod.grid(p, chosen_languages(out, p))
    todo = [run.run_id for run in runs if existing_metrics(out, p, run) is None]
    stage(3, f"03_train: {len(runs)} runs, {len(runs) - len(todo)} done before, {len(todo)} to train "
             f"({executor} executor)")
    if todo and executor == "local":
        executors.work(params_file, out.parent, todo, log=log)
    elif todo and executor == "gpus":
        executors.run_on_gpus(params_file, out.parent, p["gpus_per_run"], devices, log=log)
    elif todo:
        executors.run_on_slurm(params_file, out.parent, todo, p["gpus_per_run"], slurm or executors.SlurmOptions(),
                               log=log)
    executors.wait_for_others(out, todo, log=log)  # runs another worker was training
    complete, failed, missing = study_runs(out, p)
    if missing:
        raise RunsFailed(f"{len(missing)} of {len(runs)} runs have no metrics: {', '.join(missing)}. Analysis and "
                         "report are built once every run has them: run the same command again (finished runs "
                         "are skipped, interrupted ones resume)")
    if not complete:
        raise NotebookFailed(f"no run of the grid finished ({len(failed)} failed): nothing to analyse; see "
                             f"runs/<run_id>/03_train.ipynb and log.txt in {out / 'runs'}")
    stage(4, "04_analysis: results, statistics, figures")
    execute("04_analysis", out / "notebooks" / "04_analysis.ipynb",
            parameters_for("04_analysis", p, {"outputs_dir": str(out.parent)}))
    stage(4, "report")
    from .report import build
    report = build(out, p)
    log(f"done in {time.time() - started:.0f}s; report: {report}", flush=True)
    if failed:
        names = [m["run_id"] for m in failed]
        raise RunsFailed(f"{len(names)} of {len(runs)} runs failed: {', '.join(names)}. The report covers the "
                         f"others and lists these with their errors ({report}); run the same command again "
                         "to retry them (finished runs are skipped)")
    return report


def record_failure(out: Path, p: dict[str, Any], run, err: Exception) -> None:
    """A run whose notebook failed before training could record it gets its failure recorded here."""
    import json

    from .train import write_failure
    path = out / "runs" / run.run_id / "metrics.json"
    if path.is_file() and json.loads(path.read_text()).get("status") == "failed":
        return  # train_run recorded it, with its own message
    write_failure(path.parent, p, run, str(err))


def train_one(params_path: str | Path, run_id: str, outputs: str | Path | None = None) -> dict[str, Any]:
    """Train one run of the study's grid (its data stage must have run); skip it if already done."""
    p = params_mod.load(params_path)
    try:
        run = params_mod.Run.parse(run_id)
    except ValueError as err:
        raise params_mod.ParamsError(str(params_path), [str(err)]) from None
    problems = []
    if run.fusion_layer not in p["fusion_layers"]:
        problems.append(f"run {run_id}: fusion layer {run.fusion_layer} is not in 'fusion_layers' {p['fusion_layers']}")
    if run.seed not in p["seeds"]:
        problems.append(f"run {run_id}: seed {run.seed} is not in 'seeds' {p['seeds']}")
    if run.intermediate_language and (run.intermediate_task != p["intermediate_task"]
                                      or run.intermediate_language not in p["candidate_languages"]):
        problems.append(f"run {run_id}: '{run.intermediate}' is not a candidate of intermediate task "
                        f"{p['intermediate_task']!r} ({p['candidate_languages']})")
    if problems:
        raise params_mod.ParamsError(str(params_path), problems)
    from .train import existing_metrics, train_run, world_size
    out = study_dir(p["study"], outputs)
    if world_size() > 1:  # torchrun's processes train it together; launch_run's caller holds the run's lock
        return existing_metrics(out, p, run) or train_run(p, run, out)
    with run_lock(out, run_id):  # never beside a worker training it
        return existing_metrics(out, p, run) or train_run(p, run, out)


def main(argv: list[str] | None = None) -> int:
    from .executors import EXECUTORS, SlurmOptions, work
    parser = argparse.ArgumentParser(prog="dlfa", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a whole study from a params file")
    run.add_argument("params", help="a params file, e.g. params/smoke.yaml")
    run.add_argument("--outputs", help="folder for study folders (default: outputs/, or $DLFA_OUTPUTS)")
    run.add_argument("--executor", choices=EXECUTORS, default="local",
                     help="where the grid's runs train: here one after another (local), one worker per visible "
                          "GPU (gpus), or a Slurm job array through submitit (slurm)")
    slurm = run.add_argument_group("slurm executor (each run one job of the array; GPUs: gpus_per_run)")
    defaults = SlurmOptions()
    slurm.add_argument("--partition", help="Slurm partition")
    slurm.add_argument("--account", help="Slurm account")
    slurm.add_argument("--time", type=int, default=defaults.time_min, metavar="MINUTES",
                       help=f"time limit per run (default {defaults.time_min}); a run that hits it is requeued "
                            "and resumes from its checkpoint")
    slurm.add_argument("--mem", type=int, default=defaults.mem_gb, metavar="GB", help=f"memory per run (default {defaults.mem_gb})")
    slurm.add_argument("--cpus", type=int, default=defaults.cpus, help=f"CPUs per run (default {defaults.cpus})")
    slurm.add_argument("--max-parallel", type=int, default=defaults.max_parallel,
                       help=f"runs of the array running at once (default {defaults.max_parallel})")
    slurm.add_argument("--cluster", choices=["slurm", "local", "debug"], default=None, help=argparse.SUPPRESS)
    prep = sub.add_parser("prepare", help="the data and typology stages only, so that workers can train the grid")
    prep.add_argument("params")
    prep.add_argument("--outputs")
    worker = sub.add_parser("worker", help="train runs of a prepared study that no other worker holds, until none is "
                                           "left (start several, on one machine or many, sharing the study folder)")
    worker.add_argument("params", help="the study's params (its own copy, outputs/<study>/params.yaml, is safest)")
    worker.add_argument("--outputs")
    worker.add_argument("--run", action="append", dest="runs", metavar="RUN_ID", help="only these runs (repeatable)")
    check = sub.add_parser("validate", help="check a params file and show the grid, running nothing")
    check.add_argument("params")
    one = sub.add_parser("train", help="train one run of a study (under torchrun / accelerate launch: on N GPUs)")
    one.add_argument("params")
    one.add_argument("run_id", help="the run, e.g. d6__xnli-de__s1")
    one.add_argument("--outputs")
    rep = sub.add_parser("report", help="rebuild a study's report from its outputs")
    rep.add_argument("params")
    rep.add_argument("--outputs")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            options = SlurmOptions(partition=args.partition, time_min=args.time, mem_gb=args.mem, cpus=args.cpus,
                                   account=args.account, max_parallel=args.max_parallel, cluster=args.cluster)
            run_study(args.params, args.outputs, executor=args.executor, slurm=options)
        elif args.command == "prepare":
            print(f"prepared: {prepare_study(args.params, args.outputs)}")
        elif args.command == "worker":
            outcome = work(args.params, args.outputs, args.runs)
            print("trained: " + " ".join(r for r, o in outcome.items() if o in ("done", "failed")))
        elif args.command == "train":
            train_one(args.params, args.run_id, args.outputs)
        elif args.command == "validate":
            p = params_mod.load(args.params)
            print(f"{args.params}: valid; study '{p['study']}', variants {p['fusion_layers']}, seeds {p['seeds']}")
        else:
            from .report import build
            p = params_mod.load(args.params)
            out = study_dir(p["study"], args.outputs)
            with study_lock(out):
                print(build(out, p))
    except params_mod.ParamsError as err:
        print(f"dlfa: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Busy as err:
        print(f"dlfa: {err}", file=sys.stderr)
        return EXIT_BUSY
    except (NotebookFailed, RunsFailed) as err:
        print(f"dlfa: {err}", file=sys.stderr)
        return EXIT_FAILED
    return 0
