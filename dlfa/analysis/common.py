"""What both questions share: the labels of their tables, collapsed runs, protocol rows, Holm
within families and the detectable effect of each row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlfa.analysis import stats
from dlfa.analysis.power import mde_range, two_part_mde

ALL, ZERO_SHOT = "all", "zero-shot"
SOURCE = "en"  # the fine-tuning language; every other language is a zero-shot target
NONE = "none"  # the intermediate setting of runs without an intermediate task
PRIMARY = "primary"
LEFT_OUT, COUNTED = "left out", "counted at measured accuracy"
SAME_LANGUAGE = "same-language"  # the typology table's kind for the in-language contrast
EN_DEV, ORACLE = "en-dev", "oracle"  # how a layer is chosen: English dev (zero-shot), or the targets' dev

TYPOLOGY_COLUMNS = ["variant", "kind", "metric", "family", "estimate", "ci_low", "ci_high", "p_value", "p_holm",
                    "n_cells", "n_intermediate", "n_targets", "n_same_language", "method", "df", "residual_sd",
                    "mde_80", "mde_80_low", "mde_80_high", "n_collapsed", "collapsed_runs", "note"]
FUSION_COLUMNS = ["variant", "fusion_layer", "intermediate_language", "languages", "family", "estimate", "ci_low",
                  "ci_high", "p_value", "p_holm", "n_seeds", "interval", "method", "df", "en_dev_estimate",
                  "chosen_on_dev", "best_on_test", "mde_80", "mde_80_low", "mde_80_high", "n_collapsed",
                  "collapsed_runs", "note"]
CHOICE_COLUMNS = ["intermediate_language", "languages", "choice", "chosen_layer", "naive_gain", "crossfit_gain",
                  "crossfit_ci_low", "crossfit_ci_high", "crossfit_p_value", "fold_layers", "best_on_test_layer",
                  "best_on_test_gain", "n_seeds", "n_layers", "interval", "n_collapsed", "collapsed_runs", "note"]
OLS_METHOD = "OLS on (L, T) cell means, seeds averaged{left_out}: {x} + C(intermediate) + C(target); t-test"
LEFT_OUT_SAME = ", same-language cells left out"
EXAMPLES_METHOD = ("the same fit; variance: between cells (OLS residual, df) + the test examples' part measured from "
                   "predictions (shared by runs that err on the same pairs); generalized pivot")
COLLAPSED_CHOICES = ("exclude", "include")


def with_collapsed(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with a boolean ``collapsed`` column (False where the table has none)."""
    if "collapsed" in results:
        return results.assign(collapsed=results["collapsed"].fillna(False).astype(bool))
    return results.assign(collapsed=False)


def collapsed_runs(results: pd.DataFrame) -> list[str]:
    results = with_collapsed(results)
    return sorted(results.loc[results.collapsed, "run_id"].unique())


def _check_collapsed(collapsed: str) -> None:
    if collapsed not in COLLAPSED_CHOICES:
        raise ValueError(f"collapsed must be one of {COLLAPSED_CHOICES}; got {collapsed!r}")


def protocol_rows(results: pd.DataFrame, selection: str, split: str,
                  collapsed: str = "exclude") -> tuple[pd.DataFrame, list[str]]:
    """The rows of one selection protocol and split, and the collapsed runs among them: left out
    (``collapsed="exclude"``) or kept at their measured accuracy (``"include"``)."""
    _check_collapsed(collapsed)
    results = with_collapsed(results)
    chosen = results[(results.selection == selection) & (results.split == split)]
    flagged = sorted(chosen.loc[chosen.collapsed, "run_id"].unique())
    chosen = (chosen[~chosen.collapsed] if collapsed == "exclude" else chosen).copy()
    chosen["setting"] = chosen["intermediate_language"].fillna(NONE)
    return chosen, flagged


def check_protocol(results: pd.DataFrame, selection: str, split: str) -> None:
    for column, value in (("selection", selection), ("split", split)):
        if value not in set(results[column]):
            raise ValueError(f"no results with {column} {value!r}; the table has {sorted(set(results[column]))}")


def _collapsed_label(collapsed: str) -> str:
    return LEFT_OUT if collapsed == "exclude" else COUNTED


def _holm_by_family(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """``p_holm`` within each ``family`` and the alpha of its first step (for the MDE)."""
    family = table.groupby("family", sort=False, dropna=False)["p_value"]
    table["p_holm"] = family.transform(stats.holm)
    table["_alpha"] = alpha / family.transform(lambda p: max(int(p.notna().sum()), 1))
    return table


def _mde(table: pd.DataFrame, power: float) -> pd.DataFrame:
    """``mde_80`` and the range an estimated variance implies (``power.mde_range``), per row."""
    low, mid, high = [], [], []
    for se, share, df, a in zip(table["_se"], table["_share"], table["df"], table["_alpha"]):
        if not (pd.notna(se) and pd.notna(share) and pd.notna(df)):
            low.append(np.nan), mid.append(np.nan), high.append(np.nan)
            continue
        mid.append(two_part_mde(se, share, int(df), a, power))
        lo, hi = mde_range(se, share, int(df), a, power)
        low.append(lo), high.append(hi)
    return table.assign(mde_80=mid, mde_80_low=low, mde_80_high=high)
