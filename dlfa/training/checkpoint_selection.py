"""Checkpoint selection from the dev curves alone, and the predictions at the selected steps.

Two protocols: ``en-dev`` (the step with the best English dev accuracy; XTREME) and ``oracle``
(per target language, the step with the best dev accuracy in that language; Keung et al. 2020).
Test accuracy is read at the selected step; test numbers never influence selection.
"""

from __future__ import annotations

import math
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from dlfa.data.corpora import column
from dlfa.data.tokenization import tokenized_path
from dlfa.io import atomic_path
from dlfa.layout import RunLayout

PROTOCOLS = ("en-dev", "oracle")
EVAL_SPLITS = {"dev": "validation", "test": "test"}


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


def save_selected_predictions(run_dir: Path, study_dir: Path, selected: dict, languages: list[str],
                              task: str = "pawsx") -> None:
    """``predictions.npz``: for each protocol, language and split, the labels predicted at the
    selected step (``<protocol>__<lang>__<split>``), with the examples' ids and gold labels (of
    ``task``, the target task)."""
    arrays: dict[str, np.ndarray] = {}
    for lang in languages:
        for name, split in EVAL_SPLITS.items():
            gold = datasets.load_from_disk(str(tokenized_path(study_dir, task, lang, split)))
            arrays[f"id__{lang}__{name}"] = np.asarray(column(gold, "id"), dtype=np.int64)
            arrays[f"label__{lang}__{name}"] = np.asarray(column(gold, "labels"), dtype=np.int8)
            for protocol, per_language in selected.items():
                with np.load(run_dir / "trainer" / "predictions" / f"step-{per_language[lang]['step']}.npz") as z:
                    arrays[f"{protocol}__{lang}__{name}"] = z[f"{lang}_{name}"]
    with atomic_path(RunLayout(run_dir).predictions) as tmp:
        np.savez_compressed(tmp, **arrays)
