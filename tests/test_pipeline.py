"""Notebooks and pipeline: parameters line up with params files, pairing works, a study runs end to end."""

import json
import subprocess
import sys
import time

import jupytext
import pandas as pd
import pytest
import yaml

from dlfa.params import GRID_KEYS, load
from dlfa.paths import NOTEBOOKS, PARAMS, ROOT
from dlfa.pipeline import RUN_PARAMETERS, STAGES, notebook_parameters
from dlfa.results import RESULT_COLUMNS

REPORT_ONLY = {"description"}  # read by the report, not by a notebook


def test_every_notebook_has_one_parameters_cell_and_an_opening_description():
    for name in STAGES:
        nb = jupytext.read(NOTEBOOKS / f"{name}.py")
        assert nb.cells[0].cell_type == "markdown" and "**What it does.**" in nb.cells[0].source, name
        assert "parameters" in nb.cells[1].metadata.get("tags", []), name
        assert {"study", "outputs_dir"} <= set(notebook_parameters(name)), name


@pytest.mark.parametrize("path", sorted(PARAMS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_params_key_is_a_parameter_of_a_notebook_that_receives_it(path):
    declared = set().union(*(notebook_parameters(n) for n in STAGES))
    for key in yaml.safe_load(path.read_text()):
        if key in GRID_KEYS:
            assert GRID_KEYS[key] in notebook_parameters("03_train"), key
        else:
            assert key in declared or key in REPORT_ONLY, f"{path.name}: '{key}' reaches no notebook"
    assert RUN_PARAMETERS <= set(notebook_parameters("03_train"))


def test_notebook_defaults_are_the_smoke_study():
    smoke = load(PARAMS / "smoke.yaml")
    for name in STAGES:
        for key, default in notebook_parameters(name).items():
            if key in smoke:
                assert default == smoke[key], f"{name}: default {key}={default!r} differs from smoke.yaml"


@pytest.mark.parametrize("name", STAGES)
def test_paired_ipynb_regenerates_from_the_py_source(name):
    source = (NOTEBOOKS / f"{name}.py").read_text()
    nb = jupytext.reads(source, fmt="py:percent")
    ipynb = jupytext.writes(nb, fmt="ipynb")
    again = jupytext.reads(ipynb, fmt="ipynb")
    assert "parameters" in again.cells[1].metadata.get("tags", [])
    assert jupytext.writes(again, fmt="py:percent") == source


TINY_STUDY = {
    "study": "e2e", "model": "tiny",
    "tiny_model": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64, "vocab_size": 400},
    "data_source": "synthetic", "targets": ["de", "ja"], "intermediate_task": "xnli",
    "candidate_languages": ["hi", "vi"], "selection_budget": 1, "fusion_layers": [None, 1], "seeds": [1],
    "train_size": 160, "eval_size": 40, "intermediate_train_size": 90, "max_length": 40,
    "learning_rate": 0.001, "train_batch_size": 16, "effective_batch_size": 32, "eval_batch_size": 64,
    "num_train_epochs": 1.0, "evals_per_epoch": 2, "intermediate_epochs": 1.0, "intermediate_learning_rate": 0.001,
}


@pytest.mark.slow
def test_a_study_runs_end_to_end_and_resumes(tmp_path):
    params = tmp_path / "tiny.yaml"
    params.write_text(yaml.safe_dump(TINY_STUDY))
    command = [sys.executable, "-m", "dlfa", "run", str(params), "--outputs", str(tmp_path / "out")]
    first = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr[-3000:]
    study = tmp_path / "out" / "e2e"
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
        assert (study / "notebooks" / "03_train" / f"{run_dir.name}.ipynb").is_file()
    distances = pd.read_csv(study / "typology" / "distances.csv")
    assert list(distances.columns) == ["kind", "metric", "lang_a", "lang_b", "distance"]
    correlation = pd.read_csv(study / "analysis" / "typology_correlation.csv")
    assert list(correlation.columns) == ["kind", "metric", "spearman", "ci_low", "ci_high", "p_value", "n"]
    paired = pd.read_csv(study / "analysis" / "paired_tests.csv")
    assert set(paired.run_id) == set(results.run_id) - {"baseline__none__s1"} and paired.p_value.between(0, 1).all()
    similarity = pd.read_csv(study / "analysis" / "layer_similarity.csv")
    assert set(similarity.model) == {"base", "fine-tuned"} and set(similarity.language) == {"de", "ja"}
    assert set(similarity.layer) == {0, 1, 2} and similarity.similarity.between(-1, 1).all()
    for png in ["analysis/figures/accuracy_by_language.png", "analysis/figures/layer_sweep.png",
                "analysis/figures/layer_similarity.png",
                "typology/figures/distances.png", "typology/figures/selection.png", "data/figures/lengths.png"]:
        assert (study / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    report = (study / "report" / "index.html").read_text()
    assert "Smoke profile" in report and report.count("data:image/png;base64,") >= 5
    assert (study / "report" / "notebooks" / "04_analysis.html").is_file()

    started = time.time()
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done before, skipped") == 4
    assert time.time() - started < 120


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
    (tmp_path / "x-final" / "en").mkdir(parents=True)  # the official layout, but no files in it
    params = tmp_path / "missing.yaml"
    params.write_text(yaml.safe_dump({**TINY_STUDY, "study": "missing", "data_source": str(tmp_path / "x-final")}))
    result = subprocess.run([sys.executable, "-m", "dlfa", "run", str(params), "--outputs", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert "01_data failed in cell" in result.stderr and "FileNotFoundError: missing PAWS-X file" in result.stderr
    executed = tmp_path / "out" / "missing" / "notebooks" / "01_data.ipynb"
    assert f"executed notebook: {executed}" in result.stderr and executed.is_file()
    assert not (tmp_path / "out" / "missing" / "runs").exists()  # nothing after the failing stage ran
