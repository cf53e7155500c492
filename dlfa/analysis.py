"""The study's answers, as functions of its tidy tables (``results.csv``, ``typology/distances.csv``).

One concept, the analysis of the two questions (hence its length).

Question 1, typology (:func:`typology_effect`). The gain of intermediate language L on target T is
acc(run with L, T) - acc(run without, T), same variant and seed. Every intermediate run is evaluated
on every target, so the gains form a crossed L x T table. The unit is the (L, T) cell, seeds
averaged: the 36 variant x seed repeats of one cell in the paper profile are not 36 observations.
A target's own headroom and a language's overall usefulness are removed as fixed effects, and the
question is whether what remains depends on the distance d(L, T):

    gain(L, T) = mu + a(L) + b(T) + slope * d(L, T) + e(L, T)        (OLS on cell means)

The residual e carries each cell's own effect (an intermediate language may suit one target for
reasons unrelated to distance) as well as seed and test-set noise, so the error term is the one
that matters. Negative slope: closer languages gain more. With one intermediate language (or one
target, or a distance that is the same for every cell, or additive in L and T) the slope is not
estimable, and the row says so instead of giving a number.

Question 2, DLFA (:func:`fusion_effect`). Per fusion layer and intermediate setting: the mean gain
over the plain variant of the same seed, averaged over languages, with an interval for both the
training seed and the finite test set (``stats.crossed_mean`` on example-level predictions, or a
conservative bound from accuracies and test sizes), Holm across layers; and the layer chosen on
dev beside the layer that is best on test (the winner's curse of choosing on test).

Runs flagged ``collapsed`` (they learnt nothing: one class predicted) are excluded from every effect
and counted in the rows that lose them. Tables with only the contract's columns (no ``collapsed``
column) are taken as having no collapsed run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from . import stats
from .power import gain_mde, slope_mde
from .runs import load_predictions

ALL, ZERO_SHOT = "all", "zero-shot"
SOURCE = "en"  # the fine-tuning language; every other language is a zero-shot target
NONE = "none"  # the intermediate setting of runs without an intermediate task

TYPOLOGY_COLUMNS = ["variant", "kind", "metric", "estimate", "ci_low", "ci_high", "p_value", "p_holm", "n_cells",
                    "n_intermediate", "n_targets", "method", "df", "residual_sd", "mde_80", "n_excluded_runs", "note"]
FUSION_COLUMNS = ["variant", "fusion_layer", "intermediate_language", "languages", "estimate", "ci_low", "ci_high",
                  "p_value", "p_holm", "n_seeds", "interval", "method", "df", "dev_estimate", "chosen_on_dev", "best_on_test",
                  "mde_80", "n_excluded_runs", "note"]
TYPOLOGY_METHOD = "OLS on (L, T) cell means, seeds averaged: gain ~ distance + C(intermediate) + C(target); t-test"


def with_collapsed(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with a boolean ``collapsed`` column (False where the table has none)."""
    if "collapsed" in results:
        return results.assign(collapsed=results["collapsed"].fillna(False).astype(bool))
    return results.assign(collapsed=False)


def collapsed_runs(results: pd.DataFrame) -> list[str]:
    results = with_collapsed(results)
    return sorted(results.loc[results.collapsed, "run_id"].unique())


def protocol_rows(results: pd.DataFrame, selection: str, split: str) -> tuple[pd.DataFrame, list[str]]:
    """The rows of one selection protocol and split, collapsed runs removed (and named)."""
    results = with_collapsed(results)
    chosen = results[(results.selection == selection) & (results.split == split)]
    excluded = sorted(chosen.loc[chosen.collapsed, "run_id"].unique())
    chosen = chosen[~chosen.collapsed].copy()
    chosen["setting"] = chosen["intermediate_language"].fillna(NONE)
    return chosen, excluded


def check_protocol(results: pd.DataFrame, selection: str, split: str) -> None:
    for column, value in (("selection", selection), ("split", split)):
        if value not in set(results[column]):
            raise ValueError(f"no results with {column} {value!r}; the table has {sorted(set(results[column]))}")


# --------------------------------------------------------------------------------------- question 1

def seed_gains(results: pd.DataFrame, selection: str = "en-dev", split: str = "test") -> tuple[pd.DataFrame, list[str]]:
    """Gain of each intermediate run over the run without one (same variant, seed, target):
    ``variant, seed, intermediate_language, language, gain``; and the collapsed runs left out."""
    rows, excluded = protocol_rows(results, selection, split)
    rows = rows[rows.language != SOURCE]
    base = rows[rows.setting == NONE][["variant", "seed", "language", "accuracy"]]
    inter = rows[rows.setting != NONE]
    gain = inter.merge(base, on=["variant", "seed", "language"], suffixes=("", "_none"), validate="many_to_one")
    gain["gain"] = gain["accuracy"] - gain["accuracy_none"]
    return gain[["variant", "seed", "intermediate_language", "language", "gain"]], excluded


def cell_gains(gains: pd.DataFrame, pooled: bool = True) -> pd.DataFrame:
    """The (variant, L, T) cells, seeds averaged: ``variant, intermediate_language, language, gain, n_seeds``.
    ``pooled`` adds variant ``all``: each cell's gain averaged over variants (one cell still one unit)."""
    cells = gains.groupby(["variant", "intermediate_language", "language"], as_index=False).agg(
        gain=("gain", "mean"), n_seeds=("seed", "nunique"))
    if pooled and cells.variant.nunique() > 1:
        both = cells.groupby(["intermediate_language", "language"], as_index=False).agg(
            gain=("gain", "mean"), n_seeds=("n_seeds", "min")).assign(variant=ALL)
        cells = pd.concat([cells, both[cells.columns]], ignore_index=True)
    return cells


def _typology_not_estimable(cells: pd.DataFrame, kind: str) -> str | None:
    inter, targets = sorted(cells.intermediate_language.unique()), sorted(cells.language.unique())
    if len(inter) < 2:
        return (f"not estimable with this grid: one intermediate language ({', '.join(inter) or 'none'}) cannot "
                "separate distance from that language's own effect; it needs two or more intermediate languages, "
                "each evaluated on the same targets")
    if len(targets) < 2:
        return (f"not estimable with this grid: one target ({', '.join(targets)}) cannot separate distance from the "
                "target's own headroom; it needs two or more targets")
    if np.ptp(cells.distance) == 0:
        return (f"not estimable: the {kind} distance is {cells.distance.iloc[0]:.3g} for every (intermediate, "
                "target) cell, so there is nothing to relate the gain to")
    design = stats.fixed_effects(cells.intermediate_language, cells.language)
    fit = stats.slope_tests(np.zeros(len(cells)), cells.distance, design)
    if fit["ss_distance"] <= 1e-12 * max(1.0, float((cells.distance ** 2).sum())):
        return (f"not estimable: the {kind} distance is additive in intermediate language and target (no variation "
                "is left once their own effects are removed)")
    if fit["df"] < 1:
        return (f"not estimable with this grid: {len(cells)} cells leave no degrees of freedom for the error once "
                f"the {len(inter)} intermediate-language and {len(targets)} target effects and the slope are fitted; "
                "it needs more intermediate languages or targets")
    return None


def typology_effect(results: pd.DataFrame, distances: pd.DataFrame, selection: str = "en-dev", split: str = "test",
                    pooled: bool = True, power: float = 0.8, alpha: float = 0.05) -> pd.DataFrame:
    """Does the intermediate task's gain depend on the distance between its language and the target?

    One row per (variant, kind, metric): ``estimate`` is the slope of the gain (accuracy difference)
    per unit of distance once each intermediate language's and each target's own effects are
    removed (negative: closer languages gain more), with a 95% t-interval and p-value from OLS on
    the (L, T) cell means; ``p_holm`` is Holm-adjusted across the kinds and metrics of one variant;
    ``mde_80``: the smallest |slope| detected with 80% power at Holm's first step (alpha / m) given
    the residual SD measured here. Rows that cannot be estimated have NaN numbers and say why in
    ``note``. ``pooled`` adds variant ``all`` (cell gains averaged over variants).
    """
    check_protocol(results, selection, split)
    gains, excluded = seed_gains(results, selection, split)
    cells_all = cell_gains(gains, pooled=pooled)
    rows = []
    with_inter = results[results.intermediate_language.notna()]
    variants = list(dict.fromkeys(with_inter.variant))  # collapsed runs' variants too: their rows say why
    if pooled and len(variants) > 1:
        variants.append(ALL)
    for variant in variants:
        cells_v = cells_all[cells_all.variant == variant]
        for (kind, metric), dist in distances.groupby(["kind", "metric"], sort=False):
            lookup = dist.set_index(["lang_a", "lang_b"])["distance"]
            keys = list(zip(cells_v.intermediate_language, cells_v.language))
            cells = cells_v.assign(distance=lookup.reindex(keys).to_numpy())
            missing = cells[cells.distance.isna()]
            cells = cells.dropna(subset=["distance"])
            row = {"variant": variant, "kind": kind, "metric": metric, "n_cells": len(cells),
                   "n_intermediate": cells.intermediate_language.nunique(), "n_targets": cells.language.nunique(),
                   "n_excluded_runs": len(excluded), "method": TYPOLOGY_METHOD}
            notes = [f"{len(missing)} cell(s) without a {kind} distance left out"] if len(missing) else []
            if len(cells):
                reason = _typology_not_estimable(cells, kind)
            elif len(cells_v):
                reason = "not estimable: no cell has a distance"
            else:
                reason = ("not estimable: no intermediate run has a run without one to compare with"
                          + (f" (collapsed runs left out: {', '.join(excluded)})" if excluded else ""))
            if reason:
                rows.append({**row, "note": "; ".join([reason] + notes)})
                continue
            fit = smf.ols("gain ~ distance + C(intermediate_language) + C(language)", data=cells).fit()
            low, high = fit.conf_int().loc["distance"]
            design = stats.fixed_effects(cells.intermediate_language, cells.language)
            ss_d = stats.slope_tests(np.zeros(len(cells)), cells.distance, design)["ss_distance"]
            rows.append({**row, "estimate": fit.params["distance"], "ci_low": low, "ci_high": high,
                         "p_value": fit.pvalues["distance"], "df": fit.df_resid, "residual_sd": np.sqrt(fit.scale),
                         "_ss": ss_d, "note": "; ".join(notes)})
    table = pd.DataFrame(rows)
    for column in TYPOLOGY_COLUMNS + ["_ss"]:
        if column not in table:
            table[column] = np.nan
    table["p_holm"] = table.groupby("variant", sort=False)["p_value"].transform(stats.holm)
    family = table.groupby("variant", sort=False)["p_value"].transform(lambda p: p.notna().sum())
    table["mde_80"] = [slope_mde(ss, sd, df, alpha / max(m, 1), power) if pd.notna(ss) else np.nan
                       for ss, sd, df, m in zip(table["_ss"], table["residual_sd"], table["df"], family)]
    return table[TYPOLOGY_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------------------- question 2

def _pairs(rows: pd.DataFrame, variant_a: str, setting_a: str, variant_b: str, setting_b: str) -> pd.DataFrame:
    """Runs of (variant_b, setting_b) beside the run of (variant_a, setting_a) of the same seed."""
    runs = rows[["run_id", "variant", "setting", "seed"]].drop_duplicates()
    a = runs[(runs.variant == variant_a) & (runs.setting == setting_a)]
    b = runs[(runs.variant == variant_b) & (runs.setting == setting_b)]
    return a.merge(b, on="seed", suffixes=("_a", "_b"), validate="one_to_one").sort_values("seed")


def _example_scores(study_dir: Path, pairs: pd.DataFrame, languages: list[str], selection: str,
                    split: str) -> np.ndarray | None:
    """Seeds x test examples: each example's contribution to the language-averaged accuracy
    difference (B - A), scaled so that the table's mean is that difference. Examples with the same
    id in several languages (PAWS-X is parallel) are one example: their sampling errors are shared.
    None when a run has no predictions."""
    per_seed = []
    for pair in pairs.itertuples():
        contribution: dict[int, float] = {}
        for language in languages:
            try:
                a = load_predictions(study_dir / "runs" / pair.run_id_a, selection, language, split)
                b = load_predictions(study_dir / "runs" / pair.run_id_b, selection, language, split)
            except (FileNotFoundError, KeyError):
                return None
            both = a.merge(b, on="id", suffixes=("_a", "_b"), validate="one_to_one")
            diff = (both.correct_b.astype(float) - both.correct_a.astype(float)) / (len(languages) * len(both))
            for i, v in zip(both.id, diff):
                contribution[i] = contribution.get(i, 0.0) + v
        per_seed.append(pd.Series(contribution))
    table = pd.concat(per_seed, axis=1).fillna(0.0).to_numpy().T  # (seeds, examples)
    return table * table.shape[1]


def compare(rows: pd.DataFrame, variant_a: str, setting_a: str, variant_b: str, setting_b: str,
            languages: list[str], study_dir: str | Path | None = None, selection: str = "en-dev",
            split: str = "test") -> dict | None:
    """B minus A in accuracy averaged over ``languages``, paired by seed, with an interval for seeds
    and test examples. ``rows``: one protocol and split of the results (see ``protocol_rows``)."""
    pairs = _pairs(rows, variant_a, setting_a, variant_b, setting_b)
    if pairs.empty:
        return None
    scores = _example_scores(Path(study_dir), pairs, languages, selection, split) if study_dir else None
    if scores is not None:
        result = stats.crossed_mean(scores)
        result["method"] = "paired by seed; seeds x test examples crossed, from example-level predictions"
    else:
        acc = rows.set_index(["run_id", "language"])
        per_seed, binomial = [], []
        for pair in pairs.itertuples():
            a = acc.loc[[(pair.run_id_a, lang) for lang in languages]]
            b = acc.loc[[(pair.run_id_b, lang) for lang in languages]]
            pa, pb, n = a.accuracy.to_numpy(), b.accuracy.to_numpy(), a.n.to_numpy()
            per_seed.append(float((pb - pa).mean()))
            # runs taken as independent and languages as perfectly correlated: both are upper bounds
            binomial.append(float(np.mean(np.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n)) ** 2))
        result = stats.seeds_and_binomial(per_seed, binomial)
        result["method"] = "paired by seed; t over seeds + binomial bound from accuracy and n (no predictions)"
    result["n_seeds"] = len(pairs)
    return result


def _languages(rows: pd.DataFrame) -> dict[str, list[str]]:
    languages = list(dict.fromkeys(rows.language))
    zero_shot = [lang for lang in languages if lang != SOURCE]
    return {ALL: languages, ZERO_SHOT: zero_shot} if zero_shot and len(zero_shot) < len(languages) else {ALL: languages}


def fusion_effect(results: pd.DataFrame, study_dir: str | Path | None = None, selection: str = "en-dev",
                  split: str = "test", dev_split: str = "dev", power: float = 0.8, alpha: float = 0.05) -> pd.DataFrame:
    """Does fusing layer k add accuracy over the plain model?

    One row per (fusion layer, intermediate setting, languages): ``estimate`` is the mean over
    seeds of the accuracy gain over the baseline variant of the same seed and intermediate setting,
    averaged over ``languages`` (``all``, or the ``zero-shot`` targets); 95% interval and p-value
    for seeds and test examples (``method`` says how); ``p_holm`` across the layers of one setting
    and language set; ``dev_estimate`` the same gain on dev, ``chosen_on_dev`` the layer a
    researcher would pick (best dev gain), ``best_on_test`` the layer that looks best on test
    (choosing it is the winner's curse). ``mde_80``: the smallest gain detected with 80% power at
    Holm's first step (alpha / number of layers), given the noise measured for that row.
    """
    check_protocol(results, selection, split)
    rows, excluded = protocol_rows(results, selection, split)
    dev = protocol_rows(results, selection, dev_split)[0] if dev_split in set(results.split) else rows.iloc[:0]
    everything = with_collapsed(results)
    everything = everything[(everything.selection == selection) & (everything.split == split)]
    layers = sorted(int(k) for k in everything.fusion_layer.dropna().unique())  # collapsed runs' layers too
    settings = dict.fromkeys(everything.intermediate_language.fillna(NONE))
    out = []
    for setting in settings:
        for name, languages in _languages(everything).items():
            for k in layers:
                row = {"variant": f"d{k}", "fusion_layer": k, "intermediate_language": None if setting == NONE else setting,
                       "languages": name, "n_excluded_runs": len(excluded)}
                result = compare(rows, "baseline", setting, f"d{k}", setting, languages, study_dir, selection, split)
                if result is None:
                    have = sorted(set(rows[(rows.setting == setting)].variant))
                    why = f"; collapsed runs left out: {', '.join(excluded)}" if excluded else ""
                    out.append({**row, "n_seeds": 0, "note": f"not estimable: no seed has both the baseline and d{k} "
                                                            f"with intermediate {setting} (variants left: "
                                                            f"{', '.join(have) or 'none'}){why}"})
                    continue
                on_dev = compare(dev, "baseline", setting, f"d{k}", setting, languages, None, selection, dev_split) \
                    if len(dev) else None
                out.append({**row, **{c: result[c] for c in ("estimate", "ci_low", "ci_high", "p_value", "df",
                                                             "n_seeds", "method")}, "interval": result["sources"],
                            "_se": result["se"], "_share": result.get("seed_share", np.nan), "dev_estimate": on_dev["estimate"] if on_dev else np.nan,
                            "note": "" if result["n_seeds"] > 1 else "one seed: the interval covers test examples only"})
    table = pd.DataFrame(out)
    for column in FUSION_COLUMNS + ["_se", "_share"]:
        if column not in table:
            table[column] = np.nan
    family = table.groupby(["intermediate_language", "languages"], dropna=False, sort=False)
    table["p_holm"] = family["p_value"].transform(stats.holm)
    table["chosen_on_dev"] = _is_best(table, family, "dev_estimate")
    table["best_on_test"] = _is_best(table, family, "estimate")
    size = family["p_value"].transform(lambda p: p.notna().sum())
    table["mde_80"] = [gain_mde(se, share, seeds, alpha / max(m, 1), power) if pd.notna(se) and pd.notna(share)
                       else np.nan for se, share, seeds, m in zip(table["_se"], table["_share"], table["n_seeds"], size)]
    return table[FUSION_COLUMNS].reset_index(drop=True)


def _is_best(table: pd.DataFrame, family, column: str) -> pd.Series:
    best = family[column].transform(lambda v: v.max() if v.notna().any() else np.nan)
    return (table[column] == best) & best.notna()


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
            low, high = stats.accuracy_ci(mean, int(used.n.iloc[0]))
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
        frames = [load_predictions(study_dir / "runs" / r, selection, language, split).set_index("id").correct
                  for r in group.run_id]
    except (FileNotFoundError, KeyError):
        return None
    return pd.concat(frames, axis=1, join="inner").to_numpy(dtype=float).T


PAIRED_COLUMNS = ["run_id", "baseline_run_id", "variant", "intermediate_language", "seed", "selection", "language",
                  "accuracy", "baseline_accuracy", "difference", "ci_low", "ci_high", "p_value", "q_value", "n"]


def paired_tests(study_dir: str | Path, results: pd.DataFrame, selection: str = "en-dev",
                 split: str = "test") -> pd.DataFrame:
    """Every run against the plain baseline of the same seed (no fusion, no intermediate task), per
    language, on the same test examples at each run's selected checkpoint (``stats.paired_difference``:
    test examples only, the two runs as given). ``q_value``: Benjamini-Hochberg over the whole table
    (the family: every paired test of the study for this protocol and split)."""
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
            test = stats.paired_difference(pair.correct_a, pair.correct_b)
            rows.append({"run_id": run.run_id, "baseline_run_id": plain[run.seed], "variant": run.variant,
                         "intermediate_language": run.intermediate_language, "seed": run.seed,
                         "selection": selection, "language": language, "accuracy": pair.correct_b.mean(),
                         "baseline_accuracy": pair.correct_a.mean(), **test})
    table = pd.DataFrame(rows, columns=[c for c in PAIRED_COLUMNS if c != "q_value"])
    table["q_value"] = stats.benjamini_hochberg(table["p_value"]) if len(table) else []
    return table[PAIRED_COLUMNS]
