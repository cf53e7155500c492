"""The Hugging Face ``Trainer`` as the study trains with it: a resumable length-grouped order,
test sets evaluated only where a protocol can select them, every evaluation's predicted labels
kept, a run stopped on a non-finite loss, and one plain log line per log and evaluation.

``training_arguments`` turns a study's params into ``TrainingArguments`` (logging divides
evaluation; checkpoints at evaluations, so a resumed run logs what an uninterrupted one does).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from pathlib import Path

import datasets
import numpy as np
import pyarrow.compute
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.utils import logging as hf_logging

from dlfa.config.params import Params
from dlfa.config.runs import world_size
from dlfa.io import atomic_path


class EpochSeededLengthSampler(LengthGroupedSampler):
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


BATCHNORM_SAMPLE_BATCHES = 20  # training batches that BatchNorm's statistics are recomputed over


def recalibrate_batchnorm(model: torch.nn.Module, batches) -> int:
    """Every BatchNorm's running statistics as the plain average over ``batches`` (dicts of model
    inputs), in training mode without gradients; the global RNG is left as it was, so training goes
    on as it would have. Returns the number of batches used (0: the model has no BatchNorm).

    With momentum 0.1 the statistics are those of the last 10 to 20 batches; in length-grouped
    order those share a length range that depends on where the evaluation falls, and so would the
    evaluated model. Momentum 1/(k+1) at batch k makes them the cumulative mean instead.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    momenta, was_training, used = [m.momentum for m in norms], model.training, 0
    cuda = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=cuda), torch.no_grad():
            model.train()
            for used, batch in enumerate(batches, start=1):
                for m in norms:
                    m.momentum = 1.0 / used
                model(**batch)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)
    return used


class StudyTrainer(Trainer):
    """Trainer with a resumable length-grouped order (lengths read from Arrow, not row by row) that
    keeps every evaluation's predicted labels in ``predictions_dir/step-<N>.npz``, one array per
    evaluation set: paired tests compare runs example by example at the checkpoints they select.

    Evaluation sets named ``<lang>_dev`` / ``<lang>_test`` are evaluated dev first. Selection ties go
    to the earliest step, so a step can be selected only if a dev accuracy is a strict new best
    there: ``<lang>_test`` is evaluated when ``<selection_source>_dev`` (en-dev protocol) or
    ``<lang>_dev`` (oracle) beats every earlier evaluation in ``state.log_history`` (restored with
    a checkpoint, so a resumed run decides as an uninterrupted one), or has no accuracy to compare.
    ``test_every_evaluation = True`` evaluates every test set every time. ``recalibrate_batchnorm``
    (set for length-grouped order) recomputes BatchNorm's statistics over a shuffled sample of
    training batches before each evaluation (``recalibrate_batchnorm``, the function).
    """

    predictions_dir: Path | None = None
    test_every_evaluation: bool = False
    recalibrate_batchnorm: bool = False
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
        if self.recalibrate_batchnorm:
            self.recalibrate_batchnorm_for_evaluation()
        tests = [name for name in self.eval_dataset if name.endswith("_test")]
        metrics: dict[str, float] = {}

        def run(name: str) -> None:  # by name, as Trainer.evaluate does for a dict of sets
            metrics.update(super(StudyTrainer, self).evaluate(name, ignore_keys, f"{metric_key_prefix}_{name}"))

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

    def recalibrate_batchnorm_for_evaluation(self) -> int:
        """BatchNorm statistics over training batches drawn at random from (seed, step) alone, so a
        resumed run evaluates as an uninterrupted one."""
        generator = torch.Generator().manual_seed(self.args.seed * 1_000_003 + self.state.global_step)
        loader = torch.utils.data.DataLoader(
            self.train_dataset, batch_size=self.args.per_device_train_batch_size, collate_fn=self.data_collator,
            sampler=torch.utils.data.RandomSampler(self.train_dataset, generator=generator))
        batches = (self._prepare_inputs(b) for b in itertools.islice(loader, BATCHNORM_SAMPLE_BATCHES))
        with self.compute_loss_context_manager():
            return recalibrate_batchnorm(self.model, batches)

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or not isinstance(dataset, datasets.Dataset):
            return super()._get_train_sampler(train_dataset)
        column = dataset.with_format("arrow")[:]["input_ids"]
        lengths = pyarrow.compute.list_value_length(column).to_pylist()
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return EpochSeededLengthSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                         lengths, seed)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the run stops rather than train on garbage."""


class StopOnNonFiniteLoss(TrainerCallback):
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


class LogLines(TrainerCallback):
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


class EvaluateAtEnd(TrainerCallback):
    """Evaluate after the last step too, so the curve always ends at the final weights."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_evaluate = True
        return control


def accuracy(pred) -> dict[str, float]:
    return {"accuracy": float((np.argmax(pred.predictions, axis=-1) == pred.label_ids).mean())}


def accumulation_steps(params: Params, processes: int) -> int:
    """Micro-batches per optimizer step, so that batch x accumulation x processes = effective batch."""
    per_step = params.train_batch_size * processes
    if params.effective_batch_size % per_step:
        raise ValueError(f"effective_batch_size {params.effective_batch_size} is not a multiple of "
                         f"train_batch_size x processes = {params.train_batch_size} x {processes}")
    return params.effective_batch_size // per_step


def training_arguments(params: Params, output_dir: Path, seed: int, lr: float, epochs: float, n_train: int,
                       evaluate: bool) -> TrainingArguments:
    """The run's TrainingArguments for one stage (``evaluate``: at every evaluation step)."""
    accumulation = accumulation_steps(params, world_size())
    steps_per_epoch = max(1, math.ceil(n_train / params.effective_batch_size))
    eval_steps, logging_steps = params.evaluation_cadence(n_train)
    return TrainingArguments(
        output_dir=str(output_dir), seed=seed, data_seed=seed,
        learning_rate=lr, num_train_epochs=epochs, weight_decay=params.weight_decay,
        adam_beta2=params.adam_beta2,
        warmup_steps=int(params.warmup_ratio * steps_per_epoch * epochs), lr_scheduler_type="linear",
        per_device_train_batch_size=params.train_batch_size, gradient_accumulation_steps=accumulation,
        per_device_eval_batch_size=params.eval_batch_size,
        train_sampling_strategy="group_by_length" if params.train_order == "length" else "random",
        eval_strategy="steps" if evaluate else "no", eval_steps=eval_steps, logging_steps=logging_steps,
        save_strategy="steps", save_steps=eval_steps, save_total_limit=1,  # what resuming needs, nothing more
        use_cpu=not torch.cuda.is_available(),  # so that torchrun on CPU (tests) runs DDP over gloo
        logging_nan_inf_filter=False,  # a non-finite loss must show, not be averaged away
        report_to="none", bf16=uses_bf16(params), dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False)


def uses_bf16(params: Params) -> bool:
    """``precision: bf16`` (autocast; weights and optimizer stay fp32) takes effect on a CUDA GPU with
    bf16 and on a CPU with native bf16 instructions (AVX512-BF16 or AMX); anywhere else the run is fp32."""
    if params.precision != "bf16":
        return False
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()


def run_autocast(params: Params):
    """The precision of a run's own forward passes outside Trainer (the layer similarities): bf16
    autocast where the run trains in bf16, so that they cost what its evaluations cost."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.autocast(device, dtype=torch.bfloat16, enabled=uses_bf16(params))


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (without, autocast would emulate it: slower than fp32)."""
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool((check and check()) or (amx and amx()))


@contextlib.contextmanager
def no_checkpoint_bars():
    """No "Writing model shards" bar at every checkpoint: the Trainer's own bar shows progress."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
