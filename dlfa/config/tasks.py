"""The sentence-pair tasks a study reads: its target task (PAWS-X or XNLI) and the intermediate tasks.

Each task knows where it lives on the Hugging Face hub (one config per language), which columns
hold its two sentences and its label, its label names, and the file layouts it can be read from
locally. Kept free of heavy imports: params validation reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Local files of any task: <dir>/<lang>/<split>.<ext>, tried in this order.
GENERIC_FILES = ("{lang}/{split}.parquet", "{lang}/{split}.tsv", "{lang}/{split}.csv")


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    hub_id: str
    languages: tuple[str, ...]
    text_columns: tuple[str, str]  # the hub's names of the two sentences
    label_names: tuple[str, ...]  # label id -> name, in the hub's order
    # Other names the same columns and labels carry in the official release files.
    aliases: dict[str, str] = field(default_factory=dict)
    # split -> file templates of the official release, relative to the task's directory.
    official_files: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def local_files(self, language: str, split: str) -> list[str]:
        """Candidate paths, relative to a local directory, for one language and split."""
        templates = self.official_files.get(split, ()) + GENERIC_FILES
        return [t.format(lang=language, split=split) for t in templates]


PAWSX_LANGUAGES = ("en", "de", "es", "fr", "ja", "ko", "zh")

PAWSX = Task(
    name="pawsx", title="PAWS-X", hub_id="google-research-datasets/paws-x", languages=PAWSX_LANGUAGES,
    text_columns=("sentence1", "sentence2"), label_names=("not_paraphrase", "paraphrase"),
    # x-final: English train is en/train.tsv; the other languages' train is machine-translated.
    official_files={"train": ("{lang}/train.tsv", "{lang}/translated_train.tsv"),
                    "validation": ("{lang}/dev_2k.tsv",), "test": ("{lang}/test_2k.tsv",)},
)

XNLI = Task(
    name="xnli", title="XNLI", hub_id="facebook/xnli",
    languages=("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"),
    text_columns=("premise", "hypothesis"), label_names=("entailment", "neutral", "contradiction"),
    # XNLI-MT-1.0/multinli/multinli.train.<lang>.tsv: columns premise, hypo, label (names); dev and
    # test (XNLI-1.0 ships them as one file of every language) as <lang>/validation.tsv, <lang>/test.tsv.
    aliases={"hypo": "hypothesis", "contradictory": "contradiction"},
    official_files={"train": ("multinli.train.{lang}.tsv",)},
)

# PAWS-X translate-train: the target task itself, machine-translated training data, as an
# intermediate stage in one language before English PAWS-X.
PAWSX_TRANSLATE_TRAIN = Task(
    name="pawsx_tt", title="PAWS-X translate-train", hub_id=PAWSX.hub_id, languages=PAWSX_LANGUAGES[1:],
    text_columns=PAWSX.text_columns, label_names=PAWSX.label_names,
    official_files={"train": ("{lang}/translated_train.tsv",), "validation": ("{lang}/dev_2k.tsv",)},
)

INTERMEDIATE = {t.name: t for t in (XNLI, PAWSX_TRANSLATE_TRAIN)}
# The target task: fine-tuned in English, evaluated zero-shot in the other languages.
TARGET = {t.name: t for t in (PAWSX, XNLI)}


def intermediate_task(name: str) -> Task:
    if name not in INTERMEDIATE:
        raise ValueError(f"unknown intermediate task {name!r}; available: {sorted(INTERMEDIATE)}")
    return INTERMEDIATE[name]


def target_task(name: str) -> Task:
    if name not in TARGET:
        raise ValueError(f"unknown target task {name!r}; available: {sorted(TARGET)}")
    return TARGET[name]


def by_name(name: str) -> Task:
    """PAWS-X (``pawsx``) or an intermediate task (XNLI is both)."""
    return PAWSX if name == PAWSX.name else intermediate_task(name)

