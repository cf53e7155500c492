"""A study's grid: its runs (:class:`Run`, one point of variant x intermediate x seed, its id derived
from it and looked up in the grid, never parsed back) and the corpora they read (:class:`Corpus`)."""

from __future__ import annotations

from dataclasses import dataclass

from dlfa.config.checks import ParamsError, PlantedSpec
from dlfa.config.fusion import DLFAConfig
from dlfa.config.params import Params
from dlfa.config.tasks import INTERMEDIATE, Task
from dlfa.paths import resolve


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


def find_run(params: Params, run_id: str, intermediate_languages: list[str]) -> Run:
    """The run of the study's grid called ``run_id``; ParamsError if the grid has none."""
    for run in grid(params, intermediate_languages):
        if run.run_id == run_id:
            return run
    raise ParamsError(f"study '{params.study}'", [
        f"no run {run_id!r} in its grid (fusion_layers {list(params.fusion_layers)}, seeds {list(params.seeds)}, "
        f"intermediate languages {list(intermediate_languages) or 'none'}); e.g. {grid(params, [])[0].run_id}"])


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


def local_file_problems(params: Params) -> list[str]:
    """Local data must hold every file the study will read, before anything runs."""
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
