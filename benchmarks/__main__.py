"""``python -m benchmarks [--quick] [--only NAME ...]``: run the benchmarks, update the results file
and docs/benchmarks.md. ``make bench`` and ``make bench QUICK=1`` call this."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import cache, encoder, evaluation, fixes, overhead, padding, report, smoke
from .common import DOCS, QUICK_RESULTS, RESULTS, load_results, log, merge_results, now, write_json

# Cheap ones first; evaluation after smoke, whose data stage it reuses.
BENCHMARKS = {"cache": cache, "fixes": fixes, "overhead": overhead, "padding": padding, "smoke": smoke,
              "evaluation": evaluation, "encoder": encoder}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats, smaller sizes (a BERT-shaped slice for padding, a reduced smoke "
                             "study): under 5 minutes on 2 cores, the same keys")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME",
                        help=f"run only these ({', '.join(BENCHMARKS)}); the others keep their earlier results")
    parser.add_argument("--results", type=Path, help="results file (default: benchmarks/results.json, "
                                                     "benchmarks/results-quick.json with --quick)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the Markdown page to write (default: %(default)s)")
    parser.add_argument("--no-docs", action="store_true", help="do not write the Markdown page")
    args = parser.parse_args(argv)
    results_path = args.results or (QUICK_RESULTS if args.quick else RESULTS)
    chosen = args.only or list(BENCHMARKS)
    command = " ".join(["python -m benchmarks", *argv])
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="dlfa-bench-"))
    failed = []
    try:
        for name in BENCHMARKS:
            if name not in chosen:
                continue
            log(name, f"--- {name}{' (quick)' if args.quick else ''} ---")
            t0 = time.perf_counter()
            try:
                if name == "smoke":
                    section = smoke.run(args.quick, keep=scratch / "smoke-study" if "evaluation" in chosen else None)
                elif name == "evaluation":
                    study = scratch / "smoke-study"
                    section = evaluation.run(args.quick, study=study if study.is_dir() else None)
                else:
                    section = BENCHMARKS[name].run(args.quick)
            except Exception as err:  # noqa: BLE001 - record it, run the others, fail at the end
                log(name, f"FAILED: {type(err).__name__}: {err}")
                failed.append(name)
                section = {"keys": {}, "error": f"{type(err).__name__}: {err}"}
            section.update(seconds=round(time.perf_counter() - t0, 1), date=now())
            results = merge_results(load_results(results_path), {name: section}, quick=args.quick, command=command)
            write_json(results_path, results)  # after each benchmark: a later failure keeps what was measured
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log("bench", f"done in {time.perf_counter() - started:.0f} s; results in {results_path}")
    if not args.no_docs:
        report.write(args.docs)
        log("bench", f"docs: {args.docs}")
    for key, value in load_results(results_path).get("keys", {}).items():
        print(f"  {key}: {value}")
    if failed:
        log("bench", f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
