"""Accuracy per setting and language, the per-run paired tests, and the primary answers in one
table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dlfa.analysis import per_run, stats
from dlfa.analysis.common import PRIMARY, check_protocol, with_collapsed
from dlfa.config.runs import load_predictions
from dlfa.layout import StudyLayout

# ------------------------------------------------------------------------- accuracy and paired tests

def setting_label(variant: str, intermediate_task, intermediate_language) -> str:
    inter = "no intermediate" if pd.isna(intermediate_language) else f"{intermediate_task}-{intermediate_language}"
    return f"{variant} · {inter}"


def accuracy_table(results: pd.DataFrame, study_dir: str | Path | None = None, selection: str = "en-dev",
                   split: str = "test") -> pd.DataFrame:
    """Accuracy per setting (variant x intermediate) and language, seeds averaged, with a 95% interval
    that says what it covers (``interval``): Wilson over test examples with one seed; seeds and test
    examples (crossed, from predictions) with two or more; seeds (t) + a binomial bound without
    predictions. Collapsed runs are left out of a setting's mean (``collapsed`` counts them) unless
    every run of the setting collapsed: then the row shows them, flagged."""
    check_protocol(results, selection, split)
    results = with_collapsed(results)
    rows = results[(results.selection == selection) & (results.split == split)]
    out = []
    for (variant, task, language_i, language), group in rows.groupby(
            ["variant", "intermediate_task", "intermediate_language", "language"], sort=False, dropna=False):
        learnt = group[~group.collapsed]
        used = learnt if len(learnt) else group
        mean = float(used.accuracy.mean())
        if len(used) == 1:
            low, high = per_run.accuracy_ci(mean, int(used.n.iloc[0]))
            interval = f"Wilson over {stats.EXAMPLES} (1 seed)"
        else:
            scores = _correct_table(Path(study_dir), used, selection, language, split) if study_dir else None
            result = stats.crossed_mean(scores) if scores is not None else stats.seeds_and_binomial(
                used.accuracy, used.accuracy * (1 - used.accuracy) / used.n)
            low, high, interval = result["ci_low"], result["ci_high"], result["sources"]
        out.append({"setting": setting_label(variant, task, language_i) + ("" if len(learnt) else " (collapsed)"),
                    "language": language, "accuracy": mean, "ci_low": low, "ci_high": high, "seeds": len(used),
                    "collapsed": int(group.collapsed.sum()), "interval": interval})
    return pd.DataFrame(out, columns=["setting", "language", "accuracy", "ci_low", "ci_high", "seeds", "collapsed",
                                      "interval"])


def _correct_table(study_dir: Path, group: pd.DataFrame, selection: str, language: str, split: str) -> np.ndarray | None:
    try:
        frames = [load_predictions(StudyLayout(study_dir).run(r).folder, selection, language, split).set_index("id").correct
                  for r in group.run_id]
    except (FileNotFoundError, KeyError):
        return None
    return pd.concat(frames, axis=1, join="inner").to_numpy(dtype=float).T


PAIRED_COLUMNS = ["run_id", "baseline_run_id", "variant", "intermediate_language", "seed", "selection", "language",
                  "accuracy", "baseline_accuracy", "difference", "ci_low", "ci_high", "b_only", "a_only", "p_value",
                  "q_value", "n"]


def paired_tests(study_dir: str | Path, results: pd.DataFrame, selection: str = "en-dev",
                 split: str = "test") -> pd.DataFrame:
    """Every run against the plain baseline of the same seed (no fusion, no intermediate task), per
    language, on the same test examples at each run's selected checkpoint (``stats.paired_difference``:
    ``b_only`` and ``a_only`` count the examples only the run, or only the baseline, gets right; the
    exact McNemar p-value). Their null is "these two runs are equally accurate on examples like
    these": the two runs as given, one seed each, so a difference between two seeds of one variant is
    as significant as one between variants; the seed-aware answers are ``fusion_effect`` and
    ``typology_effect``. ``q_value``: Benjamini-Hochberg over the whole table."""
    runs = results[["run_id", "variant", "intermediate_language", "seed"]].drop_duplicates()
    plain = runs[(runs.variant == "baseline") & runs.intermediate_language.isna()].set_index("seed")["run_id"]
    languages = list(dict.fromkeys(results.language))
    rows = []
    for run in runs.itertuples():
        if run.seed not in plain.index or run.run_id == plain[run.seed]:
            continue
        for language in languages:
            a = load_predictions(Path(study_dir, "runs", plain[run.seed]), selection, language, split)
            b = load_predictions(Path(study_dir, "runs", run.run_id), selection, language, split)
            pair = a.merge(b, on="id", suffixes=("_a", "_b"), validate="one_to_one")
            test = per_run.paired_difference(pair.correct_a, pair.correct_b)
            rows.append({"run_id": run.run_id, "baseline_run_id": plain[run.seed], "variant": run.variant,
                         "intermediate_language": run.intermediate_language, "seed": run.seed,
                         "selection": selection, "language": language, "accuracy": pair.correct_b.mean(),
                         "baseline_accuracy": pair.correct_a.mean(), **test})
    table = pd.DataFrame(rows, columns=[c for c in PAIRED_COLUMNS if c != "q_value"])
    table["q_value"] = stats.benjamini_hochberg(table["p_value"]) if len(table) else []
    return table[PAIRED_COLUMNS]


PRIMARY_COLUMNS = ["question", "test", "estimate", "ci_low", "ci_high", "p_holm", "n_collapsed", "collapsed_runs",
                   "note"]


def primary_rows(typology: pd.DataFrame, fusion: pd.DataFrame) -> pd.DataFrame:
    """The declared answers (``family == "primary"``) of both questions in one table: the typology
    slope (per unit distance) and the DLFA gain (per layer of the primary family). ``p_holm`` is Holm
    within the primary family: the p-value itself for a family of one test."""
    out = []
    for row in typology[typology.family == PRIMARY].itertuples():
        out.append({"question": "1 typology", "test": f"slope per unit of {row.kind} {row.metric} distance, {row.variant}",
                    **{c: getattr(row, c) for c in PRIMARY_COLUMNS[2:]}})
    for row in fusion[fusion.family == PRIMARY].itertuples():
        out.append({"question": "2 DLFA", "test": f"layer {row.fusion_layer} gain, {row.languages}, no intermediate task",
                    **{c: getattr(row, c) for c in PRIMARY_COLUMNS[2:]}})
    return pd.DataFrame(out, columns=PRIMARY_COLUMNS)
