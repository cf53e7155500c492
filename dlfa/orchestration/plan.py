"""``dlfa plan PARAMS``: what a study will cost before anything is trained: its grid (runs, stages,
examples per run), the disk its caches and checkpoints need, and its GPU hours where
``benchmarks/results-gpu.json`` (``make bench-gpu``) has measured a GPU's throughput.

One concept: the arithmetic of a study's workload (also behind the GPU-hours estimate of
``benchmarks.gpu``). Estimates are upper bounds where a size is not known before the data is read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from dlfa.analysis import power
from dlfa.analysis.results import PUBLISHED
from dlfa.checkpoints import local_model
from dlfa.config.grid import grid, study_corpora
from dlfa.config.params import KNOWN_SHAPES, TINY_MODEL, Params
from dlfa.config.tasks import by_name
from dlfa.data.corpora import SYNTHETIC_SIZES
from dlfa.paths import ROOT, resolve
from dlfa.typology.distances import distance_matrix
from dlfa.typology.language_choice import choice_table, chosen

GPU_RESULTS = ROOT / "benchmarks" / "results-gpu.json"
# Full split sizes where a params file leaves a size unset (the hub's and the x-final release's).
FULL_SIZES = {("pawsx", "train"): 49_401, ("pawsx", "validation"): 2_000, ("pawsx", "test"): 2_000,
              ("xnli", "train"): 392_702, ("xnli", "validation"): 2_490, ("xnli", "test"): 5_010,
              ("pawsx_tt", "train"): 49_401, ("pawsx_tt", "validation"): 2_000}
_MBERT = {"vocab_size": 119_547, "hidden_size": 768, "num_hidden_layers": 12, "intermediate_size": 3_072,
          "max_position_embeddings": 512}
_XLMR = {"vocab_size": 250_002, "max_position_embeddings": 514}  # XLM-R's vocabulary; positions from 2
KNOWN_CONFIGS = {name: {**_MBERT, **(_XLMR if "xlm-roberta" in name else {}),
                        **({"hidden_size": 1024, "num_hidden_layers": 24, "intermediate_size": 4_096}
                           if name.endswith("large") else {})} for name in KNOWN_SHAPES}


def intermediate_languages(params: Params) -> list[str]:
    """The grid's intermediate languages: those given, or the typology stage's choice (computed here
    as the stage computes it)."""
    if not params.intermediate_task:
        return []
    if params.intermediate_languages != "typology":
        return list(params.intermediate_languages)
    return chosen(choice_table(params))


def corpus_size(task: str, source: str, language: str, split: str, size: int | None) -> int:
    """Rows a corpus gives the study: its size when set, else the whole split."""
    if size:
        return size
    if source == "synthetic":
        return SYNTHETIC_SIZES[split]
    if source != "hub":
        for name in by_name(task).local_files(language, split) + (["en/train.tsv"] if (task, split) == ("pawsx", "train") else []):
            path = resolve(source) / name
            if path.is_file() and path.suffix in (".tsv", ".csv"):
                with path.open("rb") as f:
                    return max(0, sum(1 for _ in f) - 1)  # a header line
    return FULL_SIZES.get((task, split), FULL_SIZES[("pawsx", split)])


def workload(params: Params, languages: list[str] | None = None) -> dict[str, Any]:
    """Examples trained and evaluated by the study's grid."""
    languages = intermediate_languages(params) if languages is None else languages
    runs = grid(params, languages)
    corpora = study_corpora(params, languages)
    sizes = {(c.task.name, c.language, c.split): corpus_size(c.task.name, c.source, c.language, c.split, c.size)
             for c in corpora}
    target = params.target_task
    n_train = sizes[(target, "en", "train")]
    n_dev, n_test = (max(v for (task, _, split), v in sizes.items() if task == target and split == which)
                     for which in ("validation", "test"))
    evaluated = len(params.languages)
    steps = math.ceil(n_train / params.effective_batch_size) * params.num_train_epochs
    every, _ = params.evaluation_cadence(n_train)
    intermediate = [sizes[(t, lang, "train")] for (t, lang, split) in sizes if split == "train" and t != target]
    n_inter = max(intermediate) if intermediate else 0
    return {"runs": len(runs), "dlfa_runs": sum(1 for r in runs if r.fusion_layer is not None),
            "runs_with_intermediate_stage": sum(1 for r in runs if r.intermediate_language),
            "intermediate_languages": languages,
            "target_train_examples_per_run": n_train * params.num_train_epochs,
            "target_steps_per_run": math.ceil(steps),
            "intermediate_train_examples_per_run": n_inter * params.intermediate_epochs,
            "intermediate_steps_per_run": math.ceil(math.ceil(n_inter / params.effective_batch_size)
                                                    * params.intermediate_epochs),
            "eval_steps": every, "evaluations_per_run": math.floor(steps / every) + (1 if steps % every else 0),
            "eval_examples_per_evaluation_max": evaluated * (n_dev + n_test),
            "eval_examples_per_evaluation_min": evaluated * n_dev,
            "similarity_examples_per_run": 2 * evaluated * n_dev,
            "corpus_rows": sum(sizes.values())}


def gpu_hours(work: dict[str, Any], rates: dict[str, dict[str, float]]) -> dict[str, Any]:
    """GPU hours of the grid from measured examples/s of the baseline and of DLFA (``dlfa_l6``);
    XNLI pairs assumed as long as PAWS-X pairs; min/max: test sets at no / every evaluation."""
    total = {}
    for bound in ("min", "max"):
        seconds = 0.0
        for variant, count in (("baseline", work["runs"] - work["dlfa_runs"]), ("dlfa_l6", work["dlfa_runs"])):
            r = rates[variant]
            inter_share = work["runs_with_intermediate_stage"] / work["runs"] if work["runs"] else 0.0
            train = work["target_train_examples_per_run"] + inter_share * work["intermediate_train_examples_per_run"]
            evals = (work["evaluations_per_run"] * work[f"eval_examples_per_evaluation_{bound}"]
                     + work["similarity_examples_per_run"])
            seconds += count * (train / r["train_examples_per_s"] + evals / r["eval_examples_per_s"])
        total[bound] = seconds / 3600
    return {"gpu_hours_min": round(total["min"], 1), "gpu_hours_max": round(total["max"], 1)}


def end_to_end_projection(work: dict[str, Any], runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``end_to_end_hours`` from the fastest of the measured precisions (``runs``: precision -> run)."""
    precision = min(runs, key=lambda p: runs[p]["train_runtime_s"])
    return {"precision": precision, **end_to_end_hours(work, runs[precision])}


def end_to_end_hours(work: dict[str, Any], run: dict[str, Any]) -> dict[str, float]:
    """The grid's GPU hours from one measured run (``make bench-gpu``'s end-to-end run): every run
    pays its fixed seconds, and each optimizer step (target and intermediate stage alike) what a
    step cost there, evaluation every 200 steps included. The target stage evaluates at that cadence
    (its test sets, where still selectable, come on top: a lower bound there); the intermediate stage
    does not evaluate (an upper bound there)."""
    per_step = run["train_runtime_s"] / run["optimizer_steps"]
    inter_share = work["runs_with_intermediate_stage"] / work["runs"] if work["runs"] else 0.0
    steps = work["target_steps_per_run"] + inter_share * work["intermediate_steps_per_run"]
    seconds = work["runs"] * (run["fixed_s"] + steps * per_step)
    fixed = work["runs"] * run["fixed_s"]
    return {"hours": round(seconds / 3600, 1), "fixed_hours": round(fixed / 3600, 2),
            "fixed_share": round(fixed / seconds, 4) if seconds else 0.0}


def model_config(params: Params) -> dict[str, Any] | None:
    """The encoder's sizes where they can be known without loading it (None for an uncached hub id)."""
    if params.model == TINY_MODEL:
        t = params.tiny_model
        return {"vocab_size": t.vocab_size, "hidden_size": t.hidden_size, "num_hidden_layers": t.num_layers,
                "intermediate_size": t.intermediate_size, "max_position_embeddings": params.max_length}
    if params.model in KNOWN_CONFIGS:
        return KNOWN_CONFIGS[params.model]
    folder = local_model(params.model)
    if folder is not None and (folder / "config.json").is_file():
        return yaml.safe_load((folder / "config.json").read_text())
    return None


def embedding_count(config: dict[str, Any]) -> int:
    """A BERT encoder's embedding parameters: word, position and two token types, and their LayerNorm."""
    h = config["hidden_size"]
    return (config["vocab_size"] + config.get("max_position_embeddings", 512) + 2) * h + 2 * h


def parameter_count(config: dict[str, Any]) -> int:
    """A BERT encoder with pooler (the DLFA module and the head add under 1%)."""
    h, i = config["hidden_size"], config.get("intermediate_size", 4 * config["hidden_size"])
    layer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h
    return embedding_count(config) + config["num_hidden_layers"] * layer + h * h + h


def disk(params: Params, work: dict[str, Any]) -> dict[str, Any]:
    """Upper bounds, in bytes: the tokenized caches, the checkpoints while a run trains, what stays."""
    cache = work["corpus_rows"] * params.max_length * 3 * 8  # input ids, mask, type ids: int64, no padding
    config = model_config(params)
    if config is None:
        return {"cache": cache, "parameters": None, "checkpoints_per_run": None, "kept": None}
    n = parameter_count(config)
    checkpoint = n * 4 * 3  # fp32 weights and AdamW's two moments
    running = 2 * checkpoint + n * 4  # save_total_limit 1: the new one is written before the old goes; the
    #                                   intermediate stage's encoder stays until the run is done
    kept = work["runs"] * checkpoint if params.keep_checkpoints else 0
    return {"cache": cache, "parameters": n, "checkpoints_per_run": running, "kept": kept}


def measured_gpu(path: Path = GPU_RESULTS) -> dict[str, Any] | None:
    """``make bench-gpu``'s results, when it ran on a GPU (not its CPU check)."""
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    return None if results.get("tiny_cpu_check") else results


def plan(params: Params, gpu_results: Path = GPU_RESULTS) -> str:
    """What ``dlfa plan`` prints."""
    work = workload(params)
    space = disk(params, work)
    variants = list(dict.fromkeys(r.variant for r in grid(params, work["intermediate_languages"])))
    languages = work["intermediate_languages"]
    lines = [f"study '{params.study}': {len(variants)} variant{'' if len(variants) == 1 else 's'} x {len(params.seeds)} "
             f"seed{'' if len(params.seeds) == 1 else 's'} x "
             f"(no intermediate task + {len(languages)} intermediate language{'' if len(languages) == 1 else 's'}"
             + (f": {', '.join(languages)}" if languages else "") + f") = {work['runs']} runs"]
    if languages:
        lines.append(f"  intermediate stage ({params.intermediate_task}, {work['runs_with_intermediate_stage']} runs): "
                     f"{work['intermediate_train_examples_per_run']:,.0f} examples, {work['intermediate_steps_per_run']:,} "
                     f"optimizer steps per run")
    lines += [f"  {params.target.title} stage (every run): {work['target_train_examples_per_run']:,.0f} examples, "
              f"{work['target_steps_per_run']:,} optimizer steps, an evaluation every {work['eval_steps']} steps "
              f"({work['evaluations_per_run']} evaluation{'s' if work['evaluations_per_run'] != 1 else ''}) of "
              f"{len(params.languages)} dev splits, test splits where a "
              f"protocol can still select: {work['eval_examples_per_evaluation_min']:,} to "
              f"{work['eval_examples_per_evaluation_max']:,} examples each",
              f"disk: tokenized caches up to {_size(space['cache'])} ({work['corpus_rows']:,} rows)"]
    if space["parameters"] is None:
        lines.append(f"  checkpoints: unknown until {params.model!r} is cached (its config gives the size)")
    else:
        lines.append(f"  checkpoints: up to {_size(space['checkpoints_per_run'])} per run while it trains "
                     f"({space['parameters'] / 1e6:,.1f}M parameters, weights and AdamW state); "
                     + (f"{_size(space['kept'])} kept (keep_checkpoints)" if space["kept"] else
                        "removed once a run is done (keep_checkpoints false)"))
    gpu = measured_gpu(gpu_results)
    if gpu is None:
        lines.append(f"GPU hours: not measured yet: `make bench-gpu` on a CUDA machine writes "
                     f"{gpu_results.relative_to(ROOT) if gpu_results.is_relative_to(ROOT) else gpu_results}, "
                     "which this then uses")
    else:
        best = gpu["keys"]["gpu_best_mode"]
        hours = gpu_hours(work, {v: gpu["measured"][f"{v}/{best}"] for v in ("baseline", "dlfa_l6")})
        lines.append(f"GPU hours: {hours['gpu_hours_min']} to {hours['gpu_hours_max']} in mode {best} "
                     f"(measured {gpu.get('date', '?')} on {gpu.get('machine', '?')}; {gpu_results.name})")
        runs = (gpu.get("end_to_end") or {}).get("runs", {})
        if runs:
            projected = end_to_end_projection(work, runs)
            lines.append(f"  end to end, from one paper-shaped run through `dlfa train` in {projected['precision']}: "
                         f"{projected['hours']} GPU hours, of which {projected['fixed_hours']} fixed "
                         f"({runs[projected['precision']]['fixed_s']:.0f} s per run beyond training and evaluation)")
    lines += power_section(params, languages)
    return "\n".join(lines)


Q1_SLOPES = (0.025, 0.05, 0.1)  # 0.25, 0.5 and 1 point of gain per 0.1 of distance


def q2_gains(task: str) -> tuple[float, ...]:
    """Question 2's effects to plan for: 1 and 2 points, and the DLFA paper's best layer over its
    baseline on the target task (PAWS-X: D_6, 84.37 - 81.94 = 2.43; XNLI: D_11, 66.91 - 65.40 = 1.51)."""
    published = PUBLISHED[task]
    paper = round((max(published.dlfa_layers.values()) - published.dlfa_baseline) / 100, 6)
    return tuple(sorted({0.01, 0.02, paper}))


def _seeds_text(seeds: int | None) -> str:
    return "not reachable" if seeds is None else str(seeds)


def power_section(params: Params, languages: list[str], alpha: float = 0.05) -> list[str]:
    """What the grid can detect, before anything runs, from the params' ``noise_priors``: each
    question's primary test at stated effects, and the seeds each needs for 80% power."""
    priors, seeds = params.noise_priors, len(params.seeds)
    lines = [f"power, before any run, with {seeds} seed{'s' if seeds != 1 else ''} and the noise_priors (points: "
             f"seed SD {100 * priors.seed_sd:.1f} per run, a DLFA gain's test part shared by its seeds "
             f"{100 * priors.test_shared_sd:.1f}, cell SD {100 * priors.cell_sd:.1f}, a run's gain on one target "
             f"{100 * priors.cell_seed_sd:.1f})", f"  where the priors come from: {priors.source}"]
    layers = [k for k in params.fusion_layers if k is not None]
    gains = q2_gains(params.target_task)
    if "baseline" not in [run.variant for run in grid(params, [])] or not layers:
        lines.append("  question 2 (DLFA): not estimable with this grid: it needs the baseline and a fused layer")
    else:
        k = params.confirmatory_layer
        a = alpha if k is not None else alpha / len(layers)
        which = (f"layer {k} named in advance, alpha {alpha:g}" if k is not None else
                 f"layer {layers[0]}, the grid's only one, alpha {alpha:g}" if len(layers) == 1 else
                 f"{len(layers)} layers, Holm: alpha {a:.2g} at its first step")
        powers = [power.fusion_design_power(g, seeds, priors.seed_sd, priors.test_shared_sd, a) if seeds > 1
                  else float("nan") for g in gains]
        needed = [power.seeds_needed(lambda n, g=g: power.fusion_design_power(g, n, priors.seed_sd,
                                                                             priors.test_shared_sd, a))
                  for g in gains]
        lines.append(f"  question 2, DLFA (primary: {which}; no intermediate task, zero-shot targets): power at a true "
                     f"gain of {' / '.join(f'{100 * g:g}' for g in gains)} points: "
                     + (" / ".join(f"{p:.2f}" for p in powers) if seeds > 1 else "not estimable with one seed")
                     + f"; seeds for 80%: {' / '.join(_seeds_text(n) for n in needed)}"
                     + (" (the test part that every seed shares caps it: larger test sets, not seeds)"
                        if None in needed else ""))
    if not languages:
        lines.append("  question 1 (typology): not estimable with this grid: it has no intermediate task")
        return lines
    distance = distance_matrix(params.typology_kind, languages, metric=params.distance_metric,
                               columns=list(params.targets), source=params.typology_source)
    design = power.typology_design(distance)
    head = (f"  question 1, typology (primary: baseline variant, {params.typology_kind} {params.distance_metric} "
            f"distance, alpha {alpha:g}; {design['cells']} cells of {len(languages)} x {len(params.targets)}"
            + (f" without {design['same_language']} same-language" if design.get("same_language") else "")
            + f", {design['df']} residual df)")
    if design["reason"]:
        lines.append(f"{head}: not estimable with this grid: {design['reason']}")
        return lines
    args = (design, priors.cell_sd, priors.cell_seed_sd, alpha)
    powers = [power.typology_design_power(g, seeds, *args) for g in Q1_SLOPES]
    needed = [power.seeds_needed(lambda n, g=g: power.typology_design_power(g, n, *args)) for g in Q1_SLOPES]
    ceiling = [power.typology_design_power(g, 10 ** 6, *args) for g in Q1_SLOPES]
    lines.append(f"{head}: power at a slope of {' / '.join(f'{10 * g:g}' for g in Q1_SLOPES)} points of gain per 0.1 "
                 f"of distance: {' / '.join(f'{p:.2f}' for p in powers)}; seeds for 80%: "
                 f"{' / '.join(_seeds_text(n) for n in needed)}"
                 + (f" (cell effects alone cap the power at {' / '.join(f'{c:.2f}' for c in ceiling)}: more "
                    "intermediate languages or targets, not seeds)" if None in needed else ""))
    return lines


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
