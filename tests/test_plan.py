"""``dlfa plan``: a study's workload, disk and GPU hours before anything is trained."""

import json
import subprocess
import sys

import pytest
from transformers import BertConfig, BertModel

from conftest import tiny_params
from dlfa.config.profiles import load
from dlfa.orchestration import plan
from dlfa.paths import PARAMS, ROOT


def test_the_paper_grid_as_xtreme_ran_it():
    work = plan.workload(load(PARAMS / "paper.yaml"))
    assert work["intermediate_languages"] == ["el", "en", "es", "ru", "sw", "tr", "zh"]
    assert work["runs"] == 12 * 7 * 8 and work["dlfa_runs"] == 11 * 7 * 8  # seven seeds: the power plan
    assert work["target_steps_per_run"] == 1544 * 5  # ceil(49,401 / 32) steps an epoch
    assert (work["eval_steps"], work["evaluations_per_run"]) == (200, 39)  # 7,720 / 200: 38, and one at the end
    assert work["intermediate_steps_per_run"] == 1563 * 2  # 50,000 XNLI pairs, 2 epochs
    assert (work["eval_examples_per_evaluation_min"], work["eval_examples_per_evaluation_max"]) == (14_000, 28_000)


def test_the_xnli_target_grid_reads_xnli_sizes():
    work = plan.workload(load(PARAMS / "paper-xnli.yaml"))
    assert work["intermediate_languages"] == ["de", "es", "fr", "ja", "ko", "zh"]  # every PAWS-X translation
    assert work["runs"] == 12 * 3 * 7
    assert work["target_steps_per_run"] == 12_272 * 5  # ceil(392,702 / 32) steps an epoch
    assert work["intermediate_steps_per_run"] == 1544 * 2  # 49,401 PAWS-X translate-train pairs, 2 epochs
    # 15 dev sets of 2,490 pairs at every evaluation, and their 5,010-pair test sets at most
    assert (work["eval_examples_per_evaluation_min"], work["eval_examples_per_evaluation_max"]) == (
        15 * 2_490, 15 * (2_490 + 5_010))


def test_the_xlmr_profile_is_the_paper_grid_with_xlmr_and_its_size():
    xlmr, paper = load(PARAMS / "paper-xlmr.yaml"), load(PARAMS / "paper.yaml")
    assert xlmr.model == "xlm-roberta-base" and xlmr.encoder_shape() == (768, 12)
    same = {k: v for k, v in paper.to_dict().items() if k not in ("study", "description", "model")}
    assert {k: xlmr.to_dict()[k] for k in same} == same  # XTREME's recipe for XLM-R is mBERT's
    assert plan.workload(xlmr)["runs"] == plan.workload(paper)["runs"]
    # XLM-R base 278M, large 560M parameters (Conneau et al. 2020, Table 7)
    assert plan.parameter_count(plan.KNOWN_CONFIGS["xlm-roberta-base"]) == pytest.approx(278e6, rel=0.005)
    assert plan.parameter_count(plan.KNOWN_CONFIGS["xlm-roberta-large"]) == pytest.approx(560e6, rel=0.005)


@pytest.mark.parametrize("shape", [dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                        intermediate_size=128, vocab_size=1000, max_position_embeddings=64),
                                   dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                                        intermediate_size=1536, vocab_size=30522, max_position_embeddings=512)])
def test_the_parameter_count_is_transformers_own(shape):
    assert plan.parameter_count(shape) == BertModel(BertConfig(**shape), add_pooling_layer=True).num_parameters()


def test_gpu_hours_come_from_measured_rates_or_the_plan_says_how_to_measure_them(tmp_path):
    params = tiny_params(fusion_layers=[None, 1], seeds=[1, 2], intermediate_task=None)
    missing = plan.plan(params, tmp_path / "results-gpu.json")
    assert "GPU hours: not measured yet: `make bench-gpu`" in missing and "= 4 runs" in missing
    rates = {"train_examples_per_s": 1000.0, "eval_examples_per_s": 4000.0}
    (tmp_path / "results-gpu.json").write_text(json.dumps({
        "date": "2026-12-02", "machine": "H200", "keys": {"gpu_best_mode": "bf16-sdpa"}, "tiny_cpu_check": False,
        "measured": {"baseline/bf16-sdpa": rates, "dlfa_l6/bf16-sdpa": rates}}))
    work = plan.workload(params)
    seconds = 4 * (work["target_train_examples_per_run"] / 1000.0 + (
        work["evaluations_per_run"] * work["eval_examples_per_evaluation_max"] + work["similarity_examples_per_run"])
        / 4000.0)
    assert plan.gpu_hours(work, {"baseline": rates, "dlfa_l6": rates})["gpu_hours_max"] == round(seconds / 3600, 1)
    assert "in mode bf16-sdpa (measured 2026-12-02 on H200" in plan.plan(params, tmp_path / "results-gpu.json")


def test_dlfa_plan_runs_as_a_console_script():
    # a console script has bin/ first on sys.path, where lang2vec's own script would shadow the package
    script = ROOT / ".venv" / "bin" / "dlfa"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "dlfa"]
    done = subprocess.run([*command, "plan", "params/paper.yaml"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "= 672 runs" in done.stdout and "177.9M parameters" in done.stdout
    assert "question 2, DLFA (primary: layer 6 named in advance, alpha 0.05" in done.stdout
    assert "power at a true gain of 1 / 2 / 2.43 points: 0.28 / 0.81 / 0.93; seeds for 80%: 56 / 7 / 6" in done.stdout
    assert "question 1, typology (primary: baseline variant, syntactic cosine distance" in done.stdout


def test_end_to_end_hours_add_every_runs_fixed_seconds_to_its_steps(tmp_path):
    params = tiny_params(fusion_layers=[None, 1], seeds=[1, 2], intermediate_task="xnli",
                         intermediate_languages=["de"])
    work = plan.workload(params)
    assert work["runs"] == 8 and work["runs_with_intermediate_stage"] == 4
    run = {"train_runtime_s": 50.0, "optimizer_steps": 400, "fixed_s": 30.0}
    steps = work["target_steps_per_run"] + 0.5 * work["intermediate_steps_per_run"]
    seconds = 8 * (30.0 + steps * 50.0 / 400)
    hours = plan.end_to_end_hours(work, run)
    assert hours == {"hours": round(seconds / 3600, 1), "fixed_hours": round(240 / 3600, 2),
                     "fixed_share": round(240 / seconds, 4)}
    rates = {"train_examples_per_s": 1000.0, "eval_examples_per_s": 4000.0}
    (tmp_path / "results-gpu.json").write_text(json.dumps({
        "date": "2026-12-07", "machine": "H200", "keys": {"gpu_best_mode": "bf16-sdpa"}, "tiny_cpu_check": False,
        "measured": {"baseline/bf16-sdpa": rates, "dlfa_l6/bf16-sdpa": rates},
        "end_to_end": {"runs": {"fp32": {**run, "train_runtime_s": 90.0}, "bf16": run}}}))
    printed = plan.plan(params, tmp_path / "results-gpu.json")
    assert (f"end to end, from one paper-shaped run through `dlfa train` in bf16: {hours['hours']} GPU hours, "
            f"of which {hours['fixed_hours']} fixed (30 s per run") in printed


def test_the_power_section_follows_the_priors_and_the_primary_family():
    from dlfa.analysis import power
    params = tiny_params(fusion_layers=[None, 1], seeds=[1, 2, 3], intermediate_task="xnli",
                         intermediate_languages=["de", "fr", "ru"], noise_priors={"seed_sd": 0.02, "source": "mine"})
    lines = plan.power_section(params, ["de", "fr", "ru"])
    assert "seed SD 2.0 per run" in lines[0] and lines[1] == "  where the priors come from: mine"
    expected = power.fusion_design_power(0.02, 3, 0.02, 0.003)
    assert "layer 1, the grid's only one, alpha 0.05" in lines[2] and f" / {expected:.2f} / " in lines[2]
    # the typology grid: 3 intermediate languages x 6 targets, de->de and fr->fr left out
    assert "16 cells of 3 x 6 without 2 same-language, 16 - 3 - 5 - 1 residual df".replace(
        "16 - 3 - 5 - 1", str(16 - 3 - 5 - 1)) in lines[3]
    holm = plan.power_section(tiny_params(fusion_layers=[None, 1], intermediate_task=None, seeds=[1, 2]), [])
    assert "not estimable with this grid: it has no intermediate task" in holm[-1]

