"""One run of the grid with the Hugging Face ``Trainer``.

Optional intermediate stage (its own head), then English PAWS-X; the dev split of every language
is evaluated at each evaluation step. Checkpoints are then *selected* from the dev curves alone,
under two protocols: ``en-dev`` (the step with the best English dev accuracy; XTREME) and
``oracle`` (per target language, the step with the best dev accuracy in that language; Keung et
al. 2020). Test accuracy is read at the selected step; test numbers never influence selection.
A test split is evaluated only at the steps that can still be selected (see ``_StudyTrainer``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pandas as pd
import pyarrow.compute
import torch
import transformers
from transformers import (AutoTokenizer, BertConfig, DataCollatorWithPadding, Trainer, TrainerCallback,
                          TrainingArguments, set_seed)
from transformers.trainer_pt_utils import LengthGroupedSampler

from . import stats
from .data import MODEL_COLUMNS
from .executors import job_info
from .io import atomic_path, write_json
from .model import DLFAForSequenceClassification
from .params import TINY_MODEL, Run, intermediate_source
from .results import load_predictions
from .similarity import layer_similarity
from .tasks import intermediate_task

PROTOCOLS = ("en-dev", "oracle")
EVAL_SPLITS = {"dev": "validation", "test": "test"}


def tokenized_path(study_dir: Path, task: str, language: str, split: str) -> Path:
    return Path(study_dir) / "data" / "tokenized" / task / language / split


def model_source(params: dict, study_dir: Path) -> str:
    """Where weights/config and tokenizer come from: the study's tiny model folder or a hub id/path."""
    return str(Path(study_dir) / "model") if params["model"] == TINY_MODEL else params["model"]


def load_tokenizer(params: dict, study_dir: Path):
    """The model's tokenizer; offline without a cached copy, an error that says how to get one."""
    source = model_source(params, study_dir)
    try:
        return AutoTokenizer.from_pretrained(source)
    except OSError as err:
        raise RuntimeError(f"could not load the tokenizer of {source!r} [{err.__class__.__name__}: "
                           f"{str(err).splitlines()[0]}]. Run once with the Hugging Face hub reachable to "
                           "cache it, or set 'model' to a local directory holding it (save_pretrained).") from None


def load_tokenized(study_dir: Path, task: str, language: str, split: str) -> datasets.Dataset:
    """A corpus as 01_data cached it, reduced to the model's inputs and labels."""
    path = tokenized_path(study_dir, task, language, split)
    if not (path / "dlfa_key.json").is_file():
        raise FileNotFoundError(f"no tokenized {task} {language} {split} at {path}: run 01_data for this study first")
    return datasets.load_from_disk(str(path)).select_columns(MODEL_COLUMNS)


def build_model(params: dict, study_dir: Path, fusion_layer: int | None, num_labels: int):
    source = model_source(params, study_dir)
    if params["model"] == TINY_MODEL:  # random initialisation, seeded by the caller
        config = BertConfig.from_pretrained(source, num_labels=num_labels)
        return DLFAForSequenceClassification.from_config(config, fusion_layer=fusion_layer)
    return DLFAForSequenceClassification.from_pretrained(source, num_labels=num_labels, fusion_layer=fusion_layer)


class _EpochSeededLengthSampler(LengthGroupedSampler):
    """Length-grouped order drawn from (seed, epoch) alone, not from the global RNG.

    Trainer's own sampler draws each epoch's order from torch's global RNG, whose state on resuming
    differs from an uninterrupted run's, so a run resumed after its first epoch saw other batches.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths, generator=torch.Generator())
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:  # called by Trainer (through accelerate) before each epoch
        self.generator.manual_seed(self.seed * 1_000_003 + epoch)


class _StudyTrainer(Trainer):
    """Trainer with a resumable length-grouped order (lengths read from Arrow, not row by row) that
    keeps every evaluation's predicted labels in ``predictions_dir/step-<N>.npz``, one array per
    evaluation set: paired tests compare runs example by example at the checkpoints they select.

    Evaluation sets named ``<lang>_dev`` / ``<lang>_test`` are evaluated dev first. Selection ties go
    to the earliest step, so a step can be selected only if a dev accuracy is a strict new best
    there: ``<lang>_test`` is evaluated when ``<selection_source>_dev`` (en-dev protocol) or
    ``<lang>_dev`` (oracle) beats every earlier evaluation in ``state.log_history`` (restored with
    a checkpoint, so a resumed run decides as an uninterrupted one), or has no accuracy to compare.
    ``test_every_evaluation = True`` evaluates every test set every time.
    """

    predictions_dir: Path | None = None
    test_every_evaluation: bool = False
    selection_source: str = "en"
    _pending: dict[str, np.ndarray] | None = None

    def _get_eval_sampler(self, eval_dataset):
        # Trainer would group evaluation examples by length too, i.e. shuffle them: predictions must
        # come back in the dataset's order to be matched with example ids. Several processes: None
        # lets accelerate shard in order, as Trainer does.
        if eval_dataset is None or self.args.world_size > 1:
            return None
        return torch.utils.data.SequentialSampler(eval_dataset)

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys,
                                         metric_key_prefix)
        if self.predictions_dir is not None and output.predictions is not None:
            self._pending = self._pending or {}
            self._pending[metric_key_prefix.removeprefix("eval_")] = \
                np.argmax(output.predictions, axis=-1).astype(np.int8)
        return output

    def tests_to_evaluate(self, tests: list[str], metrics: dict[str, float],
                          metric_key_prefix: str = "eval") -> list[str]:
        """The test sets whose accuracy at this step may be read by a selection protocol."""
        if self.test_every_evaluation:
            return list(tests)
        step = self.state.global_step

        def new_best(lang: str) -> bool:
            key = f"{metric_key_prefix}_{lang}_dev_accuracy"
            if key not in metrics:  # nothing to select on
                return True
            earlier = [e[key] for e in self.state.log_history if key in e and e.get("step", -1) < step]
            return not earlier or metrics[key] > max(earlier)

        every = new_best(self.selection_source)
        return [name for name in tests if every or new_best(name.removesuffix("_test"))]

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        if eval_dataset is not None or not isinstance(self.eval_dataset, dict):
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        tests = [name for name in self.eval_dataset if name.endswith("_test")]
        metrics: dict[str, float] = {}

        def run(name: str) -> None:  # by name, as Trainer.evaluate does for a dict of sets
            metrics.update(super(_StudyTrainer, self).evaluate(name, ignore_keys, f"{metric_key_prefix}_{name}"))

        for name in self.eval_dataset:  # dev (and any other set) first: they decide which tests are needed
            if name not in tests:
                run(name)
        for name in self.tests_to_evaluate(tests, metrics, metric_key_prefix):
            run(name)
        if self._pending and self.is_world_process_zero():
            with atomic_path(self.predictions_dir / f"step-{self.state.global_step}.npz") as tmp:
                np.savez_compressed(tmp, **self._pending)
        self._pending = None
        return metrics

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or not isinstance(dataset, datasets.Dataset):
            return super()._get_train_sampler(train_dataset)
        column = dataset.with_format("arrow")[:]["input_ids"]
        lengths = pyarrow.compute.list_value_length(column).to_pylist()
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return _EpochSeededLengthSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                         lengths, seed)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the run stops rather than train on garbage."""


class _StopOnNonFiniteLoss(TrainerCallback):
    """Raise TrainingDiverged as soon as a logged loss (training or evaluation) is NaN or infinite.

    Checked where Trainer logs (every ``logging_steps``), not every step, where reading the loss
    would synchronise with the device. The training loss is the mean since the last log with
    ``logging_nan_inf_filter`` off, so one non-finite step makes it non-finite.
    """

    def __init__(self, stage: str):
        self.stage = stage

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key, value in (logs or {}).items():
            if (key == "loss" or key.endswith("_loss")) and isinstance(value, float) and not math.isfinite(value):
                raise TrainingDiverged(f"{self.stage} stage: {key} became {value} at step {state.global_step}; "
                                       "lower the learning rate (or raise warmup_ratio) and run again")


class _LogLines(TrainerCallback):
    """One plain line per log and evaluation (loss; dev accuracy per language): the run's log.txt
    and the executed notebook read as a record, where progress bars are HTML widgets."""

    def __init__(self, stage: str):
        self.stage = stage

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        where = f"{self.stage} step {state.global_step}/{state.max_steps}"
        if "loss" in logs:
            print(f"{where}: training loss {logs['loss']:.4f}, learning rate {logs.get('learning_rate', 0):.2e}",
                  flush=True)
        dev = {k.split("_")[1]: v for k, v in logs.items() if k.startswith("eval_") and k.endswith("_dev_accuracy")}
        if dev:
            print(f"{where}: dev accuracy " + ", ".join(f"{lang} {acc:.3f}" for lang, acc in dev.items()), flush=True)


class _EvaluateAtEnd(TrainerCallback):
    """Evaluate after the last step too, so the curve always ends at the final weights."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_evaluate = True
        return control


def _accuracy(pred) -> dict[str, float]:
    return {"accuracy": float((np.argmax(pred.predictions, axis=-1) == pred.label_ids).mean())}


def world_size() -> int:
    """Processes training together (torchrun / accelerate launch set WORLD_SIZE); 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def accumulation_steps(params: dict, processes: int) -> int:
    """Micro-batches per optimizer step, so that batch x accumulation x processes = effective batch."""
    per_step = params["train_batch_size"] * processes
    if params["effective_batch_size"] % per_step:
        raise ValueError(f"effective_batch_size {params['effective_batch_size']} is not a multiple of "
                         f"train_batch_size x processes = {params['train_batch_size']} x {processes}")
    return params["effective_batch_size"] // per_step


def _arguments(params: dict, output_dir: Path, seed: int, lr: float, epochs: float, n_train: int,
               evaluate: bool) -> TrainingArguments:
    accumulation = accumulation_steps(params, world_size())
    steps_per_epoch = max(1, math.ceil(n_train / params["effective_batch_size"]))
    # Logging divides evaluation, and checkpoints are saved at evaluations: a run resumed from a
    # checkpoint logs the same loss averages as one that never stopped.
    logging_steps = max(1, steps_per_epoch // params["evals_per_epoch"] // 2)
    eval_steps = logging_steps * (2 if steps_per_epoch // params["evals_per_epoch"] >= 2 else 1)
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return TrainingArguments(
        output_dir=str(output_dir), seed=seed, data_seed=seed,
        learning_rate=lr, num_train_epochs=epochs, weight_decay=params["weight_decay"],
        adam_beta2=params["adam_beta2"],
        warmup_steps=int(params["warmup_ratio"] * steps_per_epoch * epochs), lr_scheduler_type="linear",
        per_device_train_batch_size=params["train_batch_size"], gradient_accumulation_steps=accumulation,
        per_device_eval_batch_size=params["eval_batch_size"], train_sampling_strategy="group_by_length",
        eval_strategy="steps" if evaluate else "no", eval_steps=eval_steps, logging_steps=logging_steps,
        save_strategy="steps", save_steps=eval_steps, save_total_limit=1,  # what resuming needs, nothing more
        use_cpu=not torch.cuda.is_available(),  # so that torchrun on CPU (tests) runs DDP over gloo
        logging_nan_inf_filter=False,  # a non-finite loss must show, not be averaged away
        report_to="none", bf16=bf16, dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False)


def last_checkpoint(folder: Path) -> str | None:
    """The newest complete Trainer checkpoint in ``folder`` (trainer_state.json is written last)."""
    done = [c for c in Path(folder).glob("checkpoint-*") if (c / "trainer_state.json").is_file()
            and c.name.split("-")[-1].isdigit()]
    return str(max(done, key=lambda c: int(c.name.split("-")[-1]))) if done else None


def evaluation_table(log_history: list[dict], languages: list[str]) -> pd.DataFrame:
    """Tidy eval curve from ``Trainer.state.log_history``: step, language, split, accuracy."""
    rows = []
    for entry in log_history:
        for lang in languages:
            for split in EVAL_SPLITS:
                key = f"eval_{lang}_{split}_accuracy"
                if key in entry:
                    rows.append({"step": entry["step"], "language": lang, "split": split, "accuracy": entry[key]})
    return pd.DataFrame(rows, columns=["step", "language", "split", "accuracy"]).drop_duplicates(
        ["step", "language", "split"], keep="last")


def select_checkpoints(evals: pd.DataFrame, languages: list[str], source: str = "en") -> dict[str, dict]:
    """For each protocol and language: the chosen step, its dev and its test accuracy.

    ``en-dev``: one step for all languages, best ``source`` dev accuracy. ``oracle``: per language,
    best dev accuracy in that language. Ties go to the earliest step. Test accuracy is needed only
    at the selected steps (training evaluates test sets only where a step can be selected).
    """
    wide = evals.pivot_table(index="step", columns=["language", "split"], values="accuracy").sort_index()
    en_step = int(wide[(source, "dev")].idxmax())
    out: dict[str, dict] = {p: {} for p in PROTOCOLS}
    for lang in languages:
        oracle_step = int(wide[(lang, "dev")].idxmax())
        for protocol, step in (("en-dev", en_step), ("oracle", oracle_step)):
            test = wide[(lang, "test")].get(step, float("nan")) if (lang, "test") in wide else float("nan")
            if math.isnan(test):
                raise ValueError(f"no {lang} test accuracy at step {step}, which {protocol} selects")
            out[protocol][lang] = {"step": step, "dev": float(wide.loc[step, (lang, "dev")]), "test": float(test)}
    return out


def run_config(params: dict, run: Run) -> dict[str, Any]:
    """Everything that determines a run's result: equal configs may reuse an existing metrics.json."""
    keys = ["model", "tiny_model", "data_source", "drop_placeholders", "targets", "data_seed", "train_size",
            "eval_size", "intermediate_train_size", "max_length", "learning_rate", "train_batch_size",
            "effective_batch_size", "num_train_epochs", "warmup_ratio", "weight_decay", "adam_beta2",
            "evals_per_epoch"]
    if run.intermediate_language:
        keys += ["intermediate_epochs", "intermediate_learning_rate"]
    config = {k: params[k] for k in keys}
    if run.intermediate_language:
        config["intermediate_source"] = intermediate_source(params)
    config.update(run_id=run.run_id, variant=run.variant, fusion_layer=run.fusion_layer,
                  intermediate_task=run.intermediate_task, intermediate_language=run.intermediate_language,
                  seed=run.seed)
    return config


def recorded_config(params: dict, run: Run) -> dict[str, Any]:
    """``run_config`` as metrics.json and config.json hold it (JSON types), for comparing with them."""
    return json.loads(json.dumps(run_config(params, run)))


def write_failure(run_dir: Path, params: dict, run: Run, error: str) -> None:
    """``metrics.json`` of a failed run: its error and configuration, so the study can go on and report it."""
    write_json(Path(run_dir) / "metrics.json", {"run_id": run.run_id, "status": "failed", "error": error,
                                                "config": run_config(params, run),
                                                "failed_at": time.strftime("%Y-%m-%d %H:%M:%S")})


def _intermediate_stage(params: dict, run: Run, study_dir: Path, run_dir: Path, collator,
                        callbacks) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train on the intermediate task (resuming its checkpoint); return the encoder's weights and stats.

    The result is kept in ``intermediate/encoder.safetensors`` so that a run stopped during the
    PAWS-X stage does not repeat this one.
    """
    from safetensors.torch import load_file, save_file
    stage_dir = run_dir / "intermediate"
    saved, info = stage_dir / "encoder.safetensors", stage_dir / "stage.json"
    if saved.is_file() and info.is_file():
        return load_file(str(saved)), json.loads(info.read_text())
    inter = load_tokenized(study_dir, run.intermediate_task, run.intermediate_language, "train")
    set_seed(run.seed)
    model = build_model(params, study_dir, run.fusion_layer, intermediate_task(run.intermediate_task).num_labels)
    args = _arguments(params, stage_dir / "trainer", run.seed, params["intermediate_learning_rate"],
                      params["intermediate_epochs"], len(inter), evaluate=False)
    trainer = _StudyTrainer(model=model, args=args, train_dataset=inter, data_collator=collator,
                            callbacks=[_StopOnNonFiniteLoss("intermediate"), _LogLines("intermediate"), *callbacks])
    resume = last_checkpoint(stage_dir / "trainer")
    result = trainer.train(resume_from_checkpoint=resume)
    stage = {"stage": "intermediate", "examples": len(inter), "resumed_from": resume and Path(resume).name,
             **result.metrics}
    encoder = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("classifier.")}
    if trainer.is_world_process_zero():
        with atomic_path(saved) as tmp:
            save_file(encoder, str(tmp))
        write_json(info, stage)
    return encoder, stage


@contextlib.contextmanager
def _no_checkpoint_bars():
    """No "Writing model shards" bar at every checkpoint: the Trainer's own bar shows progress."""
    from transformers.utils import logging as hf_logging
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def train_run(params: dict, run: Run, study_dir: str | Path, callbacks=()) -> dict[str, Any]:
    """Train and evaluate one run; write ``runs/<run_id>/metrics.json`` atomically; return it.

    A run stopped at any point resumes from its last checkpoint when called again (the intermediate
    stage's result is kept once it is done), and ends with the metrics of an uninterrupted run.
    Checkpoints are removed once metrics.json is written, unless ``keep_checkpoints``.
    """
    study_dir = Path(study_dir)
    run_dir = study_dir / "runs" / run.run_id
    if world_size() == 1:  # several processes: launch_run checked before starting them
        start_afresh_if_reconfigured(params, run, run_dir)
    try:
        with _no_checkpoint_bars():
            return _train_run(params, run, study_dir, callbacks)
    except Exception as err:  # recorded, so the study can go on and the report can list it
        if _is_main_process():
            write_failure(run_dir, params, run, f"{type(err).__name__}: {err}")
            if isinstance(err, TrainingDiverged) and not params["keep_checkpoints"]:
                _remove_checkpoints(run_dir)  # resuming a diverged run would diverge again
        raise


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _remove_checkpoints(run_dir: Path) -> None:
    shutil.rmtree(run_dir / "trainer", ignore_errors=True)
    shutil.rmtree(run_dir / "intermediate", ignore_errors=True)


def start_afresh_if_reconfigured(params: dict, run: Run, run_dir: Path) -> None:
    """Record the run's configuration in ``config.json``; checkpoints left by another configuration
    (say, an earlier learning rate) are removed, never resumed."""
    config = recorded_config(params, run)
    stamp = run_dir / "config.json"
    if _is_main_process():
        if stamp.is_file() and json.loads(stamp.read_text() or "null") != config:
            print(f"{run.run_id}: its configuration changed since the last attempt; starting it afresh", flush=True)
            _remove_checkpoints(run_dir)
            (run_dir / "predictions.npz").unlink(missing_ok=True)
        write_json(stamp, config)


def _train_run(params: dict, run: Run, study_dir: str | Path, callbacks=()) -> dict[str, Any]:
    study_dir = Path(study_dir)
    run_dir = study_dir / "runs" / run.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    collator = DataCollatorWithPadding(load_tokenizer(params, study_dir))
    languages = ["en"] + list(params["targets"])
    stages = []
    tokenized = lambda task, lang, split: tokenized_path(study_dir, task, lang, split)  # noqa: E731
    set_seed(run.seed)  # the encoder before any fine-tuning (pretrained, or the tiny model's initialisation)
    similarity = {"base": layer_similarity(build_model(params, study_dir, run.fusion_layer, 2), tokenized,
                                           languages, collator)}

    if run.intermediate_language:
        encoder, stage = _intermediate_stage(params, run, study_dir, run_dir, collator, callbacks)
        stages.append(stage)
        set_seed(run.seed)  # the PAWS-X head starts as it would without the intermediate stage
        model = build_model(params, study_dir, run.fusion_layer, 2)
        missing, unexpected = model.load_state_dict(encoder, strict=False)
        if set(missing) != {"classifier.weight", "classifier.bias"} or unexpected:  # only the head is new
            raise RuntimeError(f"carrying the encoder over failed: missing {missing}, unexpected {unexpected}")
    else:
        set_seed(run.seed)
        model = build_model(params, study_dir, run.fusion_layer, 2)

    train = load_tokenized(study_dir, "pawsx", "en", "train")
    evals = {f"{lang}_{name}": load_tokenized(study_dir, "pawsx", lang, split)
             for lang in languages for name, split in EVAL_SPLITS.items()}
    args = _arguments(params, run_dir / "trainer", run.seed, params["learning_rate"], params["num_train_epochs"],
                      len(train), evaluate=True)
    trainer = _StudyTrainer(model=model, args=args, train_dataset=train, eval_dataset=evals, data_collator=collator,
                            compute_metrics=_accuracy,
                            callbacks=[_EvaluateAtEnd(), _StopOnNonFiniteLoss("pawsx-en"), _LogLines("pawsx-en"),
                                       *callbacks])
    trainer.predictions_dir = run_dir / "trainer" / "predictions"
    resume = last_checkpoint(run_dir / "trainer")
    result = trainer.train(resume_from_checkpoint=resume)
    stages.append({"stage": "pawsx-en", "examples": len(train), "resumed_from": resume and Path(resume).name,
                   **result.metrics})

    similarity["fine-tuned"] = layer_similarity(trainer.model, tokenized, languages, collator)
    curve = evaluation_table(trainer.state.log_history, languages)
    selected = select_checkpoints(curve, languages)
    collapse = None
    if trainer.is_world_process_zero():
        save_selected_predictions(run_dir, study_dir, selected, languages)
        en_dev = load_predictions(run_dir, "en-dev", "en", "dev")
        collapse = stats.collapse(en_dev.predicted, en_dev.label)  # did it learn anything?
        if collapse["collapsed"]:
            print(f"{run.run_id}: collapsed ({collapse['reason']}); the analysis leaves it out", flush=True)
    n = {lang: {name: len(evals[f"{lang}_{name}"]) for name in EVAL_SPLITS} for lang in languages}
    loss = [{"step": e["step"], "loss": e["loss"]} for e in trainer.state.log_history if "loss" in e]
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else \
        f"cpu ({platform.processor() or platform.machine()})"
    metrics = {
        "run_id": run.run_id,
        "status": "complete",
        "config": run_config(params, run),
        "selection": selected,
        "collapse": collapse,
        "n": n,
        "curve": {"loss": loss, "eval": curve.to_dict(orient="records")},
        # mean cosine similarity of English and each language's parallel dev pairs, per layer (0: embeddings)
        "similarity": similarity,
        "stages": stages,
        "wall_time_s": round(time.time() - started, 2),  # of this call: a resumed run counts its last part
        "train_examples_per_second": result.metrics.get("train_samples_per_second"),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "datasets": datasets.__version__},
        "device": device,
        "processes": world_size(),
        "job": job_info(),  # the Slurm / submitit job that trained it, if any
    }
    if trainer.is_world_process_zero():
        write_json(run_dir / "metrics.json", metrics)
        if not params["keep_checkpoints"]:  # an mBERT checkpoint with its optimizer is about 2 GB
            _remove_checkpoints(run_dir)
    return metrics


def launch_run(params: dict, run: Run, study_dir: str | Path, processes: int) -> dict[str, Any]:
    """Train one run in ``processes`` processes (one per GPU) with torchrun; return its metrics.

    A notebook kernel is one process, so a multi-GPU run is a subprocess: ``torchrun
    --nproc_per_node N -m dlfa train <params> <run_id>``, with the run's params written beside it.
    """
    import subprocess
    import sys

    import yaml
    study_dir = Path(study_dir)
    run_dir = study_dir / "runs" / run.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    start_afresh_if_reconfigured(params, run, run_dir)
    params_file = run_dir / "params.yaml"
    with atomic_path(params_file) as tmp:
        tmp.write_text(yaml.safe_dump({**params, "study": study_dir.name}, sort_keys=False))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "dlfa", "train", str(params_file), run.run_id, "--outputs", str(study_dir.parent)]
    print("launching:", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return json.loads((run_dir / "metrics.json").read_text())


def save_selected_predictions(run_dir: Path, study_dir: Path, selected: dict, languages: list[str]) -> None:
    """``predictions.npz``: for each protocol, language and split, the labels predicted at the
    selected step (``<protocol>__<lang>__<split>``), with the examples' ids and gold labels."""
    arrays: dict[str, np.ndarray] = {}
    for lang in languages:
        for name, split in EVAL_SPLITS.items():
            gold = datasets.load_from_disk(str(tokenized_path(study_dir, "pawsx", lang, split)))
            arrays[f"id__{lang}__{name}"] = np.asarray(gold["id"], dtype=np.int64)
            arrays[f"label__{lang}__{name}"] = np.asarray(gold["labels"], dtype=np.int8)
            for protocol, per_language in selected.items():
                with np.load(run_dir / "trainer" / "predictions" / f"step-{per_language[lang]['step']}.npz") as z:
                    arrays[f"{protocol}__{lang}__{name}"] = z[f"{lang}_{name}"]
    with atomic_path(run_dir / "predictions.npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def existing_metrics(study_dir: str | Path, params: dict, run: Run) -> dict[str, Any] | None:
    """The run's metrics.json if it is complete, was produced by the same configuration and has its
    predictions.npz beside it."""
    path = Path(study_dir) / "runs" / run.run_id / "metrics.json"
    if not path.is_file() or not path.with_name("predictions.npz").is_file():
        return None
    metrics = json.loads(path.read_text())
    same = recorded_config(params, run) == metrics.get("config")
    return metrics if metrics.get("status") == "complete" and same else None
