"""Where the runs of a study's grid are trained: here one after another (``local``), in parallel on
this machine's GPUs (``gpus``), or as a Slurm job array through submitit (``slurm``).

Every executor ends in :func:`run_one`, which trains one run under a lock of its own
(``runs/<run_id>/.lock``): two workers never train the same run, a finished run is never redone,
and a run that failed or was pre-empted is retried by the next worker that finds it. The run's
executed notebook and log stay in its folder (``03_train.ipynb``, ``log.txt``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dlfa.config.params import Params
from dlfa.config.profiles import load
from dlfa.config.runs import existing_metrics, record_notebook_failure, run_dir, study_grid, study_run
from dlfa.lock import Busy, run_lock
from dlfa.orchestration.notebooks import NotebookFailed, ReusedKernel, execute, parameters
from dlfa.paths import ROOT, study_dir

EXECUTORS = ("local", "gpus", "slurm")
NO_SLURM = ("Slurm's sbatch is not on PATH: run on a cluster's login node, or start a one-node cluster here with "
            "`make cluster` (as root) and export the SLURM_CONF it prints")


def slurm_available() -> bool:
    """Whether Slurm's sbatch is on PATH here."""
    return shutil.which("sbatch") is not None


@dataclass
class SlurmOptions:
    """Resources of each run's job (``--partition``, ``--time``, ``--mem``, ``--account``, ``--cpus``);
    GPUs per job are the params' ``gpus_per_run``."""

    partition: str | None = None
    time_min: int = 24 * 60
    mem_gb: int = 64
    cpus: int = 8
    account: str | None = None
    max_parallel: int = 64  # runs of the array running at once
    signal_delay_s: int = 90  # the job is told this long before its time limit, and requeued (submitit)
    max_num_timeout: int = 3  # times a job may reach its time limit and be requeued


def _study(params_path: str | Path, outputs: str | Path | None) -> tuple[Params, Path]:
    params = load(params_path)
    return params, study_dir(params.study, outputs)


def run_one(params_path: str | Path, run_id: str, outputs: str | Path | None = None,
            kernel: ReusedKernel | None = None) -> str:
    """Train one run of a prepared study unless it is done or another worker holds it (in ``kernel``,
    a worker's reused notebook kernel, if given).

    Returns ``"done"``, ``"failed"`` (recorded in its metrics.json), ``"done before"`` or ``"busy"``.
    """
    params, out = _study(params_path, outputs)
    run = study_run(out, params, run_id)
    folder = run_dir(out, run)
    try:
        with run_lock(out, run_id):
            if existing_metrics(out, params, run) is not None:
                return "done before"
            try:
                execute("03_train", folder / "03_train.ipynb", parameters("03_train", params_path, out.parent, run_id),
                        log_path=folder / "log.txt", kernel=kernel)
            except NotebookFailed as err:
                record_notebook_failure(out, params, run, err)
                print(f"    {run_id} failed: {str(err).splitlines()[0]}", flush=True)
                return "failed"
            return "done"
    except Busy:
        return "busy"


def work(params_path: str | Path, outputs: str | Path | None = None, run_ids: list[str] | None = None,
         log: Callable[..., None] = print, kernel: ReusedKernel | None = None) -> dict[str, str]:
    """Take the grid's runs (or ``run_ids``) one after another, training each that is neither done nor
    held by another worker, all in one notebook kernel (a fresh session each: ``kernel``, or one of
    this call's own); return what became of each."""
    params, out = _study(params_path, outputs)
    runs = [r.run_id for r in study_grid(out, params)] if run_ids is None else list(run_ids)
    outcome = {}
    with contextlib.nullcontext(kernel) if kernel is not None else ReusedKernel() as kernel:
        for i, run_id in enumerate(runs, 1):
            log(f"    run {i} of {len(runs)} {run_id}", flush=True)
            outcome[run_id] = run_one(params_path, run_id, outputs, kernel)
            log(f"    run {i} of {len(runs)} {run_id}: {outcome[run_id]}", flush=True)
    return outcome


def wait_for_others(out: Path, run_ids: list[str], log: Callable[..., None] = print) -> None:
    """Block until no other worker holds any of ``run_ids``."""
    for run_id in run_ids:
        try:
            with run_lock(out, run_id):
                pass
        except Busy as err:
            log(f"    waiting for {err}", flush=True)
            with run_lock(out, run_id, wait=True):
                pass


def visible_gpus() -> list[str]:
    """This machine's GPUs as CUDA_VISIBLE_DEVICES entries."""
    import torch
    if not torch.cuda.is_available():
        return []
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    return listed.split(",")[:torch.cuda.device_count()] if listed else [str(i) for i in range(torch.cuda.device_count())]


def device_groups(devices: list[str], gpus_per_run: int) -> list[list[str]]:
    """Disjoint groups of ``gpus_per_run`` devices, one worker each; the remainder stays idle."""
    return [devices[i:i + gpus_per_run] for i in range(0, len(devices) - gpus_per_run + 1, gpus_per_run)]


def run_on_gpus(params_path: Path, outputs: str | Path | None, gpus_per_run: int, devices: list[str] | None = None,
                log: Callable[..., None] = print) -> None:
    """One worker process per group of ``gpus_per_run`` devices; each takes runs until none is left.

    ``devices`` entries are CUDA_VISIBLE_DEVICES values; ``"cpu"`` entries make CPU workers (tests).
    """
    devices = visible_gpus() if devices is None else list(devices)
    groups = device_groups(devices, gpus_per_run)
    if not groups:
        raise RuntimeError(f"the gpus executor needs at least {gpus_per_run} visible GPU(s) (gpus_per_run); "
                           f"found {len(devices)}. Use --executor local, or run where GPUs are visible")
    _, out = _study(params_path, outputs)
    logs = out / "workers"
    logs.mkdir(parents=True, exist_ok=True)
    workers = []
    for i, group in enumerate(groups):
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "" if "cpu" in group else ",".join(group)}
        command = [sys.executable, "-m", "dlfa", "worker", str(params_path), "--outputs", str(out.parent)]
        handle = open(logs / f"worker-{i}.log", "w")
        workers.append((subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT),
                        handle, group))
        log(f"    worker {i} on {'CPU' if 'cpu' in group else 'GPU ' + ','.join(group)}: log {logs / f'worker-{i}.log'}",
            flush=True)
    try:
        for process, handle, group in workers:
            process.wait()
            handle.close()
            if process.returncode:
                log(f"    the worker on {group} exited with {process.returncode}; see its log", flush=True)
    finally:  # interrupted: stop the workers too (their runs resume next time)
        for process, handle, _ in workers:
            if process.poll() is None:
                process.terminate()
            handle.close()


class SlurmRun:
    """A Slurm job's body: train one run. Pre-empted or timed out, submitit requeues it, and the
    run resumes from its last checkpoint."""

    def __init__(self, params_path: str, outputs: str):
        self.params_path, self.outputs = params_path, outputs

    def __call__(self, run_id: str) -> str:
        # Slurm signals every process of a job: SIGTERM when it stops or requeues it, SIGUSR2 before its
        # time limit. Only this process answers them (submitit requeues the job); the notebook's kernel
        # ignores them and trains on until the job ends, so a stopped job reports no result, never a
        # failure, and its requeued successor resumes the run from its last checkpoint.
        with ReusedKernel(ignored_signals=(signal.SIGTERM, signal.SIGUSR2)) as kernel:
            return run_one(self.params_path, run_id, self.outputs, kernel)

    def checkpoint(self, run_id: str):  # submitit calls this on pre-emption / timeout
        import submitit
        return submitit.helpers.DelayedSubmission(SlurmRun(self.params_path, self.outputs), run_id)


def slurm_executor(out: Path, gpus_per_run: int, options: SlurmOptions):
    """A submitit executor whose jobs train one run each, with logs under ``<study>/slurm/<job id>/``."""
    import submitit
    if not slurm_available():
        raise RuntimeError(NO_SLURM)
    executor = submitit.AutoExecutor(folder=str(out / "slurm" / "%j"), cluster="slurm",
                                     slurm_max_num_timeout=options.max_num_timeout)
    executor.update_parameters(name=f"dlfa-{out.name}", timeout_min=options.time_min, mem_gb=options.mem_gb,
                               cpus_per_task=options.cpus, tasks_per_node=1, nodes=1, gpus_per_node=gpus_per_run,
                               slurm_partition=options.partition, slurm_account=options.account,
                               slurm_array_parallelism=options.max_parallel,
                               slurm_signal_delay_s=options.signal_delay_s)
    return executor


def run_on_slurm(params_path: Path, outputs: str | Path | None, run_ids: list[str], gpus_per_run: int,
                 options: SlurmOptions, log: Callable[..., None] = print) -> dict[str, str]:
    """Submit ``run_ids`` as one job array, wait for it, return each run's outcome (or its job's error)."""
    _, out = _study(params_path, outputs)
    executor = slurm_executor(out, gpus_per_run, options)
    jobs = executor.map_array(SlurmRun(str(params_path), str(out.parent)), run_ids)
    log(f"    submitted {len(jobs)} job(s): {', '.join(j.job_id for j in jobs)}; "
        f"logs in {out / 'slurm'}", flush=True)
    outcome = {}
    for run_id, job in zip(run_ids, jobs):
        try:
            outcome[run_id] = wait_for_job(job)
        except Exception as err:  # the job itself died (killed, out of memory, requeued too often)
            outcome[run_id] = f"job {job.job_id} failed: {job_error(err)}"
        log(f"    {run_id} (job {job.job_id}): {outcome[run_id]}", flush=True)
    return outcome


def job_error(err: Exception) -> str:
    """What a failed job's error says in one line: Slurm's state (``CANCELLED by 0``), or the last
    line of the job's traceback, not the log paths submitit appends."""
    lines = [line.strip() for line in str(err).split("You can check full logs")[0].splitlines()]
    lines = [line for line in lines if line and not set(line) <= {"-"}]
    state = next((line for line in lines if "(state:" in line), None)
    return state or (lines[-1] if lines else type(err).__name__)


class JobVanished(RuntimeError):
    """Slurm keeps no record of a job that submitit still waits for."""


def queued(job_id: str) -> bool:
    """Whether Slurm's queue holds the job (pending, running, completing)."""
    listed = subprocess.run(["squeue", "-h", "-r", "-j", job_id, "-o", "%i"], capture_output=True, text=True)
    return listed.returncode == 0 and bool(listed.stdout.strip())


def wait_for_job(job, poll_s: float = 5.0, grace_s: float = 60.0):
    """A submitit job's result, waiting as ``job.result()`` does; but a job that neither the queue nor
    accounting knows for ``grace_s`` (an array task cancelled while pending leaves no record, so
    submitit would wait forever) raises JobVanished."""
    unknown_since = None
    while not job.done():
        if job.state.upper().startswith("UNKNOWN") and not queued(job.job_id):
            unknown_since = unknown_since or time.monotonic()
            if time.monotonic() - unknown_since > grace_s:
                raise JobVanished(f"Slurm has no record of job {job.job_id} (cancelled before it started?)")
        else:
            unknown_since = None
        time.sleep(poll_s)
    return job.result()

