"""The benchmark suite's helpers and command line (the benchmarks themselves are never timed tests)."""

import json
import sys

import numpy as np
import pytest
import torch

from dlfa.paths import ROOT

if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the checkout, not part of the installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import cache, common, gpu, lengths, padding, report  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402


def test_interleaved_alternates_the_order_and_discards_warm_up():
    calls = []
    candidates = {name: (lambda name=name: calls.append(name) or float(len(calls))) for name in ("a", "b")}
    times = common.interleaved(candidates, repeats=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert times == {"a": [3.0, 6.0, 7.0], "b": [4.0, 5.0, 8.0]}


def test_paired_ratios_and_median():
    assert common.paired_ratios([2.0, 3.0, 9.0], [1.0, 3.0, 3.0]) == [2.0, 1.0, 3.0]
    assert common.median(common.paired_ratios([2.0, 3.0, 9.0], [1.0, 3.0, 3.0])) == 2.0
    with pytest.raises(ValueError, match="equally long"):
        common.paired_ratios([1.0], [1.0, 2.0])


def test_merging_results_keeps_other_benchmarks_of_the_same_mode_only():
    first = common.merge_results({}, {"cache": {"keys": {"k1": 0.5}}}, quick=True, command="c")
    second = common.merge_results(first, {"smoke": {"keys": {"k2": 9.0}}}, quick=True, command="c")
    assert second["keys"] == {"k1": 0.5, "k2": 9.0} and second["quick"] is True
    full = common.merge_results(second, {"smoke": {"keys": {"k2": 8.0}}}, quick=False, command="c")
    assert full["keys"] == {"k2": 8.0}  # a quick run's figures never mix into a full run's file
    assert {"machine", "versions", "date", "targets", "git"} <= set(full)


def test_length_grouped_batches_cover_the_epoch_and_quantiles_spread_over_widths():
    lengths_ = np.random.default_rng(0).integers(10, 100, size=1000)
    grouped = padding.grouped_batches(lengths_, 32)
    assert len(grouped) == 1000 // 32 and all(len(b) == 32 for b in grouped)
    assert len({i for b in grouped for i in b}) == 32 * (1000 // 32)
    widths = [lengths_[b].max() for b in padding.quantile_batches(grouped, lengths_, 4)]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    # a step time proportional to the width: the predicted ratio is 128 / the epoch's mean width
    mean_width = np.mean([lengths_[b].max() for b in grouped])
    assert padding.predicted_ratio([0.0, 1.0], lengths_, 32) == pytest.approx(128 / mean_width)
    shuffled = padding.random_batches(1000, 32)
    random_width = np.mean([lengths_[b].max() for b in shuffled])  # near the max: 32 draws of 10..99
    assert padding.predicted_ratio([0.0, 1.0], lengths_, 32, "random") == pytest.approx(128 / random_width)
    assert random_width > mean_width + 20
    assert padding.fit_step_time([10, 20, 30], [1.5, 2.5, 3.5]) == pytest.approx([0.5, 0.1, 0.0], abs=1e-9)
    assert padding.fit_step_time([10, 20], [1.5, 2.5]) == pytest.approx([0.5, 0.1])


def test_fallback_lengths_follow_the_stored_distribution():
    drawn = lengths.describe(lengths.fallback_lengths(5000))
    assert drawn["max"] <= lengths.FALLBACK_QUANTILES[-1] and abs(drawn["p50"] - lengths.FALLBACK_QUANTILES[10]) <= 1


def test_the_command_runs_one_benchmark_into_a_results_file_and_the_page(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CORPUS", 300)  # the same code on a small corpus
    results = tmp_path / "results.json"
    assert main(["--quick", "--only", "cache", "--results", str(results), "--no-docs"]) == 0
    data = json.loads(results.read_text())
    assert data["quick"] is True and 0 < data["keys"]["cached_over_first_load_time"] < 1
    assert data["benchmarks"]["cache"]["raw"]["seconds"]["first"] and data["machine"]["torch_threads"] >= 1
    monkeypatch.setattr(report, "QUICK_RESULTS", results)
    monkeypatch.setattr(report, "RESULTS", tmp_path / "absent.json")
    page = report.render()
    assert "| `cached_over_first_load_time` | – |" in page  # no full run: its column is empty
    assert "## 3. Data: tokenize once, load from the cache (quick run)" in page  # details from the quick run
    assert "## 1. DLFA overhead\n\nNot measured yet." in page


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the GPU benchmark itself")
def test_gpu_benchmark_says_it_needs_a_gpu(capsys):
    assert gpu.main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_the_end_to_end_runs_corpus_encodes_to_the_drawn_lengths_in_the_official_layout(tmp_path):
    from transformers import AutoTokenizer

    from benchmarks import gpu_run
    from dlfa.data.corpora import load_pawsx
    config = dict(vocab_size=300, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                  max_position_embeddings=512)
    model = gpu_run.write_model(tmp_path / "model", config)
    drawn = np.array([5, 9, 40, 128])
    data = gpu_run.write_corpus(tmp_path / "x-final", drawn, config["vocab_size"], train_pairs=50, eval_pairs=7,
                                languages=("en", "de"))
    tokenizer = AutoTokenizer.from_pretrained(model)
    assert len(tokenizer) == 300 and len(set(gpu_run.pseudo_words(1000))) == 1000
    train = load_pawsx(str(data), "en", "train")
    assert train.num_rows == 50 and set(train["label"]) <= {0, 1}
    encoded = tokenizer(list(train["sentence1"]), list(train["sentence2"]))["input_ids"]
    assert {len(ids) for ids in encoded} <= set(drawn.tolist())  # every word one token: the lengths drawn
    assert tokenizer.unk_token_id not in {i for ids in encoded for i in ids}
    assert load_pawsx(str(data), "de", "test").num_rows == 7
    from dlfa.config.fusion import DLFAConfig
    from dlfa.training.model import DLFAForSequenceClassification
    loaded = DLFAForSequenceClassification.from_pretrained(model, dlfa=DLFAConfig(1), num_labels=2)
    assert loaded.config.vocab_size == 300


def test_the_end_to_end_runs_params_are_paper_yaml_with_one_dlfa_run_of_the_asked_steps(tmp_path):
    import math

    import yaml

    from benchmarks import gpu_run
    from dlfa.config.grid import grid
    from dlfa.config.profiles import validate
    raw = gpu_run.run_params(tmp_path / "model", tmp_path / "x-final", steps=400, precision="bf16")
    paper = yaml.safe_load((ROOT / "params" / "paper.yaml").read_text())
    for key in ("learning_rate", "max_length", "train_order", "eval_steps", "eval_batch_size", "warmup_ratio"):
        assert raw[key] == paper[key]
    config = dict(vocab_size=50, hidden_size=16, num_hidden_layers=8, num_attention_heads=2, intermediate_size=32)
    gpu_run.write_model(tmp_path / "model", config)
    gpu_run.write_corpus(tmp_path / "x-final", np.array([10]), 50, train_pairs=4, eval_pairs=2)
    params = validate(raw)
    assert params.precision == "bf16" and [r.run_id for r in grid(params, [])] == [gpu_run.run_id()] == ["d6__none__s1"]
    assert math.ceil(math.ceil(gpu_run.TRAIN_PAIRS / 32) * params.num_train_epochs) == 400


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the GPU benchmark itself")
def test_the_gpu_benchmarks_code_path_runs_on_a_tiny_model_with_its_end_to_end_run(tmp_path):
    from dlfa.orchestration import plan
    results = tmp_path / "results-gpu.json"
    assert gpu.main(["--allow-cpu", "--results", str(results)]) == 0
    data = json.loads(results.read_text())
    assert data["tiny_cpu_check"] is True and plan.measured_gpu(results) is None  # never taken for a GPU's
    runs = data["end_to_end"]["runs"]
    from dlfa.training.trainer import cpu_has_bf16
    assert set(runs) == {"fp32", "bf16"} and runs["fp32"]["precision_run"] == "fp32"
    assert runs["bf16"]["precision_run"] == ("bf16" if cpu_has_bf16() else "fp32")  # no CUDA: the CPU decides
    for precision, run in runs.items():
        assert 0 < run["train_runtime_s"] < run["wall_s"]
        assert run["fixed_s"] == pytest.approx(run["wall_s"] - run["train_runtime_s"], abs=0.011)  # both rounded
        assert data["keys"][f"gpu_run_fixed_seconds_{precision}"] == run["fixed_s"] and run["evaluations"] == 2
    assert data["keys"]["paper_profile_gpu_hours_end_to_end"] > 0
