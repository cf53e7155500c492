"""The study's answers, as functions of its tidy tables (``results.csv``, ``typology/distances.csv``)
and, where the runs wrote them, their example-level predictions.

One concept, the analysis of the two questions (hence its length). Every method, null and
calibration is in ``docs/statistics.md``.

Question 1, typology (:func:`typology_effect`). The gain of intermediate language L on target T is
acc(run with L, T) - acc(run without, T), same variant and seed. Every intermediate run is evaluated
on every target, so the gains form a crossed L x T table. The unit is the (L, T) cell, seeds
averaged: the variant x seed repeats of one cell are not extra observations. A target's headroom
and a language's overall usefulness are removed as fixed effects, and the question is whether what
remains depends on the distance d(L, T):

    gain(L, T) = mu + a(L) + b(T) + slope * d(L, T) + e(L, T)        (on the cell means)

Cells whose intermediate language is the target (es -> es) are left out: an in-language
intermediate task is another treatment, at distance 0, and with high leverage a same-language
bonus alone would read as a slope. Their contrast with the other cells is a row of its own. With
predictions the slope's variance counts the test examples the runs share (runs from close
languages err on the same pairs: ``stats.slope_tests_with_examples``); without, it is OLS's.

Question 2, DLFA (:func:`fusion_effect`, :func:`fusion_choice`). Per fusion layer and intermediate
setting: the mean gain over the plain variant of the same seed, averaged over languages, with an
interval for both the training seed and the finite test set (``stats.crossed_mean``), and the
gain on English dev, the only data a zero-shot researcher may choose a layer on. The chosen
layer's own test estimate keeps the luck that made it look best (dev and test come from the same
runs); :func:`fusion_choice` estimates it cross-fitted over seeds.

Families. The primary answer to each question is one declared test: question 1, the baseline
variant at the study's distance kind and metric; question 2, the confirmatory layer (or, without
one, the family of layers, Holm across them), no intermediate task, zero-shot languages. Every other
row is exploratory, labelled so in ``family``, with Holm within its family.

Runs flagged ``collapsed`` (they learnt nothing) are left out of every effect by default and
counted in each row that loses them (``n_collapsed``); ``collapsed="include"`` counts them at their
measured accuracy instead (the sensitivity analysis: failure is an outcome too). Tables with only
the contract's columns (no ``collapsed`` column) are taken as having no collapsed run.
"""

from dlfa.analysis.accuracy import (PAIRED_COLUMNS, PRIMARY_COLUMNS, accuracy_table, paired_tests, primary_rows,
                                    setting_label)
# The package's face: the public names of its parts (common, typology_slope, fusion_gain, accuracy).
from dlfa.analysis.common import (ALL, CHOICE_COLUMNS, COLLAPSED_CHOICES, COUNTED, EN_DEV, EXAMPLES_METHOD,
                                  FUSION_COLUMNS, LEFT_OUT, LEFT_OUT_SAME, NONE, OLS_METHOD, ORACLE, PRIMARY,
                                  SAME_LANGUAGE, SOURCE, TYPOLOGY_COLUMNS, ZERO_SHOT, check_protocol, collapsed_runs,
                                  protocol_rows, with_collapsed)
from dlfa.analysis.fusion_gain import collapse_rates, compare, fusion_choice, fusion_effect
from dlfa.analysis.typology_slope import cell_gains, seed_gains, typology_effect

__all__ = [
    "ALL", "CHOICE_COLUMNS", "COLLAPSED_CHOICES", "COUNTED", "EN_DEV", "EXAMPLES_METHOD", "FUSION_COLUMNS",
    "LEFT_OUT", "LEFT_OUT_SAME", "NONE", "OLS_METHOD", "ORACLE", "PAIRED_COLUMNS", "PRIMARY",
    "PRIMARY_COLUMNS", "SAME_LANGUAGE", "SOURCE", "TYPOLOGY_COLUMNS", "ZERO_SHOT", "accuracy_table",
    "cell_gains", "check_protocol", "collapse_rates", "collapsed_runs", "compare", "fusion_choice",
    "fusion_effect", "paired_tests", "primary_rows", "protocol_rows", "seed_gains", "setting_label",
    "typology_effect", "with_collapsed"]
