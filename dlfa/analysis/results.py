"""The study's tidy ``results.csv`` from its runs' metrics, the published reference points, and
interval tables as text."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

RESULT_COLUMNS = ["run_id", "variant", "fusion_layer", "intermediate_task", "intermediate_language", "seed",
                  "language", "split", "selection", "accuracy", "n", "collapsed"]


def results_table(metrics: list[dict]) -> pd.DataFrame:
    """One row per run x language x split x selection protocol; ``collapsed``: the run learnt nothing
    (``metrics["collapse"]``, from its English dev predictions; False for metrics written before the
    flag existed)."""
    rows = []
    for m in metrics:
        c = m["config"]
        collapsed = bool(m.get("collapse", {}).get("collapsed", False))
        for selection, per_language in m["selection"].items():
            for language, chosen in per_language.items():
                for split in ("dev", "test"):
                    rows.append({"run_id": m["run_id"], "variant": c["variant"], "fusion_layer": c["fusion_layer"],
                                 "intermediate_task": c["intermediate_task"],
                                 "intermediate_language": c["intermediate_language"], "seed": c["seed"],
                                 "language": language, "split": split, "selection": selection,
                                 "accuracy": chosen[split], "n": m["n"][language][split], "collapsed": collapsed})
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    return frame.astype({"fusion_layer": "Int64", "seed": "int64", "n": "int64", "collapsed": bool})


# Published reference points (accuracy in %, test, mBERT-base, en-dev selection), by target task.
# PAWS-X: XTREME's mBERT per language (Hu et al. 2020); Chen et al. 2022 (DLFA), the seven-language
# average by fused layer 1..11 and their baseline.
XTREME_MBERT = {"en": 94.0, "de": 85.7, "es": 87.4, "fr": 87.0, "ja": 73.0, "ko": 69.6, "zh": 77.0}
DLFA_PAPER_LAYER_AVERAGE = {1: 82.50, 2: 83.04, 3: 83.81, 4: 82.75, 5: 82.44, 6: 84.37, 7: 83.48, 8: 82.91,
                            9: 84.24, 10: 84.33, 11: 83.04}
DLFA_PAPER_BASELINE_AVERAGE = 81.94


@dataclass(frozen=True)
class Published:
    """One target task's published mBERT numbers: XTREME's per language (where a source was found)
    and its average over ``languages``; the DLFA paper's baseline average and its averages by layer."""

    task: str
    languages: tuple[str, ...]  # what the published averages are over
    xtreme: dict[str, float]
    xtreme_average: float
    dlfa_baseline: float
    dlfa_layers: dict[int, float]


PUBLISHED = {
    # the mean of the per-language row (XTREME prints it rounded: 81.9)
    "pawsx": Published("pawsx", tuple(XTREME_MBERT), XTREME_MBERT, sum(XTREME_MBERT.values()) / len(XTREME_MBERT),
                       DLFA_PAPER_BASELINE_AVERAGE, DLFA_PAPER_LAYER_AVERAGE),
    # XNLI: XTREME's mBERT average over the 15 languages, 65.4 (as google-research/multilingual-t5's
    # README quotes it); the DLFA paper's Table 1 XNLI column (baseline 65.40,
    # D_11 66.91; its abstract: +1.5). XTREME's per-language row (its Table 12) and the paper's other
    # layers were not in a source this project could check, so they are left out, not typed from memory.
    "xnli": Published("xnli", ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"),
                      {}, 65.4, 65.40, {11: 66.91}),
}


def is_mbert(model: str) -> bool:
    """Whether the published mBERT numbers are this study's references: an mBERT-base checkpoint
    by its hub name or a local copy's folder name."""
    return str(model).rstrip("/").rsplit("/", 1)[-1].lower().startswith("bert-base-multilingual")


def published_difference(sweep: pd.DataFrame, task: str = "pawsx") -> pd.DataFrame:
    """This study minus the published mBERT numbers, in points of the target task's test accuracy.

    ``sweep``: accuracy (0 to 1) by layer (index ``baseline`` or a fused layer ``"k"``) and language,
    with the average over its languages ``avg`` (notebook 04's layer sweep). The baseline is compared
    per language with XTREME's mBERT row where one is published, and every row's average with the
    DLFA paper's (its baseline and D_k) and XTREME's; an average is compared only when the sweep has
    every language the published one is over (else NaN). The paper publishes averages by layer, so
    its per-language cells are empty.
    """
    ref = PUBLISHED[task]
    languages = [c for c in ref.languages if c in sweep.columns]
    complete = len(languages) == len(ref.languages)
    rows = []
    if "baseline" in sweep.index:
        base = sweep.loc["baseline"]
        rows.append({"row": "baseline", "reference": "XTREME mBERT",
                     **{lang: 100 * base[lang] - ref.xtreme[lang] if lang in ref.xtreme else float("nan")
                        for lang in languages},
                     "avg": 100 * base["avg"] - ref.xtreme_average if complete else float("nan")})
    for layer, values in sweep.iterrows():
        paper = ref.dlfa_baseline if layer == "baseline" else ref.dlfa_layers.get(int(layer))
        if paper is not None:
            rows.append({"row": str(layer), "reference": "DLFA paper" + ("" if layer == "baseline" else f" D_{layer}"),
                         **{lang: float("nan") for lang in languages},
                         "avg": 100 * values["avg"] - paper if complete else float("nan")})
    return pd.DataFrame(rows, columns=["row", "reference", *languages, "avg"])


def interval_table(frame: pd.DataFrame, index, value: str, signed: bool = False,
                   columns: str = "language") -> pd.DataFrame:
    """``value [ci_low, ci_high]`` per ``index`` x ``columns``, as text. Rows and columns keep their
    order of appearance."""
    number = "{:+.3f}" if signed else "{:.3f}"
    cells = frame.assign(cell=[f"{number.format(v)} [{number.format(lo)}, {number.format(hi)}]"
                               for v, lo, hi in zip(frame[value], frame["ci_low"], frame["ci_high"])])
    table = cells.pivot_table(index=index, columns=columns, values="cell", aggfunc="first", sort=False)
    table.columns.name = None
    return table[list(dict.fromkeys(frame[columns]))]
