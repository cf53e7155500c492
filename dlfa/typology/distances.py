"""URIEL typological distances between languages, and typology-guided choice of languages.

Vectors are URIEL's, as packaged by lang2vec 1.1.2 (Littell et al., EACL 2017): syntactic,
phonological and inventory features predicted by k-NN (``*_knn``), language family membership
(``fam``) and distances to fixed points on the globe (``geo``). Distances are recomputed here:
lang2vec's PyPI release has no ``distance()`` and does not ship URIEL's precomputed distance
matrix, so the values are not identical to that unreleased matrix.

Kinds and the lang2vec feature sets behind them: syntactic ``syntax_knn``, phonological
``phonology_knn``, inventory ``inventory_knn``, featural the three knn sets concatenated,
genetic ``fam``, geographic ``geo``. Metrics: cosine distance ``1 - cos`` and angular distance
``2 arccos(cos) / pi`` (URIEL+'s ``_angular_distance``; URIEL's vectors are non-negative, so cos is
in [0, 1] and so is the angle); both are clipped to [0, 1].

The other source, ``urielplus`` (URIEL+ 1.3.2, Khan et al. 2025), computes each pair's distance
over the features both languages have a value for (no k-NN imputation; several sources are
joined by union), with two more kinds (morphological, script), and gives a confidence score per
distance: the agreement of its sources on the two languages' values and the share of values not
missing (``confidence``). URIEL+ is used as it loads, without integrating its extra databases
(Grambank, SAPHON, BDPROTO, APiCS, eWAVE: minutes, and the languages become Glottocodes), so its
morphological kind has no data for these languages and is reported as missing.

lang2vec's own module imports ``pkg_resources`` (deprecated, warns) and decompresses its data on
every lookup, which is slow (seconds for ``fam``). We read its packaged ``.npz`` files directly,
once per feature set and process, with the same (file, source, prefix) table as
``lang2vec.lang2vec.FEATURE_SETS_DICT``; tests check the vectors against ``get_features``.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from dlfa.config.tasks import INTERMEDIATE, PAWSX

KINDS = ("syntactic", "phonological", "inventory", "featural", "genetic", "geographic")  # lang2vec's
URIELPLUS_KINDS = KINDS + ("morphological", "script")
SOURCES = ("lang2vec", "urielplus")
LOW_COVERAGE = 0.1  # URIEL+ coverage below which a choice is flagged: under 1 in 10 source x feature values known
METRICS = ("cosine", "angular")
ORDERS = ("SVO", "SOV", "VSO", "VOS", "OVS", "OSV")

# (file, source, feature prefix), as in lang2vec.lang2vec.FEATURE_SETS_DICT.
_SETS = {
    "syntax_knn": ("feature_predictions.npz", "predicted", "S_"),
    "phonology_knn": ("feature_predictions.npz", "predicted", "P_"),
    "inventory_knn": ("feature_predictions.npz", "predicted", "INV_"),
    "syntax_average": ("feature_averages.npz", "avg", "S_"),
    "fam": ("family_features.npz", "FAM", ""),
    "geo": ("geocoord_features.npz", "GEOCOORDS", ""),
}
_KIND_SETS = {
    "syntactic": ("syntax_knn",),
    "phonological": ("phonology_knn",),
    "inventory": ("inventory_knn",),
    "featural": ("syntax_knn", "phonology_knn", "inventory_knn"),
    "genetic": ("fam",),
    "geographic": ("geo",),
}

# Macrolanguage codes whose lang2vec default we override (639-1, and the 639-2/B alias that
# lang2vec's table also maps). zh: both zho and cmn have non-zero vectors for every kind, with
# comparable attested syntax (WALS: 121 vs 117 features) and the same PHOIBLE inventories; but the
# study's Chinese (XNLI, PAWS-X) is Mandarin, and only cmn has a real lineage in `fam`
# (Sino-Tibetan > Sinitic > Northern Chinese > Mandarinic), while zho's holds the root alone.
# lang2vec's other defaults are kept: ar -> ara (the macrolanguage has more attested data than
# arb: WALS 118 vs 66 features, PHOIBLE inventories that arb lacks), sw -> swa (the same attested
# data as swh).
_OVERRIDES = {"zh": "cmn", "chi": "cmn"}


def check_choice(value, allowed, what: str) -> None:
    """ValueError naming ``what`` and the allowed values unless ``value`` is one of them."""
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(map(str, allowed))}")


@functools.lru_cache(maxsize=None)
def _data_dir() -> Path:
    # Through the installed distribution, not find_spec: lang2vec also installs a script bin/lang2vec.py,
    # which shadows the package when the caller is a console script (sys.path[0] is bin/).
    try:
        dist = importlib.metadata.distribution("lang2vec")
    except importlib.metadata.PackageNotFoundError:
        raise ImportError("lang2vec is not installed; install the project (pip install -e .)") from None
    return Path(dist.locate_file("lang2vec/data"))


@functools.lru_cache(maxsize=None)
def _letter_codes() -> dict[str, str]:
    """ISO 639-1 -> 639-3, lang2vec's table with `_OVERRIDES` applied."""
    codes = json.loads((_data_dir() / "letter_codes.json").read_text())
    return {**codes, **_OVERRIDES}


@functools.lru_cache(maxsize=None)
def feature_vectors(name: str) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """(feature names, code -> vector) for every language of one lang2vec feature set."""
    file, source, prefix = _SETS[name]
    with np.load(_data_dir() / file) as z:
        keep = [i for i, f in enumerate(z["feats"]) if f.startswith(prefix)]
        src = list(z["sources"]).index(source)
        data = z["data"][:, :, src]  # (languages, features)
        if len(keep) < data.shape[1]:
            data = data[:, keep]
        return tuple(z["feats"][keep].tolist()), dict(zip(z["langs"].tolist(), data))


@functools.lru_cache(maxsize=None)
def _kind_vectors(kind: str) -> dict[str, np.ndarray]:
    sets = [feature_vectors(s)[1] for s in _KIND_SETS[kind]]
    if len(sets) == 1:
        return sets[0]
    return {c: np.concatenate([s[c] for s in sets]) for c in sets[0]}


def _close_codes(c: str, pool: set[str], major: set[str], n: int = 3) -> list[str]:
    """Up to n codes like `c`: most similar first, then ISO 639-1 languages, then shared prefix."""
    scored = sorted((-difflib.SequenceMatcher(None, c, x).ratio(), x not in major,
                     -len(os.path.commonprefix([c, x])), x) for x in pool)
    return [x for neg_ratio, *_, x in scored[:n] if neg_ratio <= -0.5]


def iso3(code: str) -> str:
    """The ISO 639-3 code lang2vec uses for `code` (ISO 639-1 or 639-3, any case).

    An explicit 639-3 code is kept as given (``zho`` stays ``zho``); 639-1 codes follow lang2vec's
    table except ``zh -> cmn`` (see `_OVERRIDES`).
    """
    if not isinstance(code, str):
        raise ValueError(f"language code must be a string, got {code!r}")
    c = code.strip().lower()
    letters, langs = _letter_codes(), feature_vectors("syntax_knn")[1]
    if c in letters:
        return letters[c]
    if c in langs:
        return c
    close = _close_codes(c, set(letters) | set(langs), major=set(letters) | set(letters.values()))
    hint = f"; close valid codes: {', '.join(close)}" if close else ""
    raise ValueError(f"unknown language code {code!r} (not an ISO 639-1/639-3 code in lang2vec){hint}")


def _vector(kind: str, code: str) -> np.ndarray:
    v = _kind_vectors(kind)[iso3(code)]
    if not v.any():
        raise ValueError(f"lang2vec has no {kind} data for {code!r} ({iso3(code)}): its vector is all zero")
    return v.astype(np.float64)


def _from_cosine(cos: float, metric: str) -> float:
    """A distance in [0, 1] from a cosine similarity: ``1 - cos``, or URIEL+'s angle ``2 arccos(cos) / pi``."""
    cos = min(max(cos, -1.0), 1.0)
    d = 1.0 - cos if metric == "cosine" else 2 * math.acos(cos) / math.pi
    return min(max(d, 0.0), 1.0)


def source_kinds(source: str = "lang2vec") -> tuple[str, ...]:
    """The distance kinds a source has."""
    check_choice(source, SOURCES, "typology source")
    return KINDS if source == "lang2vec" else URIELPLUS_KINDS


@functools.lru_cache(maxsize=None)
def _urielplus():
    """URIEL+ as it loads (its own data, no database integration), logging as it was before."""
    import logging
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        from urielplus import urielplus  # configures the root logger at INFO on import
    except ImportError:
        raise ImportError("typology_source urielplus needs the urielplus package: pip install urielplus==1.3.2") from None
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
    return _urielplus_call(urielplus.URIELPlus)


def _urielplus_call(function, *args):
    import logging
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # URIEL+ logs every query at INFO through the root logger
    try:
        return function(*args)
    finally:
        root.setLevel(level)


# URIEL+ typological features of a kind (its other kinds use every feature of their file)
_KIND_PREFIX = {"syntactic": "S_", "phonological": "P_", "inventory": "INV_", "morphological": "M_"}


def _urielplus_row(kind: str, code: str) -> np.ndarray:
    """One language's values for a kind's features, (features, sources), -1 where missing."""
    u = _urielplus()
    index = _urielplus_call(u.map_new_distance_to_loaded_features, kind)
    where = np.where(u.langs[index] == code)[0]
    if not len(where):
        raise ValueError(f"URIEL+ has no language {code!r}")
    row = np.asarray(u.data[index][where[0]], dtype=float)
    prefix = _KIND_PREFIX.get(kind)
    return row if prefix is None else row[[str(f).startswith(prefix) for f in u.feats[index]]]


@functools.lru_cache(maxsize=None)
def _urielplus_vector(kind: str, code: str) -> tuple[np.ndarray, np.ndarray]:
    """(which features the language has a value for, its value per feature) for a kind, as URIEL+'s
    ``new_distance`` builds them: one source's value, else the union of its sources (the largest
    known value; geographic: their mean)."""
    row = _urielplus_row(kind, code)
    known = row != -1
    has = known.any(axis=1)
    if row.shape[1] == 1:
        values = row[:, 0]
    elif kind == "geographic":
        values = np.where(known, row, 0).sum(axis=1) / np.maximum(known.sum(axis=1), 1)
    else:
        values = np.where(known, row, -np.inf).max(axis=1)
    return has, np.where(has, values, 0.0)


@functools.lru_cache(maxsize=None)
def _urielplus_matrix(kind: str, metric: str, codes: tuple[str, ...]) -> np.ndarray:
    """URIEL+'s distances among ``codes`` (ISO 639-3), each pair over the features both languages
    have a value for (``new_distance``, tested against it, without its rounding to 4 decimals); NaN
    where they share none."""
    vectors = [_urielplus_vector(kind, c) for c in codes]
    out = np.zeros((len(codes), len(codes)))
    for i in range(len(codes)):
        for j in range(i + 1, len(codes)):
            (has_a, values_a), (has_b, values_b) = vectors[i], vectors[j]
            shared = has_a & has_b
            if not shared.any():
                out[i, j] = out[j, i] = np.nan
                continue
            u, v = values_a[shared], values_b[shared]
            u = u if u.any() else np.full(len(u), 1e-10)  # URIEL+'s stand-in for an all-zero vector
            v = v if v.any() else np.full(len(v), 1e-10)
            out[i, j] = out[j, i] = _from_cosine(float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v))), metric)
    return out


@functools.lru_cache(maxsize=None)
def _urielplus_language_confidence(kind: str, code: str) -> tuple[float, float]:
    """URIEL+'s confidence in one language's data for a kind: (source agreement, share not missing),
    as its ``confidence_score`` computes them (a pair's score is the mean of its two languages'),
    without its per-value Python loops: per feature, the share of the known values (not -1) that
    equal the most common one (1 when none is known), averaged; and one minus the average share of
    missing values. A kind without features scores (0, 1), as there."""
    row = _urielplus_row(kind, code)
    if len(row) == 0:
        return 0.0, 1.0
    known = row != -1
    n_known = known.sum(axis=1)
    if set(np.unique(row[known]).tolist()) <= {0.0, 1.0}:
        ones = ((row == 1) & known).sum(axis=1)
        modal = np.maximum(ones, n_known - ones)
    else:  # other values (geographic): the most common one, feature by feature
        modal = np.array([np.unique(r[r != -1], return_counts=True)[1].max(initial=0) for r in row])
    agreement = np.where(n_known > 0, modal / np.maximum(n_known, 1), 1.0).mean()
    return float(agreement), float(1 - (~known).mean(axis=1).mean())


def confidence(kind: str, a: str, b: str) -> tuple[float, float]:
    """URIEL+'s confidence in the distance of `a` and `b` under `kind`: (agreement of its sources on
    the two languages' values, share of values not missing), each in [0, 1]."""
    check_choice(kind, URIELPLUS_KINDS, "kind")
    x, y = _urielplus_language_confidence(kind, iso3(a)), _urielplus_language_confidence(kind, iso3(b))
    return (x[0] + y[0]) / 2, (x[1] + y[1]) / 2


def _urielplus_distance(kind: str, a: str, b: str, metric: str) -> float:
    codes = tuple(sorted({iso3(a), iso3(b)}))
    if len(codes) == 1:
        return 0.0
    d = float(_urielplus_matrix(kind, metric, codes)[0, 1])
    if math.isnan(d):
        raise ValueError(f"URIEL+ has no {kind} feature with a value for both {a!r} and {b!r} "
                         "(as it loads, without its integrated databases); choose another kind")
    return d


def distance(kind: str, a: str, b: str, metric: str = "cosine", source: str = "lang2vec") -> float:
    """Distance in [0, 1] between languages `a` and `b` under `kind`; 0 exactly when a == b."""
    check_choice(kind, source_kinds(source), "kind")
    check_choice(metric, METRICS, "metric")
    if source == "urielplus":
        return _urielplus_distance(kind, a, b, metric)
    (a3, u), (b3, v) = sorted([(iso3(a), _vector(kind, a)), (iso3(b), _vector(kind, b))], key=lambda p: p[0])
    if a3 == b3:
        return 0.0
    cos = float(u @ v) / math.sqrt(float(u @ u) * float(v @ v))  # sorted pair: exactly symmetric
    return _from_cosine(1.0 if cos > 1.0 - 1e-12 else cos, metric)  # identical vectors: no rounding residue


def distance_matrix(kind: str, langs, metric: str = "cosine", columns=None, source: str = "lang2vec") -> pd.DataFrame:
    """Distances under `kind`, rows `langs`, columns `columns` (default `langs`), codes as given.
    URIEL+: NaN where a pair has no feature with a value for both (``distance`` refuses those)."""
    check_choice(kind, source_kinds(source), "kind")
    check_choice(metric, METRICS, "metric")
    rows = list(langs)
    cols = rows if columns is None else list(columns)
    if source == "urielplus":
        codes = tuple(sorted({iso3(c) for c in rows + cols}))
        matrix = _urielplus_matrix(kind, metric, codes)  # one query for every pair
        where = {c: i for i, c in enumerate(codes)}
        values = [[0.0 if iso3(a) == iso3(b) else matrix[where[iso3(a)], where[iso3(b)]] for b in cols]
                  for a in rows]
    else:
        values = [[distance(kind, a, b, metric) for b in cols] for a in rows]
    return pd.DataFrame(values, index=pd.Index(rows), columns=pd.Index(cols), dtype=float)


def distance_table(langs_a, langs_b, kinds=KINDS, metric: str = "cosine", source: str = "lang2vec") -> pd.DataFrame:
    """Tidy table `kind, metric, lang_a, lang_b, distance`: every pair of `langs_a` x `langs_b`; with
    URIEL+ also `source_agreement` and `coverage`, its confidence in each distance (``confidence``)."""
    chosen = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    for k in chosen:
        check_choice(k, source_kinds(source), "kind")
    check_choice(metric, METRICS, "metric")
    rows = [
        (k, metric, a, b, d)
        for k in chosen
        for a, ds in distance_matrix(k, langs_a, metric, columns=langs_b, source=source).iterrows()
        for b, d in ds.items()
    ]
    table = pd.DataFrame(rows, columns=["kind", "metric", "lang_a", "lang_b", "distance"])
    if source == "urielplus":
        scores = [confidence(k, a, b) for k, a, b in zip(table.kind, table.lang_a, table.lang_b)]
        table["source_agreement"] = [s[0] for s in scores]
        table["coverage"] = [s[1] for s in scores]
    return table


def source_agreement(langs_a=INTERMEDIATE["xnli"].languages, langs_b=PAWSX.languages,
                     metric: str = "cosine") -> pd.DataFrame:
    """Per kind both sources have: the Spearman correlation of lang2vec's and URIEL+'s distances over
    the pairs of `langs_a` x `langs_b` (a language with itself left out; pairs URIEL+ cannot measure
    too), with the number of pairs and each source's mean distance."""
    from scipy.stats import spearmanr
    rows = []
    for kind in KINDS:
        a = distance_matrix(kind, langs_a, metric, columns=langs_b).to_numpy()
        b = distance_matrix(kind, langs_a, metric, columns=langs_b, source="urielplus").to_numpy()
        other = np.array([[iso3(x) != iso3(y) for y in langs_b] for x in langs_a])
        keep = other & ~np.isnan(b)
        rho = spearmanr(a[keep], b[keep]).statistic if keep.sum() > 2 else float("nan")
        rows.append({"kind": kind, "metric": metric, "spearman": float(rho), "pairs": int(keep.sum()),
                     "mean_lang2vec": float(a[keep].mean()), "mean_urielplus": float(b[keep].mean())})
    return pd.DataFrame(rows)


def syntax_profile(code: str) -> dict:
    """Word order, adjective-noun and adposition-noun order of `code` from lang2vec's syntax_knn.

    Each is the listed feature with the highest knn value. knn values are 0/1 and often tie
    (French has both adjective orders); ties go to the higher URIEL source average
    (``syntax_average``, the mean over WALS, SSWL, Ethnologue), then to the first listed.
    """
    c = iso3(code)
    (names, knn), (avg_names, avg) = feature_vectors("syntax_knn"), feature_vectors("syntax_average")

    def pick(options: list[str]) -> int:
        keys = [(knn[c][names.index(f)], avg[c][avg_names.index(f)]) for f in options]
        return max(range(len(options)), key=keys.__getitem__)  # max keeps the first of equals

    return {
        "order": ORDERS[pick([f"S_{o}" for o in ORDERS])],
        "adj_before_noun": pick(["S_ADJECTIVE_BEFORE_NOUN", "S_ADJECTIVE_AFTER_NOUN"]) == 0,
        "adposition_before_noun": pick(["S_ADPOSITION_BEFORE_NOUN", "S_ADPOSITION_AFTER_NOUN"]) == 0,
    }
