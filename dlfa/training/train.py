"""One run of the grid: its stages, in order.

``train_run`` builds the model (the run's ``DLFAConfig``), optionally trains it on the intermediate
task (a head of its own) and carries the encoder over, fine-tunes on the target task in English
(PAWS-X or XNLI) while every
language's dev split is evaluated at each evaluation step, selects checkpoints from the dev curves
(``dlfa.training.checkpoint_selection``), keeps the predictions at the selected steps, and writes ``metrics.json``. The
Trainer and its callbacks are in ``dlfa.training.trainer``; the run folder's records in ``dlfa.config.runs``.
"""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import BertConfig, DataCollatorWithPadding, set_seed

from dlfa.config.fusion import DLFAConfig
from dlfa.config.grid import Run
from dlfa.config.params import TINY_MODEL, Params
from dlfa.config.profiles import dump
from dlfa.config.runs import (is_main_process, job_info, last_checkpoint, load_predictions, remove_checkpoints,
                              run_config, run_dir, start_afresh_if_reconfigured, world_size, write_failure)
from dlfa.config.tasks import intermediate_task
from dlfa.data.tokenization import load_tokenized, load_tokenizer, model_source, tokenized_path
from dlfa.io import atomic_path, write_json
from dlfa.layout import RunLayout, StudyLayout
from dlfa.training.checkpoint_selection import (EVAL_SPLITS, evaluation_table, save_selected_predictions,
                                                select_checkpoints)
from dlfa.training.model import DLFAForSequenceClassification
from dlfa.training.similarity import layer_similarity
from dlfa.training.trainer import (EvaluateAtEnd, LogLines, StopOnNonFiniteLoss, StudyTrainer, TrainingDiverged,
                                   accuracy, no_checkpoint_bars, run_autocast, training_arguments, uses_bf16)


@contextlib.contextmanager
def timed(seconds: dict[str, float], name: str):
    """Add the block's wall time to ``seconds[name]``."""
    began = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - began


def build_model(params: Params, study_dir: Path, dlfa: DLFAConfig, num_labels: int):
    """The run's model: the tiny random BERT (seeded by the caller) or the pretrained checkpoint, its
    word embeddings frozen where the params say so."""
    source = model_source(params.model, study_dir)
    if params.model == TINY_MODEL and not params.tiny_model.mlm_epochs:
        model = DLFAForSequenceClassification.from_config(BertConfig.from_pretrained(source, num_labels=num_labels),
                                                          dlfa)
    elif params.model == TINY_MODEL and not (Path(source) / "model.safetensors").is_file():
        raise FileNotFoundError(f"{source} has no pretrained weights (tiny_model.mlm_epochs is set): run the "
                                "data stage (01_data) again")
    else:
        model = DLFAForSequenceClassification.from_pretrained(source, num_labels=num_labels, dlfa=dlfa)
    if params.freeze_word_embeddings:
        model.backbone.embeddings.word_embeddings.weight.requires_grad_(False)
    return model


def _train_stage(name: str, params: Params, run: Run, model, data, collator, stage_dir: Path, lr: float,
                 epochs: float, callbacks=()) -> tuple[StudyTrainer, dict[str, Any]]:
    """Train ``model`` on ``data`` without evaluating, resuming ``stage_dir/trainer``; the trainer and
    the stage's record (its size, the checkpoint it resumed from, the Trainer's metrics)."""
    args = training_arguments(params, stage_dir / "trainer", run.seed, lr, epochs, len(data), evaluate=False)
    trainer = StudyTrainer(model=model, args=args, train_dataset=data, data_collator=collator,
                           callbacks=[StopOnNonFiniteLoss(name), LogLines(name), *callbacks])
    resume = last_checkpoint(stage_dir / "trainer")
    result = trainer.train(resume_from_checkpoint=resume)
    return trainer, {"stage": name, "examples": len(data), "resumed_from": resume and Path(resume).name,
                     **result.metrics}


def intermediate_stage(params: Params, run: Run, study_dir: Path, collator,
                       callbacks=()) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train on the intermediate task (resuming its checkpoint); return the encoder's weights and stats.

    The result is kept in ``intermediate/encoder.safetensors`` so that a run stopped during the
    target task's stage does not repeat this one.
    """
    stage_dir = run_dir(study_dir, run) / "intermediate"
    saved, info = stage_dir / "encoder.safetensors", stage_dir / "stage.json"
    if saved.is_file() and info.is_file():
        return load_file(str(saved)), json.loads(info.read_text())
    inter = load_tokenized(study_dir, run.intermediate_task, run.intermediate_language, "train")
    set_seed(run.seed)
    model = build_model(params, study_dir, run.dlfa, intermediate_task(run.intermediate_task).num_labels)
    trainer, stage = _train_stage("intermediate", params, run, model, inter, collator, stage_dir,
                                  params.intermediate_learning_rate, params.intermediate_epochs, callbacks)
    stage.update(intermediate_dev(trainer, study_dir, run))
    encoder = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("classifier.")}
    if trainer.is_world_process_zero():
        with atomic_path(saved) as tmp:
            save_file(encoder, str(tmp))
        write_json(info, stage)
    return encoder, stage


def intermediate_dev(trainer, study_dir: Path, run: Run) -> dict[str, Any]:
    """Did the intermediate stage learn its task? Accuracy on the task's validation split in its
    language, beside the majority class's share there; empty when the source has no such split."""
    if not (tokenized_path(study_dir, run.intermediate_task, run.intermediate_language, "validation")
            / "dlfa_key.json").is_file():
        return {}
    from dlfa.analysis.per_run import collapse  # here: scipy costs every run's kernel a second
    dev = load_tokenized(study_dir, run.intermediate_task, run.intermediate_language, "validation")
    output = trainer.predict(dev, metric_key_prefix="dev")
    labels = np.asarray(output.label_ids)
    predicted = np.asarray(output.predictions).argmax(-1)
    unlearnt = collapse(predicted, labels, what=f"intermediate stage: {run.intermediate_language} dev")
    return {"dev_accuracy": float((predicted == labels).mean()), "dev_examples": len(labels),
            "dev_majority_share": float(np.bincount(labels).max() / len(labels)),
            "dev_collapse": {"collapsed": unlearnt["collapsed"], "reason": unlearnt["reason"]}}


def head_warmup(params: Params, run: Run, study_dir: Path, model, train, collator,
                callbacks=()) -> dict[str, Any]:
    """Train the target task's fresh head alone, the encoder frozen, before fine-tuning everything (LP-FT,
    Kumar et al. 2022): a random head's first gradients otherwise reach an encoder an intermediate
    stage trained and can undo what it taught. The head is kept in ``head/classifier.safetensors``, so
    a resumed run does not repeat it. Returns the stage's record."""
    stage_dir = run_dir(study_dir, run) / "head"
    saved, info = stage_dir / "classifier.safetensors", stage_dir / "stage.json"
    head = {n: p for n, p in model.named_parameters() if n.startswith("classifier.")}
    if saved.is_file() and info.is_file():
        with torch.no_grad():
            for name, value in load_file(str(saved)).items():
                head[name].copy_(value)
        return json.loads(info.read_text())
    frozen = [p for n, p in model.named_parameters() if n not in head and p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        trainer, stage = _train_stage("head", params, run, model, train, collator, stage_dir,
                                      params.head_warmup_learning_rate, params.head_warmup_epochs, callbacks)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    stage["frozen_parameters"] = sum(p.numel() for p in frozen)
    if trainer.is_world_process_zero():
        with atomic_path(saved) as tmp:
            save_file({n: p.detach().contiguous() for n, p in head.items()}, str(tmp))
        write_json(info, stage)
        shutil.rmtree(stage_dir / "trainer", ignore_errors=True)  # its checkpoint holds the whole model
    return stage


def base_similarity(model, study_dir: Path, languages: list[str], collator, task: str = "pawsx") -> dict[str, list[float]]:
    """``layer_similarity`` of the encoder before fine-tuning, computed once per study and encoder
    (``similarity/base-<digest>.json``): every run of a pretrained checkpoint starts from the same
    weights, and the tiny model's runs of one seed and variant too. The digest covers the encoder's
    tensors and the dev sets' cache keys, so other weights or other rows are computed afresh."""
    import hashlib
    digest = hashlib.sha256(json.dumps(languages).encode())
    for lang in ["en", *languages]:
        digest.update((tokenized_path(study_dir, task, lang, "validation") / "dlfa_key.json").read_bytes())
    for name, tensor in model.backbone.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    path = StudyLayout(study_dir).similarity / f"base-{digest.hexdigest()[:20]}.json"
    if path.is_file():
        return json.loads(path.read_text())
    tokenized = lambda task, lang, split: tokenized_path(study_dir, task, lang, split)  # noqa: E731
    result = layer_similarity(model, tokenized, languages, collator, task=task)
    if is_main_process():
        write_json(path, result)
    return result


def train_run(params: Params, run: Run, study_dir: str | Path, callbacks=()) -> dict[str, Any]:
    """Train and evaluate one run; write ``runs/<run_id>/metrics.json`` atomically; return it.

    A run stopped at any point resumes from its last checkpoint when called again (the intermediate
    stage's result is kept once it is done), and ends with the metrics of an uninterrupted run.
    Checkpoints are removed once metrics.json is written, unless ``keep_checkpoints``.
    """
    folder = run_dir(study_dir, run)
    if world_size() == 1:  # several processes: launch_run checked before starting them
        start_afresh_if_reconfigured(params, run, folder)
    try:
        with no_checkpoint_bars():
            return _stages(params, run, Path(study_dir), callbacks)
    except Exception as err:  # recorded, so the study can go on and the report can list it
        if is_main_process():
            write_failure(folder, params, run, f"{type(err).__name__}: {err}")
            if isinstance(err, TrainingDiverged) and not params.keep_checkpoints:
                remove_checkpoints(folder)  # resuming a diverged run would diverge again
        raise


def _stages(params: Params, run: Run, study_dir: Path, callbacks=()) -> dict[str, Any]:
    folder = run_dir(study_dir, run)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    collator = DataCollatorWithPadding(load_tokenizer(params.model, study_dir))
    languages, task, labels = params.languages, params.target_task, params.target.num_labels
    stages = []
    tokenized = lambda task, lang, split: tokenized_path(study_dir, task, lang, split)  # noqa: E731
    seconds: dict[str, float] = {}  # where this call's wall time went
    with timed(seconds, "base_similarity"), run_autocast(params):
        set_seed(run.seed)  # the encoder before any fine-tuning (pretrained, or the tiny model's initialisation)
        similarity = {"base": base_similarity(build_model(params, study_dir, run.dlfa, labels), study_dir, languages,
                                              collator, task)}

    if run.intermediate_language:
        with timed(seconds, "intermediate"):
            encoder, stage = intermediate_stage(params, run, study_dir, collator, callbacks)
        stages.append(stage)
        with timed(seconds, "model"):
            set_seed(run.seed)  # the target task's head starts as it would without the intermediate stage
            model = build_model(params, study_dir, run.dlfa, labels)
            missing, unexpected = model.load_state_dict(encoder, strict=False)
        if not missing or any(not k.startswith("classifier.") for k in missing) or unexpected:  # only the head is new
            raise RuntimeError(f"carrying the encoder over failed: missing {missing}, unexpected {unexpected}")
    else:
        with timed(seconds, "model"):
            set_seed(run.seed)
            model = build_model(params, study_dir, run.dlfa, labels)

    with timed(seconds, "data"):
        train = load_tokenized(study_dir, task, "en", "train")
        evals = {f"{lang}_{name}": load_tokenized(study_dir, task, lang, split)
                 for lang in languages for name, split in EVAL_SPLITS.items()}
    if params.head_warmup_epochs:
        with timed(seconds, "head"):
            stages.append(head_warmup(params, run, study_dir, model, train, collator, callbacks))
    args = training_arguments(params, folder / "trainer", run.seed, params.learning_rate, params.num_train_epochs,
                              len(train), evaluate=True)
    trainer = StudyTrainer(model=model, args=args, train_dataset=train, eval_dataset=evals, data_collator=collator,
                           compute_metrics=accuracy,
                           callbacks=[EvaluateAtEnd(), StopOnNonFiniteLoss(f"{task}-en"), LogLines(f"{task}-en"),
                                      *callbacks])
    trainer.predictions_dir = folder / "trainer" / "predictions"
    # Length-grouped batches make BatchNorm's momentum statistics follow the sawtooth of lengths.
    trainer.recalibrate_batchnorm = params.train_order == "length"
    resume = last_checkpoint(folder / "trainer")
    with timed(seconds, task):
        result = trainer.train(resume_from_checkpoint=resume)
    stages.append({"stage": f"{task}-en", "examples": len(train), "resumed_from": resume and Path(resume).name,
                   **result.metrics})

    with timed(seconds, "similarity"), run_autocast(params):
        similarity["fine-tuned"] = layer_similarity(trainer.model, tokenized, languages, collator, task=task)
    curve = evaluation_table(trainer.state.log_history, languages)
    selected = select_checkpoints(curve, languages)
    collapse = None
    if trainer.is_world_process_zero():
        with timed(seconds, "predictions"):
            save_selected_predictions(folder, study_dir, selected, languages, task=task)
        en_dev = load_predictions(folder, "en-dev", "en", "dev")
        from dlfa.analysis.per_run import collapse as collapsed
        collapse = collapsed(en_dev.predicted, en_dev.label)  # did it learn anything?
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
        # of which: each stage's wall time (its Trainer's train_runtime is in stages) and what surrounds them
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "train_examples_per_second": result.metrics.get("train_samples_per_second"),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "datasets": datasets.__version__},
        "device": device,
        # on a CPU the predictions depend on both (reductions in another order, AVX2 or AVX512 kernels):
        # compare runs with the same
        "torch_threads": torch.get_num_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "precision": "bf16" if uses_bf16(params) else "fp32",  # what ran: bf16 needs a GPU or CPU that has it
        "processes": world_size(),
        "job": job_info(),  # the Slurm / submitit job that trained it, if any
    }
    if trainer.is_world_process_zero():
        write_json(RunLayout(folder).metrics, metrics)
        if not params.keep_checkpoints:  # an mBERT checkpoint with its optimizer is about 2 GB
            remove_checkpoints(folder)
    return metrics


def launch_run(params: Params, run: Run, study_dir: str | Path, processes: int) -> dict[str, Any]:
    """Train one run in ``processes`` processes (one per GPU) with torchrun; return its metrics.

    A notebook kernel is one process, so a multi-GPU run is a subprocess: ``torchrun
    --nproc_per_node N -m dlfa train <params> <run_id>``, with the run's params written beside it.
    """
    study_dir = Path(study_dir)
    folder = run_dir(study_dir, run)
    folder.mkdir(parents=True, exist_ok=True)
    start_afresh_if_reconfigured(params, run, folder)
    params_file = folder / "params.yaml"
    with atomic_path(params_file) as tmp:
        tmp.write_text(dump(params))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "dlfa", "train", str(params_file), run.run_id, "--outputs", str(study_dir.parent)]
    print("launching:", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return json.loads(RunLayout(folder).metrics.read_text())
