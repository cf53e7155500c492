"""dlfa.config.runs: run folders as records."""

import numpy as np


def test_the_runs_table_says_when_an_intermediate_stage_learnt_nothing():
    from dlfa.analysis.per_run import collapse
    from dlfa.config.runs import intermediate_unlearnt
    gold = np.array([0] * 66 + [1] * 34)
    unlearnt = collapse(np.zeros(100, int), gold, what="intermediate stage: hi dev")  # the rule of a run's collapse
    assert unlearnt["reason"] == ("100.0% of intermediate stage: hi dev predictions are one class; intermediate "
                                  "stage: hi dev accuracy 0.660 is within 1% of the majority share 0.660")
    run = lambda record: {"stages": [{"stage": "intermediate", "dev_collapse": record},  # noqa: E731
                                     {"stage": "pawsx-en"}]}
    assert intermediate_unlearnt(run(unlearnt)) == unlearnt["reason"]
    assert intermediate_unlearnt(run(collapse(gold, gold))) == ""  # it learnt
    assert intermediate_unlearnt({"stages": [{"stage": "pawsx-en"}]}) == ""  # no intermediate stage
    assert intermediate_unlearnt(run(None)) == ""  # a source without a validation split
