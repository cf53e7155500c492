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
