"""Executors: a study's grid trained by cooperating workers and on (faked) GPUs; on Slurm: test_slurm.py."""

import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from dlfa import lock
from dlfa.config import runs
from dlfa.config.grid import grid
from dlfa.config.params import ParamsError
from dlfa.config.profiles import validate
from dlfa.orchestration import executors
from dlfa.orchestration.pipeline import RunsFailed, prepare_study, run_study
from dlfa.paths import ROOT

GRID_STUDY = {  # four runs without an intermediate task: two variants x two seeds
    "study": "grid", "model": "tiny",
    "tiny_model": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64, "vocab_size": 400},
    "data_source": "synthetic", "targets": ["de"], "intermediate_task": None, "fusion_layers": [None, 1],
    "seeds": [1, 2], "train_size": 160, "eval_size": 40, "max_length": 40, "learning_rate": 0.001,
    "train_batch_size": 16, "effective_batch_size": 32, "eval_batch_size": 64, "num_train_epochs": 1.0,
    "evals_per_epoch": 1,
}
RUN_IDS = {r.run_id for r in grid(validate(GRID_STUDY), [])}


def test_device_groups_are_disjoint_and_sized_by_gpus_per_run():
    assert executors.device_groups(["0", "1", "2", "3"], 1) == [["0"], ["1"], ["2"], ["3"]]
    assert executors.device_groups(["0", "1", "2", "3", "4"], 2) == [["0", "1"], ["2", "3"]]
    assert executors.device_groups(["0"], 2) == []


def test_the_gpus_executor_refuses_too_few_devices(tmp_path):
    params = tmp_path / "grid.yaml"
    params.write_text(yaml.safe_dump(GRID_STUDY))
    with pytest.raises(RuntimeError, match=r"needs at least 2 visible GPU\(s\) \(gpus_per_run\); found 1"):
        executors.run_on_gpus(params, tmp_path, 2, devices=["0"])


def test_a_run_held_by_another_worker_is_left_to_it(tmp_path):
    params = tmp_path / "grid.yaml"
    params.write_text(yaml.safe_dump(GRID_STUDY))
    with lock.hold(tmp_path / "grid" / "runs" / "d1__none__s2" / ".lock", "run"):  # another open file: busy
        assert executors.run_one(params, "d1__none__s2", tmp_path) == "busy"


def test_the_job_of_a_run_is_read_from_submitit_or_slurm(monkeypatch):
    for name in ("SUBMITIT_EXECUTOR", "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    assert runs.job_info() is None
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert runs.job_info() == {"executor": "slurm", "job_id": "4242"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The grid study with its data and typology stages done, to be copied by each test."""
    root = tmp_path_factory.mktemp("prepared")
    params = root / "grid.yaml"
    params.write_text(yaml.safe_dump(GRID_STUDY))
    prepare_study(params, root / "out", log=lambda *a, **k: None)
    return params, root / "out" / "grid"


def _copy(prepared, tmp_path):
    _, source = prepared
    shutil.copytree(source, tmp_path / "grid")
    return tmp_path / "grid"


def _assert_every_run_complete_with_its_notebook_and_log(study):
    for run_id in RUN_IDS:
        run_dir = study / "runs" / run_id
        assert json.loads((run_dir / "metrics.json").read_text())["status"] == "complete", run_id
        assert (run_dir / "03_train.ipynb").is_file() and "dev accuracy en " in (run_dir / "log.txt").read_text(), run_id


@pytest.mark.slow
def test_two_workers_on_one_study_train_each_run_exactly_once(prepared, tmp_path):
    study = _copy(prepared, tmp_path)
    command = [sys.executable, "-m", "dlfa", "worker", str(study / "params.yaml"), "--outputs", str(tmp_path)]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
               for _ in range(2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    trained = [set(re.search(r"^trained: (.*)$", out, re.M).group(1).split()) for out in outputs]
    assert trained[0].isdisjoint(trained[1]) and trained[0] | trained[1] == RUN_IDS, trained
    assert all(trained), "both workers took runs"
    _assert_every_run_complete_with_its_notebook_and_log(study)
    finish = subprocess.run([sys.executable, "-m", "dlfa", "run", str(study / "params.yaml"), "--outputs",
                             str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert finish.returncode == 0, finish.stderr[-2000:]
    assert "4 runs, 4 done before, 0 to train" in finish.stdout
    assert set(pd.read_csv(study / "results.csv").run_id) == RUN_IDS


@pytest.mark.slow
def test_the_gpus_executor_runs_one_worker_per_device(prepared, tmp_path, monkeypatch):
    study = _copy(prepared, tmp_path)
    params = study / "params.yaml"
    # Workers that never train leave runs without metrics: no analysis, no report, and a message.
    monkeypatch.setattr(executors, "run_on_gpus", lambda *args, **kwargs: None)
    with pytest.raises(RunsFailed, match=r"4 of 4 runs have no metrics: baseline__none__s1, d1__none__s1, .*"
                                         r"Analysis and report are built once every run has them"):
        run_study(params, tmp_path, log=lambda *a, **k: None, executor="gpus", devices=["cpu", "cpu"])
    assert not (study / "results.csv").exists() and not (study / "report").exists()
    monkeypatch.undo()
    lines = []
    report = run_study(params, tmp_path, log=lambda line, **k: lines.append(line), executor="gpus",
                       devices=["cpu", "cpu"])
    assert report.is_file() and set(pd.read_csv(study / "results.csv").run_id) == RUN_IDS
    assert sum("worker" in line and "on CPU" in line for line in lines) == 2
    logs = [(study / "workers" / f"worker-{i}.log").read_text() for i in range(2)]
    trained = [set(re.search(r"^trained: (.*)$", log, re.M).group(1).split()) for log in logs]
    assert trained[0].isdisjoint(trained[1]) and trained[0] | trained[1] == RUN_IDS
    _assert_every_run_complete_with_its_notebook_and_log(study)


def test_unknown_executor_is_refused(tmp_path):
    with pytest.raises(ParamsError, match=r"unknown executor 'cloud'; choose from \['local', 'gpus', 'slurm'\]"):
        run_study(tmp_path / "nope.yaml", tmp_path, executor="cloud")


def test_a_failed_jobs_error_is_told_in_one_line():
    from submitit.core.utils import FailedJobError, UncompletedJobError
    trace = ("Job (task=0) failed during processing with trace:\n----------------------\nTraceback (most recent call "
             "last):\n  File \"x.py\", line 1\nnbclient.exceptions.DeadKernelError: Kernel died\n"
             "----------------------\nYou can check full logs with 'job.stderr(0)' and 'job.stdout(0)'or at paths:\n"
             "  - /tmp/s/1/1_0_log.err\n  - /tmp/s/1/1_0_log.out")
    assert executors.job_error(FailedJobError(trace)) == "nbclient.exceptions.DeadKernelError: Kernel died"
    cancelled = ("Job 8_0 (task: 0) with path /tmp/s/8_0/8_0_0_result.pkl\nhas not produced any output "
                 "(state: CANCELLED by 0)\nNo output/error stream produced ! Check: /tmp/s/8_0/8_0_0_log.out")
    assert executors.job_error(UncompletedJobError(cancelled)) == "has not produced any output (state: CANCELLED by 0)"
    assert executors.job_error(RuntimeError()) == "RuntimeError"


class _Job:
    """What wait_for_job reads of a submitit job: done() after ``polls`` checks, its state, its result."""

    def __init__(self, state, polls):
        self.job_id, self.state, self.polls = "5_1", state, polls

    def done(self):
        self.polls -= 1
        return self.polls < 0

    def result(self):
        return "done"


def test_a_job_slurm_has_no_record_of_is_not_waited_for_forever(monkeypatch):
    monkeypatch.setattr(executors, "queued", lambda job_id: False)
    with pytest.raises(executors.JobVanished, match=r"Slurm has no record of job 5_1 \(cancelled before it started\?\)"):
        executors.wait_for_job(_Job("UNKNOWN", polls=10 ** 6), poll_s=0.01, grace_s=0.05)
    assert executors.wait_for_job(_Job("PENDING", polls=3), poll_s=0.01, grace_s=0.0) == "done"  # in accounting
    monkeypatch.setattr(executors, "queued", lambda job_id: True)  # not yet in accounting, but in the queue
    assert executors.wait_for_job(_Job("UNKNOWN", polls=20), poll_s=0.01, grace_s=0.05) == "done"
