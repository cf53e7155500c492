"""Two replication checks from the literature, on the study's own runs.

- Lauscher et al. 2020 ("From Zero to Hero"): zero-shot accuracy of the plain model falls with
  the target's typological distance from the fine-tuning language (English). Per distance kind,
  the correlation over targets between baseline accuracy and d(en, T). The unit is the target
  (seeds averaged): six points in PAWS-X, so only a strong relation can show.
- Turc et al. 2021 ("Revisiting the primacy of English"): German and Russian are often better
  source languages than English. Here they are intermediate-task languages: the accuracy of runs
  with XNLI-de (or -ru) minus runs with XNLI-en, same variant and seed, averaged over the zero-shot
  targets other than that language (so that an in-language intermediate task gives no head start).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dlfa.analysis import NONE, SOURCE, check_protocol, compare, per_run, protocol_rows, stats

DISTANCE_COLUMNS = ["kind", "metric", "n_targets", "pearson", "spearman", "ci_low", "ci_high", "p_value", "p_holm",
                    "note"]
SOURCE_COLUMNS = ["language", "versus", "variant", "languages", "estimate", "ci_low", "ci_high", "p_value", "p_holm",
                  "n_seeds", "interval", "method", "note"]


def distance_to_source(results: pd.DataFrame, distances: pd.DataFrame, selection: str = "en-dev",
                       split: str = "test") -> pd.DataFrame:
    """Lauscher et al.: per (kind, metric), the correlation over targets of the plain baseline's
    accuracy (no fusion, no intermediate task, seeds averaged) with d(en, target). Spearman with its
    exact permutation p-value (and bootstrap CI); Pearson beside it, as Lauscher et al. report it;
    Holm across the kinds and metrics. Negative: farther targets transfer worse."""
    check_protocol(results, selection, split)
    rows, _ = protocol_rows(results, selection, split)
    plain = rows[(rows.variant == "baseline") & (rows.setting == NONE) & (rows.language != SOURCE)]
    accuracy = plain.groupby("language").accuracy.mean()
    out = []
    for (kind, metric), dist in distances.groupby(["kind", "metric"], sort=False):
        d = dist[dist.lang_a == SOURCE].set_index("lang_b")["distance"].reindex(accuracy.index)
        ok = d.notna()
        row = {"kind": kind, "metric": metric, "n_targets": int(ok.sum())}
        if ok.sum() < 3 or np.ptp(d[ok]) == 0 or np.ptp(accuracy[ok]) == 0:
            why = ("fewer than three targets" if ok.sum() < 3 else
                   f"the {kind} distance to English is the same for every target" if np.ptp(d[ok]) == 0 else
                   "every target has the same accuracy")
            out.append({**row, "note": f"not estimable: {why}"})
            continue
        spearman = per_run.correlation(d[ok], accuracy[ok], "spearman")
        pearson = per_run.correlation(d[ok], accuracy[ok], "pearson")
        out.append({**row, "pearson": pearson["statistic"], "spearman": spearman["statistic"],
                    "ci_low": spearman["ci_low"], "ci_high": spearman["ci_high"], "p_value": spearman["p_value"],
                    "note": f"{int(ok.sum())} targets: only a strong correlation can show"})
    table = pd.DataFrame(out, columns=DISTANCE_COLUMNS)
    table["p_holm"] = stats.holm(table["p_value"].astype(float)) if len(table) else []
    return table


def source_language(results: pd.DataFrame, study_dir: str | Path | None = None, selection: str = "en-dev",
                    split: str = "test", candidates=("de", "ru"), versus: str = "en") -> pd.DataFrame:
    """Turc et al.: does an intermediate task in German (or Russian) beat the same task in English?
    Per candidate language and variant, accuracy with it minus with ``versus``, paired by seed;
    Holm across the rows. Rows without both runs say "not estimable" and what is missing."""
    check_protocol(results, selection, split)
    rows, _ = protocol_rows(results, selection, split)
    settings = set(rows.setting)
    variants = list(dict.fromkeys(rows.variant))
    out = []
    for language in candidates:
        for variant in variants:
            row = {"language": language, "versus": versus, "variant": variant}
            missing = [lang for lang in (language, versus) if lang not in settings]
            targets = [t for t in dict.fromkeys(rows.language) if t not in (SOURCE, language, versus)]
            row["languages"] = ",".join(targets)
            if missing:
                out.append({**row, "n_seeds": 0, "note": "not estimable with this grid: no run with the intermediate "
                                                         f"task in {' or '.join(missing)}"})
                continue
            result = compare(rows, variant, versus, variant, language, targets, study_dir, selection, split)
            if result is None:
                out.append({**row, "n_seeds": 0, "note": f"not estimable: no seed has both runs for {variant}"})
                continue
            out.append({**row, **{c: result[c] for c in ("estimate", "ci_low", "ci_high", "p_value", "n_seeds",
                                                         "method")}, "interval": result["sources"], "note": ""})
    table = pd.DataFrame(out, columns=SOURCE_COLUMNS)
    table["p_holm"] = stats.holm(table["p_value"].astype(float)) if len(table) else []
    return table
