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
