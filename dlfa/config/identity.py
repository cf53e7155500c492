"""A run's identity: its resolved configuration (every value that determines its result, nothing
that does not) under a schema version, and a hash of it.

A finished run is reused when its recorded configuration, migrated to the current schema, has the
identity of the run the params ask for. Values that change nothing are not part of it: the tiny
model's shape for a pretrained encoder, a warm-up's learning rate without a warm-up, the number of
evaluations per epoch when evaluations come every N steps (``evaluation`` holds the one schedule
that applies).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from dlfa.config.fusion import DLFAConfig
from dlfa.config.grid import Run
from dlfa.config.params import TINY_MODEL, Params, PlantedSharing, TinyModel

SCHEMA = 2
# every value of the params that determines a run's result, whatever the run
TRAINING_KEYS = ("model", "data_source", "drop_placeholders", "target_task", "targets", "data_seed", "train_size",
                 "eval_size", "intermediate_train_size", "max_length", "learning_rate", "train_batch_size",
                 "effective_batch_size", "num_train_epochs", "warmup_ratio", "weight_decay", "adam_beta2",
                 "train_order", "precision", "freeze_word_embeddings", "head_warmup_epochs")
INTERMEDIATE_KEYS = ("intermediate_epochs", "intermediate_learning_rate")  # ... and a run with an intermediate stage's
RUN_KEYS = ("run_id", "variant", "fusion_layer", "intermediate_task", "intermediate_language", "seed")
# Schema 1 (configurations without "schema") left a key out where its value was what every run
# did before the key existed, and kept keys whose value changed nothing.
SCHEMA_1_OMITTED = {"eval_steps": None, "train_order": "length", "precision": "fp32", "head_warmup_epochs": 0.0,
                    "freeze_word_embeddings": False, "target_task": "pawsx", "planted_sharing": None}
SCHEMA_1_WARMUP_RATE = 1e-3  # left out when a warm-up ran at this rate


def evaluation(eval_steps: int | None, evals_per_epoch: int) -> dict[str, int]:
    """The evaluation schedule that applies: every N optimizer steps, or k times an epoch."""
    return {"every_steps": eval_steps} if eval_steps else {"per_epoch": evals_per_epoch}


def resolved_config(params: Params, run: Run) -> dict[str, Any]:
    """Everything that determines ``run``'s result, in JSON types, with the schema version."""
    values = params.to_dict()
    config: dict[str, Any] = {"schema": SCHEMA, **{k: values[k] for k in TRAINING_KEYS}}
    if params.model == TINY_MODEL:
        config["tiny_model"] = asdict(params.tiny_model)
    config["evaluation"] = evaluation(params.eval_steps, params.evals_per_epoch)
    if params.head_warmup_epochs:
        config["head_warmup_learning_rate"] = params.head_warmup_learning_rate
    config["planted_sharing"] = None if params.planted_sharing is None else {
        **asdict(params.planted_sharing), "kind": params.typology_kind, "metric": params.distance_metric}
    if run.intermediate_language:
        config.update({k: values[k] for k in INTERMEDIATE_KEYS}, intermediate_source=params.intermediate_from)
    config["fusion"] = run.fusion.options if run.fusion_layer is not None else None
    config.update({k: getattr(run, k) for k in RUN_KEYS})
    return json.loads(json.dumps(config))


def migrate(config: dict[str, Any]) -> dict[str, Any]:
    """A recorded configuration in the current schema (a schema-1 one completed and resolved)."""
    if config.get("schema") == SCHEMA:
        return config
    c = {**SCHEMA_1_OMITTED, **config}
    if c["model"] == TINY_MODEL:
        c["tiny_model"] = {**asdict(TinyModel()), **c.get("tiny_model", {})}
    else:
        c.pop("tiny_model", None)
    c["evaluation"] = evaluation(c.pop("eval_steps"), c.pop("evals_per_epoch"))
    if c["head_warmup_epochs"]:
        c.setdefault("head_warmup_learning_rate", SCHEMA_1_WARMUP_RATE)
    else:
        c.pop("head_warmup_learning_rate", None)
    if c["planted_sharing"] is not None:
        c["planted_sharing"] = {**asdict(PlantedSharing()), **c["planted_sharing"]}
    c["fusion"] = {**DLFAConfig().options, **c.get("fusion", {})} if c.get("fusion_layer") is not None else None
    return json.loads(json.dumps({**c, "schema": SCHEMA}))


def identity(config: dict[str, Any]) -> str:
    """The hash of a configuration in the current schema (recorded ones are migrated first)."""
    canonical = json.dumps(migrate(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def same_run(recorded: dict[str, Any] | None, config: dict[str, Any]) -> bool:
    """Whether a recorded configuration (any schema) is the run ``config`` describes."""
    return recorded is not None and identity(recorded) == identity(config)
