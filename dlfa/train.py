"""One run of the grid with the Hugging Face ``Trainer``.

Optional intermediate stage (its own head), then English PAWS-X; the dev and test split of every
language is evaluated at each evaluation step. Checkpoints are then *selected* from the dev curves
alone, under two protocols: ``en-dev`` (the step with the best English dev accuracy; XTREME) and
``oracle`` (per target language, the step with the best dev accuracy in that language; Keung et
al. 2020). Test accuracy is read at the selected step; test numbers never influence selection.
"""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pandas as pd
import torch
import transformers
from transformers import (AutoTokenizer, BertConfig, DataCollatorWithPadding, Trainer, TrainerCallback,
                          TrainingArguments, set_seed)

from .data import MODEL_COLUMNS
from .io import write_json
from .model import DLFAForSequenceClassification
from .params import TINY_MODEL, Run, intermediate_source
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


class _EvaluateAtEnd(TrainerCallback):
    """Evaluate after the last step too, so the curve always ends at the final weights."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_evaluate = True
        return control


def _accuracy(pred) -> dict[str, float]:
    return {"accuracy": float((np.argmax(pred.predictions, axis=-1) == pred.label_ids).mean())}


def _arguments(params: dict, run_dir: Path, seed: int, lr: float, epochs: float, n_train: int,
               evaluate: bool) -> TrainingArguments:
    accumulation = params["effective_batch_size"] // params["train_batch_size"]
    steps_per_epoch = max(1, math.ceil(n_train / params["effective_batch_size"]))
    eval_steps = max(1, steps_per_epoch // params["evals_per_epoch"])
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return TrainingArguments(
        output_dir=str(run_dir / "trainer"), seed=seed, data_seed=seed,
        learning_rate=lr, num_train_epochs=epochs, weight_decay=params["weight_decay"],
        adam_beta2=params["adam_beta2"],
        warmup_steps=int(params["warmup_ratio"] * steps_per_epoch * epochs), lr_scheduler_type="linear",
        per_device_train_batch_size=params["train_batch_size"], gradient_accumulation_steps=accumulation,
        per_device_eval_batch_size=params["eval_batch_size"], train_sampling_strategy="group_by_length",
        eval_strategy="steps" if evaluate else "no", eval_steps=eval_steps,
        logging_steps=max(1, eval_steps // 2), save_strategy="no", report_to="none", bf16=bf16,
        dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(), disable_tqdm=False)


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
    best dev accuracy in that language. Ties go to the earliest step.
    """
    wide = evals.pivot_table(index="step", columns=["language", "split"], values="accuracy").sort_index()
    en_step = int(wide[(source, "dev")].idxmax())
    out: dict[str, dict] = {p: {} for p in PROTOCOLS}
    for lang in languages:
        oracle_step = int(wide[(lang, "dev")].idxmax())
        for protocol, step in (("en-dev", en_step), ("oracle", oracle_step)):
            out[protocol][lang] = {"step": step, "dev": float(wide.loc[step, (lang, "dev")]),
                                   "test": float(wide.loc[step, (lang, "test")])}
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


def train_run(params: dict, run: Run, study_dir: str | Path) -> dict[str, Any]:
    """Train and evaluate one run; write ``runs/<run_id>/metrics.json`` atomically; return it."""
    study_dir = Path(study_dir)
    run_dir = study_dir / "runs" / run.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    collator = DataCollatorWithPadding(load_tokenizer(params, study_dir))
    load = lambda task, lang, split: load_tokenized(study_dir, task, lang, split)
    languages = ["en"] + list(params["targets"])
    stages = []

    set_seed(run.seed)
    if run.intermediate_language:
        inter = load(run.intermediate_task, run.intermediate_language, "train")
        model = build_model(params, study_dir, run.fusion_layer, intermediate_task(run.intermediate_task).num_labels)
        args = _arguments(params, run_dir / "intermediate", run.seed, params["intermediate_learning_rate"],
                          params["intermediate_epochs"], len(inter), evaluate=False)
        trainer = Trainer(model=model, args=args, train_dataset=inter, data_collator=collator)
        result = trainer.train()
        stages.append({"stage": "intermediate", "examples": len(inter), **result.metrics})
        encoder = {k: v for k, v in model.state_dict().items() if not k.startswith("classifier.")}
        set_seed(run.seed)
        model = build_model(params, study_dir, run.fusion_layer, 2)
        missing, unexpected = model.load_state_dict(encoder, strict=False)
        if set(missing) != {"classifier.weight", "classifier.bias"} or unexpected:  # only the head is new
            raise RuntimeError(f"carrying the encoder over failed: missing {missing}, unexpected {unexpected}")
    else:
        model = build_model(params, study_dir, run.fusion_layer, 2)

    train = load("pawsx", "en", "train")
    evals = {f"{lang}_{name}": load("pawsx", lang, split) for lang in languages for name, split in EVAL_SPLITS.items()}
    args = _arguments(params, run_dir, run.seed, params["learning_rate"], params["num_train_epochs"], len(train),
                      evaluate=True)
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=evals, data_collator=collator,
                      compute_metrics=_accuracy, callbacks=[_EvaluateAtEnd()])
    result = trainer.train()
    stages.append({"stage": "pawsx-en", "examples": len(train), **result.metrics})

    curve = evaluation_table(trainer.state.log_history, languages)
    selected = select_checkpoints(curve, languages)
    n = {lang: {name: len(evals[f"{lang}_{name}"]) for name in EVAL_SPLITS} for lang in languages}
    loss = [{"step": e["step"], "loss": e["loss"]} for e in trainer.state.log_history if "loss" in e]
    metrics = {
        "run_id": run.run_id,
        "status": "complete",
        "config": run_config(params, run),
        "selection": selected,
        "n": n,
        "curve": {"loss": loss, "eval": curve.to_dict(orient="records")},
        "stages": stages,
        "wall_time_s": round(time.time() - started, 2),
        "train_examples_per_second": result.metrics.get("train_samples_per_second"),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "datasets": datasets.__version__},
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.processor() or platform.machine()})",
    }
    write_json(run_dir / "metrics.json", metrics)
    return metrics


def existing_metrics(study_dir: str | Path, params: dict, run: Run) -> dict[str, Any] | None:
    """The run's metrics.json if it is complete and was produced by the same configuration."""
    path = Path(study_dir) / "runs" / run.run_id / "metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    same = json.loads(json.dumps(run_config(params, run))) == metrics.get("config")
    return metrics if metrics.get("status") == "complete" and same else None
