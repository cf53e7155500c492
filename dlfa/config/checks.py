"""Checks of one params value each (the problem, or None; ``key`` names the key for the message),
the small typed sections a params file may hold (``tiny_model``, ``planted_sharing``,
``noise_priors``), the names a study may choose from, and ``ParamsError``."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Callable, NamedTuple

from dlfa.checkpoints import PACKAGE_PREFIX, local_model
from dlfa.config.fusion import DLFAConfig
from dlfa.config.tasks import INTERMEDIATE, TARGET
from dlfa.paths import resolve

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


class PlantedSpec(NamedTuple):
    """``planted_sharing`` as the synthetic corpus reads it: the distance (kind, metric) the sharing
    follows and the ``PlantedSharing`` values (hashable: corpora are cached by it)."""

    kind: str
    metric: str
    rate: float
    permuted: bool
    seed: int
    english_share: float | None
    crosslingual_share: float


class ParamsError(ValueError):
    """A params file that cannot run; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: " + ("\n  ".join(["invalid parameters:"] + problems)))


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def one_of(*allowed) -> Callable:
    return lambda key, v: None if v in allowed else f"'{key}' must be one of {list(allowed)}; got {v!r}"


def boolean(key, v):
    return None if isinstance(v, bool) else f"'{key}' must be true or false; got {v!r}"


def integer(minimum: int, maximum: int | None = None, optional: bool = False) -> Callable:
    def check(key, v):
        if optional and v is None:
            return None
        if is_int(v) and v >= minimum and (maximum is None or v <= maximum):
            return None
        if maximum is not None:
            return f"'{key}' must be an integer in {minimum}..{maximum}; got {v!r}"
        return (f"'{key}' must be null (everything) or an integer >= {minimum}; got {v!r}" if optional
                else f"'{key}' must be an integer >= {minimum}; got {v!r}")
    return check


def number(low: float, high: float | None = None, low_open: bool = True, high_open: bool = True) -> Callable:
    def check(key, v):
        if is_number(v) and (v > low if low_open else v >= low) and (high is None or v < high):
            return None
        if high is None:
            return f"'{key}' must be a number {'>' if low_open else '>='} {low:g}; got {v!r}"
        return f"'{key}' must be a number in {'(' if low_open else '['}{low:g}, {high:g}); got {v!r}"
    return check


def folder_name(key, v):
    if isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
        return None
    return f"'{key}' must be a folder name of letters, digits, '_', '.', '-'; got {v!r}"


def text(key, v):
    return None if isinstance(v, str) else f"'{key}' must be a string"


def model(key, v):
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


def data_source(key, v):
    if v in ("synthetic", "hub") or (isinstance(v, str) and (resolve(v) / "en").is_dir()):
        return None
    return (f"'{key}' must be 'synthetic', 'hub' or a directory laid out like PAWS-X's x-final release "
            f"(with an en/ folder); got {v!r}")


def intermediate_source(key, v):
    if v is None or v in ("synthetic", "hub") or (isinstance(v, str) and resolve(v).is_dir()):
        return None
    return (f"'{key}' must be null (follow data_source), 'synthetic', 'hub' or an existing directory of the "
            f"intermediate task's files; got {v!r}")


def optional_task(key, v):
    return None if v is None or v in INTERMEDIATE_TASKS else \
        f"'{key}' must be null or one of {sorted(INTERMEDIATE_TASKS)}; got {v!r}"


def language_list(key, value, allowed, empty_ok=False) -> list[str]:
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


def targets(key, v, target_task="pawsx"):
    """Codes of the target task's languages other than English (``target_task``: the key's value, when valid)."""
    task = TARGET.get(target_task, TARGET["pawsx"])
    return language_list(key, v, tuple(lang for lang in task.languages if lang != "en"))


targets.reads = "target_task"  # validate passes that key's value too


def confirmatory_layer(key, v):
    if v is None or (is_int(v) and v >= 1):
        return None
    return f"'{key}' must be null (every fused layer, Holm across them) or one fused layer number (>= 1); got {v!r}"


def seeds(key, v):
    ok = isinstance(v, (list, tuple)) and v and all(is_int(s) for s in v) and len(set(v)) == len(v)
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

def tiny_model(key, v):
    names = [f.name for f in fields(TinyModel)]
    if not (isinstance(v, dict) and not set(v) - set(names)
            and all(is_int(x) and (x > 0 or (k == "mlm_epochs" and x == 0)) for k, x in v.items())):
        return f"'{key}' must map some of {sorted(names)} to positive integers (mlm_epochs: 0 or more); got {v!r}"
    shape = TinyModel(**v)
    return None if shape.hidden_size % shape.num_heads == 0 else \
        f"'{key}': hidden_size must be divisible by num_heads"


@dataclass(frozen=True)
class PlantedSharing:
    """A synthetic corpus with a known typology effect (``dlfa.data.lexicon.cognate_spellings``): the
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

def planted_sharing(key, v):
    if v is None:
        return None
    names = [f.name for f in fields(PlantedSharing)]
    if not isinstance(v, dict) or set(v) - set(names):
        return f"'{key}' must be null or a mapping of some of {names}; got {v!r}"
    value = PlantedSharing(**v)
    if not (is_number(value.rate) and value.rate > 0) or not isinstance(value.permuted, bool) \
            or not (is_int(value.seed) and value.seed >= 0) \
            or not (value.english_share is None or (is_number(value.english_share) and 0 <= value.english_share <= 1)) \
            or not (is_number(value.crosslingual_share) and 0 <= value.crosslingual_share <= 1):
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


def noise_priors(key, v):
    names = [f.name for f in fields(NoisePriors)]
    if not isinstance(v, dict) or set(v) - set(names):
        return f"'{key}' must be a mapping of some of {names}; got {v!r}"
    bad = [k for k, x in v.items() if k != "source" and not (is_number(x) and x > 0)]
    if bad:
        return f"'{key}': {', '.join(bad)} must be > 0 (accuracy units: 0.01 = one point); got {v!r}"
    if not isinstance(v.get("source", ""), str):
        return f"'{key}': source must be a string (where the values come from); got {v.get('source')!r}"
    return None


def fusion(key, v):
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
