"""PAWS-X and intermediate-task corpora: from the hub, from local files, or synthetic, with the
row policy and label-stratified subsets (``dlfa.data.tokenization`` tokenizes and caches them).

Every loader returns a ``datasets.Dataset`` with columns ``id, sentence1, sentence2, label``
(XNLI's premise/hypothesis become sentence1/sentence2, so one tokenization serves every task).

Row policy, the same for every source and counted in ``data/stats.csv``:

- Every row of the official files is kept by default, as the published numbers use them. That
  includes the placeholder rows of the translated files, where a translator wrote ``NS`` (or a
  stray ``ns`` or ``WL``) instead of a sentence; they are all labelled 0. ``drop_placeholders=True``
  drops them.
- Rows labelled -1 (the hub's marker of a missing or wrong label) are always dropped.

Official TSV files are read with quoting disabled: they contain literal ``"`` characters, which
default CSV quoting would treat as field delimiters. Every field is returned exactly as in the file.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from dlfa.config.checks import PlantedSpec
from dlfa.config.tasks import INTERMEDIATE, PAWSX, Task, intermediate_task
from dlfa.data import lexicon, synthetic
from dlfa.paths import resolve
from dlfa.typology import distances as typology

SPLITS = ("train", "validation", "test")
COLUMNS = ["id", "sentence1", "sentence2", "label"]
FEATURES = datasets.Features({"id": datasets.Value("int64"), "sentence1": datasets.Value("string"),
                              "sentence2": datasets.Value("string"), "label": datasets.Value("int64")})
PLACEHOLDERS = frozenset({"NS", "ns", "WL"})  # what PAWS-X's translators wrote for "no sentence"
UNLABELLED = -1
SYNTHETIC_SIZES = {"train": 4000, "validation": 500, "test": 500}
# The synthetic corpora's knobs (see dlfa.data.synthetic). A tiny BERT trained from scratch for ~1,500
# steps learns only pairs that differ in many words: argument swaps (PAWS's core) need 3,000+ steps
# and one-word lexical changes stay at chance. So the smoke PAWS-X rows are lexical pairs that
# respell every content word (synonyms: paraphrase; other words: not), judged by shared vocabulary.
SYNTHETIC_PAWSX = {"passive_share": 0.2, "moved_adverbs": True, "lexical_share": 1.0, "lexical_words": None}
SYNTHETIC_NLI = {"passive_share": 0.2}
# With planted sharing, the synthetic XNLI is lexical NLI: the hypothesis respells every content word
# of the premise, with synonyms (entailment) or with other concepts (contradiction), the rows of
# PAWS-X's lexical pairs for other propositions (seed offset). XNLI in a language then teaches which
# of its spellings name the same concept, which is what PAWS-X asks of a target that shares them.
# With ``crosslingual_share`` > 0 that share of rows has its premise in English: L's stage then ties
# L's spellings to English ones, so the classifier the English stage trains can read them on T.
PLANTED_NLI_SEED = 7919


class DataError(ValueError):
    """A corpus file that cannot be read as its task's data; the message names the file and line."""


# --- reading ---------------------------------------------------------------------------------


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")


def _from_hub(task: Task, language: str, split: str) -> datasets.Dataset:
    try:
        return datasets.load_dataset(task.hub_id, language, split=split)
    except Exception as err:  # offline, missing cache, no network: say what is missing and how to get it
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
        raise RuntimeError(
            f"could not load {task.title} from the Hugging Face hub: dataset {task.hub_id!r}, config "
            f"{language!r}, split {split!r}" + (" (HF_HUB_OFFLINE=1 and no cached copy)" if offline else "")
            + f" [{type(err).__name__}: {err}]. Run once with the hub reachable to cache it, or point the "
            "study at local files: data_source (PAWS-X) or intermediate_source (intermediate task) set to a "
            f"directory laid out as {task.local_files(language, split)[0]!r}, or 'synthetic'.") from None


def read_tsv(path: str | os.PathLike) -> pd.DataFrame:
    """A tab-separated file with a header line, quoting disabled: every field exactly as written.

    Raises DataError naming the file and line of a row with the wrong number of fields.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise DataError(f"{path}: empty file; expected a header line")
    header = lines[0].rstrip("\r").split("\t")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.rstrip("\r").split("\t")  # a Windows line end is not part of the last field
        if len(fields) != len(header):
            raise DataError(f"{path}, line {number}: {len(fields)} tab-separated fields, expected "
                            f"{len(header)} ({', '.join(header)})")
        rows.append(fields)
    return pd.DataFrame(rows, columns=header, dtype=object)


def _read_local_frame(path: Path) -> tuple[pd.DataFrame, int]:
    """(table, line number of its first row) for .tsv (quoting disabled), .csv and .parquet files."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path), 0
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8"), 2
    return read_tsv(path), 2


def _standardise(frame: pd.DataFrame, task: Task, path: Path, first_line: int) -> datasets.Dataset:
    """A local table as ``id, sentence1, sentence2, label`` with integer labels, checked row by row."""
    frame = frame.rename(columns=task.aliases)
    names = {task.text_columns[0]: "sentence1", task.text_columns[1]: "sentence2"}
    frame = frame.rename(columns=names)
    missing = [c for c in COLUMNS[1:] if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}. A {task.title} file "
                        f"needs {list(task.text_columns)} (or sentence1/sentence2) and label, optionally id")
    where = (lambda i: f"{path}, line {first_line + i}") if first_line else (lambda i: f"{path}, row {i}")
    by_name = {name: i for i, name in enumerate(task.label_names)}
    allowed = set(range(task.num_labels)) | {UNLABELLED}
    labels = []
    for i, value in enumerate(frame["label"].tolist()):
        text = str(value).strip()
        text = task.aliases.get(text, text)
        label = by_name.get(text)
        if label is None:
            try:
                label = int(text)
            except ValueError:
                label = None
        if label not in allowed:
            raise DataError(f"{where(i)}: label {value!r} is not one of {task.title}'s labels: ids "
                            f"{sorted(allowed)} or names {list(task.label_names)}")
        labels.append(label)
    if "id" in frame.columns:
        try:
            ids = [int(v) for v in frame["id"].tolist()]
        except (TypeError, ValueError):
            bad = next(i for i, v in enumerate(frame["id"].tolist()) if not str(v).strip().lstrip("-").isdigit())
            raise DataError(f"{where(bad)}: id {frame['id'].iloc[bad]!r} is not an integer") from None
    else:  # XNLI-style files have no ids: the row number stands in
        ids = list(range(len(frame)))
    out = {"id": ids, "sentence1": frame["sentence1"].astype(str).tolist(),
           "sentence2": frame["sentence2"].astype(str).tolist(), "label": labels}
    return datasets.Dataset.from_dict(out, features=FEATURES)


def read_local(task: Task, directory: str | os.PathLike, language: str, split: str) -> datasets.Dataset:
    """One language and split of ``task`` from a local directory (official layout or <lang>/<split>.<ext>)."""
    root = resolve(directory)
    candidates = task.local_files(language, split)
    for relative in candidates:
        path = root / relative
        if path.is_file():
            frame, first_line = _read_local_frame(path)
            return _standardise(frame, task, path, first_line)
    raise FileNotFoundError(f"no {task.title} {split} file for {language!r} in {root}: looked for "
                            + ", ".join(candidates))


def read_official_tsv(path: str | os.PathLike) -> datasets.Dataset:
    """One PAWS-X file of the x-final release (header ``id sentence1 sentence2 label``), exactly as written."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing PAWS-X file {path} (the official x-final layout has "
                                "en/train.tsv, <lang>/translated_train.tsv, <lang>/dev_2k.tsv, <lang>/test_2k.tsv)")
    return _standardise(read_tsv(path), PAWSX, path, 2)


def _synthetic(task: Task, language: str, split: str, size: int | None, seed: int,
               planted: PlantedSpec | None = None) -> datasets.Dataset:
    n = size or SYNTHETIC_SIZES[split]
    profile = synthetic_profile(language, planted)
    if task.name == "xnli" and planted:  # lexical NLI: PAWS-X's lexical pairs, other propositions
        rows = synthetic.pawsx_rows(profile, n, seed + PLANTED_NLI_SEED, split, **SYNTHETIC_PAWSX,
                                    crosslingual_share=planted.crosslingual_share)
        rows = {"premise": rows["sentence1"], "hypothesis": rows["sentence2"], "id": rows["id"],
                "label": [synthetic.ENTAILMENT if y == 1 else synthetic.CONTRADICTION for y in rows["label"]]}
    elif task.name == "xnli":
        rows = synthetic.nli_rows(profile, n, seed, split, **SYNTHETIC_NLI)
    else:  # PAWS-X and its translate-train: rows are parallel across languages, as in the real data
        rows = synthetic.pawsx_rows(profile, n, seed, split, **SYNTHETIC_PAWSX)
    first, second = task.text_columns
    return datasets.Dataset.from_dict({"id": rows["id"], "sentence1": rows[first], "sentence2": rows[second],
                                       "label": rows["label"]}, features=FEATURES)


def read(task: Task, source: str, language: str, split: str, size: int | None = None,
         seed: int = 0, planted: PlantedSpec | None = None) -> datasets.Dataset:
    """Every row of one language and split of ``task``, before the row policy.

    ``source``: ``"hub"``, ``"synthetic"`` (``size`` rows generated from ``seed``; ``planted``: the
    synthetic languages share spellings by typological distance, see ``synthetic_profile``) or a
    local directory.
    """
    _check_split(split)
    if language not in task.languages:
        raise ValueError(f"{task.title} has no language {language!r}; it has {list(task.languages)}")
    if source == "synthetic":
        return _synthetic(task, language, split, size, seed, planted)
    if source == "hub":
        ds = _from_hub(task, language, split)
        first, second = task.text_columns
        ds = ds.rename_columns({first: "sentence1", second: "sentence2"})
        if "id" not in ds.column_names:
            ds = ds.add_column("id", list(range(len(ds))))
        return ds.select_columns(COLUMNS).cast(FEATURES)
    if task is PAWSX:  # the x-final layout names English train differently from the translations
        name = {"validation": "dev_2k.tsv", "test": "test_2k.tsv"}.get(split) or (
            "train.tsv" if language == "en" else "translated_train.tsv")
        return read_official_tsv(resolve(source) / language / name)
    return read_local(task, source, language, split)


def is_placeholder(sentence1: str, sentence2: str) -> bool:
    return sentence1.strip() in PLACEHOLDERS or sentence2.strip() in PLACEHOLDERS


def column(ds: datasets.Dataset, name: str) -> list:
    """A column as a Python list, read from Arrow in one call: iterating ``ds[name]`` (a lazy Column
    since datasets 4) formats row by row, seconds per 100,000 rows."""
    return ds.with_format("arrow")[name].to_pylist()


def apply_policy(ds: datasets.Dataset, drop_placeholders: bool = False) -> tuple[datasets.Dataset, dict[str, int]]:
    """Drop unlabelled rows (label -1), and placeholder rows if asked; count what went and what stayed."""
    labels = np.asarray(column(ds, "label"))
    placeholder = np.fromiter((is_placeholder(a, b) for a, b in zip(column(ds, "sentence1"), column(ds, "sentence2"))),
                              dtype=bool, count=len(ds))
    unlabelled = labels == UNLABELLED
    drop = unlabelled | (placeholder & drop_placeholders)
    counts = {"source_rows": len(ds), "unlabelled_dropped": int(unlabelled.sum()),
              "placeholders_dropped": int((placeholder & ~unlabelled).sum()) if drop_placeholders else 0}
    if drop.any():
        ds = ds.select(np.flatnonzero(~drop))
    return ds, counts


def subset(ds: datasets.Dataset, size: int | None, seed: int) -> datasets.Dataset:
    """A label-stratified random subset of ``size`` rows, in file order (all rows when size is None or larger)."""
    if size is None or size >= len(ds):
        return ds
    labels = np.asarray(column(ds, "label"))
    rng = np.random.default_rng(seed)
    keep = []
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.floor(counts / counts.sum() * size).astype(int)
    quota[: size - quota.sum()] += 1  # distribute the rounding remainder
    for cls, q in zip(classes, quota):
        idx = np.flatnonzero(labels == cls)
        keep.extend(rng.choice(idx, size=min(q, len(idx)), replace=False).tolist())
    return ds.select(sorted(keep))


def load_corpus(task: Task, source: str, language: str, split: str, size: int | None = None, seed: int = 0,
                drop_placeholders: bool = False, planted: PlantedSpec | None = None) -> tuple[datasets.Dataset, dict[str, int]]:
    """Rows after the policy and a label-stratified subset of ``size``; with the policy's counts."""
    ds, counts = apply_policy(read(task, source, language, split, size, seed, planted), drop_placeholders)
    return subset(ds, size, seed), counts


def load_pawsx(source: str, language: str, split: str, size: int | None = None, seed: int = 0,
               drop_placeholders: bool = False) -> datasets.Dataset:
    """PAWS-X in ``language`` and ``split`` (train, validation, test).

    ``source``: ``"hub"`` (google-research-datasets/paws-x), ``"synthetic"`` or a directory in the
    official x-final layout. ``size``: a label-stratified subset (generated rows for synthetic).
    Rows labelled -1 are dropped; placeholder rows are kept unless ``drop_placeholders``.
    """
    return load_corpus(PAWSX, source, language, split, size, seed, drop_placeholders)[0]


def load_intermediate(task: str, source: str, language: str, split: str = "train", size: int | None = None,
                      seed: int = 0, drop_placeholders: bool = False) -> datasets.Dataset:
    """An intermediate task's split in ``language`` (see ``dlfa.config.tasks``; XNLI: 0 entailment, 1 neutral,
    2 contradiction). ``source``: ``"hub"``, ``"synthetic"`` or a local directory."""
    return load_corpus(intermediate_task(task), source, language, split, size, seed, drop_placeholders)[0]


def synthetic_profile(language: str, planted: PlantedSpec | None = None):
    """The synthetic stand-in for a real language: its word order from URIEL syntax features,
    its share of English words falling with URIEL genetic distance to English.

    ``planted`` = (kind, metric, rate, permuted, seed, english_share, crosslingual_share): a corpus with
    a known typology effect (``english_share``, where not None, replaces the genetic share of English
    words; ``crosslingual_share`` concerns the intermediate rows only, ``_synthetic``). The
    words a language does not share with English are spelled as in ``lexicon.cognate_spellings``
    over every PAWS-X and XNLI language, so two languages spell a word alike with probability
    ``exp(-rate * d)``, d their URIEL distance of that kind (``permuted``: the distances of a fixed
    random permutation of the languages, unrelated to theirs); and every language keeps English
    word order, so that nothing but the planted sharing ties a gain to distance.
    """
    if language == "en":
        return synthetic.ENGLISH
    genetic = typology.distance("genetic", "en", language)
    shared = round(float(np.clip(0.9 - 0.6 * genetic, 0.1, 0.9)), 3)
    if planted:
        shared = shared if planted.english_share is None else float(planted.english_share)
        spellings = planted_spellings(planted.kind, planted.metric, planted.rate, planted.permuted, planted.seed)
        cognates = tuple(sorted(spellings[language].items()))
        return synthetic.LanguageProfile(language, shared_fraction=shared, cognates=cognates)
    syntax = typology.syntax_profile(language)
    return synthetic.LanguageProfile(language, syntax["order"], syntax["adj_before_noun"],
                                     syntax["adposition_before_noun"], shared)


PLANTED_LANGUAGES = tuple(sorted((set(PAWSX.languages) | set(INTERMEDIATE["xnli"].languages)) - {"en"}))


@functools.lru_cache(maxsize=None)
def planted_distances(kind: str, metric: str, permuted: bool, seed: int) -> pd.DataFrame:
    """The distances the planted sharing follows, over ``PLANTED_LANGUAGES``: URIEL's, or (``permuted``)
    those of a fixed random permutation of the languages (the same values, unrelated to theirs)."""
    matrix = typology.distance_matrix(kind, PLANTED_LANGUAGES, metric=metric)
    if permuted:
        order = np.random.default_rng(seed).permutation(len(PLANTED_LANGUAGES))
        matrix = pd.DataFrame(matrix.to_numpy()[np.ix_(order, order)], index=matrix.index, columns=matrix.columns)
    return matrix


@functools.lru_cache(maxsize=None)
def planted_spellings(kind: str, metric: str, rate: float, permuted: bool, seed: int) -> dict[str, dict[str, str]]:
    return lexicon.cognate_spellings(list(PLANTED_LANGUAGES), planted_distances(kind, metric, permuted, seed).to_numpy(),
                                       rate, seed)
