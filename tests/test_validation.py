"""``make validate``'s controls (dlfa.orchestration.validation): the two designs, the planted dose and the verdicts."""

import numpy as np
import pandas as pd
import pytest

from dlfa.config.profiles import load
from dlfa.orchestration import validation
from dlfa.paths import ROOT


def test_the_null_control_is_the_positive_control_with_the_sharing_permuted():
    positive, null = (load(ROOT / f).to_dict() for f in validation.CONTROLS.values())
    assert positive["planted_sharing"]["permuted"] is False and null["planted_sharing"]["permuted"] is True
    differ = {k for k in positive if positive[k] != null[k]}
    assert differ == {"study", "description", "planted_sharing"}
    assert {k for k, v in positive["planted_sharing"].items() if null["planted_sharing"][k] != v} == {"permuted"}


def test_the_planted_dose_follows_distance_in_the_positive_control_only():
    from scipy.stats import spearmanr
    positive, null = (validation.planted_dose_response(f) for f in validation.CONTROLS.values())
    assert len(positive) == len(null) == 48  # 8 intermediate languages x 6 targets
    assert np.allclose(positive.expected, np.exp(-3.5 * positive.distance)) and null.expected.isna().all()
    assert spearmanr(positive.distance, positive.shared_spellings).statistic < -0.4  # -0.51: the tree, 190 draws
    assert abs(spearmanr(null.distance, null.shared_spellings).statistic) < 0.3
    # The same amount of sharing, assigned to other pairs (the permutation keeps the values).
    assert abs(positive.shared_spellings.mean() - null.shared_spellings.mean()) < 0.1


def _row(estimate, low, high, p):
    # the primary row: a family of one test, so its Holm p is its p
    return pd.Series({"estimate": estimate, "ci_low": low, "ci_high": high, "p_holm": p, "note": "",
                      "p_value": p, "n_cells": 48, "mde_80": 0.2, "family": "primary"})


@pytest.mark.parametrize("name,row,ok,words", [
    ("positive", _row(-0.3, -0.4, -0.2, 0.001), True, "recovered"),
    ("positive", _row(-0.3, -0.4, 0.05, 0.07), False, "NOT recovered"),
    ("positive", _row(0.3, 0.2, 0.4, 0.001), False, "NOT recovered"),  # significant, the wrong sign
    ("positive", _row(-0.3, -0.4, -0.2, 0.06), False, "NOT recovered"),  # p too large
    ("null", _row(0.05, -0.1, 0.2, 0.8), True, "silent"),
    ("null", _row(-0.3, -0.4, -0.2, 0.001), False, "FALSE POSITIVE"),
])
def test_verdicts(name, row, ok, words):
    got, text = validation.verdict(name, row)
    assert got is ok and text.startswith(words)


def test_a_design_that_cannot_answer_is_not_a_verdict():
    row = _row(float("nan"), float("nan"), float("nan"), float("nan"))
    row["note"] = "one intermediate language left"
    assert validation.verdict("positive", row) == (False, "not estimable: one intermediate language left")
    assert validation.verdict("null", row)[0] is False


def test_the_page_keeps_its_hand_written_part_and_replaces_the_generated_one(tmp_path):
    doc = tmp_path / "validation.md"
    doc.write_text("# Validation\n\nHand-written.\n")
    table = pd.DataFrame([{"variant": "baseline", "kind": "syntactic", "metric": "cosine", "family": "primary",
                           "estimate": -0.3, "ci_low": -0.42, "ci_high": -0.17, "p_value": 2.8e-5, "p_holm": 2.8e-5,
                           "n_cells": 48, "mde_80": 0.228}])
    dose = pd.DataFrame({"distance": [0.1, 0.3, 0.5], "shared_spellings": [0.7, 0.4, 0.2],
                         "expected": np.exp(-3.5 * np.array([0.1, 0.3, 0.5]))})
    result = {"name": "positive", "params": "params/control.yaml", "study": tmp_path / "control", "wall_s": 720.0,
              "row": table.iloc[0], "table": table, "dose": dose, "runs": 9, "reused": 0}
    for _ in range(2):
        validation.write_page([result], str(doc))
    text = doc.read_text()
    assert text.startswith("# Validation\n\nHand-written.\n") and text.count(validation.MARKERS[0]) == 1
    assert "| -3.00 | [-4.20, -1.70] |" in text and "recovered" in text and "12.0 min" in text
