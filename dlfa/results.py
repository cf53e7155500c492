"""The study's tidy ``results.csv`` from its runs' metrics, the published reference points, and
interval tables as text."""

from __future__ import annotations

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


# Published reference points (accuracy in %, PAWS-X test, mBERT-base, en-dev selection).
XTREME_MBERT = {"en": 94.0, "de": 85.7, "es": 87.4, "fr": 87.0, "ja": 73.0, "ko": 69.6, "zh": 77.0}
# Chen et al. 2022 (DLFA), average over the seven languages, by fused layer 1..11; their baseline 81.94.
DLFA_PAPER_LAYER_AVERAGE = {1: 82.50, 2: 83.04, 3: 83.81, 4: 82.75, 5: 82.44, 6: 84.37, 7: 83.48, 8: 82.91,
                            9: 84.24, 10: 84.33, 11: 83.04}
DLFA_PAPER_BASELINE_AVERAGE = 81.94


def is_mbert(model: str) -> bool:
    """Whether the published mBERT numbers are this study's references: an mBERT-base checkpoint
    by its hub name or a local copy's folder name."""
    return str(model).rstrip("/").rsplit("/", 1)[-1].lower().startswith("bert-base-multilingual")


def published_difference(sweep: pd.DataFrame) -> pd.DataFrame:
    """This study minus the published mBERT numbers, in points of PAWS-X test accuracy.

    ``sweep``: accuracy (0 to 1) by layer (index ``baseline`` or a fused layer ``"k"``) and language,
    with the seven-language average ``avg`` (notebook 04's layer sweep). The baseline is compared per
    language with XTREME's mBERT row, and every row's average with the DLFA paper's (its baseline and
    D_k); the paper publishes averages by layer here, so its per-language cells are empty.
    """
    languages = [c for c in XTREME_MBERT if c in sweep.columns]
    rows = []
    if "baseline" in sweep.index:
        base = sweep.loc["baseline"]
        rows.append({"row": "baseline", "reference": "XTREME mBERT",
                     **{lang: 100 * base[lang] - XTREME_MBERT[lang] for lang in languages},
                     "avg": 100 * base["avg"] - sum(XTREME_MBERT[lang] for lang in languages) / len(languages)
                     if len(languages) == len(XTREME_MBERT) else float("nan")})
    for layer, values in sweep.iterrows():
        paper = DLFA_PAPER_BASELINE_AVERAGE if layer == "baseline" else DLFA_PAPER_LAYER_AVERAGE.get(int(layer))
        if paper is not None:
            rows.append({"row": str(layer), "reference": "DLFA paper" + ("" if layer == "baseline" else f" D_{layer}"),
                         **{lang: float("nan") for lang in languages}, "avg": 100 * values["avg"] - paper})
    return pd.DataFrame(rows, columns=["row", "reference", *languages, "avg"])


def interval_table(frame: pd.DataFrame, index, value: str, signed: bool = False, corrected: str | None = None,
                   columns: str = "language") -> pd.DataFrame:
    """``value [ci_low, ci_high]`` per ``index`` x ``columns``, as text; `` *`` marks a corrected p-value
    (the column ``corrected``: a q-value or Holm p) below 0.05, never an uncorrected one. Rows and
    columns keep their order of appearance."""
    number = "{:+.3f}" if signed else "{:.3f}"
    marked = frame[corrected] < 0.05 if corrected else [False] * len(frame)
    cells = frame.assign(cell=[f"{number.format(v)} [{number.format(lo)}, {number.format(hi)}]{' *' if m else ''}"
                               for v, lo, hi, m in zip(frame[value], frame["ci_low"], frame["ci_high"], marked)])
    table = cells.pivot_table(index=index, columns=columns, values="cell", aggfunc="first", sort=False)
    table.columns.name = None
    return table[list(dict.fromkeys(frame[columns]))]
