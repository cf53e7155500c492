"""Notebooks and pipeline: parameters line up with params files, pairing works, a study runs end to end."""

import json
import signal
import subprocess
import sys
import time

import jupytext
import pandas as pd
import pytest
import yaml
from jupytext.config import load_jupytext_config

from dlfa.analysis import FUSION_COLUMNS, TYPOLOGY_COLUMNS
from dlfa.analysis.ranking import NDCG_COLUMNS
from dlfa.analysis.results import RESULT_COLUMNS
from dlfa.config.profiles import load
from dlfa.orchestration.notebooks import STAGES, declared_parameters
from dlfa.paths import NOTEBOOKS, PARAMS, ROOT


def test_every_notebook_takes_the_params_file_and_opens_ready_to_run():
    for name in STAGES:
        nb = jupytext.read(NOTEBOOKS / f"{name}.py")
        assert nb.cells[0].cell_type == "markdown" and "**What it does.**" in nb.cells[0].source, name
        assert "parameters" in nb.cells[1].metadata.get("tags", []), name
        expected = {"params_file": "params/smoke.yaml", "outputs_dir": None}
        if name == "03_train":
            expected["run_id"] = "baseline__none__s1"
        assert declared_parameters(name) == expected, name  # every other key comes from the params file
        assert nb.metadata["kernelspec"] == {"display_name": "Python 3", "language": "python", "name": "python3"}
    assert load(ROOT / declared_parameters("01_data")["params_file"]) == load(PARAMS / "smoke.yaml")


@pytest.mark.parametrize("name", STAGES)
def test_paired_ipynb_regenerates_from_the_py_source(name):
    source = (NOTEBOOKS / f"{name}.py").read_text()
    nb = jupytext.reads(source, fmt="py:percent")
    ipynb = jupytext.writes(nb, fmt="ipynb")
    again = jupytext.reads(ipynb, fmt="ipynb")
    assert "parameters" in again.cells[1].metadata.get("tags", [])
    config = load_jupytext_config(str(NOTEBOOKS))  # jupytext.toml, as pairing in JupyterLab uses it
    assert jupytext.writes(again, fmt="py:percent", config=config) == source
    assert again.metadata["kernelspec"]["name"] == "python3"


def _in_kernel(manager, code):
    """Run ``code`` in the kernel: (its result's text, the cell's execution count)."""
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        found = []
        reply = client.execute_interactive(code, timeout=60, output_hook=lambda m: found.append(m["content"]))
        assert reply["content"]["status"] == "ok", reply["content"]
        return next(c["data"]["text/plain"] for c in found if "data" in c), reply["content"]["execution_count"]
    finally:
        client.stop_channels()


@pytest.mark.slow
def test_a_reused_kernel_gives_each_notebook_a_fresh_session_and_is_replaced_when_it_dies(capsys):
    import os
    import signal as signals

    import psutil

    from dlfa.orchestration.notebooks import ReusedKernel
    with ReusedKernel() as kernel:
        first = kernel.ready()
        pid, count = _in_kernel(first, "import os, json; leftover = 1; os.getpid()")
        _in_kernel(first, "os.getcwd()")
        capsys.readouterr()
        again = kernel.ready()  # the next notebook: the same process, its modules still imported
        assert again is first
        assert capsys.readouterr().out == ""  # the fresh-session call prints nothing into a study's log
        assert _in_kernel(again, "import sys; sys.modules['os'].getpid(), 'json' in sys.modules") == (f"({pid}, True)", count)
        # no name survives, and cells are counted from the start again, as in a fresh kernel
        assert _in_kernel(again, "['leftover' in dir(), 'os' in dir()]")[0] == "[False, False]"
        os.kill(int(pid), signals.SIGKILL)
        psutil.Process(int(pid)).wait(20)
        replaced, _ = _in_kernel(kernel.ready(), "__import__('os').getpid()")
        assert replaced != pid
    try:
        psutil.Process(int(replaced)).wait(20)  # TimeoutExpired: the kernel outlived the block
    except psutil.NoSuchProcess:
        pass  # already gone
    assert not psutil.pid_exists(int(replaced))


TINY_STUDY = {
    "study": "e2e", "model": "tiny",
    "tiny_model": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64, "vocab_size": 400},
    "data_source": "synthetic", "targets": ["de", "ja"], "intermediate_task": "xnli",
    "candidate_languages": ["hi", "vi"], "selection_budget": 1, "fusion_layers": [None, 1], "seeds": [1],
    "train_size": 160, "eval_size": 40, "intermediate_train_size": 90, "max_length": 40,
    "learning_rate": 0.001, "train_batch_size": 16, "effective_batch_size": 32, "eval_batch_size": 64,
    "num_train_epochs": 1.0, "evals_per_epoch": 2, "intermediate_epochs": 1.0, "intermediate_learning_rate": 0.001,
    "typology_source": "urielplus",  # lang2vec's path: the other tiny studies (tests/test_train.py, papermill below)
}


def _command(params, outputs):
    return [sys.executable, "-m", "dlfa", "run", str(params), "--outputs", str(outputs)]


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    """The tiny study run once, uninterrupted: (its params file, its folder, the run's stdout)."""
    root = tmp_path_factory.mktemp("e2e")
    params = root / "tiny.yaml"
    params.write_text(yaml.safe_dump(TINY_STUDY))
    first = subprocess.run(_command(params, root / "out"), capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr[-3000:]
    return params, root / "out" / "e2e", first


@pytest.mark.slow
def test_a_study_runs_end_to_end_and_resumes(finished_study):
    params, study, first = finished_study
    command = _command(params, study.parent)
    assert "run 4 of 4" in first.stdout and "report:" in first.stdout

    results = pd.read_csv(study / "results.csv")
    assert list(results.columns) == RESULT_COLUMNS
    assert len(results) == 4 * 3 * 2 * 2  # runs x languages x splits x protocols
    assert set(results.selection) == {"en-dev", "oracle"} and results.accuracy.between(0, 1).all()
    chosen = results.intermediate_language.dropna().unique().tolist()
    assert len(chosen) == 1 and chosen[0] in ("hi", "vi")
    for run_dir in (study / "runs").iterdir():
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["status"] == "complete" and metrics["n"]["ja"]["test"] == 40
        assert (run_dir / "03_train.ipynb").is_file() and "pawsx-en step 5/5: dev accuracy en " in (run_dir / "log.txt").read_text()
    distances = pd.read_csv(study / "typology" / "distances.csv")
    assert list(distances.columns) == ["kind", "metric", "lang_a", "lang_b", "distance", "source_agreement", "coverage"]
    assert set(distances.kind) == {"syntactic", "phonological", "inventory", "featural", "genetic", "geographic",
                                   "morphological", "script"}  # URIEL+'s eight
    assert distances[distances.kind == "syntactic"].coverage.between(0, 1).all()
    assert "coverage" in pd.read_csv(study / "typology" / "selection.csv")
    agreement = pd.read_csv(study / "typology" / "source_agreement.csv").set_index("kind")
    assert len(agreement) == 6 and agreement.spearman["genetic"] > 0.999
    typology_table = pd.read_csv(study / "analysis" / "typology_effect.csv")
    assert list(typology_table.columns) == TYPOLOGY_COLUMNS
    # one intermediate language: the honest answer is "not estimable", never a number
    assert typology_table.estimate.isna().all() and typology_table.note.str.startswith("not estimable").all()
    # Five steps on 160 pairs teach nothing: every run is flagged, and no effect is computed from them
    collapse = {run_dir.name: json.loads((run_dir / "metrics.json").read_text())["collapse"]
                for run_dir in (study / "runs").iterdir()}
    assert all(c["collapsed"] and c["reason"] for c in collapse.values()), collapse
    assert results.collapsed.all()
    fusion = pd.read_csv(study / "analysis" / "fusion_effect.csv")
    assert list(fusion.columns) == FUSION_COLUMNS and set(fusion.fusion_layer) == {1}
    assert fusion.estimate.isna().all() and fusion.note.str.contains("collapsed run(s) left out", regex=False).all()
    assert (fusion.n_collapsed == 2).all()  # the baseline and d1 runs of each setting
    rates = pd.read_csv(study / "analysis" / "collapse_rates.csv")
    assert set(rates.by) == {"variant", "intermediate"} and (rates.rate == 1.0).all()
    primary = pd.read_csv(study / "analysis" / "primary.csv")  # the primary answers, then with collapsed runs counted
    assert list(primary.collapsed_runs) == ["left out"] * 2 + ["counted at measured accuracy"] * 2
    assert primary.question.tolist() == ["1 typology", "2 DLFA"] * 2
    ndcg = pd.read_csv(study / "analysis" / "selection_ndcg.csv")  # collapsed runs: no cell, no ranking
    assert list(ndcg.columns) == NDCG_COLUMNS and ndcg.empty
    answers = json.loads((study / "analysis" / "summary.json").read_text())
    assert answers["collapse"].startswith("Every run collapsed (4 of 4") and len(answers["collapsed_runs"]) == 4
    assert answers["typology"].startswith("Typology (primary, syntactic cosine distance, baseline): not estimable")
    assert answers["fusion"].startswith("DLFA: not estimable")
    paired = pd.read_csv(study / "analysis" / "paired_tests.csv")
    assert set(paired.run_id) == set(results.run_id) - {"baseline__none__s1"} and paired.p_value.between(0, 1).all()
    assert paired.q_value.between(0, 1).all() and (paired.q_value >= paired.p_value - 1e-12).all()
    similarity = pd.read_csv(study / "analysis" / "layer_similarity.csv")
    assert set(similarity.model) == {"base", "fine-tuned"} and set(similarity.language) == {"de", "ja"}
    bases = [json.loads(p.read_text()) for p in (study / "similarity").glob("base-*.json")]
    every = [json.loads((d / "metrics.json").read_text())["similarity"]["base"] for d in (study / "runs").iterdir()]
    assert 1 <= len(bases) <= 2 and all(b in bases for b in every)  # one per starting encoder (variant x seed)
    assert set(similarity.layer) == {0, 1, 2} and similarity.similarity.between(-1, 1).all()
    for png in ["analysis/figures/accuracy_by_language.png", "analysis/figures/layer_sweep.png",
                "analysis/figures/layer_similarity.png",
                "typology/figures/distances.png", "typology/figures/selection.png", "data/figures/lengths.png"]:
        assert (study / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    report = (study / "report" / "index.html").read_text()
    assert "Smoke profile" in report and report.count("data:image/png;base64,") >= 5
    assert report.index("<b>Nothing learnt.</b> Every run collapsed") < report.index("Smoke profile")  # on top
    assert "<b>Question 1.</b> Typology" in report and "<b>Question 2.</b> DLFA: not estimable" in report
    assert "<th>coverage</th>" in report and "Distances are URIEL+'s" in report  # the study's typology source
    assert "How good is typology at choosing?</h3>" in report and "Not estimable: no (intermediate language" in report
    assert (study / "report" / "notebooks" / "04_analysis.html").is_file()
    assert (study / "report" / "notebooks" / "03_train" / "d1__none__s1.html").is_file()

    started = time.time()
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "4 runs, 4 done before, 0 to train" in again.stdout
    assert time.time() - started < 120


XNLI_STUDY = {**TINY_STUDY, "study": "e2e-xnli", "target_task": "xnli", "targets": ["de", "tr"],
              "intermediate_task": "pawsx_tt", "candidate_languages": ["de", "ja"], "fusion_layers": [None],
              "typology_source": "lang2vec"}


@pytest.mark.slow
def test_an_xnli_target_study_runs_end_to_end(tmp_path):
    """XNLI as the target task (3 labels, 15 languages), PAWS-X translate-train as the intermediate one."""
    import numpy as np
    params = tmp_path / "xnli.yaml"
    params.write_text(yaml.safe_dump(XNLI_STUDY))
    done = subprocess.run(_command(params, tmp_path / "out"), capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    study = tmp_path / "out" / "e2e-xnli"
    assert "run 2 of 2" in done.stdout
    stats = pd.read_csv(study / "data" / "stats.csv")
    assert set(stats.corpus) == {"xnli", "pawsx_tt"} and stats[stats.corpus == "xnli"].label_2_share.between(0.2, 0.5).all()
    results = pd.read_csv(study / "results.csv")
    assert set(results.language) == {"en", "de", "tr"} and (results.n == 40).all()
    (chosen,) = results.intermediate_language.dropna().unique()
    assert set(results.intermediate_task.dropna()) == {"pawsx_tt"} and chosen in ("de", "ja")
    for run_dir in (study / "runs").iterdir():
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["config"]["target_task"] == "xnli"
        assert [s["stage"] for s in metrics["stages"]][-1] == "xnli-en" and "xnli" in metrics["seconds"]
        assert set(metrics["similarity"]["base"]) == {"de", "tr"}  # XNLI's dev rows are parallel
        with np.load(run_dir / "predictions.npz") as z:
            assert set(z["label__tr__test"]) == {0, 1, 2} and z["en-dev__tr__test"].max() <= 2  # a 3-way head
        assert "xnli-en step 5/5: dev accuracy en " in (run_dir / "log.txt").read_text()
    inter = next(s for s in json.loads((study / "runs" / f"baseline__pawsx_tt-{chosen}__s1" / "metrics.json")
                                       .read_text())["stages"] if s["stage"] == "intermediate")
    assert inter["dev_examples"] == 40 and 0 < inter["dev_majority_share"] < 1  # PAWS-X's 2 labels
    report = (study / "report" / "index.html").read_text()
    assert "zero-shot cross-lingual transfer on XNLI" in report and "PAWS-X test accuracy" not in report


def _check_every_file_is_whole(study):
    """Every product in the study folder parses; returns the temporaries an interrupted write left."""
    import numpy as np
    from PIL import Image
    leftovers = []
    for path in study.rglob("*"):
        if path.is_dir() or path.name == ".lock" or "tokenized" in path.parts and path.suffix == ".arrow":
            continue
        if path.name.startswith(".") and ".tmp" in path.name or any(".tmp" in part for part in path.parts):
            leftovers.append(path)
            continue
        if any(part.startswith("checkpoint-") for part in path.parts):
            continue  # Trainer's own; an incomplete one (no trainer_state.json) is never resumed
        if path.suffix in (".json", ".ipynb"):
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            pd.read_csv(path)
        elif path.suffix == ".yaml":
            yaml.safe_load(path.read_text())
        elif path.suffix == ".png":
            Image.open(path).verify()
        elif path.suffix == ".npz":
            with np.load(path) as z:
                [z[k] for k in z.files]
        elif path.suffix == ".html":
            assert path.read_text().rstrip().endswith("</html>"), path
    return leftovers


# Where a study is killed (SIGKILL to the `dlfa run` process, as an out-of-memory killer or a
# scheduler would): after a log line or once a new file matching a pattern appears, plus a delay.
KILL_POINTS = [
    ("data stage: tokenizer, tokenization, cache", "line", "01_data", 6.0),
    ("training, after a checkpoint", "file", "runs/*/trainer/checkpoint-*/trainer_state.json", 0.5),
    ("evaluation and checkpointing", "file", "runs/*/trainer/predictions/step-*.npz", 0.0),
    ("analysis stage", "file", "analysis/accuracy.csv", 0.3),
    ("report", "line", "] report", 0.3),
]


def _run_until(command, study, trigger, pattern, delay):
    """Start the study, SIGKILL it at the trigger; return its output. Fails if the trigger never comes."""
    import threading

    import psutil
    before = set(study.glob(pattern)) if trigger == "file" else set()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if (trigger == "line" and any(pattern in line for line in lines)) or \
                (trigger == "file" and set(study.glob(pattern)) - before):
            time.sleep(delay)
            kernels = psutil.Process(process.pid).children(recursive=True)
            process.send_signal(signal.SIGKILL)
            process.wait()
            # The notebook kernel notices its parent died and exits by itself; never two writers.
            gone, alive = psutil.wait_procs(kernels, timeout=20)
            assert not alive, f"orphaned processes outlived the killed study: {alive}"
            reader.join(5)
            return "".join(lines)
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the study never reached {pattern!r} (exit {process.poll()}):\n" + "".join(lines)[-3000:])


@pytest.mark.slow
def test_a_study_killed_at_any_stage_finishes_with_the_results_of_an_uninterrupted_one(tmp_path, finished_study):
    params, reference, _ = finished_study
    command = _command(params, tmp_path)
    study = tmp_path / "e2e"
    for what, trigger, pattern, delay in KILL_POINTS:
        output = _run_until(command, study, trigger, pattern, delay)
        assert "done in" not in output, f"killed during {what}: the study had already finished"
        _check_every_file_is_whole(study)
    final = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-3000:]
    assert _check_every_file_is_whole(study) == []  # temporaries of the killed writes are gone
    pd.testing.assert_frame_equal(pd.read_csv(study / "results.csv"), pd.read_csv(reference / "results.csv"))
    for run_dir in (reference / "runs").iterdir():  # the same curves, step by step
        a = json.loads((run_dir / "metrics.json").read_text())
        b = json.loads((study / "runs" / run_dir.name / "metrics.json").read_text())
        assert a["curve"] == b["curve"] and a["selection"] == b["selection"], run_dir.name
    assert (study / "report" / "index.html").read_text().rstrip().endswith("</html>")


def test_an_invalid_tiny_model_is_refused_before_anything_runs(tmp_path):
    params = tmp_path / "broken.yaml"
    params.write_text(yaml.safe_dump({**TINY_STUDY, "study": "broken", "tiny_model": {"hidden_size": 30, "num_heads": 4}}))
    result = subprocess.run([sys.executable, "-m", "dlfa", "run", str(params), "--outputs", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "hidden_size must be divisible by num_heads" in result.stderr
    assert not (tmp_path / "broken").exists()


@pytest.mark.slow
def test_a_failing_notebook_stops_the_pipeline_naming_it_and_its_error(tmp_path):
    data = tmp_path / "x-final"  # every file of the official layout, one of them with a malformed row
    header = "id\tsentence1\tsentence2\tlabel\n"
    for lang in ("en", "de", "ja"):
        for name in ("dev_2k.tsv", "test_2k.tsv") + (("train.tsv",) if lang == "en" else ()):
            (data / lang).mkdir(parents=True, exist_ok=True)
            (data / lang / name).write_text(header + "".join(f"{i}\tA {i}.\tB {i}.\t{i % 2}\n" for i in range(1, 41)))
    (data / "de" / "dev_2k.tsv").write_text(header + "1\tA.\tB.\t0\n2\tonly two fields\t1\n")
    params = tmp_path / "malformed.yaml"
    params.write_text(yaml.safe_dump({**TINY_STUDY, "study": "malformed", "data_source": str(data),
                                      "intermediate_source": "synthetic"}))
    result = subprocess.run(_command(params, tmp_path / "out"), capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "01_data failed in cell" in result.stderr
    assert f"DataError: {data / 'de' / 'dev_2k.tsv'}, line 3: 3 tab-separated fields, expected 4" in result.stderr
    executed = tmp_path / "out" / "malformed" / "notebooks" / "01_data.ipynb"
    assert f"executed notebook: {executed}" in result.stderr and executed.is_file()
    assert not (tmp_path / "out" / "malformed" / "runs").exists()  # nothing after the failing stage ran


@pytest.mark.slow
def test_a_diverging_run_is_recorded_and_the_study_goes_on(tmp_path):
    """The intermediate stage's loss becomes NaN (absurd learning rate): that run fails with its error in
    metrics.json, the plain baseline is trained, analysed and reported, and the exit code says so."""
    params = tmp_path / "diverging.yaml"
    params.write_text(yaml.safe_dump({**TINY_STUDY, "study": "diverging", "fusion_layers": [None],
                                      "intermediate_learning_rate": 1e30}))
    result = subprocess.run(_command(params, tmp_path), capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    study = tmp_path / "diverging"
    inter = next(p.name for p in (study / "runs").iterdir() if "xnli" in p.name)
    assert f"1 of 2 runs failed: {inter}." in result.stderr and "run the same command again" in result.stderr
    assert f"{inter}: failed" in result.stdout and f"{inter} failed: 03_train failed in cell" in result.stdout
    failed = json.loads((study / "runs" / inter / "metrics.json").read_text())
    assert failed["status"] == "failed" and failed["config"]["intermediate_learning_rate"] == 1e30
    assert failed["error"].startswith("TrainingDiverged: intermediate stage: loss became nan at step ")
    assert sorted(p.name for p in (study / "runs" / inter).iterdir()) == [".lock", "03_train.ipynb", "config.json",
                                                                          "log.txt", "metrics.json"]
    assert set(pd.read_csv(study / "results.csv").run_id) == {"baseline__none__s1"}
    report = (study / "report" / "index.html").read_text()
    assert "Incomplete study." in report and "TrainingDiverged: intermediate stage: loss became nan" in report


PAPERMILL_STUDY = {**TINY_STUDY, "study": "papermill", "intermediate_task": None, "fusion_layers": [None, 1],
                   "fusion": {"reduction": 8}}


@pytest.mark.slow
def test_plain_papermill_runs_every_stage_with_the_params_file_and_fusion_options_reach_the_model(tmp_path):
    """`papermill notebooks/<stage>.ipynb out.ipynb -p params_file ...` (the README's command) after
    `jupytext --to ipynb`: no kernel flag, no unknown-parameter warning; a study with
    `fusion: {reduction: 8}` trains its DLFA run with that option, records it and reports it; and
    `dlfa report` rebuilds the report without loading torch or transformers."""
    params = tmp_path / "papermill.yaml"
    params.write_text(yaml.safe_dump(PAPERMILL_STUDY))
    papermill = [sys.executable, "-m", "papermill", "--no-progress-bar"]
    outputs = tmp_path / "out"
    for name, extra in [("01_data", []), ("02_typology", []), ("03_train", ["-p", "run_id", "baseline__none__s1"]),
                        ("03_train", ["-p", "run_id", "d1-r8__none__s1"]), ("04_analysis", [])]:
        ipynb = tmp_path / f"{name}.ipynb"
        subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", "-o", str(ipynb), str(NOTEBOOKS / f"{name}.py")],
                       check=True, capture_output=True, cwd=ROOT)
        result = subprocess.run(papermill + [str(ipynb), str(tmp_path / f"done-{name}.ipynb"), "-p", "params_file",
                                             str(params), "-p", "outputs_dir", str(outputs), *extra],
                                capture_output=True, text=True, cwd=NOTEBOOKS)
        assert result.returncode == 0, f"{name}: {result.stderr[-3000:]}"
        assert "unknown parameter" not in result.stderr.lower() and "No kernel name" not in result.stderr, name
    study = outputs / "papermill"
    metrics = json.loads((study / "runs" / "d1-r8__none__s1" / "metrics.json").read_text())
    assert metrics["config"]["fusion"]["reduction"] == 8 and metrics["config"]["variant"] == "d1-r8"
    assert json.loads((study / "runs" / "baseline__none__s1" / "metrics.json").read_text())["config"]["fusion"] is None
    trained = json.loads((tmp_path / "done-03_train.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in trained["cells"] for o in c.get("outputs", []))
    assert "DLFA: DLFAConfig(fusion_layer=1, reduction=8, norm='batch', weight='map', iterative=False)" in printed
    assert set(pd.read_csv(study / "results.csv").variant) == {"baseline", "d1-r8"}

    probe = ("import sys\nfrom dlfa.orchestration.cli import main\n"
             f"code = main(['report', {str(params)!r}, '--outputs', {str(outputs)!r}])\n"
             "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
             "print('loaded:', heavy)\nsys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "loaded: []" in result.stdout
    report = (study / "report" / "index.html").read_text()
    assert "reduction 8" in report and "defaults" not in report.split("<h2>Runs</h2>")[1].split("</table>")[0]


def test_a_fusion_option_that_does_not_fit_the_encoder_is_refused_naming_the_divisors(tmp_path):
    params = tmp_path / "bad-fusion.yaml"
    params.write_text(yaml.safe_dump({**PAPERMILL_STUDY, "fusion": {"reduction": 5}}))
    result = subprocess.run([sys.executable, "-m", "dlfa", "run", str(params), "--outputs", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "'fusion': reduction 5 does not divide the hidden size 32; allowed: [1, 2, 4, 8, 16, 32]" in result.stderr
    assert not (tmp_path / "out").exists()
