"""Collect every run's metrics.json into the study's tidy ``results.csv``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

RESULT_COLUMNS = ["run_id", "variant", "fusion_layer", "intermediate_task", "intermediate_language", "seed",
                  "language", "split", "selection", "accuracy", "n"]


def load_metrics(study_dir: str | Path) -> list[dict]:
    """Every complete run's metrics, ordered by run id."""
    found = []
    for path in sorted(Path(study_dir, "runs").glob("*/metrics.json")):
        metrics = json.loads(path.read_text())
        if metrics.get("status") == "complete":
            found.append(metrics)
    return found


def results_table(metrics: list[dict]) -> pd.DataFrame:
    """One row per run x language x split x selection protocol."""
    rows = []
    for m in metrics:
        c = m["config"]
        for selection, per_language in m["selection"].items():
            for language, chosen in per_language.items():
                for split in ("dev", "test"):
                    rows.append({"run_id": m["run_id"], "variant": c["variant"], "fusion_layer": c["fusion_layer"],
                                 "intermediate_task": c["intermediate_task"],
                                 "intermediate_language": c["intermediate_language"], "seed": c["seed"],
                                 "language": language, "split": split, "selection": selection,
                                 "accuracy": chosen[split], "n": m["n"][language][split]})
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    return frame.astype({"fusion_layer": "Int64", "seed": "int64", "n": "int64"})
