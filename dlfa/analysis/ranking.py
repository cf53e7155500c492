"""How good is typology at choosing intermediate languages? LangRank's measure (Lin et al. 2019).

Per target T and distance kind: rank the intermediate languages the study evaluated on T by their
distance to T (nearest first, the ranking typology would recommend) and score that ranking
against the gains the study observed with NDCG@k (k = 3, as LangRank). Relevance is LangRank's,
from the observed ranking: with n languages, the one with the largest gain has relevance n, the
next n - 1, ..., the smallest 1 (LangRank's gamma set to n; tied gains share their mean). Beside
it, the expectation of NDCG@k under a uniformly random ranking of the same languages, computed
exactly, and candidates at the same distance count as ranked at random among themselves (genetic
distance puts every unrelated language at 1.0).

The unit is a (variant, kind, target) ranking over cells whose gains are seed means (collapsed
runs already left out); a ranking over fewer than two languages is not estimable. NDCG describes
the study's own gains, noise included: it is not a test, and no p-value is attached.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

K = 3
NDCG_COLUMNS = ["variant", "kind", "metric", "target", "languages", "ndcg", "random_ndcg", "nearest", "best", "note"]


def _discounts(n: int, k: int) -> np.ndarray:
    return np.array([1 / np.log2(i + 2) if i < k else 0.0 for i in range(n)])


def relevance(gains) -> np.ndarray:
    """LangRank's relevance from observed gains: n for the largest, ..., 1 for the smallest."""
    return rankdata(np.asarray(gains, dtype=float), method="average")


def ndcg(distances, gains, k: int = K) -> float:
    """NDCG@k of the ranking by ascending distance, in expectation over the order within ties."""
    distances, rel = np.asarray(distances, dtype=float), relevance(gains)
    order = np.argsort(distances, kind="stable")
    expected = np.empty(len(rel))
    sorted_d, sorted_rel = distances[order], rel[order]
    for value in np.unique(sorted_d):  # a tie group's positions each hold its mean relevance
        group = sorted_d == value
        expected[group] = sorted_rel[group].mean()
    disc = _discounts(len(rel), k)
    return float(expected @ disc / (np.sort(rel)[::-1] @ disc))


def random_ndcg(gains, k: int = K) -> float:
    """The expectation of NDCG@k under a uniformly random ranking: every position's relevance is the mean."""
    rel = relevance(gains)
    disc = _discounts(len(rel), k)
    return float(rel.mean() * disc.sum() / (np.sort(rel)[::-1] @ disc))


def selection_ndcg(cells: pd.DataFrame, k: int = K) -> pd.DataFrame:
    """One row per (variant, kind, metric, target) of ``cells`` (``analysis/typology_cells.csv``:
    variant, intermediate_language, language, gain, kind, metric, distance), plus a ``mean`` row
    per (variant, kind, metric) over its estimable targets. ``nearest`` is the language typology
    ranks first, ``best`` the one with the largest gain."""
    rows = []
    for (variant, kind, metric), group in cells.groupby(["variant", "kind", "metric"], sort=False):
        scored = []
        for target, g in group.groupby("language", sort=False):
            g = g.dropna(subset=["distance", "gain"])
            row = {"variant": variant, "kind": kind, "metric": metric, "target": target, "languages": len(g),
                   "ndcg": np.nan, "random_ndcg": np.nan, "nearest": "", "best": "", "note": ""}
            if len(g) < 2:
                row["note"] = (f"not estimable: {len(g)} intermediate language(s) with a {kind} distance evaluated "
                               f"on {target}; a ranking needs two or more")
            else:
                row.update(ndcg=ndcg(g.distance, g.gain, k), random_ndcg=random_ndcg(g.gain, k),
                           nearest=g.intermediate_language.iloc[int(np.argmin(g.distance.to_numpy()))],
                           best=g.intermediate_language.iloc[int(np.argmax(g.gain.to_numpy()))])
                scored.append(row)
            rows.append(row)
        if scored:
            rows.append({"variant": variant, "kind": kind, "metric": metric, "target": "mean",
                         "languages": np.nan,
                         "ndcg": float(np.mean([r["ndcg"] for r in scored])),
                         "random_ndcg": float(np.mean([r["random_ndcg"] for r in scored])),
                         "nearest": "", "best": "", "note": f"over {len(scored)} target(s)"})
    return pd.DataFrame(rows, columns=NDCG_COLUMNS)
