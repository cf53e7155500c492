"""The choice of intermediate languages: for each target, the candidates at chosen ranks of their
typological distance (the nearest and the farthest, or quantiles, or all), optionally within a
budget of languages; what the typology stage writes to ``typology/selection.csv`` and the grid
trains. ``dlfa.typology.distances`` gives the distances."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlfa.config.params import Params
from dlfa.typology.distances import LOW_COVERAGE, METRICS, check_choice, confidence, distance_matrix, iso3, source_kinds

STRATEGIES = ("extremes", "quantiles", "all")


def _roles(n: int, strategy: str) -> dict[int, list[str]]:
    """rank -> role names among n eligible candidates (ranks 1..n, 1 = nearest)."""
    roles: dict[int, list[str]] = {}
    picks = {"extremes": [(1, "nearest"), (n, "farthest")],
             "quantiles": [(1, "nearest"), ((n + 1) // 2, "median"), (n, "farthest")],
             "all": [(r, "nearest" if r == 1 else "farthest" if r == n else f"rank {r} of {n}")
                     for r in range(1, n + 1)]}[strategy]
    for r, name in picks:
        if name not in roles.setdefault(r, []):
            roles[r].append(name)
    return roles


def select_languages(targets, candidates, kind: str = "syntactic", strategy: str = "extremes",
                     budget: int | None = None, metric: str = "cosine", source: str = "lang2vec") -> pd.DataFrame:
    """Choose intermediate languages among `candidates` for each of `targets` by distance under `kind`.

    One row per (candidate, target), target-major: `candidate, target, distance_<kind>` for every
    kind, `rank` (within the target under `kind`, 1 = nearest; ties broken by candidate order;
    NaN when the candidate is the target itself, which is never chosen for it), `ties` (other
    eligible candidates at exactly the same distance), `selected` (chosen for this target) and
    `reason` (e.g. "nearest to ja under syntactic", with the ties named where candidate order
    decided; "" when not selected). Strategies: extremes = nearest and farthest, quantiles = nearest, (lower) median
    and farthest, all = every candidate. `budget` caps the number of distinct chosen languages:
    those chosen for the most targets are kept, ties going to the larger sum of extremeness
    (|2 (rank - 1) / (n - 1) - 1| per choice: 1 at either end, 0 at the middle), then to
    candidate order; dropped languages are not replaced. One line per chosen language:
    ``df[df.selected].groupby("candidate").reason.agg("; ".join)``. With URIEL+ (``source``) the
    kinds are its eight, `coverage` is its confidence in the chosen kind's distance (``confidence``)
    and a choice that rests on a coverage below ``LOW_COVERAGE`` says so in its reason.
    """
    check_choice(kind, source_kinds(source), "kind")
    check_choice(strategy, STRATEGIES, "strategy")
    check_choice(metric, METRICS, "metric")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise ValueError(f"budget must be a positive int or None, got {budget!r}")
    targets, candidates = list(targets), list(candidates)
    for what, codes in (("targets", targets), ("candidates", candidates)):
        if not codes:
            raise ValueError(f"{what} must not be empty")
        resolved = [iso3(c) for c in codes]
        dup = sorted({c for c, r in zip(codes, resolved) if resolved.count(r) > 1})
        if dup:
            raise ValueError(f"{what} name the same language more than once: {', '.join(dup)}")

    every = source_kinds(source)
    mats = {k: distance_matrix(k, candidates, metric, columns=targets, source=source).to_numpy() for k in every}
    df = pd.DataFrame([{"candidate": c, "target": t, **{f"distance_{k}": mats[k][i, j] for k in every}}
                       for j, t in enumerate(targets) for i, c in enumerate(candidates)])
    eligible = [iso3(c) != iso3(t) for c, t in zip(df.candidate, df.target)]
    unknown = df[np.asarray(eligible) & df[f"distance_{kind}"].isna().to_numpy()]
    if len(unknown):
        pairs = ", ".join(f"{c}-{t}" for c, t in zip(unknown.candidate, unknown.target))
        raise ValueError(f"URIEL+ has no {kind} distance for {pairs} (no feature with a value for both); "
                         "choose another typology_kind, or typology_source lang2vec")
    if source == "urielplus":
        df["coverage"] = [confidence(kind, c, t)[1] for c, t in zip(df.candidate, df.target)]
    df["rank"] = df[eligible].groupby("target", sort=False)[f"distance_{kind}"].rank(method="first")

    column = f"distance_{kind}"
    # Candidates at the same distance from a target (genetic: every unrelated language is at 1.0)
    # are ranked by candidate order alone; say so wherever that decides a choice.
    ranked = df[df["rank"].notna()]
    df["ties"] = ranked.groupby(["target", ranked[column].round(12)])["candidate"].transform("size") - 1
    reason = pd.Series("", index=df.index)
    extremeness: dict[str, float] = {}
    for t, group in df.dropna(subset=["rank"]).groupby("target", sort=False):
        n = len(group)
        roles = _roles(n, strategy)
        for i, r in group["rank"].astype(int).items():
            if r in roles:
                reason[i] = f"{' and '.join(roles[r])} to {t} under {kind}"
                if df.at[i, "ties"] > 0:
                    reason[i] += (f" (tied with {int(df.at[i, 'ties'])} other candidate(s) at "
                                  f"{df.at[i, column]:.2f}; candidate order decided)")
                if "coverage" in df and df.at[i, "coverage"] < LOW_COVERAGE:
                    reason[i] += f" (low URIEL+ confidence: coverage {df.at[i, 'coverage']:.2f})"
                c = df.at[i, "candidate"]
                extremeness[c] = extremeness.get(c, 0.0) + (abs(2 * (r - 1) / (n - 1) - 1) if n > 1 else 1.0)
    if budget is not None:
        counts = df[reason != ""].groupby("candidate").size()
        order = sorted(counts.index, key=lambda c: (-counts[c], -extremeness[c], candidates.index(c)))
        reason[~df.candidate.isin(order[:budget])] = ""
    df["selected"] = reason != ""
    df["reason"] = reason
    return df[[c for c in df if c not in ("selected", "reason")] + ["selected", "reason"]]


def choice_table(params: Params, candidates: list[str] | None = None) -> pd.DataFrame:
    """``select_languages`` with the params' kind, strategy, budget, metric and source; languages
    given in the params are taken as given (``reason``: "given in params")."""
    selection = select_languages(params.targets, list(params.candidate_languages if candidates is None else candidates),
                                 kind=params.typology_kind, strategy=params.selection_strategy,
                                 budget=params.selection_budget, metric=params.distance_metric,
                                 source=params.typology_source)
    if params.intermediate_languages != "typology":  # chosen by hand in the params
        selection["selected"] = selection["candidate"].isin(set(params.intermediate_languages))
        selection["reason"] = selection["selected"].map({True: "given in params", False: ""})
    return selection


def chosen(selection: pd.DataFrame) -> list[str]:
    """The languages a choice table selects, sorted."""
    return sorted(selection.loc[selection["selected"].astype(bool), "candidate"].unique())
