"""Packings: as many unit vectors in R^d as fit with all pairwise |cos| <= eps.

At least exp(d eps^2 / 4) fit (from the tail P(|t| >= eps) <= 2 exp(-d eps^2 / 2) of the cosine
of two random unit vectors, superpos.jl): exponentially many in d, which is why a model can give
many more features than dimensions a nearly private direction each. Two searches find actual
sets: random greedy and gradient descent on the cosines above eps. Every count is a set that was
checked, so a lower bound on the best; the most equiangular lines known give the best for d <= 17.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from superpos.jl import BLOCK_ENTRIES, random_unit_vectors

# Work is counted as in superpos.jl: per candidate-vector pair (greedy) and per pair and
# gradient step (optimiser), a dot product in R^d plus a fixed overhead.
GREEDY_OVERHEAD = 16
RELAX_OVERHEAD = 64
PACKING_BUDGET = 3e9
# Largest packing (float64: 32 MB). A greedy batch of GREEDY_BATCH candidates meets at most
# MAX_PACKING_VECTORS kept ones, and the optimiser's Gram matrix has at most BLOCK_ENTRIES
# entries, so both stay within BLOCK_ENTRIES.
PACKING_MAX_ENTRIES = 2**22
GREEDY_BATCH = 256
MAX_PACKING_VECTORS = BLOCK_ENTRIES // GREEDY_BATCH

# Most equiangular lines in R^d and their common |cos| (Lemmens & Seidel 1973; Greaves et al.).
EQUIANGULAR_LINES = {
    2: 3, 3: 6, 4: 6, 5: 10, 6: 16, 7: 28, 8: 28, 9: 28, 10: 28,
    11: 28, 12: 28, 13: 28, 14: 28, 15: 36, 16: 40, 17: 48,
}  # fmt: skip
EQUIANGULAR_COSINE = {2: 1 / 2, 3: 1 / math.sqrt(5)} | dict.fromkeys(range(4, 15), 1 / 3)
EQUIANGULAR_COSINE |= dict.fromkeys(range(15, 18), 1 / 5)


def packing_lower_bound(dim, eps):
    """exp(d eps^2 / 4): so many unit vectors with all |cos| < eps exist in R^d (at least)."""
    return np.exp(np.asarray(dim, dtype=float) * eps**2 / 4)


def equiangular_table(eps: float) -> dict[str, np.ndarray]:
    """The most equiangular lines in R^d, d = 2..17: columns dim, lines, cosine, fits.

    fits: the common |cos| is <= eps, so the set is itself a packing at this eps.
    """
    dims = np.array(sorted(EQUIANGULAR_LINES))
    cosine = np.array([EQUIANGULAR_COSINE[d] for d in dims])
    return {
        "dim": dims,
        "lines": np.array([EQUIANGULAR_LINES[d] for d in dims]),
        "cosine": cosine,
        "fits": cosine <= eps,
    }


# --- Searches -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Packing:
    """Unit vectors (rows) whose pairwise |cos| are all <= eps.

    complete is False when the search stopped at its vector cap or work budget rather than
    because no more vectors could be fitted: the count is then only what the budget allowed.
    """

    vectors: np.ndarray
    complete: bool
    work: float

    @property
    def count(self) -> int:
        return len(self.vectors)


def max_packing_vectors(dim: int) -> int:
    """The vector cap of a packing in R^dim, from the memory budgets above."""
    return max(2, min(MAX_PACKING_VECTORS, PACKING_MAX_ENTRIES // dim))


def greedy_packing(
    dim: int,
    eps: float,
    seed: int = 0,
    max_vectors: int | None = None,
    patience: int = 1000,
    work_budget: float = PACKING_BUDGET,
    batch: int = GREEDY_BATCH,
) -> Packing:
    """Random greedy packing: keep each random unit vector whose |cos| to all kept ones <= eps.

    Candidates come in batches; the search is complete once `patience` candidates in a row
    (counted at the end of a batch) were rejected, i.e. once a random direction fits with
    probability below about 1/patience. It also stops at max_vectors or the work budget.
    """
    rng = np.random.default_rng(seed)
    max_vectors = max_packing_vectors(dim) if max_vectors is None else max_vectors
    kept = np.empty((0, dim))
    rejections_in_a_row = 0
    work = 0.0
    while len(kept) < max_vectors and rejections_in_a_row < patience and work < work_budget:
        candidates = random_unit_vectors(batch, dim, rng)
        fits_kept = np.all(np.abs(candidates @ kept.T) <= eps, axis=1)
        clashes = np.abs(candidates @ candidates.T) > eps
        work += batch * (len(kept) + batch) * (dim + GREEDY_OVERHEAD)
        accepted: list[int] = []
        for i in np.flatnonzero(fits_kept):
            if not clashes[i, accepted].any():
                accepted.append(i)
                if len(kept) + len(accepted) == max_vectors:
                    break
        rejections_in_a_row = batch - 1 - accepted[-1] if accepted else rejections_in_a_row + batch
        kept = np.vstack([kept, candidates[accepted]])
    return Packing(kept, complete=rejections_in_a_row >= patience, work=work)


def _relax(
    vectors: np.ndarray, eps: float, steps: int, learning_rate: float = 0.5, target_fraction: float = 0.97
) -> tuple[np.ndarray | None, int]:
    """Gradient descent on L = 1/2 sum_{i != j} max(|c_ij| - tau, 0)^2, tau = target_fraction eps.

    Step: v_i <- v_i - lr sum_j sign(c_ij) max(|c_ij| - tau, 0) v_j, then renormalise rows.
    Returns (the vectors, once all |c_ij| <= eps, else None) and the steps taken.
    """
    target = target_fraction * eps
    for step in range(steps + 1):
        cosines = vectors @ vectors.T
        np.fill_diagonal(cosines, 0.0)
        if np.abs(cosines).max() <= eps:
            return vectors, step
        if step == steps:
            break
        excess = np.sign(cosines) * np.maximum(np.abs(cosines) - target, 0.0)
        vectors = vectors - learning_rate * (excess @ vectors)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return None, steps


def optimised_packing(
    dim: int,
    eps: float,
    seed: int = 0,
    max_vectors: int | None = None,
    work_budget: float = PACKING_BUDGET,
    start: Packing | None = None,
    steps: int = 200,
    growth: float = 0.1,
    pool: int = 32,
) -> Packing:
    """Grow a packing by gradient descent on the cosines above eps, from `start` or greedy.

    The greedy start gets half the work budget. Each round adds max(1, growth * count) new
    vectors, each the least clashing of `pool` random candidates, and relaxes the set
    (_relax) for at most `steps` steps. On failure it retries with half as many new vectors;
    it is complete when even one cannot be fitted.
    A step costs count^2 (2 dim + RELAX_OVERHEAD), charged to the work budget; the set's Gram
    matrix must fit BLOCK_ENTRIES, so the optimiser grows no set beyond sqrt(BLOCK_ENTRIES).
    """
    max_vectors = max_packing_vectors(dim) if max_vectors is None else max_vectors
    if start is None:
        start = greedy_packing(dim, eps, seed=seed, max_vectors=max_vectors, work_budget=work_budget / 2)
    max_vectors = min(max_vectors, math.isqrt(BLOCK_ENTRIES))
    rng = np.random.default_rng([seed, 1])  # a stream apart from the greedy start's
    vectors = start.vectors
    work = start.work
    adding = max(1, int(growth * len(vectors)))
    while len(vectors) < max_vectors and work < work_budget:
        adding = min(adding, max_vectors - len(vectors))
        candidates = random_unit_vectors(adding * pool, dim, rng)
        clash = np.abs(candidates @ vectors.T).max(axis=1, initial=0.0)
        trial = np.vstack([vectors, candidates[np.argsort(clash)[:adding]]])
        relaxed, steps_taken = _relax(trial, eps, steps)
        work += len(trial) ** 2 * (2 * dim + RELAX_OVERHEAD) * max(steps_taken, 1)
        if relaxed is not None:
            vectors = relaxed
            adding = max(adding, int(growth * len(vectors)))
        elif adding > 1:
            adding //= 2
        else:
            return Packing(vectors, complete=True, work=work)
    return Packing(vectors, complete=False, work=work)


def packing_sweep(
    dims, eps: float, seed: int = 0, max_vectors: int = 1000, work_budget: float = 1e9
) -> dict[str, np.ndarray]:
    """Greedy and optimised packing counts at one eps over increasing dimensions.

    Stops after the first dimension whose greedy packing reaches max_vectors. The optimiser
    shares work_budget across dimensions (smallest first); dimensions it no longer reaches
    get NaN. Columns: dim, greedy, greedy_complete, optimised, optimised_complete, lower_bound.
    """
    rows = []
    budget_left = work_budget
    for dim in dims:
        greedy = greedy_packing(dim, eps, seed=seed, max_vectors=max_vectors)
        optimised = None
        if budget_left > 0:
            optimised = optimised_packing(
                dim, eps, seed=seed, max_vectors=max_vectors, work_budget=greedy.work + budget_left, start=greedy
            )
            budget_left -= optimised.work - greedy.work
        rows.append(
            (
                dim,
                greedy.count,
                greedy.complete,
                np.nan if optimised is None else optimised.count,
                optimised is not None and optimised.complete,
            )
        )
        if greedy.count >= max_vectors:
            break
    dim, greedy, greedy_complete, optimised, optimised_complete = map(np.array, zip(*rows, strict=True))
    return {
        "dim": dim,
        "greedy": greedy,
        "greedy_complete": greedy_complete,
        "optimised": optimised,
        "optimised_complete": optimised_complete,
        "lower_bound": packing_lower_bound(dim, eps),
    }
