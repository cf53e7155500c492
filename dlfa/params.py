"""Study parameter files: defaults, validation, and the grid of runs they describe.

A params file is YAML with the keys of ``DEFAULTS`` (missing keys take the default). Everything is
checked before anything runs; every problem is reported at once, naming the key and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .paths import resolve
from .tasks import INTERMEDIATE, PAWSX, PAWSX_LANGUAGES, Task

INTERMEDIATE_TASKS = {name: task.languages for name, task in INTERMEDIATE.items()}  # task -> its languages
TINY_MODEL = "tiny"  # a small random BERT + a WordPiece tokenizer trained on the study's data
KNOWN_LAYERS = {"bert-base-multilingual-cased": 12, "bert-base-multilingual-uncased": 12}
TYPOLOGY_KINDS = ("syntactic", "phonological", "inventory", "featural", "genetic", "geographic")
STRATEGIES = ("extremes", "quantiles", "all")

DEFAULTS: dict[str, Any] = {
    "study": "smoke",
    "description": "",
    "model": TINY_MODEL,
    "tiny_model": {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128,
                   "vocab_size": 1000},
    "data_source": "synthetic",
    "intermediate_source": None,
    "drop_placeholders": False,
    "targets": ["de", "es", "fr", "ja", "ko", "zh"],
    "intermediate_task": "xnli",
    "candidate_languages": list(INTERMEDIATE_TASKS["xnli"]),
    "intermediate_languages": "typology",
    "typology_kind": "syntactic",
    "selection_strategy": "extremes",
    "selection_budget": None,
    "distance_metric": "cosine",
    "fusion_layers": [None],
    "seeds": [1],
    "data_seed": 0,
    "train_size": None,
    "eval_size": None,
    "intermediate_train_size": None,
    "max_length": 128,
    "learning_rate": 2e-5,
    "train_batch_size": 32,
    "effective_batch_size": 32,
    "eval_batch_size": 128,
    "num_train_epochs": 5.0,
    "warmup_ratio": 0.1,
    "weight_decay": 0.0,
    "adam_beta2": 0.999,
    "evals_per_epoch": 1,
    "intermediate_epochs": 2.0,
    "intermediate_learning_rate": 2e-5,
    "keep_checkpoints": False,
    "gpus_per_run": 1,
}
GRID_KEYS = {"fusion_layers": "fusion_layer", "seeds": "seed"}  # expanded by the pipeline into runs


class ParamsError(ValueError):
    """A params file that cannot run; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: " + ("\n  ".join(["invalid parameters:"] + problems)))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _languages(value: Any, allowed: tuple[str, ...], key: str, problems: list[str], empty_ok=False) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"'{key}' must be a list of language codes from {list(allowed)}; got {value!r}")
        return
    bad = [v for v in value if v not in allowed]
    if bad:
        problems.append(f"'{key}' has unknown language code(s) {bad}; allowed: {list(allowed)}")
    if not value and not empty_ok:
        problems.append(f"'{key}' must not be empty; choose from {list(allowed)}")
    if len(set(value)) != len(value):
        problems.append(f"'{key}' lists a language twice: {value}")


def intermediate_source(params: dict) -> str:
    """Where the intermediate task is read from: ``intermediate_source``, or else ``data_source`` when
    that is 'hub' or 'synthetic' or when the task is PAWS-X translate-train (the x-final folder holds
    it); otherwise (XNLI beside a local PAWS-X folder) the hub."""
    if params["intermediate_source"] is not None:
        return params["intermediate_source"]
    if params["data_source"] in ("hub", "synthetic") or params["intermediate_task"] == "pawsx_tt":
        return params["data_source"]
    return "hub"


def missing_local_files(task: Task, directory: str, needs: list[tuple[str, str]]) -> list[str]:
    """For each (language, split) of ``needs`` with no file in ``directory``, the file expected first."""
    root = resolve(directory)
    return [task.local_files(lang, split)[0] for lang, split in needs
            if not any((root / f).is_file() for f in task.local_files(lang, split))]


def _check_local_files(p: dict, problems: list[str]) -> None:
    """Local data must hold every file the study will read, before anything runs."""
    if p["data_source"] not in ("synthetic", "hub"):
        needs = [("en", "train")] + [(lang, split) for lang in ["en"] + p["targets"] for split in ("validation", "test")]
        missing = missing_local_files(PAWSX, p["data_source"], needs)
        if missing:
            problems.append(f"'data_source' {p['data_source']} lacks {', '.join(missing)} "
                            f"(or <lang>/<split>.parquet|tsv|csv; split: train, validation, test)")
    task = p["intermediate_task"]
    source = intermediate_source(p)
    if task is not None and source not in ("synthetic", "hub"):
        languages = p["intermediate_languages"] if isinstance(p["intermediate_languages"], list) \
            else p["candidate_languages"]  # typology chooses among them: each may be needed
        missing = missing_local_files(INTERMEDIATE[task], source, [(lang, "train") for lang in languages])
        if missing:
            problems.append(f"the intermediate task's source {source} lacks {INTERMEDIATE[task].title} files "
                            f"{', '.join(missing)} (or <lang>/train.parquet|tsv|csv); set 'intermediate_source'")


def num_layers(params: dict) -> int | None:
    """Encoder depth, where it can be known without loading the model."""
    if params["model"] == TINY_MODEL:
        return params["tiny_model"].get("num_layers")
    if params["model"] in KNOWN_LAYERS:
        return KNOWN_LAYERS[params["model"]]
    config = resolve(params["model"]) / "config.json"
    if config.is_file():
        return yaml.safe_load(config.read_text()).get("num_hidden_layers")
    return None


def validate(raw: Any, source: str = "params") -> dict[str, Any]:
    """Return the complete parameter dict, or raise ParamsError naming every problem."""
    if not isinstance(raw, dict):
        raise ParamsError(source, [f"the file must hold a YAML mapping of keys to values; got {type(raw).__name__}"])
    problems: list[str] = []
    unknown = sorted(set(raw) - set(DEFAULTS))
    for key in unknown:
        close = difflib.get_close_matches(key, DEFAULTS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.append(f"unknown key '{key}'{hint}; allowed keys: {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **{k: v for k, v in raw.items() if k in DEFAULTS}}

    if not isinstance(p["study"], str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", p["study"]):
        problems.append(f"'study' must be a folder name of letters, digits, '_', '.', '-'; got {p['study']!r}")
    if not isinstance(p["description"], str):
        problems.append("'description' must be a string")
    if not isinstance(p["model"], str) or not p["model"]:
        problems.append(f"'model' must be '{TINY_MODEL}', a hub id or a local directory; got {p['model']!r}")
    tiny_keys = set(DEFAULTS["tiny_model"])
    tiny_ok = isinstance(p["tiny_model"], dict) and not set(p["tiny_model"]) - tiny_keys and \
        all(_is_int(v) and v > 0 for v in p["tiny_model"].values())
    if not tiny_ok:
        problems.append(f"'tiny_model' must map some of {sorted(tiny_keys)} to positive integers; "
                        f"got {p['tiny_model']!r}")
    else:
        p["tiny_model"] = {**DEFAULTS["tiny_model"], **p["tiny_model"]}
        t = p["tiny_model"]
        if t["hidden_size"] % t["num_heads"]:
            problems.append("'tiny_model': hidden_size must be divisible by num_heads")

    source_value = p["data_source"]
    if source_value not in ("synthetic", "hub"):
        if not isinstance(source_value, str) or not (resolve(source_value) / "en").is_dir():
            problems.append(f"'data_source' must be 'synthetic', 'hub' or a directory laid out like "
                            f"PAWS-X's x-final release (with an en/ folder); got {source_value!r}")
    inter_source = p["intermediate_source"]
    if inter_source is not None and inter_source not in ("synthetic", "hub") and \
            not (isinstance(inter_source, str) and resolve(inter_source).is_dir()):
        problems.append(f"'intermediate_source' must be null (follow data_source), 'synthetic', 'hub' or an "
                        f"existing directory of the intermediate task's files; got {inter_source!r}")
    if not isinstance(p["drop_placeholders"], bool):
        problems.append(f"'drop_placeholders' must be true or false; got {p['drop_placeholders']!r}")
    _languages(p["targets"], PAWSX_LANGUAGES[1:], "targets", problems)

    task = p["intermediate_task"]
    if task is not None and task not in INTERMEDIATE_TASKS:
        problems.append(f"'intermediate_task' must be null or one of {sorted(INTERMEDIATE_TASKS)}; got {task!r}")
    task_langs = INTERMEDIATE_TASKS.get(task, ())
    if task is not None:
        _languages(p["candidate_languages"], task_langs, "candidate_languages", problems)
        chosen = p["intermediate_languages"]
        if chosen != "typology":
            if isinstance(chosen, list):
                _languages(chosen, tuple(p["candidate_languages"] or ()), "intermediate_languages", problems)
            else:
                problems.append("'intermediate_languages' must be 'typology' (chosen by the typology stage) "
                                f"or a list of candidate languages; got {chosen!r}")
    if p["typology_kind"] not in TYPOLOGY_KINDS:
        problems.append(f"'typology_kind' must be one of {list(TYPOLOGY_KINDS)}; got {p['typology_kind']!r}")
    if p["selection_strategy"] not in STRATEGIES:
        problems.append(f"'selection_strategy' must be one of {list(STRATEGIES)}; got {p['selection_strategy']!r}")
    if p["selection_budget"] is not None and not (_is_int(p["selection_budget"]) and p["selection_budget"] >= 1):
        problems.append(f"'selection_budget' must be null or an integer >= 1; got {p['selection_budget']!r}")
    if p["distance_metric"] not in ("cosine", "angular"):
        problems.append(f"'distance_metric' must be 'cosine' or 'angular'; got {p['distance_metric']!r}")

    layers = num_layers(p) if tiny_ok else None
    fl = p["fusion_layers"]
    allowed_layers = f"1..{layers - 1}" if layers else "positive integers below the encoder's depth"
    if not isinstance(fl, list) or not fl:
        problems.append(f"'fusion_layers' must be a non-empty list of null (baseline) and layer numbers "
                        f"in {allowed_layers}; got {fl!r}")
    else:
        bad = [v for v in fl if v is not None and not (_is_int(v) and v >= 1 and (layers is None or v < layers))]
        if bad:
            problems.append(f"'fusion_layers' has {bad}: allowed are null (baseline) and {allowed_layers}")
        if len(set(fl)) != len(fl):
            problems.append(f"'fusion_layers' lists a layer twice: {fl}")
    if not isinstance(p["seeds"], list) or not p["seeds"] or not all(_is_int(s) for s in p["seeds"]) \
            or len(set(p["seeds"])) != len(p["seeds"]):
        problems.append(f"'seeds' must be a non-empty list of distinct integers; got {p['seeds']!r}")

    positive_ints = ["train_batch_size", "effective_batch_size", "eval_batch_size", "evals_per_epoch"]
    for key in positive_ints + ["data_seed"]:
        if not _is_int(p[key]) or p[key] < (0 if key == "data_seed" else 1):
            problems.append(f"'{key}' must be an integer >= {0 if key == 'data_seed' else 1}; got {p[key]!r}")
    for key in ("train_size", "eval_size", "intermediate_train_size"):
        if p[key] is not None and not (_is_int(p[key]) and p[key] >= 1):
            problems.append(f"'{key}' must be null (everything) or an integer >= 1; got {p[key]!r}")
    if not _is_int(p["max_length"]) or not 8 <= p["max_length"] <= 512:
        problems.append(f"'max_length' must be an integer in 8..512; got {p['max_length']!r}")
    for key in ("learning_rate", "intermediate_learning_rate", "num_train_epochs", "intermediate_epochs"):
        if not _is_number(p[key]) or p[key] <= 0:
            problems.append(f"'{key}' must be a number > 0; got {p[key]!r}")
    if not _is_number(p["warmup_ratio"]) or not 0 <= p["warmup_ratio"] < 1:
        problems.append(f"'warmup_ratio' must be a number in [0, 1); got {p['warmup_ratio']!r}")
    if not _is_number(p["adam_beta2"]) or not 0 < p["adam_beta2"] < 1:
        problems.append(f"'adam_beta2' must be a number in (0, 1); got {p['adam_beta2']!r}")
    if not isinstance(p["keep_checkpoints"], bool):
        problems.append(f"'keep_checkpoints' must be true or false; got {p['keep_checkpoints']!r}")
    if not _is_int(p["gpus_per_run"]) or p["gpus_per_run"] < 1:
        problems.append(f"'gpus_per_run' must be an integer >= 1; got {p['gpus_per_run']!r}")
    if not _is_number(p["weight_decay"]) or p["weight_decay"] < 0:
        problems.append(f"'weight_decay' must be a number >= 0; got {p['weight_decay']!r}")
    gpus = p["gpus_per_run"] if _is_int(p["gpus_per_run"]) and p["gpus_per_run"] >= 1 else 1
    if _is_int(p["effective_batch_size"]) and _is_int(p["train_batch_size"]) and p["train_batch_size"] > 0 \
            and p["effective_batch_size"] % (p["train_batch_size"] * gpus):
        per_step = f"'train_batch_size' ({p['train_batch_size']})" + (
            f" x 'gpus_per_run' ({gpus})" if gpus > 1 else "")
        problems.append(f"'effective_batch_size' ({p['effective_batch_size']}) must be a multiple of {per_step}: "
                        "the rest is gradient accumulation")
    if not problems:  # the files are checked once the keys naming them are known to be sound
        _check_local_files(p, problems)
    if problems:
        raise ParamsError(source, problems)
    return p


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a params file; ParamsError names the file and every problem."""
    path = resolve(path)
    if not path.is_file():
        raise ParamsError(str(path), ["no such file; the shipped ones are in params/ (e.g. params/smoke.yaml)"])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ParamsError(str(path), [f"not valid YAML: {err}"]) from None
    return validate(raw, str(path))


@dataclass(frozen=True)
class Run:
    """One point of the grid: variant x intermediate (task, language or none) x seed."""

    fusion_layer: int | None
    intermediate_task: str | None
    intermediate_language: str | None
    seed: int

    @property
    def variant(self) -> str:
        return "baseline" if self.fusion_layer is None else f"d{self.fusion_layer}"

    @property
    def intermediate(self) -> str:
        return "none" if self.intermediate_language is None else f"{self.intermediate_task}-{self.intermediate_language}"

    @property
    def run_id(self) -> str:
        return f"{self.variant}__{self.intermediate}__s{self.seed}"

    @classmethod
    def parse(cls, run_id: str) -> "Run":
        """The run named ``run_id`` (``baseline|d<k>__none|<task>-<lang>__s<seed>``)."""
        match = re.fullmatch(r"(baseline|d(\d+))__(none|([a-z_]+)-([a-z]+))__s(\d+)", run_id)
        if not match:
            raise ValueError(f"not a run id: {run_id!r}; expected e.g. 'baseline__none__s1' or 'd6__xnli-de__s2'")
        layer, task, language, seed = match.group(2), match.group(4), match.group(5), match.group(6)
        return cls(int(layer) if layer else None, task, language, int(seed))


def grid(params: dict[str, Any], intermediate_languages: list[str]) -> list[Run]:
    """Every run: no intermediate task plus one per intermediate language, for each variant and seed."""
    task = params["intermediate_task"]
    inters: list[str | None] = [None] + (list(intermediate_languages) if task else [])
    return [Run(layer, task if lang else None, lang, seed)
            for seed in params["seeds"] for lang in inters for layer in params["fusion_layers"]]
