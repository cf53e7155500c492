"""Question 2: does fusing layer k add accuracy? The gain per layer, the layer a researcher would
choose (cross-fitted over seeds), and the collapse rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from dlfa.analysis import stats
from dlfa.analysis.common import (ALL, CHOICE_COLUMNS, EN_DEV, FUSION_COLUMNS, NONE, ORACLE, PRIMARY, SOURCE, ZERO_SHOT,
                                  _collapsed_label, _holm_by_family, _mde, check_protocol, protocol_rows,
                                  with_collapsed)
from dlfa.config.runs import load_predictions
from dlfa.layout import StudyLayout

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
    difference (B - A) of each pair (``run_id_a``, ``run_id_b``), scaled so that the table's mean is
    that difference. Examples with the same id in several languages (PAWS-X is parallel) are one
    example: their sampling errors are shared. None when a run has no predictions."""
    per_seed = []
    for pair in pairs.itertuples():
        contribution: dict[int, float] = {}
        for language in languages:
            try:
                a = load_predictions(StudyLayout(study_dir).run(pair.run_id_a).folder, selection, language, split)
                b = load_predictions(StudyLayout(study_dir).run(pair.run_id_b).folder, selection, language, split)
            except (FileNotFoundError, KeyError):
                return None
            both = a.merge(b, on="id", suffixes=("_a", "_b"), validate="one_to_one")
            diff = (both.correct_b.astype(float) - both.correct_a.astype(float)) / (len(languages) * len(both))
            for i, v in zip(both.id, diff):
                contribution[i] = contribution.get(i, 0.0) + v
        per_seed.append(pd.Series(contribution))
    table = pd.concat(per_seed, axis=1).fillna(0.0).to_numpy().T  # (seeds, examples)
    return table * table.shape[1]


def _bounded(rows: pd.DataFrame, pairs: pd.DataFrame, languages: list[str]) -> tuple[list[float], list[float]]:
    """Per pair, B - A averaged over ``languages`` from accuracies alone, and a bound on its test-set
    variance (runs taken as independent and languages as perfectly correlated: both upper bounds)."""
    acc = rows.set_index(["run_id", "language"])
    per_seed, binomial = [], []
    for pair in pairs.itertuples():
        a = acc.loc[[(pair.run_id_a, lang) for lang in languages]]
        b = acc.loc[[(pair.run_id_b, lang) for lang in languages]]
        pa, pb, n = a.accuracy.to_numpy(), b.accuracy.to_numpy(), a.n.to_numpy()
        per_seed.append(float((pb - pa).mean()))
        binomial.append(float(np.mean(np.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n)) ** 2))
    return per_seed, binomial


def _paired_interval(rows: pd.DataFrame, pairs: pd.DataFrame, languages: list[str], study_dir, selection: str,
                     split: str) -> dict:
    """The mean over ``pairs`` of B - A, with an interval for seeds and test examples."""
    scores = _example_scores(Path(study_dir), pairs, languages, selection, split) if study_dir else None
    if scores is not None:
        result = stats.crossed_mean(scores)
        result["method"] = "paired by seed; seeds x test examples crossed, from example-level predictions"
    else:
        result = stats.seeds_and_binomial(*_bounded(rows, pairs, languages))
        result["method"] = "paired by seed; t over seeds + binomial bound from accuracy and n (no predictions)"
    result["n_seeds"] = len(pairs)
    return result


def compare(rows: pd.DataFrame, variant_a: str, setting_a: str, variant_b: str, setting_b: str,
            languages: list[str], study_dir: str | Path | None = None, selection: str = "en-dev",
            split: str = "test") -> dict | None:
    """B minus A in accuracy averaged over ``languages``, paired by seed, with an interval for seeds
    and test examples. ``rows``: one protocol and split of the results (see ``protocol_rows``)."""
    pairs = _pairs(rows, variant_a, setting_a, variant_b, setting_b)
    if pairs.empty:
        return None
    return _paired_interval(rows, pairs, languages, study_dir, selection, split)


def _languages(rows: pd.DataFrame) -> dict[str, list[str]]:
    languages = list(dict.fromkeys(rows.language))
    zero_shot = [lang for lang in languages if lang != SOURCE]
    return {ALL: languages, ZERO_SHOT: zero_shot} if zero_shot and len(zero_shot) < len(languages) else {ALL: languages}


def _en_dev_gain(dev: pd.DataFrame, variant: str, setting: str) -> float:
    """The mean over seeds of the gain over the baseline on English dev (NaN without it)."""
    if dev.empty or SOURCE not in set(dev.language):
        return np.nan
    pairs = _pairs(dev, "baseline", setting, variant, setting)
    return float(np.mean(_bounded(dev, pairs, [SOURCE])[0])) if len(pairs) else np.nan


def _primary_scope(languages: dict[str, list[str]]) -> str:
    return ZERO_SHOT if ZERO_SHOT in languages else ALL


def fusion_effect(results: pd.DataFrame, study_dir: str | Path | None = None, selection: str = "en-dev",
                  split: str = "test", dev_split: str = "dev", power: float = 0.8, alpha: float = 0.05,
                  confirmatory_layer: int | None = None, collapsed: str = "exclude") -> pd.DataFrame:
    """Does fusing layer k add accuracy over the plain model?

    One row per (fusion layer, intermediate setting, languages): ``estimate`` is the mean over
    seeds of the accuracy gain over the baseline variant of the same seed and intermediate setting,
    averaged over ``languages`` (``all``, or the ``zero-shot`` targets); 95% interval and p-value
    for seeds and test examples (``method`` says how). ``en_dev_estimate``: the same gain on English
    dev, and ``chosen_on_dev`` the layer a zero-shot researcher would pick on it (XTREME chooses on
    English dev; choosing on the targets' dev uses labelled target data: ``fusion_choice``'s oracle).
    ``best_on_test`` marks the layer that looks best on test. ``family``: ``primary`` for the
    ``confirmatory_layer`` with no intermediate task on the zero-shot languages (without one: every
    layer there, Holm across them); the rest exploratory, Holm within each family. ``mde_80``: the
    smallest gain detected with 80% power at the family's first Holm step, from the noise measured
    for that row, and the range its estimated seed spread implies (``mde_80_low``, ``mde_80_high``);
    missing with one seed. ``n_collapsed``: the row's collapsed runs (baseline and d_k in its setting).
    """
    check_protocol(results, selection, split)
    rows, _ = protocol_rows(results, selection, split, collapsed)
    dev = protocol_rows(results, selection, dev_split, collapsed)[0] if dev_split in set(results.split) else rows.iloc[:0]
    everything = with_collapsed(results)
    everything = everything[(everything.selection == selection) & (everything.split == split)]
    layers = sorted(int(k) for k in everything.fusion_layer.dropna().unique())  # collapsed runs' layers too
    settings = dict.fromkeys(everything.intermediate_language.fillna(NONE))
    flagged_runs = everything[everything.collapsed][["run_id", "variant", "intermediate_language"]].drop_duplicates()
    flagged_runs = flagged_runs.assign(setting=flagged_runs.intermediate_language.fillna(NONE))
    scopes = _languages(everything)
    out = []
    for setting in settings:
        for name, languages in scopes.items():
            for k in layers:
                n_collapsed = int(((flagged_runs.setting == setting)
                                   & flagged_runs.variant.isin(["baseline", f"d{k}"])).sum())
                row = {"variant": f"d{k}", "fusion_layer": k, "intermediate_language": None if setting == NONE else setting,
                       "languages": name, "n_collapsed": n_collapsed, "collapsed_runs": _collapsed_label(collapsed)}
                result = compare(rows, "baseline", setting, f"d{k}", setting, languages, study_dir, selection, split)
                if result is None:
                    have = sorted(set(rows[(rows.setting == setting)].variant))
                    why = (f"; {n_collapsed} collapsed run(s) left out" if n_collapsed and collapsed == "exclude"
                           else "")
                    out.append({**row, "n_seeds": 0, "note": f"not estimable: no seed has both the baseline and d{k} "
                                                            f"with intermediate {setting} (variants left: "
                                                            f"{', '.join(have) or 'none'}){why}"})
                    continue
                out.append({**row, **{c: result[c] for c in ("estimate", "ci_low", "ci_high", "p_value", "n_seeds",
                                                             "method")},
                            # one seed: no seed spread, so no power (the test examples' alone would overstate it)
                            "df": result["n_seeds"] - 1 if result["n_seeds"] > 1 else np.nan,
                            "interval": result["sources"], "_se": result["se"],
                            "_share": result.get("seed_share", np.nan),
                            "en_dev_estimate": _en_dev_gain(dev, f"d{k}", setting),
                            "note": "" if result["n_seeds"] > 1 else "one seed: the interval covers test examples only"})
    table = pd.DataFrame(out)
    for column in FUSION_COLUMNS + ["_se", "_share"]:
        if column not in table:
            table[column] = np.nan
    if table.empty:
        return table[FUSION_COLUMNS]
    main = table.intermediate_language.isna() & (table.languages == _primary_scope(scopes))
    if confirmatory_layer is not None:
        confirmatory = main & (table.fusion_layer == confirmatory_layer)
        table["family"] = np.where(confirmatory, PRIMARY, "exploratory: " + table.intermediate_language.fillna(NONE)
                                   + ", " + table.languages + np.where(main, ", other layers", ""))
    else:
        table["family"] = np.where(main, PRIMARY, "exploratory: " + table.intermediate_language.fillna(NONE) + ", "
                                   + table.languages)
    table = _mde(_holm_by_family(table, alpha), power)
    choice = table.groupby(["intermediate_language", "languages"], dropna=False, sort=False)
    table["chosen_on_dev"] = _is_best(table, choice, "en_dev_estimate")
    table["best_on_test"] = _is_best(table, choice, "estimate")
    return table[FUSION_COLUMNS].reset_index(drop=True)


def _is_best(table: pd.DataFrame, family, column: str) -> pd.Series:
    best = family[column].transform(lambda v: v.max() if v.notna().any() else np.nan)
    return (table[column] == best) & best.notna()


def fusion_choice(results: pd.DataFrame, study_dir: str | Path | None = None, selection: str = "en-dev",
                  split: str = "test", dev_split: str = "dev", collapsed: str = "exclude") -> pd.DataFrame:
    """The gain of the layer a researcher would choose, estimated on data the choice did not see.

    One row per (intermediate setting, languages, choice). ``choice`` ``en-dev``: the layer with the
    best gain on English dev, as XTREME chooses (zero-shot); ``oracle``: on the dev sets of the row's
    languages, labelled target-language data (not zero-shot), a separate protocol. ``chosen_layer``
    is the choice over every seed and ``naive_gain`` its plain test estimate: dev and test come from
    the same runs, so it keeps the seed luck that made the layer look best. ``crossfit_gain``: for
    each seed, the layer best on the other seeds' dev, its test gain on this seed, averaged
    (``stats.crossfit_choice``; ``fold_layers`` names each seed's choice), with a 95% interval for
    seeds and test examples (``interval``). ``best_on_test_layer`` and its gain: what choosing on test
    would report. With one seed the cross-fitted gain is "not estimable".
    """
    check_protocol(results, selection, split)
    rows, _ = protocol_rows(results, selection, split, collapsed)
    dev = protocol_rows(results, selection, dev_split, collapsed)[0] if dev_split in set(results.split) else rows.iloc[:0]
    everything = with_collapsed(results)
    everything = everything[(everything.selection == selection) & (everything.split == split)]
    layers = sorted(int(k) for k in rows.fusion_layer.dropna().unique())
    scopes = _languages(everything)
    flagged = everything[everything.collapsed][["run_id", "intermediate_language"]].drop_duplicates()
    out = []
    for setting in dict.fromkeys(everything.intermediate_language.fillna(NONE)):
        n_collapsed = int((flagged.intermediate_language.fillna(NONE) == setting).sum())
        seeds = sorted(set(rows[(rows.setting == setting) & (rows.variant == "baseline")].seed))
        for name, languages in scopes.items():
            for choice, chosen_on in ((EN_DEV, [SOURCE]), (ORACLE, languages)):
                row = {"intermediate_language": None if setting == NONE else setting, "languages": name,
                       "choice": choice, "n_seeds": len(seeds), "n_layers": len(layers), "n_collapsed": n_collapsed,
                       "collapsed_runs": _collapsed_label(collapsed)}
                if not layers or not seeds:
                    out.append({**row, "note": "not estimable with this grid: it needs a fusion layer beside the "
                                               f"baseline variant with intermediate {setting}"})
                    continue
                dev_gain, test_gain = (_gain_matrix(frame, setting, seeds, layers, langs)
                                       for frame, langs in ((dev, chosen_on), (rows, languages)))
                if choice == ORACLE:
                    row["note"] = ("chosen on the dev sets of the row's languages: labelled target-language data, so "
                                   "not zero-shot (XTREME chooses on English dev)")
                if not np.isfinite(dev_gain).any() or not np.isfinite(test_gain).any():
                    out.append({**row, "note": f"not estimable: no {choice} dev gain or no test gain (a dev split "
                                               "or the runs are missing)"})
                    continue
                picked = stats.crossfit_choice(dev_gain, test_gain)
                mean_test = np.nanmean(test_gain, axis=0)
                row.update(chosen_layer=layers[int(picked["chosen"])], naive_gain=float(picked["naive"]),
                           best_on_test_layer=layers[int(np.nanargmax(mean_test))],
                           best_on_test_gain=float(np.nanmax(mean_test)))
                if len(seeds) < 2:
                    out.append({**row, "note": "not estimable with one seed: cross-fitting chooses on the other seeds' "
                                               "dev and estimates on this seed's test; it needs two or more seeds"})
                    continue
                folds = [(s, layers[int(c)], e) for s, c, e in
                         zip(seeds, picked["fold_choice"], picked["fold_estimate"]) if np.isfinite(e)]
                pairs = pd.DataFrame([{"seed": s, "run_id_a": _run(rows, "baseline", setting, s),
                                       "run_id_b": _run(rows, f"d{k}", setting, s)} for s, k, _ in folds])
                result = _paired_interval(rows, pairs, languages, study_dir, selection, split)
                row.update(crossfit_gain=result["estimate"], crossfit_ci_low=result["ci_low"],
                           crossfit_ci_high=result["ci_high"], crossfit_p_value=result["p_value"],
                           interval=result["sources"], fold_layers=", ".join(f"s{s}: {k}" for s, k, _ in folds))
                dropped = len(seeds) - len(folds)
                notes = [row.get("note", "")] + ([f"{dropped} seed(s) without the layer their fold chose"]
                                                  if dropped else [])
                out.append({**row, "note": "; ".join(n for n in notes if n)})
    table = pd.DataFrame(out)
    for column in CHOICE_COLUMNS:
        if column not in table:
            table[column] = np.nan
    return table[CHOICE_COLUMNS].reset_index(drop=True)


def _run(rows: pd.DataFrame, variant: str, setting: str, seed: int) -> str:
    return rows[(rows.variant == variant) & (rows.setting == setting) & (rows.seed == seed)].run_id.iloc[0]


def _gain_matrix(rows: pd.DataFrame, setting: str, seeds: list[int], layers: list[int],
                 languages: list[str]) -> np.ndarray:
    """Seeds x layers: d_k minus the baseline of the same seed, averaged over ``languages`` (NaN where
    a run or a language is missing)."""
    rows = rows[(rows.setting == setting) & rows.language.isin(languages)]
    wide = rows.pivot_table(index=["seed", "language"], columns="variant", values="accuracy")
    if "baseline" not in wide:
        return np.full((len(seeds), len(layers)), np.nan)
    gain = wide.sub(wide["baseline"], axis=0).groupby(level="seed").mean()
    return gain.reindex(index=seeds, columns=[f"d{k}" for k in layers]).to_numpy(dtype=float)


def collapse_rates(results: pd.DataFrame, selection: str = "en-dev") -> pd.DataFrame:
    """How often runs collapsed, per variant and per intermediate setting: ``by, level, runs,
    collapsed, rate`` with an exact (Clopper-Pearson) 95% interval. Collapse is an outcome: a variant or
    language that fails more often is worse in a way its surviving runs' accuracy hides."""
    runs = with_collapsed(results)
    runs = runs[runs.selection == selection][["run_id", "variant", "intermediate_language", "collapsed"]]
    runs = runs.drop_duplicates("run_id").assign(setting=lambda r: r.intermediate_language.fillna(NONE))
    out = []
    for by, column in (("variant", "variant"), ("intermediate", "setting")):
        for level, group in runs.groupby(column, sort=False):
            k, n = int(group.collapsed.sum()), len(group)
            ci = scipy_stats.binomtest(k, n).proportion_ci(method="exact")
            out.append({"by": by, "level": level, "runs": n, "collapsed": k, "rate": k / n,
                        "ci_low": float(ci.low), "ci_high": float(ci.high)})
    return pd.DataFrame(out, columns=["by", "level", "runs", "collapsed", "rate", "ci_low", "ci_high"])
