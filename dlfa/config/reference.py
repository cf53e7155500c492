"""docs/parameters.md, generated from the ``Params`` fields (their defaults and help texts), grouped
by what they configure: ``python -m dlfa.config.reference`` rewrites it; a test keeps it current."""

from __future__ import annotations

import sys
from dataclasses import MISSING, asdict, fields, is_dataclass

import yaml

from dlfa.config.params import Params
from dlfa.io import write_text
from dlfa.paths import resolve

DOC = "docs/parameters.md"
SECTIONS = {
    "The study": ["study", "description", "model", "tiny_model"],
    "Data": ["data_source", "intermediate_source", "drop_placeholders", "planted_sharing", "data_seed", "train_size",
             "eval_size", "intermediate_train_size", "max_length"],
    "Tasks and languages": ["target_task", "targets", "intermediate_task", "candidate_languages",
                            "intermediate_languages"],
    "Typology": ["typology_source", "typology_kind", "selection_strategy", "selection_budget", "distance_metric"],
    "Model and fusion": ["fusion_layers", "fusion", "freeze_word_embeddings"],
    "Training": ["seeds", "learning_rate", "train_batch_size", "effective_batch_size", "eval_batch_size",
                 "num_train_epochs", "warmup_ratio", "weight_decay", "adam_beta2", "evals_per_epoch", "eval_steps",
                 "train_order", "precision", "head_warmup_epochs", "head_warmup_learning_rate",
                 "intermediate_epochs", "intermediate_learning_rate"],
    "Statistics (plans the analysis; trains nothing)": ["confirmatory_layer", "noise_priors"],
    "Execution": ["keep_checkpoints", "gpus_per_run"],
}


def _default(f) -> str:
    if f.default is MISSING and f.default_factory is MISSING:
        return "required"
    value = f.default if f.default is not MISSING else f.default_factory()
    if isinstance(value, tuple):
        value = [asdict(v) if is_dataclass(v) else v for v in value]
        value = value[0] if f.name == "fusion" else value
    elif is_dataclass(value):
        value = asdict(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    text = text.removesuffix("\n...").removesuffix("...").strip()
    return f"`{text}`"


def markdown() -> str:
    """The page: one table per section, every key of ``Params`` exactly once."""
    by_name = {f.name: f for f in fields(Params)}
    placed = [name for names in SECTIONS.values() for name in names]
    missing, twice = sorted(set(by_name) - set(placed)), sorted({n for n in placed if placed.count(n) > 1})
    if missing or twice or set(placed) - set(by_name):
        raise ValueError(f"reference.SECTIONS must place every Params key once: missing {missing}, twice {twice}, "
                         f"unknown {sorted(set(placed) - set(by_name))}")
    lines = ["# Parameters", "",
             "Every key of a params file, its default and what it does; generated from `dlfa.config.params.Params` by "
             "`python -m dlfa.config.reference` (a test keeps it current). How the keys work together, and which "
             "options are experimental, is in [running.md](running.md#parameters).", ""]
    for title, names in SECTIONS.items():
        lines += [f"## {title}", "", "| key | default | what it does |", "|---|---|---|"]
        lines += [f"| `{name}` | {_default(by_name[name])} | {by_name[name].metadata['doc'] or '–'} |" for name in names]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    write_text(resolve(DOC), markdown())
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
