"""One paper-shaped run end to end through ``dlfa train``, in fp32 and bf16 (part of ``make bench-gpu``).

The step benchmark (``benchmarks.gpu``) times training steps alone; a run also starts a process,
imports, loads the model and the tokenized sets, evaluates every 200 steps, computes the layer
similarity and writes its predictions. This times all of it, the way a study pays it:

- the model: mBERT-base's shape (``overhead.MBERT_BASE``: 119,547-entry vocabulary, 12 layers, 768
  wide) with random weights, saved as a local checkpoint (no download), and a WordPiece tokenizer
  over that vocabulary in which every pseudo-word is one token;
- the data: an x-final folder of 49,401 English training pairs whose token lengths are drawn from
  real PAWS-X pair lengths (``benchmarks.lengths``: the shared sample when present, else its stored
  quantiles) and 2,000 dev and 2,000 test pairs in English and each of the six targets;
- the params: ``params/paper.yaml``'s recipe (lr 2e-5, batch 32, max length 128, random order, an
  evaluation every 200 steps), DLFA on layer 6, no intermediate stage, ``steps`` optimizer steps.

``dlfa prepare`` runs once (the data and typology notebooks); then ``dlfa train`` once per precision
in a fresh process, timed from its start to its exit. From each run's metrics.json: the Trainer's
``train_runtime`` (training and in-loop evaluation), examples/s, MFU (training FLOPs over that
time, against the measured bf16 matmul rate), and **fixed seconds**: the process's wall time minus
``train_runtime``, what every one of the grid's runs pays beyond training and evaluating.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .common import ROOT, log
from .flops import flops_per_token_of

NAME = "gpu-run"
TRAIN_PAIRS = 49_401  # PAWS-X's English training set
EVAL_PAIRS = 2_000  # each dev and test file of x-final
LANGUAGES = ("en", "de", "es", "fr", "ja", "ko", "zh")
STUDY = "bench-gpu-run"
FUSION_LAYER = 6  # the step benchmark's DLFA layer (a run costs the same at every layer)
EVAL_STEPS = 200  # params/paper.yaml (XTREME's --save_steps 200)
BATCH = 32  # params/paper.yaml's effective batch, no accumulation


def pseudo_words(n: int) -> list[str]:
    """``n`` distinct lower-case words, each its own WordPiece entry (no ``##`` piece can split it)."""
    return [f"w{np.base_repr(i, 36).lower()}" for i in range(n)]


def write_model(folder: Path, config_kwargs: dict[str, Any], seed: int = 0) -> Path:
    """A randomly initialised BERT of the given shape and a tokenizer whose vocabulary is its size."""
    import torch
    from transformers import BertConfig, BertModel

    from dlfa.training.tiny import SPECIAL, wordpiece_tokenizer
    folder.mkdir(parents=True, exist_ok=True)
    vocab = SPECIAL + pseudo_words(config_kwargs["vocab_size"] - len(SPECIAL))
    wordpiece_tokenizer(vocab, lowercase=False).save_pretrained(folder)  # cased, as mBERT-cased
    torch.manual_seed(seed)
    BertModel(BertConfig(**config_kwargs), add_pooling_layer=True).save_pretrained(folder)
    return folder


def write_corpus(folder: Path, pair_lengths: np.ndarray, vocab_size: int, train_pairs: int = TRAIN_PAIRS,
                 eval_pairs: int = EVAL_PAIRS, languages=LANGUAGES, seed: int = 0) -> Path:
    """An x-final folder whose pairs encode to the given lengths (``[CLS] s1 [SEP] s2 [SEP]``: each
    pair's length drawn from ``pair_lengths``, its words split between the two sentences), with
    random labels. Words are drawn from the whole vocabulary, so embedding rows are used as widely
    as in mBERT."""
    from dlfa.training.tiny import SPECIAL
    rng = np.random.default_rng(seed)
    words = np.array(pseudo_words(vocab_size - len(SPECIAL)))
    lengths = np.asarray(pair_lengths)

    def table(n: int) -> str:
        rows = ["id\tsentence1\tsentence2\tlabel"]
        for i, total in enumerate(rng.choice(lengths, size=n, replace=True), 1):
            content = max(int(total) - 3, 2)
            first = content // 2
            drawn = words[rng.integers(0, len(words), size=content)]
            rows.append(f"{i}\t{' '.join(drawn[:first])}\t{' '.join(drawn[first:])}\t{int(rng.integers(0, 2))}")
        return "\n".join(rows) + "\n"

    (folder / "en").mkdir(parents=True, exist_ok=True)
    (folder / "en" / "train.tsv").write_text(table(train_pairs))
    for lang in languages:
        (folder / lang).mkdir(parents=True, exist_ok=True)
        for name in ("dev_2k.tsv", "test_2k.tsv"):
            (folder / lang / name).write_text(table(eval_pairs))
    return folder


def run_id(fusion_layer: int = FUSION_LAYER) -> str:
    return f"d{fusion_layer}__none__s1"


def run_params(model: Path, data: Path, steps: int, precision: str, train_pairs: int = TRAIN_PAIRS,
               eval_steps: int = EVAL_STEPS, fusion_layer: int = FUSION_LAYER) -> dict[str, Any]:
    """paper.yaml's recipe for one DLFA run of ``steps`` optimizer steps, no intermediate stage."""
    paper = yaml.safe_load((ROOT / "params" / "paper.yaml").read_text())
    for key in ("intermediate_source", "candidate_languages", "intermediate_languages", "selection_budget",
                "intermediate_train_size", "intermediate_epochs", "intermediate_learning_rate"):
        paper.pop(key, None)
    batch = paper["effective_batch_size"]
    assert batch == BATCH == paper["train_batch_size"], "paper.yaml's batch changed: update BATCH"
    return {**paper, "study": STUDY, "description": "bench-gpu: one paper-shaped run end to end",
            "model": str(model), "data_source": str(data), "intermediate_task": None, "fusion_layers": [fusion_layer],
            "confirmatory_layer": None, "seeds": [1], "num_train_epochs": steps / math.ceil(train_pairs / batch), "eval_steps": eval_steps,
            "precision": precision}


def _dlfa(*args: str) -> float:
    """Run ``python -m dlfa ARGS`` in a fresh process; its wall seconds (start to exit)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dlfa", *args], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"`dlfa {' '.join(args)}` exited {done.returncode}:\n"
                           f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds


def measure(work: Path, config_kwargs: dict[str, Any], pair_lengths: np.ndarray, steps: int, peak_tflops: float,
            precisions=("fp32", "bf16"), train_pairs: int = TRAIN_PAIRS, eval_pairs: int = EVAL_PAIRS,
            eval_steps: int = EVAL_STEPS, languages=LANGUAGES, fusion_layer: int = FUSION_LAYER) -> dict[str, Any]:
    """Prepare the study once, train the run once per precision; what each cost."""
    started = time.perf_counter()
    model = write_model(work / "model", config_kwargs)
    data = write_corpus(work / "x-final", pair_lengths, config_kwargs["vocab_size"], train_pairs, eval_pairs,
                        languages)
    written_s = time.perf_counter() - started
    outputs = work / "outputs"
    files = {}
    for precision in precisions:
        files[precision] = work / f"{precision}.yaml"
        params = {**run_params(model, data, steps, precision, train_pairs, eval_steps, fusion_layer),
                  "targets": [lang for lang in languages if lang != "en"]}
        files[precision].write_text(yaml.safe_dump(params, sort_keys=False))
    log(NAME, f"model and corpus written in {written_s:.1f} s; dlfa prepare")
    prepare_s = _dlfa("prepare", str(files[precisions[0]]), "--outputs", str(outputs))
    log(NAME, f"prepared in {prepare_s:.1f} s")
    width = mean_padded_width(pair_lengths, BATCH)  # the same corpus and order for every precision
    runs: dict[str, Any] = {}
    for precision in precisions:
        folder = outputs / STUDY / "runs" / run_id(fusion_layer)
        shutil.rmtree(folder, ignore_errors=True)  # the other precision's
        wall = _dlfa("train", str(files[precision]), run_id(fusion_layer), "--outputs", str(outputs))
        metrics = json.loads((folder / "metrics.json").read_text())
        stage = metrics["stages"][-1]
        train_s = stage["train_runtime"]
        trained = stage["examples"] * stage["epoch"]
        tflops = flops_per_token_of(config_kwargs, width) * trained * width / train_s / 1e12
        runs[precision] = {"wall_s": round(wall, 2), "train_runtime_s": train_s,
                           "fixed_s": round(wall - train_s, 2), "examples_per_s": round(trained / train_s, 1),
                           "mfu": round(tflops / peak_tflops, 4), "precision_run": metrics["precision"],
                           "device": metrics["device"], "seconds": metrics["seconds"],
                           "optimizer_steps": steps, "evaluations": math.ceil(steps / eval_steps),
                           "batch": BATCH}
        log(NAME, f"{precision}: {wall:.1f} s in all, {train_s:.1f} s training and evaluating "
                  f"({runs[precision]['examples_per_s']:.0f} examples/s, MFU {runs[precision]['mfu']:.1%}), "
                  f"fixed {runs[precision]['fixed_s']:.1f} s")
    return {"written_s": round(written_s, 2), "prepare_s": round(prepare_s, 2), "runs": runs,
            "settings": {"fusion_layer": fusion_layer, "train_pairs": train_pairs, "eval_pairs": eval_pairs,
                         "languages": list(languages),
                         "steps": steps, "eval_steps": eval_steps, "config": config_kwargs,
                         "mfu": "training FLOPs (6 N + 12 L E T per padded token, random batches of 32) over "
                                "train_runtime, which includes the in-loop evaluation"}}


def mean_padded_width(pair_lengths: np.ndarray, batch: int, draws: int = 2000, seed: int = 0) -> float:
    """The expected width of a random batch padded to its longest pair (XTREME's random order)."""
    rng = np.random.default_rng(seed)
    return float(np.mean([rng.choice(np.asarray(pair_lengths), size=batch).max() for _ in range(draws)]))
