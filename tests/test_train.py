"""Checkpoint selection, results.csv, and training that resumes, accumulates and splits over processes."""

import dataclasses
import json
import signal
import subprocess
import sys

import datasets
import numpy as np
import pytest
import torch
import yaml
from transformers import BertConfig, TrainingArguments

from conftest import tiny_params
from dlfa.analysis.results import RESULT_COLUMNS, results_table
from dlfa.config.fusion import DLFAConfig
from dlfa.config.grid import Run, find_run
from dlfa.config.runs import existing_metrics, last_checkpoint, run_config
from dlfa.paths import ROOT
from dlfa.training import trainer as trainer_mod
from dlfa.training.checkpoint_selection import evaluation_table, select_checkpoints
from dlfa.training.model import DLFAForSequenceClassification


def _history():
    # step 10: en dev best; step 20: de dev best; ja dev tied at 10 and 20 (earliest wins)
    acc = {10: {"en": (0.90, 0.88), "de": (0.60, 0.61), "ja": (0.55, 0.52)},
           20: {"en": (0.85, 0.86), "de": (0.70, 0.65), "ja": (0.55, 0.58)}}
    history = [{"loss": 0.6, "step": 5}]
    for step, per in acc.items():
        entry = {"step": step, "epoch": step / 20}
        for lang, (dev, test) in per.items():
            entry[f"eval_{lang}_dev_accuracy"] = dev
            entry[f"eval_{lang}_test_accuracy"] = test
        history.append(entry)
    return history


def test_evaluation_table_is_tidy():
    table = evaluation_table(_history(), ["en", "de", "ja"])
    assert list(table.columns) == ["step", "language", "split", "accuracy"]
    assert len(table) == 2 * 3 * 2


def test_selection_uses_dev_only_under_both_protocols():
    chosen = select_checkpoints(evaluation_table(_history(), ["en", "de", "ja"]), ["en", "de", "ja"])
    assert chosen["en-dev"]["de"] == {"step": 10, "dev": 0.60, "test": 0.61}  # English dev decides for all
    assert chosen["en-dev"]["ja"]["step"] == 10
    assert chosen["oracle"]["de"] == {"step": 20, "dev": 0.70, "test": 0.65}  # de's own dev decides
    assert chosen["oracle"]["ja"] == {"step": 10, "dev": 0.55, "test": 0.52}  # tie: earliest, not best test
    assert chosen["oracle"]["en"] == chosen["en-dev"]["en"]


def _metrics(run, params):
    chosen = select_checkpoints(evaluation_table(_history(), ["en", "de", "ja"]), ["en", "de", "ja"])
    n = {lang: {"dev": 100, "test": 200} for lang in ["en", "de", "ja"]}
    return {"run_id": run.run_id, "status": "complete", "config": run_config(params, run), "selection": chosen, "n": n}


def test_results_table_has_one_row_per_run_language_split_protocol():
    params = tiny_params({"targets": ["de", "ja"], "fusion_layers": [None, 1]})
    runs = [Run(None, None, None, 1), Run(1, "xnli", "hi", 1)]
    table = results_table([_metrics(r, params) for r in runs])
    assert list(table.columns) == RESULT_COLUMNS
    assert len(table) == 2 * 3 * 2 * 2
    row = table[(table.run_id == "d1__xnli-hi__s1") & (table.language == "de") & (table.split == "test")
                & (table.selection == "oracle")].iloc[0]
    assert (row.variant, row.fusion_layer, row.intermediate_language, row.accuracy, row.n) == ("d1", 1, "hi", 0.65, 200)


def test_existing_metrics_requires_the_same_configuration(tmp_path):
    params = tiny_params({"targets": ["de", "ja"]})
    run = Run(None, None, None, 1)
    path = tmp_path / "runs" / run.run_id / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_metrics(run, params)))
    assert existing_metrics(tmp_path, params, run) is None  # no predictions.npz: the analysis needs it
    path.with_name("predictions.npz").write_bytes(b"")
    assert existing_metrics(tmp_path, params, run) is not None
    assert existing_metrics(tmp_path, dataclasses.replace(params, learning_rate=1e-4), run) is None
    path.write_text(json.dumps({**_metrics(run, params), "status": "failed"}))
    assert existing_metrics(tmp_path, params, run) is None


# --- resumable, multi-process training -------------------------------------------------------------

def test_a_run_is_looked_up_in_the_grid_by_its_id():
    params = tiny_params(fusion_layers=[None, 1], seeds=[1, 2], fusion=[{}, {"reduction": 8}])
    assert find_run(params, "d1-r8__xnli-hi__s2", ["hi"]) == Run(1, "xnli", "hi", 2, DLFAConfig(reduction=8))
    assert find_run(params, "d1-r8__xnli-hi__s2", ["hi"]).dlfa == DLFAConfig(fusion_layer=1, reduction=8)
    assert find_run(params, "baseline__none__s1", []).dlfa == DLFAConfig()
    with pytest.raises(ValueError, match="no run 'd6__xnli-de__s1' in its grid"):
        find_run(params, "d6__xnli-de__s1", ["hi"])


def test_last_checkpoint_is_the_newest_complete_one(tmp_path):
    assert last_checkpoint(tmp_path) is None
    for step, complete in ((10, True), (20, True), (30, False)):  # 30: killed while saving
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-20")


def test_arguments_split_the_effective_batch_over_processes_and_save_at_evaluations(tmp_path):
    params = tiny_params({"train_batch_size": 8, "effective_batch_size": 32, "evals_per_epoch": 2})
    args = trainer_mod.training_arguments(params, tmp_path, 1, 1e-3, 1.0, n_train=3200, evaluate=True)
    assert args.gradient_accumulation_steps == 4
    assert args.save_steps == args.eval_steps == 50 and args.eval_steps % args.logging_steps == 0
    assert args.save_total_limit == 1
    assert trainer_mod.accumulation_steps(params, processes=2) == 2
    with pytest.raises(ValueError, match="not a multiple of train_batch_size x processes = 8 x 3"):
        trainer_mod.accumulation_steps(params, processes=3)


def _tiny_model():
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    return DLFAForSequenceClassification.from_config(config, DLFAConfig(fusion_layer=1))


def _token_rows(lengths, seed: int) -> list[dict]:
    """Rows of random token ids, one of each length, labelled by the parity of their length."""
    generator = torch.Generator().manual_seed(seed)
    rows = [{"input_ids": torch.randint(5, 50, (n,), generator=generator).tolist(), "labels": n % 2} for n in lengths]
    return [{**r, "attention_mask": [1] * len(r["input_ids"]), "token_type_ids": [0] * len(r["input_ids"])}
            for r in rows]


def test_the_head_warm_up_trains_the_head_alone_and_a_second_call_reuses_it(tmp_path):
    from dlfa.training.train import head_warmup
    params = tiny_params(head_warmup_epochs=3.0, head_warmup_learning_rate=0.05, train_batch_size=8,
                         effective_batch_size=8)
    run = Run(fusion_layer=1, intermediate_task=None, intermediate_language=None, seed=1)
    train = datasets.Dataset.from_list(_token_rows(range(4, 36), seed=1))
    model = _tiny_model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    stage = head_warmup(params, run, tmp_path, model, train, _pad)
    after = dict(model.named_parameters())
    head = {"classifier.weight", "classifier.bias"}
    assert all(torch.equal(before[n], after[n]) for n in before if n not in head)  # the encoder is frozen ...
    assert all(not torch.equal(before[n], after[n]) for n in head)  # ... the head is not
    assert all(p.requires_grad for p in model.parameters())  # and fine-tuning trains everything again
    assert stage["stage"] == "head" and stage["epoch"] == 3.0 and stage["examples"] == 32
    assert stage["frozen_parameters"] == sum(p.numel() for n, p in model.named_parameters() if n not in head)
    again = _tiny_model()  # a resumed run: the kept head, not a second warm-up
    assert not (tmp_path / "runs" / run.run_id / "head" / "trainer").exists()  # its checkpoint is not kept
    assert head_warmup(params, run, tmp_path, again, train, _pad) == stage
    assert all(torch.equal(dict(again.named_parameters())[n], after[n]) for n in head)


def test_logged_loss_is_the_batch_mean_under_gradient_accumulation(tmp_path):
    rows = _token_rows(range(4, 20), seed=0)
    ds = datasets.Dataset.from_list(rows)
    model = _tiny_model()
    with torch.no_grad():  # the reference: mean cross-entropy over the same 16 examples, unpadded
        expected = sum(model(**{k: torch.tensor([v]) for k, v in r.items()}).loss for r in rows) / len(rows)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, gradient_accumulation_steps=2,
                             learning_rate=0.0, max_steps=1, report_to="none", save_strategy="no", use_cpu=True,
                             logging_steps=1, disable_tqdm=True)
    trainer = trainer_mod.StudyTrainer(model=model, args=args, train_dataset=ds, data_collator=_pad)
    result = trainer.train()
    assert result.training_loss == pytest.approx(float(expected), rel=1e-5)  # not 2x: accumulation divides it


def _pad(batch):
    width = max(len(b["input_ids"]) for b in batch)
    out = {k: torch.tensor([b[k] + [0] * (width - len(b[k])) for b in batch])
           for k in ("input_ids", "attention_mask", "token_type_ids")}
    out["labels"] = torch.tensor([b["labels"] for b in batch])
    return out


def test_length_grouped_order_depends_on_seed_and_epoch_only():
    lengths = list(range(5, 69))
    sampler = trainer_mod.EpochSeededLengthSampler(8, lengths, seed=3)
    first = list(sampler)
    torch.manual_seed(123)  # the global RNG does not matter
    sampler.set_epoch(0)
    assert list(sampler) == first and sorted(first) == list(range(64))
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    again = trainer_mod.EpochSeededLengthSampler(8, lengths, seed=3)
    again.set_epoch(1)
    assert list(again) == second  # what a run resumed in epoch 1 sees


TINY_RUN = {
    "study": "resume", "model": "tiny", "data_source": "synthetic", "tiny_model": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                                      "vocab_size": 400},
    "targets": ["de", "ja"], "intermediate_task": "xnli", "candidate_languages": ["hi", "vi"],
    "intermediate_languages": ["hi"], "fusion_layers": [None, 1], "seeds": [1], "train_size": 320, "eval_size": 40,
    "intermediate_train_size": 160, "max_length": 40, "learning_rate": 0.001, "train_batch_size": 8,
    "effective_batch_size": 16, "eval_batch_size": 64, "num_train_epochs": 2.0, "evals_per_epoch": 2,
    "intermediate_epochs": 2.0, "intermediate_learning_rate": 0.001,
}

KILLER = '''
import os, signal, sys
from pathlib import Path
from transformers import TrainerCallback
from dlfa.config.profiles import load
from dlfa.config.runs import study_run
from dlfa.training.train import train_run

class KillAfterSave(TrainerCallback):  # SIGKILL right after the checkpoint at step >= N of one stage
    def __init__(self, step, stage):
        self.step, self.stage = step, stage
    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= self.step and args.output_dir.endswith(self.stage):
            os.kill(os.getpid(), signal.SIGKILL)

p, out = load(sys.argv[1]), Path(sys.argv[2])
run = study_run(out, p, sys.argv[3])
step, stage = int(sys.argv[4]), sys.argv[5]
train_run(p, run, out, callbacks=[KillAfterSave(step, stage)] if step else [])
'''


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A study folder with 01_data done, and an uninterrupted reference of each run."""
    from dlfa.orchestration import notebooks
    root = tmp_path_factory.mktemp("resume")
    (root / "params.yaml").write_text(yaml.safe_dump(TINY_RUN))
    (root / "killer.py").write_text(KILLER)
    for stage in ("01_data", "02_typology"):  # 02: the grid's intermediate languages, for the run's lookup
        notebooks.execute(stage, root / "reference" / "resume" / "notebooks" / f"{stage}.ipynb",
                          notebooks.parameters(stage, root / "params.yaml", root / "reference"))
    return root


def _train(root, study, run_id, kill_step=0, stage="x"):
    return subprocess.run([sys.executable, str(root / "killer.py"), str(root / "params.yaml"), str(study), run_id,
                           str(kill_step), stage], capture_output=True, text=True, cwd=ROOT, timeout=600)


def _copy_data(root, name):
    import shutil
    study = root / name / "resume"
    for part in ("data", "model", "typology"):
        shutil.copytree(root / "reference" / "resume" / part, study / part)
    return study


@pytest.mark.slow
@pytest.mark.parametrize("run_id, kill_step, stage, resumed_from", [
    ("d1__none__s1", 30, "trainer", ["checkpoint-30"]),  # PAWS-X stage, in its second epoch
    ("d1__xnli-hi__s1", 12, "intermediate/trainer", ["checkpoint-12", None]),  # intermediate stage, 2nd epoch
    ("d1__xnli-hi__s1", 10, "d1__xnli-hi__s1/trainer", [None, "checkpoint-10"]),  # after the intermediate stage
])
def test_a_killed_run_resumes_to_the_metrics_of_an_uninterrupted_run(tiny_study, run_id, kill_step, stage,
                                                                     resumed_from):
    reference = tiny_study / "reference" / "resume"
    if not (reference / "runs" / run_id / "metrics.json").is_file():
        assert _train(tiny_study, reference, run_id).returncode == 0
    study = _copy_data(tiny_study, f"killed-{run_id}-{kill_step}")
    killed = _train(tiny_study, study, run_id, kill_step, stage)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (study / "runs" / run_id / "metrics.json").exists()
    resumed = _train(tiny_study, study, run_id)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = json.loads((reference / "runs" / run_id / "metrics.json").read_text())
    b = json.loads((study / "runs" / run_id / "metrics.json").read_text())
    assert b["selection"] == a["selection"] and b["curve"] == a["curve"]  # every loss and accuracy
    assert [s["resumed_from"] for s in b["stages"]] == resumed_from
    if "xnli" in run_id:  # the intermediate stage's own dev accuracy, on XNLI's validation split in hi
        assert b["stages"][0]["dev_examples"] == 40 and 0 <= b["stages"][0]["dev_accuracy"] <= 1
        assert b["stages"][0]["dev_accuracy"] == a["stages"][0]["dev_accuracy"]
        assert b["stages"][0]["dev_collapse"] == a["stages"][0]["dev_collapse"]  # stats.collapse's verdict on it
        assert set(b["stages"][0]["dev_collapse"]) == {"collapsed", "reason"}
    assert sorted(p.name for p in (study / "runs" / run_id).iterdir()) == ["config.json", "metrics.json",
                                                                           "predictions.npz"]
    for name in ("en-dev__ja__test", "oracle__de__dev"):  # the same predictions, example by example
        with np.load(reference / "runs" / run_id / "predictions.npz") as x, \
                np.load(study / "runs" / run_id / "predictions.npz") as y:
            assert (x[name] == y[name]).all()


@pytest.mark.slow
def test_the_same_params_and_seed_give_identical_metrics(tiny_study):
    first, second = _copy_data(tiny_study, "first"), _copy_data(tiny_study, "second")
    for study in (first, second):
        assert _train(tiny_study, study, "d1__none__s1").returncode == 0
    a, b = (json.loads((s / "runs" / "d1__none__s1" / "metrics.json").read_text()) for s in (first, second))
    for volatile in ("wall_time_s", "seconds", "train_examples_per_second", "stages"):
        a.pop(volatile), b.pop(volatile)
    assert a == b  # selection, every loss and accuracy of the curve, the layer similarities
    assert isinstance(a["torch_threads"], int) and a["torch_threads"] >= 1  # results depend on it on a CPU
    assert a["torch_cpu_capability"] in ("DEFAULT", "VSX", "Z VECTOR", "NO AVX", "AVX2", "AVX512")  # ... and on this
    with np.load(first / "runs" / "d1__none__s1" / "predictions.npz") as x, \
            np.load(second / "runs" / "d1__none__s1" / "predictions.npz") as y:
        assert all((x[k] == y[k]).all() for k in x.files)


@pytest.mark.slow
def test_two_processes_train_one_run_as_one(tiny_study):
    """torchrun with two CPU processes (gloo): the batch is split, not doubled; one metrics.json."""
    study = _copy_data(tiny_study, "ddp")
    params = yaml.safe_load((tiny_study / "params.yaml").read_text())
    (tiny_study / "ddp.yaml").write_text(yaml.safe_dump({**params, "gpus_per_run": 2}))
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             "-m", "dlfa", "train", str(tiny_study / "ddp.yaml"), "baseline__none__s1",
                             "--outputs", str(study.parent)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((study / "runs" / "baseline__none__s1" / "metrics.json").read_text())
    assert metrics["processes"] == 2
    assert metrics["curve"]["loss"][-1]["step"] == 2 * 320 // 16  # 2 epochs of 320 examples in batches of 16
    assert all(0.3 < entry["loss"] < 1.0 for entry in metrics["curve"]["loss"])  # a mean, not a sum over ranks


def test_train_command_refuses_a_run_outside_the_grid(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({**TINY_RUN, "fusion_layers": [None], "intermediate_task": None}))
    result = subprocess.run([sys.executable, "-m", "dlfa", "train", str(params), "d1__none__s3",
                             "--outputs", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert ("no run 'd1__none__s3' in its grid (fusion_layers [None], seeds [1], intermediate languages none); "
            "e.g. baseline__none__s1") in result.stderr
    params.write_text(yaml.safe_dump(TINY_RUN))  # the grid needs the typology stage's choice
    result = subprocess.run([sys.executable, "-m", "dlfa", "train", str(params), "d1__xnli-hi__s1",
                             "--outputs", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "has no typology/selection.csv: prepare the study first" in result.stderr
    assert "Traceback" not in result.stderr


def test_paired_tests_align_runs_by_example_id(tmp_path):
    from dlfa.analysis import PAIRED_COLUMNS, paired_tests, per_run
    params = tiny_params({"targets": ["de", "ja"], "fusion_layers": [None, 1]})
    runs = [Run(None, None, None, 1), Run(1, None, None, 1)]
    rng = np.random.default_rng(0)
    ids, gold = np.arange(100, 150), rng.integers(0, 2, 50).astype(np.int8)
    predicted = {"baseline__none__s1": np.where(rng.random(50) < 0.7, gold, 1 - gold).astype(np.int8),
                 "d1__none__s1": np.where(rng.random(50) < 0.9, gold, 1 - gold).astype(np.int8)}
    for run in runs:
        order = np.arange(50) if run.fusion_layer is None else rng.permutation(50)  # another row order
        arrays = {}
        for lang in ("en", "de", "ja"):
            for split in ("dev", "test"):
                arrays[f"id__{lang}__{split}"], arrays[f"label__{lang}__{split}"] = ids[order], gold[order]
                for protocol in ("en-dev", "oracle"):
                    arrays[f"{protocol}__{lang}__{split}"] = predicted[run.run_id][order]
        (tmp_path / "runs" / run.run_id).mkdir(parents=True)
        np.savez(tmp_path / "runs" / run.run_id / "predictions.npz", **arrays)
    table = paired_tests(tmp_path, results_table([_metrics(r, params) for r in runs]))
    assert list(table.columns) == PAIRED_COLUMNS and len(table) == 3  # d1 against the baseline, per language
    row = table[table.language == "ja"].iloc[0]
    expected = per_run.paired_difference(predicted["baseline__none__s1"] == gold, predicted["d1__none__s1"] == gold)
    assert row.run_id == "d1__none__s1" and row.baseline_run_id == "baseline__none__s1"
    assert row.difference == pytest.approx(expected["difference"]) and row.p_value == pytest.approx(expected["p_value"])
    assert row.accuracy == pytest.approx(np.mean(predicted["d1__none__s1"] == gold))


def test_saved_predictions_follow_the_dataset_order(tmp_path):
    """Trainer groups evaluation batches by length (a shuffle); the saved predictions must not be."""
    generator = torch.Generator().manual_seed(1)
    rows = [{"input_ids": torch.randint(5, 50, (int(n),), generator=generator).tolist(), "labels": 0}
            for n in torch.randint(4, 30, (50,), generator=generator)]
    rows = [{**r, "attention_mask": [1] * len(r["input_ids"]), "token_type_ids": [0] * len(r["input_ids"])}
            for r in rows]
    model = _tiny_model().eval()
    with torch.no_grad():
        expected = [int(model(**{k: torch.tensor([v]) for k, v in r.items() if k != "labels"}).logits.argmax())
                    for r in rows]
    assert 0 < sum(expected) < len(expected)  # a model whose order would show
    args = TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=8, report_to="none",
                             use_cpu=True, train_sampling_strategy="group_by_length", disable_tqdm=True)
    trainer = trainer_mod.StudyTrainer(model=model, args=args, eval_dataset={"x_test": datasets.Dataset.from_list(rows)},
                                      data_collator=_pad, compute_metrics=trainer_mod.accuracy)
    trainer.predictions_dir = tmp_path / "predictions"
    trainer.evaluate()
    with np.load(tmp_path / "predictions" / "step-0.npz") as saved:
        assert saved["x_test"].tolist() == expected


# --- test sets only where a step can be selected -----------------------------------------------------

def _trainer_at(step, history, tests_every_time=False):
    args = TrainingArguments(output_dir="unused", report_to="none", use_cpu=True, disable_tqdm=True)
    trainer = trainer_mod.StudyTrainer(model=_tiny_model(), args=args)
    trainer.state.global_step, trainer.state.log_history = step, history
    trainer.test_every_evaluation = tests_every_time
    return trainer


def test_a_test_set_is_evaluated_only_when_its_step_can_be_selected():
    tests = ["en_test", "de_test", "ja_test"]
    history = [{"eval_en_dev_accuracy": 0.8, "step": 10}, {"eval_de_dev_accuracy": 0.6, "step": 10},
               {"eval_ja_dev_accuracy": 0.5, "step": 10}, {"loss": 0.3, "step": 15},
               {"eval_en_dev_accuracy": 0.9, "step": 20}, {"eval_de_dev_accuracy": 0.5, "step": 20},
               {"eval_ja_dev_accuracy": 0.5, "step": 20}]
    dev = lambda en, de, ja: {"eval_en_dev_accuracy": en, "eval_de_dev_accuracy": de,  # noqa: E731
                              "eval_ja_dev_accuracy": ja}
    at30 = _trainer_at(30, history)
    assert at30.tests_to_evaluate(tests, dev(0.95, 0.1, 0.1)) == tests  # English dev improved: en-dev may pick 30
    assert at30.tests_to_evaluate(tests, dev(0.9, 0.6, 0.55)) == ["ja_test"]  # en and de only tie: earliest wins
    assert at30.tests_to_evaluate(tests, dev(0.85, 0.61, 0.5)) == ["de_test"]
    assert at30.tests_to_evaluate(tests, {}) == tests  # no dev accuracy to select on
    assert _trainer_at(30, history, tests_every_time=True).tests_to_evaluate(tests, dev(0, 0, 0)) == tests
    # the same step evaluated again (e.g. once more at the end) compares with earlier steps only
    assert _trainer_at(20, history).tests_to_evaluate(tests, dev(0.9, 0.5, 0.5)) == tests
    # resumed from a checkpoint: the history comes back with it, and so do the decisions
    assert _trainer_at(30, [dict(e) for e in history]).tests_to_evaluate(tests, dev(0.9, 0.6, 0.55)) == ["ja_test"]


def _rule_rows(n, seed):
    """Pairs whose label is whether the first token is in the upper half of the vocabulary."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for length in torch.randint(4, 16, (n,), generator=generator).tolist():
        ids = torch.randint(5, 50, (length,), generator=generator).tolist()
        rows.append({"input_ids": ids, "attention_mask": [1] * length, "token_type_ids": [0] * length,
                     "labels": int(ids[0] >= 27)})
    return datasets.Dataset.from_list(rows)


def test_selective_test_evaluation_selects_what_evaluating_every_test_selects(tmp_path):
    languages = ["en", "de", "ja"]
    evals = {f"{lang}_{split}": _rule_rows(48, seed=10 * i + j)
             for i, lang in enumerate(languages) for j, split in enumerate(("dev", "test"))}
    histories, predictions = {}, {}
    for every in (True, False):
        torch.manual_seed(0)
        model = _tiny_model()
        args = TrainingArguments(output_dir=str(tmp_path / str(every)), per_device_train_batch_size=8,
                                 per_device_eval_batch_size=64, learning_rate=5e-3, max_steps=8, seed=0,
                                 eval_strategy="steps", eval_steps=1, logging_steps=1, save_strategy="no",
                                 report_to="none", use_cpu=True, disable_tqdm=True)
        trainer = trainer_mod.StudyTrainer(model=model, args=args, train_dataset=_rule_rows(96, seed=99),
                                          eval_dataset=evals, data_collator=_pad, compute_metrics=trainer_mod.accuracy)
        trainer.test_every_evaluation = every
        trainer.predictions_dir = tmp_path / str(every) / "predictions"
        trainer.train()
        histories[every], predictions[every] = trainer.state.log_history, trainer.predictions_dir
    curves = {every: evaluation_table(h, languages) for every, h in histories.items()}
    dev = {every: c[c.split == "dev"].reset_index(drop=True) for every, c in curves.items()}
    assert dev[True].equals(dev[False])  # training is not changed by evaluating fewer sets
    tests = {every: (c.split == "test").sum() for every, c in curves.items()}
    assert tests[False] < tests[True] == 8 * 3  # some test evaluations were skipped...
    chosen = {every: select_checkpoints(c, languages) for every, c in curves.items()}
    assert chosen[False] == chosen[True]  # ...and none that a protocol selects
    steps = {c["step"] for per_lang in chosen[False].values() for c in per_lang.values()}
    for step in steps:
        with np.load(predictions[True] / f"step-{step}.npz") as a, np.load(predictions[False] / f"step-{step}.npz") as b:
            for lang in languages:
                if any(chosen[False][p][lang]["step"] == step for p in chosen[False]):
                    assert (a[f"{lang}_test"] == b[f"{lang}_test"]).all()


def test_selection_refuses_a_selected_step_without_test_accuracy():
    history = [e for e in _history() if e.get("step") != 20] + [
        {"step": 20, "eval_en_dev_accuracy": 0.95, "eval_de_dev_accuracy": 0.6, "eval_ja_dev_accuracy": 0.5}]
    with pytest.raises(ValueError, match="no en test accuracy at step 20, which en-dev selects"):
        select_checkpoints(evaluation_table(history, ["en", "de", "ja"]), ["en", "de", "ja"])


def _norms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]


def test_batchnorm_statistics_are_recomputed_as_the_plain_mean_over_batches_whatever_came_before():
    from dlfa.training.aif import MaskedBatchNorm1d

    class Norm(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = MaskedBatchNorm1d(3)

        def forward(self, x, mask):
            return self.bn(x, mask)

    generator = torch.Generator().manual_seed(0)
    batches = [{"x": torch.randn(n, 3, generator=generator) * (1 + n), "mask": torch.arange(n) < n - 1}
               for n in (4, 9, 6)]  # lengths as different as a length-grouped sawtooth's
    model = Norm().eval()
    model.bn.running_mean.fill_(7.0)
    model.bn.running_var.fill_(0.01)  # what the last batches before an evaluation left
    rng = torch.get_rng_state()
    assert trainer_mod.recalibrate_batchnorm(model, batches) == 3
    valid = [b["x"][b["mask"]] for b in batches]
    torch.testing.assert_close(model.bn.running_mean, torch.stack([v.mean(0) for v in valid]).mean(0))
    torch.testing.assert_close(model.bn.running_var, torch.stack([v.var(0) for v in valid]).mean(0))  # unbiased
    assert not model.training and model.bn.momentum == 0.1 and torch.equal(torch.get_rng_state(), rng)
    first = model.bn.running_mean.clone()
    model.bn.running_mean.fill_(-3.0)  # another history, the same batches: the same statistics
    trainer_mod.recalibrate_batchnorm(model, batches)
    torch.testing.assert_close(model.bn.running_mean, first)
    assert trainer_mod.recalibrate_batchnorm(torch.nn.Linear(2, 2), batches) == 0  # nothing to do


def test_length_grouped_training_evaluates_dlfa_with_statistics_from_a_shuffled_sample_of_batches(tmp_path):
    ds = datasets.Dataset.from_list(_token_rows(range(4, 100), seed=1))
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, report_to="none",
                             save_strategy="no", use_cpu=True, disable_tqdm=True, seed=3)

    def statistics(fill, step=40):
        torch.manual_seed(0)
        model = _tiny_model()
        for m in _norms(model):
            m.running_mean.fill_(fill)
        trainer = trainer_mod.StudyTrainer(model=model, args=args, train_dataset=ds, data_collator=_pad)
        trainer.state.global_step = step
        assert trainer.recalibrate_batchnorm_for_evaluation() == trainer_mod.BATCHNORM_SAMPLE_BATCHES  # of 24 batches
        return [m.running_mean.clone() for m in _norms(model)]

    assert _norms(_tiny_model())  # DLFA has BatchNorm
    here = statistics(5.0)
    for a, b in zip(here, statistics(-5.0)):  # whatever the batches before left: the same statistics
        torch.testing.assert_close(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(here, statistics(5.0, step=41)))  # a new sample each step


def test_the_encoders_similarity_before_fine_tuning_is_computed_once_per_encoder_and_dev_sets(tmp_path, monkeypatch):
    from dlfa.data.tokenization import tokenized_path
    from dlfa.training import train
    for lang in ("en", "de"):
        path = tokenized_path(tmp_path, "pawsx", lang, "validation")
        path.mkdir(parents=True)
        (path / "dlfa_key.json").write_text(json.dumps({"key": lang}))
    computed = []
    monkeypatch.setattr(train, "layer_similarity",
                        lambda model, *a, **k: computed.append(1) or {"de": [float(len(computed))]})
    model = _tiny_model()
    first = train.base_similarity(model, tmp_path, ["en", "de"], None)
    assert train.base_similarity(_tiny_model(), tmp_path, ["en", "de"], None) == first == {"de": [1.0]}
    assert len(computed) == 1  # the same weights and rows: read back
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight[3, 0] += 1e-3  # other weights: computed afresh
    assert train.base_similarity(model, tmp_path, ["en", "de"], None) == {"de": [2.0]}
    (tokenized_path(tmp_path, "pawsx", "de", "validation") / "dlfa_key.json").write_text('{"key": "other rows"}')
    assert train.base_similarity(_tiny_model(), tmp_path, ["en", "de"], None) == {"de": [3.0]}
    assert len(list((tmp_path / "similarity").glob("base-*.json"))) == 3
