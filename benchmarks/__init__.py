"""Performance measurements of the dlfa study (never timed tests): ``python -m benchmarks``.

Every figure is a ratio against a baseline measured in the same run, interleaved, with medians of
repeats: the machine may be shared, so absolute times move between runs, ratios much less. See
``docs/benchmarks.md`` (generated from ``benchmarks/results.json``).
"""
