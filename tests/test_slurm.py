"""The Slurm executor against a real one-node Slurm (munged, MariaDB, slurmdbd, slurmctld, slurmd)
that this module starts as root and stops at the end (``dlfa.orchestration.local_slurm``).

Each test reads what Slurm itself reports (``scontrol show job``, ``sacct``), never submitit's
script text.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import yaml
from submitit.core.utils import UncompletedJobError

from dlfa.config.profiles import load
from dlfa.config.runs import existing_metrics, last_checkpoint, study_run
from dlfa.orchestration import executors, local_slurm
from dlfa.orchestration.cli import EXIT_FAILED, main
from dlfa.orchestration.pipeline import prepare_study
from dlfa.paths import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.xdist_group("slurm")]

# One run, long enough to be interrupted: a checkpoint at each of its many evaluations.
LONG_RUN = {
    "study": "long", "model": "tiny",
    "tiny_model": {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128, "vocab_size": 400},
    "data_source": "synthetic", "targets": ["de"], "intermediate_task": None, "fusion_layers": [None],
    "seeds": [1], "train_size": 3000, "eval_size": 40, "max_length": 40, "learning_rate": 0.001,
    "train_batch_size": 16, "effective_batch_size": 16, "eval_batch_size": 64, "num_train_epochs": 3.0,
    "evals_per_epoch": 8,
}
RUN_ID = "baseline__none__s1"
# About a minute of training on 2 cores: longer than a one-minute job runs before its time limit's signal.
LONGER_RUN = {**LONG_RUN, "study": "longer", "num_train_epochs": 12.0, "evals_per_epoch": 2,
              "tiny_model": {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 256,
                             "vocab_size": 400}}
TWO_RUNS = {**LONG_RUN, "study": "two", "train_size": 160, "num_train_epochs": 1.0, "evals_per_epoch": 1,
            "fusion_layers": [None, 1]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("a local Slurm cluster is started as root (CI runs as root)")
    if local_slurm.missing_binaries():
        if shutil.which("apt-get") is None:
            pytest.skip(f"Slurm is not installed and there is no apt-get: {local_slurm.INSTALL}")
        local_slurm.ensure_installed()
    base = tempfile.mkdtemp(prefix="dlfa-slurm-")  # not below pytest's folders: munged needs every parent open
    started = local_slurm.start(base, gpus=2, extra_conf="PartitionName=batch Nodes=ALL MaxTime=INFINITE State=UP\n")
    yield started
    started.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def slurm(cluster, monkeypatch):
    """This test's processes (and the jobs they submit) use the local cluster."""
    for name in [n for n in os.environ if n.startswith("SLURM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SLURM_CONF", cluster.env["SLURM_CONF"])
    return cluster


def job_fields(cluster, job_id: str) -> dict[str, str]:
    """``scontrol show job -o``: Slurm's own record of a job, as key=value."""
    line = cluster.run("scontrol", "show", "job", "-o", job_id)
    return dict(token.split("=", 1) for token in line.split() if "=" in token)


def job_state(cluster, job_id: str) -> str:
    return cluster.run("sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id).strip().splitlines()[0]


def wait_for(condition, what: str, timeout: float = 300.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def prepared(tmp_path, study: dict):
    path = tmp_path / f"{study['study']}.yaml"
    path.write_text(yaml.safe_dump(study))
    return path, prepare_study(path, tmp_path, log=lambda *a, **k: None)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """LONG_RUN trained here, in one go: the metrics an interrupted run must end with."""
    root = tmp_path_factory.mktemp("uninterrupted")
    path, out = prepared(root, LONG_RUN)
    assert executors.work(path, root, log=lambda *a, **k: None) == {RUN_ID: "done"}
    return json.loads((out / "runs" / RUN_ID / "metrics.json").read_text())


def same_results(a: dict, b: dict) -> None:
    assert a["selection"] == b["selection"]  # every protocol's chosen step, dev and test accuracy
    assert [s["examples"] for s in a["stages"]] == [s["examples"] for s in b["stages"]]


def test_jobs_ask_for_the_resources_given(slurm, tmp_path):
    slurm.run("sacctmgr", "-i", "add", "account", "my-lab")  # an account Slurm knows, and root in it
    slurm.run("sacctmgr", "-i", "add", "user", "root", "account=my-lab")
    options = executors.SlurmOptions(partition="batch", account="my-lab", time_min=240, mem_gb=2, cpus=2)
    job = executors.slurm_executor(tmp_path / "paper", 1, options).submit(time.sleep, 60)
    try:
        fields = job_fields(slurm, job.job_id)
        assert (fields["Partition"], fields["Account"], fields["TimeLimit"]) == ("batch", "my-lab", "04:00:00")
        assert (fields["NumCPUs"], fields["MinMemoryNode"], fields["TresPerNode"]) == ("2", "2G", "gres:gpu:1")
        assert fields["JobName"] == "dlfa-paper" and fields["StdOut"].startswith(str(tmp_path / "paper" / "slurm"))
    finally:
        job.cancel()


def test_without_slurm_the_slurm_executor_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(TWO_RUNS))
    assert main(["run", str(path), "--outputs", str(tmp_path), "--executor", "slurm"]) == 2
    assert "Slurm's sbatch is not on PATH" in capsys.readouterr().err and not (tmp_path / "two").exists()


def test_the_smoke_study_on_slurm_gives_the_results_of_the_local_executor(slurm, tmp_path):
    smoke = ROOT / "params" / "smoke.yaml"
    assert main(["run", str(smoke), "--outputs", str(tmp_path / "local")]) == 0
    # --cpus 2: the node's two CPUs, so one job at a time with the threads a local run uses
    assert main(["run", str(smoke), "--outputs", str(tmp_path / "slurm"), "--executor", "slurm",
                 "--partition", "debug", "--cpus", "2", "--mem", "3", "--time", "30"]) == 0
    local, on_slurm = (tmp_path / where / "smoke" for where in ("local", "slurm"))
    assert (on_slurm / "results.csv").read_bytes() == (local / "results.csv").read_bytes()
    for folder in sorted((on_slurm / "runs").iterdir()):
        job = json.loads((folder / "metrics.json").read_text())["job"]
        assert job["executor"] == "slurm" and re.fullmatch(r"\d+_\d+", job["job_id"]), job
        assert job_state(slurm, job["job_id"]) == "COMPLETED"


def test_a_requeued_job_resumes_from_its_checkpoint(slurm, tmp_path, uninterrupted):
    path, out = prepared(tmp_path, LONG_RUN)
    folder = out / "runs" / RUN_ID
    outcome = {}
    submit = threading.Thread(target=lambda: outcome.update(executors.run_on_slurm(
        path, tmp_path, [RUN_ID], 0, executors.SlurmOptions(partition="debug", cpus=1, mem_gb=3, time_min=30),
        log=lambda *a, **k: None)))
    submit.start()
    wait_for(lambda: last_checkpoint(folder / "trainer"), "the run's first checkpoint")
    job_id = wait_for(lambda: slurm.run("squeue", "-h", "-o", "%i").split(), "the job in squeue")[0]
    slurm.run("scontrol", "requeue", job_id)  # Slurm stops the job and starts it again
    submit.join(timeout=600)
    assert outcome == {RUN_ID: "done"}
    assert int(job_fields(slurm, job_id)["Restarts"]) == 1
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["stages"][-1]["resumed_from"], "the restarted job resumed from the checkpoint"
    same_results(metrics, uninterrupted)


def test_a_job_at_its_time_limit_is_requeued_and_finishes(slurm, tmp_path):
    path, out = prepared(tmp_path, LONGER_RUN)
    # One minute per job; told 10 s before it, submitit requeues the job, which resumes the run.
    options = executors.SlurmOptions(partition="debug", cpus=1, mem_gb=3, time_min=1, signal_delay_s=10,
                                     max_num_timeout=20)
    outcome = executors.run_on_slurm(path, tmp_path, [RUN_ID], 0, options, log=lambda *a, **k: None)
    assert outcome[RUN_ID] in ("done", "done before")  # before: a job requeued after the run had finished
    metrics = json.loads((out / "runs" / RUN_ID / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["stages"][-1]["resumed_from"]
    restarts = int(job_fields(slurm, metrics["job"]["job_id"])["Restarts"])
    assert restarts >= 1, "the run outlasted its job's time limit, so submitit requeued the job"
    log = "".join(f.read_text() for f in (out / "slurm").rglob("*_log.err"))
    assert "this job is timed-out" in log, log[-2000:]


def test_a_cancelled_job_leaves_its_run_unfinished_and_the_next_run_submits_only_it(slurm, tmp_path):
    path, out = prepared(tmp_path, TWO_RUNS)
    command = [sys.executable, "-m", "dlfa", "run", str(path), "--outputs", str(tmp_path), "--executor", "slurm",
               "--partition", "debug", "--cpus", "2", "--mem", "3", "--time", "30"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                             env=slurm.environ())
    running = wait_for(lambda: slurm.run("squeue", "-h", "-r", "-t", "R", "-o", "%i").split(), "a running job")[0]
    slurm.run("scancel", running)
    printed = first.communicate(timeout=600)[0]
    assert first.returncode == EXIT_FAILED, printed
    params = load(path)
    unfinished = [r for r in ("baseline__none__s1", "d1__none__s1")
                  if existing_metrics(out, params, study_run(out, params, r)) is None]
    assert len(unfinished) == 1 and f"{unfinished[0]} (job {running}): job {running} failed" in printed, printed
    assert "CANCELLED" in printed and f"1 of 2 runs have no metrics: {unfinished[0]}" in printed
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=slurm.environ(), timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "2 runs, 1 done before, 1 to train" in again.stdout and "submitted 1 job(s)" in again.stdout
    assert (out / "report" / "index.html").is_file()


def test_a_job_cancelled_before_it_started_is_not_waited_for_forever(slurm, tmp_path):
    """An array task cancelled while pending is CANCELLED in accounting, or (when the array's first record
    went to a task that started) not recorded at all: submitit alone would then wait on for ever."""
    options = executors.SlurmOptions(partition="debug", cpus=2, mem_gb=1, time_min=5)  # one job at a time
    jobs = executors.slurm_executor(tmp_path / "sleep", 0, options).map_array(time.sleep, [60, 60])
    try:
        wait_for(lambda: slurm.run("squeue", "-h", "-r", "-t", "R", "-o", "%i").split(), "a running job")
        pending = next(job for job in jobs if slurm.run("squeue", "-h", "-j", job.job_id, "-o", "%T").strip() == "PENDING")
        slurm.run("scancel", pending.job_id)
        started = time.monotonic()
        with pytest.raises((executors.JobVanished, UncompletedJobError)) as ended:
            executors.wait_for_job(pending, poll_s=1, grace_s=5)
        assert time.monotonic() - started < 60
        assert re.search(rf"Slurm has no record of job {pending.job_id}|state: CANCELLED", str(ended.value))
    finally:
        for job in jobs:
            job.cancel(check=False)
