"""Data: the first tokenization of a PAWS-X-sized corpus against loading it from the cache.

Exactly what 01_data does per corpus: the cache key (which hashes the rows), then
``dlfa.data.tokenization.cached_tokenized``, which either tokenizes (``longest_first`` at 128, batched
``datasets.map``), saves and reloads the result, or loads the saved copy. The corpus is the
built-in synthetic English PAWS-X with 49,401 pairs (English train's size); the tokenizer is
learnt from the corpus' own text as the smoke study learns its own (``dlfa.training.tiny.train_tokenizer``,
at most 1,000 entries). Generating the corpus and
the tokenizer is not timed. Rounds alternate first build (into a fresh folder) and cached load.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import interleaved, log, median, paired_ratios

NAME = "cache"
CORPUS = 49_401
MAX_LENGTH = 128
SETTINGS = {"full": dict(repeats=5), "quick": dict(repeats=3)}


def run(quick: bool = False) -> dict[str, Any]:
    from dlfa.config import tasks
    from dlfa.data import corpora as data
    from dlfa.data import tokenization
    from dlfa.training import tiny
    s = SETTINGS["quick" if quick else "full"]
    started = time.perf_counter()
    raw, _ = data.load_corpus(tasks.PAWSX, "synthetic", "en", "train", size=CORPUS, seed=0)
    tokenizer = tiny.train_tokenizer((t for col in ("sentence1", "sentence2") for t in raw[col]), 1000)
    log(NAME, f"{len(raw)} synthetic pairs and a {len(tokenizer)}-entry tokenizer in "
              f"{time.perf_counter() - started:.1f} s (not timed)")
    fingerprint = tokenization.tokenizer_fingerprint(tokenizer)
    root = Path(tempfile.mkdtemp(prefix="dlfa-bench-cache-"))
    reused, key_seconds = {}, []

    def load(path: Path, label: str) -> float:
        t0 = time.perf_counter()
        key = tokenization.cache_key(raw, task="pawsx", source="synthetic", language="en", split="train", size=CORPUS, seed=0,
                             drop_placeholders=False, tokenizer=fingerprint, max_length=MAX_LENGTH)
        key_seconds.append(time.perf_counter() - t0)
        ds, hit = tokenization.cached_tokenized(path, key, lambda: tokenization.tokenize(raw, tokenizer, MAX_LENGTH))
        seconds = time.perf_counter() - t0
        assert len(ds) == CORPUS
        reused.setdefault(label, []).append(hit)
        return seconds

    counter = iter(range(10**6))

    def first() -> float:
        path = root / f"first-{next(counter)}"
        seconds = load(path, "first")
        shutil.rmtree(path, ignore_errors=True)
        return seconds

    try:
        with tokenization.quiet_datasets():
            load(root / "cached", "setup")  # the copy the cached loads read
            times = interleaved({"first": first, "cached": lambda: load(root / "cached", "cached")},
                                s["repeats"], warmup=1, name=NAME)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if any(reused["first"][1:]) or not all(reused["cached"]):
        raise RuntimeError(f"the cache did not behave as expected: {reused}")
    ratios = paired_ratios(times["cached"], times["first"])
    key = median(ratios)
    log(NAME, f"first {median(times['first']):.2f} s, cached {median(times['cached']):.3f} s: cached / first = {key:.4f}")
    return {"keys": {"cached_over_first_load_time": round(key, 5)},
            "raw": {"seconds": times, "paired_ratios": ratios, "median_s": {k: median(v) for k, v in times.items()},
                    "cache_key_seconds_median": median(key_seconds)},
            "settings": {**s, "corpus_pairs": CORPUS, "max_length": MAX_LENGTH, "corpus": "dlfa synthetic PAWS-X (en train)",
                         "tokenizer": f"dlfa.training.tiny.train_tokenizer on the corpus text ({len(tokenizer)} entries)",
                         "statistic": "median over rounds of cached / first, rounds interleaved"}}
