"""Reliability: bad input refused before anything runs; locks; failed and reconfigured runs; leftovers."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import tiny_params
from dlfa import lock
from dlfa.config.grid import Run
from dlfa.config.profiles import validate
from dlfa.orchestration.cli import EXIT_BAD_INPUT, EXIT_BUSY, main
from dlfa.paths import PARAMS, ROOT

SMOKE = yaml.safe_load((PARAMS / "smoke.yaml").read_text())


def _write(tmp_path, text):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def _official_layout(root, missing=()):
    for lang in ("en", "de", "es", "fr", "ja", "ko", "zh"):
        for name in ("dev_2k.tsv", "test_2k.tsv") + (("train.tsv",) if lang == "en" else ()):
            if f"{lang}/{name}" not in missing:
                (root / lang).mkdir(parents=True, exist_ok=True)
                (root / lang / name).touch()
    return root


@pytest.mark.parametrize("case, text, message", [
    ("misspelt key", "learning_rte: 0.001", "unknown key 'learning_rte' (did you mean 'learning_rate'?)"),
    ("unknown key", "colour: blue", "unknown key 'colour'; allowed keys: ['adam_beta2',"),
    ("wrong type", "seeds: 1", "'seeds' must be a non-empty list of distinct integers; got 1"),
    ("wrong type", "train_batch_size: '32'", "'train_batch_size' must be an integer >= 1; got '32'"),
    ("unknown language", "targets: [de, german]",
     "'targets' has unknown language code(s) ['german']; allowed: ['de', 'es', 'fr', 'ja', 'ko', 'zh']"),
    ("unknown intermediate task", "intermediate_task: mnli",
     "'intermediate_task' must be null or one of ['pawsx_tt', 'xnli']; got 'mnli'"),
    ("fusion layer of the tiny model", "fusion_layers: [null, 2]",
     "'fusion_layers' has [2]: allowed are null (baseline) and 1..1"),
    ("fusion layer of mBERT", "model: bert-base-multilingual-cased\ndata_source: hub\nfusion_layers: [0, 12]",
     "'fusion_layers' has [0, 12]: allowed are null (baseline) and 1..11"),
    ("empty grid of variants", "fusion_layers: []", "'fusion_layers' must be a non-empty list"),
    ("empty grid of seeds", "seeds: []", "'seeds' must be a non-empty list of distinct integers; got []"),
    ("empty grid of languages", "intermediate_languages: []", "'intermediate_languages' must not be empty"),
    ("not YAML", "study: [smoke\n", "not valid YAML"),
    ("not a mapping", "- study\n- smoke\n", "the file must hold a YAML mapping of keys to values; got list"),
])
def test_bad_params_are_refused_before_anything_runs(tmp_path, capsys, case, text, message):
    path = _write(tmp_path, yaml.safe_dump({**SMOKE, "study": "refused"}) + text + "\n"
                  if not text.startswith("-") else text)
    assert main(["run", str(path), "--outputs", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err, err
    assert err.startswith(f"dlfa: {path}: ") and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_params_file_that_does_not_exist(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "--outputs", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "nope.yaml: invalid parameters:\n  no such file; the shipped ones are in params/" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_local_dataset_with_a_missing_file_is_refused_before_anything_runs(tmp_path, capsys):
    data = _official_layout(tmp_path / "x-final", missing={"ja/test_2k.tsv", "en/train.tsv"})
    path = _write(tmp_path, yaml.safe_dump({**SMOKE, "data_source": str(data), "intermediate_source": "synthetic"}))
    assert main(["run", str(path), "--outputs", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"'data_source' {data} lacks en/train.tsv, ja/test_2k.tsv (or <lang>/<split>.parquet|tsv|csv" in err
    assert not (tmp_path / "out").exists()
    (data / "ja" / "test.parquet").touch()  # the generic layout stands in for the official file
    (data / "en" / "train.tsv").touch()
    validate({**SMOKE, "data_source": str(data), "intermediate_source": "synthetic"})


def test_local_intermediate_files_are_checked_for_every_candidate(tmp_path):
    data = _official_layout(tmp_path / "x-final")
    (data / "de" / "translated_train.tsv").touch()
    raw = {**SMOKE, "data_source": str(data), "intermediate_task": "pawsx_tt", "candidate_languages": ["de", "ja"]}
    with pytest.raises(ValueError, match=r"PAWS-X translate-train files ja/translated_train.tsv \(or"):
        validate(raw)


HOLDER = """
import sys, time
from dlfa.lock import hold
with hold(sys.argv[1], "the study"):
    print("held", flush=True)
    time.sleep(120)
"""


def _hold_in_subprocess(path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_process_on_the_same_study_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "out"
    holder = _hold_in_subprocess(out / "smoke" / ".lock")
    try:
        result = subprocess.run([sys.executable, "-m", "dlfa", "run", "params/smoke.yaml", "--outputs", str(out)],
                                capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert result.returncode == EXIT_BUSY
        assert f"is in use by pid {holder.pid} on " in result.stderr and "Traceback" not in result.stderr
        assert sorted(p.name for p in (out / "smoke").iterdir()) == [".lock"]  # the second wrote nothing
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = _hold_in_subprocess(tmp_path / ".lock")
    with pytest.raises(lock.Busy, match=f"pid {holder.pid}"):
        with lock.hold(tmp_path / ".lock", "the study"):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with lock.hold(tmp_path / ".lock", "the study"):  # released by the kernel when the holder died
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()


KILLED_WRITER = """
import os, signal, sys
from dlfa.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_text("half")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_temporaries_of_interrupted_writes_are_removed(tmp_path):
    keep = tmp_path / "data" / "stats.csv"
    keep.parent.mkdir(parents=True)
    keep.write_text("a\n")
    leftovers = [tmp_path / "data" / ".stats.csv.abc123.tmp.csv", tmp_path / ".params.yaml.x1.tmp.yaml"]
    for path in leftovers:
        path.write_text("half")
    cache = tmp_path / "data" / "tokenized" / "pawsx" / "en" / ".train.tmp-4242"
    cache.mkdir(parents=True)
    (cache / "data-00000-of-00001.arrow").write_text("half")
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "report" / "index.html")], cwd=ROOT)
    assert killed.returncode == -signal.SIGKILL
    leftovers += list((tmp_path / "report").glob(".index.html.*.tmp.html"))  # what atomic_path really leaves
    assert len(leftovers) == 3 and not (tmp_path / "report" / "index.html").exists()
    removed = lock.remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted(leftovers + [cache])
    assert keep.read_text() == "a\n" and not cache.exists()


def test_checkpoints_of_another_configuration_are_never_resumed(tmp_path, capsys):
    from dlfa.config.runs import last_checkpoint, start_afresh_if_reconfigured
    p = tiny_params(seeds=[1])
    run = Run(None, None, None, 1)
    run_dir = tmp_path / "runs" / run.run_id
    start_afresh_if_reconfigured(p, run, run_dir)
    checkpoint = run_dir / "trainer" / "checkpoint-10"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text("{}")
    start_afresh_if_reconfigured(p, run, run_dir)  # the same configuration: resumable
    assert last_checkpoint(run_dir / "trainer") == str(checkpoint)
    start_afresh_if_reconfigured(dataclasses.replace(p, learning_rate=1e-3), run, run_dir)
    assert "configuration changed since the last attempt; starting it afresh" in capsys.readouterr().out
    assert last_checkpoint(run_dir / "trainer") is None
    assert json.loads((run_dir / "config.json").read_text())["learning_rate"] == 1e-3


def test_the_grid_sorts_runs_into_complete_failed_and_not_run(tmp_path):
    from dlfa.config.runs import run_config, study_runs
    from dlfa.io import write_json
    p = tiny_params(intermediate_task=None, fusion_layers=[None, 1], seeds=[1, 2])
    runs = {r: Run(*r) for r in [(None, None, None, 1), (1, None, None, 1), (None, None, None, 2), (1, None, None, 2)]}
    ok, failed, stale, _ = runs.values()
    write_json(tmp_path / "runs" / ok.run_id / "metrics.json",
               {"run_id": ok.run_id, "status": "complete", "config": run_config(p, ok)})
    (tmp_path / "runs" / ok.run_id / "predictions.npz").touch()
    write_json(tmp_path / "runs" / failed.run_id / "metrics.json",
               {"run_id": failed.run_id, "status": "failed", "error": "TrainingDiverged: loss became nan",
                "config": run_config(p, failed)})
    write_json(tmp_path / "runs" / stale.run_id / "metrics.json",  # another learning rate: not this study's
               {"run_id": stale.run_id, "status": "complete", "config": run_config(dataclasses.replace(p, learning_rate=1), stale)})
    (tmp_path / "runs" / stale.run_id / "predictions.npz").touch()
    write_json(tmp_path / "runs" / "d1__none__s9" / "metrics.json", {"run_id": "d1__none__s9", "status": "complete"})
    complete, failures, missing = study_runs(tmp_path, p)
    assert [m["run_id"] for m in complete] == [ok.run_id]
    assert [m["run_id"] for m in failures] == [failed.run_id]
    assert missing == [stale.run_id, "d1__none__s2"]
