"""A run's identity: the resolved configuration, its schema and hash, and the migration that keeps
the runs recorded before it recognised."""

import dataclasses

import pytest

from conftest import tiny_params
from dlfa.config.grid import grid
from dlfa.config.identity import SCHEMA, identity, migrate, same_run
from dlfa.config.profiles import load
from dlfa.config.runs import run_config
from dlfa.paths import PARAMS

# What the smoke and control profiles' runs recorded as their configuration before the schema had a
# version (the metrics.json of `make study` and `make validate`), taken as they were written.
SMOKE_D1_TR = {
    "model": "tiny", "tiny_model": {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128,
                                    "vocab_size": 1000},
    "data_source": "synthetic", "drop_placeholders": False, "targets": ["de", "es", "fr", "ja", "ko", "zh"],
    "data_seed": 0, "train_size": 12000, "eval_size": 400, "intermediate_train_size": 3000, "max_length": 64,
    "learning_rate": 0.001, "train_batch_size": 32, "effective_batch_size": 32, "num_train_epochs": 4.0,
    "warmup_ratio": 0.05, "weight_decay": 0.0, "adam_beta2": 0.98, "evals_per_epoch": 2, "intermediate_epochs": 2.0,
    "intermediate_learning_rate": 0.001, "intermediate_source": "synthetic", "run_id": "d1__xnli-tr__s1",
    "variant": "d1", "fusion_layer": 1, "intermediate_task": "xnli", "intermediate_language": "tr", "seed": 1}
CONTROL_BASELINE = {
    "model": "tiny", "tiny_model": {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128,
                                    "vocab_size": 2000},
    "data_source": "synthetic", "drop_placeholders": False, "targets": ["de", "es", "fr", "ja", "ko", "zh"],
    "data_seed": 0, "train_size": 10000, "eval_size": 500, "intermediate_train_size": 8000, "max_length": 64,
    "learning_rate": 0.0005, "train_batch_size": 32, "effective_batch_size": 32, "num_train_epochs": 4.0,
    "warmup_ratio": 0.2, "weight_decay": 0.0, "adam_beta2": 0.98, "evals_per_epoch": 1,
    "planted_sharing": {"rate": 3.5, "permuted": False, "seed": 0, "english_share": 0.1, "crosslingual_share": 0.5,
                        "kind": "syntactic", "metric": "cosine"},
    "run_id": "baseline__none__s1", "variant": "baseline", "fusion_layer": None, "intermediate_task": None,
    "intermediate_language": None, "seed": 1}


@pytest.mark.parametrize("profile, recorded", [("smoke", SMOKE_D1_TR), ("control", CONTROL_BASELINE)])
def test_runs_recorded_before_the_schema_are_recognised(profile, recorded):
    params = load(PARAMS / f"{profile}.yaml")
    run = next(r for r in grid(params, ["tr"]) if r.run_id == recorded["run_id"])
    current = run_config(params, run)
    assert current["schema"] == SCHEMA and "schema" not in recorded
    assert migrate(recorded) == current and same_run(recorded, current)
    assert not same_run({**recorded, "learning_rate": 0.002}, current)  # a changed value is another run


def test_values_that_change_nothing_are_not_part_of_the_identity():
    base = tiny_params(eval_steps=50)
    run = grid(base, [])[0]
    same = identity(run_config(base, run))
    assert identity(run_config(dataclasses.replace(base, evals_per_epoch=7), run)) == same  # eval_steps rules
    assert identity(run_config(dataclasses.replace(base, head_warmup_learning_rate=0.5), run)) == same  # no warm-up
    assert identity(run_config(dataclasses.replace(base, noise_priors=dataclasses.replace(
        base.noise_priors, seed_sd=0.05)), run)) == same  # plans the statistics, trains nothing
    assert run_config(base, run)["evaluation"] == {"every_steps": 50}
    assert run_config(tiny_params(), run)["evaluation"] == {"per_epoch": tiny_params().evals_per_epoch}


def test_values_that_change_the_result_change_the_identity():
    base = tiny_params(fusion_layers=[None, 1])
    baseline, fused = grid(base, [])[:2]
    same = identity(run_config(base, fused))
    for change in ({"learning_rate": 0.01}, {"eval_steps": 10}, {"train_order": "length"}, {"max_length": 32},
                   {"head_warmup_epochs": 1.0}):
        assert identity(run_config(dataclasses.replace(base, **change), fused)) != same, change
    options = tiny_params(fusion_layers=[None, 1], fusion={"reduction": 8})
    assert run_config(options, grid(options, [])[1])["fusion"]["reduction"] == 8
    assert run_config(base, baseline)["fusion"] is None and identity(run_config(base, baseline)) != same
