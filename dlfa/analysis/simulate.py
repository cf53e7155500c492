"""Whole studies simulated example by example, the way the study produces its numbers.

Every run answers every test example of every language right or wrong, and the analysis sees
only those answers. An example has a difficulty of its own, shared in part by its translations
(PAWS-X is parallel); a run answers it right with probability that difficulty's plus the run's
effects (the population effect under study, its seed's effect). Which examples a run gets right
is correlated between runs: in part for every run (hard examples are hard for all), in part for
the runs of one intermediate language or one fused layer whatever their seed, correlated again
between similar languages (runs from close languages err on the same pairs), in part the run's
own. The correlation is a Gaussian copula on each example, so a run's expected accuracy is
exactly the one planted: an effect planted in accuracy points moves each example's chance in
proportion to its room, pi (1 - pi) / E[pi (1 - pi)] (an example every run gets right cannot
improve), so that the population's accuracy moves by exactly the effect and never leaves [0, 1]
for effects below about 12 points. It is the effect the analysis should find; under a null it
should find none.

:func:`typology_studies` draws the typology design (intermediate languages x targets, a run
without intermediate task per seed), :func:`fusion_studies` the DLFA design (fused layers beside
the baseline, with English dev for choosing a layer). ``dlfa.analysis.calibration`` applies the study's
tests to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd
from scipy import special


@dataclass(frozen=True)
class Examples:
    """How a test set's examples behave across runs (shares of a unit-variance latent per example)."""

    accuracy: float = 0.80  # a run's mean accuracy before the effects under study
    spread: float = 0.8     # SD of the examples' difficulty (probit scale)
    parallel: float = 0.5   # share of an example's difficulty its translations share
    shared: float = 0.3     # share of which-examples-a-run-gets-right common to every run
    group: float = 0.0      # ... common to the runs of one intermediate language (or fused layer), every seed
    scale: float = 0.25     # correlation exp(-d / scale) of that share between intermediate languages d apart


    @property
    def mu(self) -> float:
        """The probit mean that gives ``accuracy``: E[Phi(mu + spread X)] = Phi(mu / sqrt(1 + spread^2))."""
        return float(special.ndtri(self.accuracy) * np.sqrt(1 + self.spread ** 2))

    @property
    def room(self) -> float:
        """E[pi (1 - pi)] over the examples, pi = Phi(mu + spread X): E[Phi(Y)] - E[Phi(Y)^2], the second
        a bivariate normal probability."""
        from scipy.stats import multivariate_normal
        r = self.spread ** 2 / (1 + self.spread ** 2)
        a = self.mu / np.sqrt(1 + self.spread ** 2)
        both = multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]]).cdf([a, a])
        return float(self.accuracy - both)


def _standardised(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / v.std() if v.std() > 0 else np.zeros_like(v)


def _difficulty(rng, n: int, languages: int, examples: int, ex: Examples) -> np.ndarray:
    """(n, languages, examples): each example's chance of being answered right, before the effects."""
    common = rng.standard_normal((n, 1, examples), dtype=np.float32)
    own = rng.standard_normal((n, languages, examples), dtype=np.float32)
    return special.ndtr(ex.mu + ex.spread * (np.sqrt(ex.parallel) * common + np.sqrt(1 - ex.parallel) * own))


def _right(rng, chance: np.ndarray, shift: np.ndarray, common: np.ndarray, group: np.ndarray,
           ex: Examples) -> np.ndarray:
    """Right (True) or wrong: the copula's latent below the probit of the example's chance, moved by
    ``shift`` in proportion to its room."""
    moved = chance + (shift / np.float32(ex.room)) * chance * (1 - chance)
    threshold = special.ndtri(np.clip(moved, 1e-6, 1 - 1e-6))
    rest = 1.0 - ex.shared - ex.group
    latent = np.sqrt(ex.shared) * common + np.sqrt(rest) * rng.standard_normal(threshold.shape, dtype=np.float32)
    if ex.group:
        latent = latent + np.sqrt(ex.group) * group
    return latent < threshold


def _group_noise(rng, n: int, correlation: np.ndarray, tail: tuple[int, ...]) -> np.ndarray:
    """(n, groups, *tail) standard normals, correlated across groups as ``correlation`` says."""
    factor = np.linalg.cholesky(correlation + 1e-9 * np.eye(len(correlation))).astype(np.float32)
    draws = rng.standard_normal((n, len(correlation), *tail), dtype=np.float32)
    return np.einsum("gh,nh...->ng...", factor, draws)


def typology_studies(distance: pd.DataFrame, n_sims: int, seeds: int = 3, examples: int = 2000,
                     slope: float = 0.0, same_language: float = 0.0, headroom: float = 0.0, usefulness: float = 0.0,
                     cell: float = 0.0, run: float = 0.010, run_target: float = 0.008, ex: Examples = Examples(),
                     language_distance: pd.DataFrame | None = None, seed: int = 0,
                     chunk: int = 50) -> Iterator[np.ndarray]:
    """Studies of the typology design, in chunks: ``(n, cells, examples)`` arrays whose sum over the
    last axis is each (L, T) cell's gain, seeds averaged (cells in ``distance``'s row-major order).

    ``distance``: intermediate languages (rows) x targets (columns). For each seed, one run without
    intermediate task and one per intermediate language, each answering every target's
    ``examples`` test examples (parallel across targets). Planted on the accuracy scale (0.01 = one
    point): ``slope`` per unit of distance, ``same_language`` for a cell whose intermediate language
    is its target, ``headroom`` (SD of target effects aligned with each target's mean distance) and
    ``usefulness`` (SD of intermediate-language effects aligned with each language's mean distance),
    ``cell`` (SD of each cell's own effect); ``run`` and ``run_target``: SD of a run's seed effect on
    all its targets and on each. ``ex.group`` shares errors between the runs of one language, with
    ``language_distance`` (L x L) setting how much close languages share them.
    """
    rng = np.random.default_rng(seed)
    d = distance.to_numpy(dtype=float)
    n_l, n_t = d.shape
    same = np.equal.outer(distance.index.to_numpy(), distance.columns.to_numpy())
    fixed = (slope * d + same_language * same + headroom * _standardised(d.mean(axis=0))[None, :]
             + usefulness * _standardised(d.mean(axis=1))[:, None])
    # the run without intermediate task is a group of its own, uncorrelated with the languages'
    correlation = np.eye(n_l + 1)
    if language_distance is not None:
        correlation[1:, 1:] = np.exp(-language_distance.loc[distance.index, distance.index].to_numpy(float) / ex.scale)
    for start in range(0, n_sims, chunk):
        n = min(chunk, n_sims - start)
        effect = fixed + cell * rng.standard_normal((n, n_l, n_t))
        chance = _difficulty(rng, n, n_t, examples, ex)[:, None]          # (n, 1, T, N)
        common = rng.standard_normal((n, 1, n_t, examples), dtype=np.float32)
        group = _group_noise(rng, n, correlation, (n_t, examples)) if ex.group else None
        gains = np.zeros((n, n_l, n_t, examples), dtype=np.float32)
        for _ in range(seeds):
            shift = np.concatenate([np.zeros((n, 1, n_t)), effect], axis=1)
            shift = shift + run * rng.standard_normal((n, n_l + 1, 1)) + run_target * rng.standard_normal((n, n_l + 1, n_t))
            right = _right(rng, chance, shift[..., None].astype(np.float32), common, group, ex)
            gains += right[:, 1:].astype(np.float32) - right[:, :1]
        yield (gains / (seeds * examples)).reshape(n, n_l * n_t, examples)


def fusion_studies(gains, n_sims: int, seeds: int = 3, languages: int = 6, examples: int = 400,
                   dev_examples: int = 400, run: float = 0.010, run_language: float = 0.005,
                   ex: Examples = Examples(group=0.3), seed: int = 0, chunk: int = 100) -> Iterator[dict]:
    """Studies of the DLFA design, in chunks: the baseline and one variant per entry of ``gains``
    (its true gain over the baseline, accuracy scale), each trained with every seed.

    Each run's seed effect (SD ``run``) is shared by all its languages and by English dev and test:
    a layer that is lucky on dev is lucky on test. ``run_language``: SD of its effect on each
    language. ``ex.group``: the share of which examples a run gets right that the runs of one
    variant share whatever their seed (a fused model errs on examples of its own).

    Yields dicts of ``test`` (n, K, S, examples): each test example's contribution to variant k's
    gain over the baseline of seed s averaged over the zero-shot languages (its mean over examples
    is that gain; translations of one pair are one example), and ``dev`` (n, S, K): the gain on
    English dev, the data a researcher may choose a layer on.
    """
    rng = np.random.default_rng(seed)
    gains = np.asarray(gains, dtype=float)
    k = len(gains)
    for start in range(0, n_sims, chunk):
        n = min(chunk, n_sims - start)
        chance = _difficulty(rng, n, languages, examples, ex)[:, None]        # (n, 1, lang, N)
        chance_dev = _difficulty(rng, n, 1, dev_examples, ex)[:, None]        # (n, 1, 1, Ndev)
        common = rng.standard_normal((n, 1, languages, examples), dtype=np.float32)
        common_dev = rng.standard_normal((n, 1, 1, dev_examples), dtype=np.float32)
        group = rng.standard_normal((n, k + 1, languages, examples), dtype=np.float32) if ex.group else None
        group_dev = rng.standard_normal((n, k + 1, 1, dev_examples), dtype=np.float32) if ex.group else None
        test = np.empty((n, k, seeds, examples), dtype=np.float32)
        dev = np.empty((n, seeds, k))
        planted = np.concatenate([[0.0], gains])
        for s in range(seeds):
            lucky = run * rng.standard_normal((n, k + 1, 1))  # the seed's effect, on dev and test alike
            shift = planted[None, :, None] + lucky + run_language * rng.standard_normal((n, k + 1, languages))
            shift_dev = planted[None, :, None] + lucky + run_language * rng.standard_normal((n, k + 1, 1))
            right = _right(rng, chance, shift[..., None].astype(np.float32), common, group, ex)
            right_dev = _right(rng, chance_dev, shift_dev[..., None].astype(np.float32), common_dev, group_dev, ex)
            test[:, :, s] = (right[:, 1:].astype(np.float32) - right[:, :1]).mean(axis=2)
            accuracy_dev = right_dev.mean(axis=(2, 3))
            dev[:, s] = accuracy_dev[:, 1:] - accuracy_dev[:, :1]
        yield {"test": test, "dev": dev}
