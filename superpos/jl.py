"""Near-orthogonality in high dimensions: why superposition is possible at all.

In d dimensions only d vectors can be exactly orthogonal, but exponentially many can be
*almost* orthogonal (the Johnson-Lindenstrauss lemma). A model can therefore give many more
features than dimensions a nearly private direction each, paying a little interference.

Facts used here (t = cosine of two independent uniformly random unit vectors in R^d):
- (t + 1) / 2 ~ Beta((d-1)/2, (d-1)/2): density c_d (1 - t^2)^((d-3)/2) with
  c_d = Gamma(d/2) / (sqrt(pi) Gamma((d-1)/2)); E t = 0, Var t = 1/d.
- Tail P(|t| >= eps) <= 2 exp(-d eps^2 / 2).
- Welch bound: N unit vectors in R^d have max |cos| >= sqrt((N - d) / (d (N - 1))).
- JL: N points embed in k >= 4 ln N / (eps^2/2 - eps^3/3) dimensions with every squared
  distance kept within 1 +- eps (scikit-learn's johnson_lindenstrauss_min_dim).

Everything is numpy, seeded and bounded: budgets below keep any call within seconds and a
fixed memory budget (no N x N matrix beyond BLOCK_ENTRIES numbers is ever held). How many
vectors fit with all |cos| <= eps (packings) is superpos.packing.

The settings d, N and eps of the `jl` command and of the app's JL view state their default,
range and meaning once, in JLSettings' metadata (JL_SETTINGS), as Config's do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from superpos import metrics
from superpos.config import check_number, setting, settings_of


@dataclass(frozen=True)
class JLSettings:
    """Dimension d, number of vectors N and tolerance eps, validated on construction (ConfigError).
    The upper ends bound the work of superpos.jl and superpos.packing, with the budgets below."""

    dim: int = setting(
        20, 2, 10_000, "Dimension d of the space of the random unit vectors (a model's hidden size m).", integer=True
    )
    count: int = setting(
        1000, 2, 1_000_000, "Number N of random unit vectors, or of points projected to the JL dimension.", integer=True
    )
    eps: float = setting(
        0.3,
        0.0,
        1.0,
        "Tolerance eps: how far from orthogonal two directions may be (|cos| <= eps), or how much a random "
        "projection may stretch a squared distance (a factor 1 +- eps).",
        open=True,
    )

    def __post_init__(self) -> None:
        for name, spec in JL_SETTINGS.items():
            check_number(name, getattr(self, name), spec)


JL_SETTINGS = settings_of(JLSettings)

# Work is counted in multiply-add equivalents: a dot product in R^d costs d, plus a fixed
# overhead per Gram-matrix entry for the element-wise steps around it. Budgets below are
# about a second on one quiet CPU core.
# The all-pairs cosine pass (masking, binning); above its budget a random sample is used.
PAIR_OVERHEAD = 500
ALL_PAIRS_BUDGET = 2e10
# Largest block of a Gram matrix held at once (float64: 32 MB).
BLOCK_ENTRIES = 2**22

HISTOGRAM_BINS = 60


# --- Random unit vectors and their cosines ---------------------------------------------


def random_unit_vectors(count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """count x dim array of independent uniformly random unit vectors (normalised Gaussians)."""
    vectors = rng.standard_normal((count, dim))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def pairwise_cosines(vectors: np.ndarray) -> np.ndarray:
    """Cosines of all pairs i < j of the rows of `vectors` (the Gram matrix's upper triangle)."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    rows, cols = np.triu_indices(len(unit), k=1)
    return (unit @ unit.T)[rows, cols]


@dataclass(frozen=True)
class CosineStatistics:
    """Pairwise cosine statistics of `count` random unit vectors in R^dim.

    When all count (count - 1) / 2 pairs fit the work budget they are all used (exact);
    otherwise mean, variance and histogram come from all pairs of a random `vectors_used`
    of the vectors (any subset of i.i.d. vectors is itself i.i.d.), and max_abs is the
    estimate expected_max_abs_cos(count, dim).
    """

    count: int
    dim: int
    mean: float
    var: float
    max_abs: float
    vectors_used: int
    pairs_used: int
    exact: bool
    hist_edges: np.ndarray
    hist_density: np.ndarray

    @property
    def pairs_total(self) -> int:
        return self.count * (self.count - 1) // 2

    @property
    def expected_var(self) -> float:
        """Var t = 1/d for random unit vectors."""
        return 1 / self.dim

    def histogram(self) -> dict[str, np.ndarray]:
        """Columns bin_start, bin_end, density."""
        return {"bin_start": self.hist_edges[:-1], "bin_end": self.hist_edges[1:], "density": self.hist_density}


def cosine_statistics(count: int, dim: int, seed: int = 0, work_budget: float = ALL_PAIRS_BUDGET) -> CosineStatistics:
    """Mean, variance, max |cos| and histogram of the pairwise cosines of random unit vectors.

    At most BLOCK_ENTRIES // dim vectors are drawn, and one blocked pass over their Gram
    matrix holds at most BLOCK_ENTRIES cosines at a time.
    The histogram spans +-min(1, 6/sqrt(d)) (six standard deviations, Var t = 1/d); its
    density is normalised by all pairs used, so rare values outside add no area.
    """
    pairs_allowed = work_budget / (dim + PAIR_OVERHEAD)
    vectors_allowed = min(int((1 + math.sqrt(1 + 8 * pairs_allowed)) / 2), BLOCK_ENTRIES // dim)
    vectors_used = min(count, max(2, vectors_allowed))
    exact = vectors_used == count
    vectors = random_unit_vectors(vectors_used, dim, np.random.default_rng(seed))
    half_width = min(1.0, 6 / math.sqrt(dim))
    edges = np.linspace(-half_width, half_width, HISTOGRAM_BINS + 1)
    hist_counts = np.zeros(HISTOGRAM_BINS)
    total = total_squares = max_abs = 0.0
    rows_per_block = max(1, BLOCK_ENTRIES // vectors_used)
    for start in range(0, vectors_used, rows_per_block):
        stop = min(start + rows_per_block, vectors_used)
        block = vectors[start:stop] @ vectors[start:].T
        upper = np.arange(start, vectors_used)[None, :] > np.arange(start, stop)[:, None]
        cosines = block[upper]
        total += cosines.sum()
        total_squares += cosines @ cosines
        max_abs = max(max_abs, float(np.abs(cosines).max(initial=0.0)))
        hist_counts += np.histogram(cosines, edges)[0]
    pairs_used = vectors_used * (vectors_used - 1) // 2
    mean = total / pairs_used
    return CosineStatistics(
        count=count,
        dim=dim,
        mean=float(mean),
        var=float(total_squares / pairs_used - mean**2),
        max_abs=max_abs if exact else float(expected_max_abs_cos(count, dim)),
        vectors_used=vectors_used,
        pairs_used=pairs_used,
        exact=exact,
        hist_edges=edges,
        hist_density=hist_counts / (pairs_used * np.diff(edges)),
    )


def cosine_density(t, dim: int) -> np.ndarray:
    """Exact density of the cosine t of two random unit vectors in R^dim.

    f(t) = c_d (1 - t^2)^((d-3)/2) on (-1, 1), c_d = Gamma(d/2) / (sqrt(pi) Gamma((d-1)/2)),
    i.e. (t + 1)/2 ~ Beta((d-1)/2, (d-1)/2). Uniform for d = 3; infinite at +-1 for d = 2.
    """
    t = np.asarray(t, dtype=float)
    log_norm = math.lgamma(dim / 2) - 0.5 * math.log(math.pi) - math.lgamma((dim - 1) / 2)
    with np.errstate(divide="ignore"):
        log_density = log_norm + (dim - 3) / 2 * np.log1p(-(t**2))
    return np.where(np.abs(t) < 1, np.exp(log_density), 0.0)


def cosine_density_curve(dim: int, half_width: float = 1.0, points: int = 401) -> dict[str, np.ndarray]:
    """cosine_density on a grid of (-half_width, half_width), ends excluded: columns cos, density."""
    grid = np.linspace(-half_width, half_width, points + 2)[1:-1]
    return {"cos": grid, "density": cosine_density(grid, dim)}


def density_histogram(values: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Histogram normalised to unit area over `edges`: columns bin_start, bin_end, density."""
    counts = np.histogram(values, edges)[0]
    return {"bin_start": edges[:-1], "bin_end": edges[1:], "density": counts / max(counts.sum(), 1) / np.diff(edges)}


def _angle_tail_table(dim: int, points: int = 20_001) -> tuple[np.ndarray, np.ndarray]:
    """Angles theta in (0, pi/2] and log P(|t| >= cos theta), from the angle's density.

    The angle between two random unit vectors has density proportional to sin^(d-2) theta,
    so P(|t| >= cos theta) = int_0^theta sin^(d-2) / int_0^(pi/2) sin^(d-2). Integrating in
    the angle (trapezoid rule, log-spaced near 0) avoids the t = +-1 singularity for d = 2
    and resolves tails down to about 1e-300 (rows whose tail underflows to 0 are dropped).
    """
    theta = np.concatenate(
        [np.geomspace(1e-12, 1e-3, points // 4, endpoint=False), np.linspace(1e-3, np.pi / 2, points - points // 4)]
    )
    integrand = np.sin(theta) ** (dim - 2)
    first = theta[0] ** (dim - 1) / (dim - 1)  # int_0^theta0 of theta^(d-2)
    cumulative = first + np.concatenate([[0.0], np.cumsum(np.diff(theta) * (integrand[1:] + integrand[:-1]) / 2)])
    resolved = cumulative > 0
    return theta[resolved], np.log(cumulative[resolved] / cumulative[-1])


def cosine_tail(threshold, dim: int) -> np.ndarray:
    """P(|t| >= threshold) for the cosine t of two random unit vectors in R^dim.

    Exact values: d = 2 gives 2 arccos(x) / pi; d = 3 gives 1 - x (t is uniform).
    """
    theta, log_tail = _angle_tail_table(dim)
    angle = np.arccos(np.clip(np.asarray(threshold, dtype=float), 0.0, 1.0))
    return np.exp(np.interp(angle, theta, log_tail, left=-np.inf))


def expected_max_abs_cos(count, dim: int) -> np.ndarray:
    """Typical (median) max |cos| over all pairs of `count` random unit vectors in R^dim.

    Treats the M = N (N - 1) / 2 pairwise cosines as independent (they are pairwise
    independent): P(max < x) = (1 - P(|t| >= x))^M = 1/2 gives P(|t| >= x) = 1 - 2^(-1/M).
    """
    pairs = np.asarray(count, dtype=float) * (np.asarray(count, dtype=float) - 1) / 2
    log_target = np.log(-np.expm1(-math.log(2) / pairs))
    theta, log_tail = _angle_tail_table(dim)
    return np.cos(np.interp(log_target, log_tail, theta))


def welch_bound(count, dim):
    """Least possible max |cos| of `count` unit vectors in R^dim: sqrt((N - d) / (d (N - 1))).

    Zero when N <= d (an orthonormal set exists). Vectorised over count and dim.
    """
    count = np.asarray(count, dtype=float)
    bound = np.sqrt(np.maximum(count - dim, 0) / (dim * (count - 1)))
    return bound if bound.ndim else float(bound)


def jl_min_dim(count, eps):
    """Johnson-Lindenstrauss dimension k = 4 ln N / (eps^2/2 - eps^3/3), truncated to int.

    As scikit-learn's johnson_lindenstrauss_min_dim: any N points then embed in R^k with
    every squared distance within 1 +- eps. Vectorised over count and eps.
    """
    count, eps = np.asarray(count, dtype=float), np.asarray(eps, dtype=float)
    dims = (4 * np.log(count) / (eps**2 / 2 - eps**3 / 3)).astype(np.int64)
    return dims if dims.ndim else int(dims)


# --- Max |cos| against N -------------------------------------------------------------------


def max_abs_cos_curves(
    dims, measured_up_to: int = 1000, predicted_up_to: int = 10**6, points: int = 31, seed: int = 0
) -> dict[str, np.ndarray]:
    """Max |cos| of N random unit vectors against N (log grid from 2 to predicted_up_to).

    measured: max |cos| among the first N of measured_up_to random unit vectors (one draw
    per dimension, so the sets are nested and each curve is non-decreasing); NaN beyond.
    expected: expected_max_abs_cos(N, d). Columns: dim, count, measured, expected, welch_bound.
    """
    rng = np.random.default_rng(seed)
    counts = np.unique(np.geomspace(2, predicted_up_to, points).astype(int))
    measured_counts = counts[counts <= measured_up_to]
    columns: dict[str, list] = {"dim": [], "count": [], "measured": [], "expected": []}
    for dim in dims:
        vectors = random_unit_vectors(measured_up_to, dim, rng)
        # Row j of the strict lower triangle holds the |cos| of vector j with vectors i < j.
        max_with_earlier = np.abs(np.tril(vectors @ vectors.T, k=-1)).max(axis=1)
        measured = np.full(len(counts), np.nan)
        measured[: len(measured_counts)] = np.maximum.accumulate(max_with_earlier)[measured_counts - 1]
        columns["dim"].append(np.full(len(counts), dim))
        columns["count"].append(counts)
        columns["measured"].append(measured)
        columns["expected"].append(expected_max_abs_cos(counts, dim))
    table = {name: np.concatenate(parts) for name, parts in columns.items()}
    table["welch_bound"] = welch_bound(table["count"], table["dim"])
    return table


# --- Random projection ---------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """Squared-distance ratios of point pairs under a random projection R^source -> R^target."""

    count: int
    eps: float
    source_dim: int
    target_dim: int
    points_used: int
    ratios: np.ndarray

    @property
    def fraction_within(self) -> float:
        """Fraction of pairs whose squared distance changed by less than a factor 1 +- eps."""
        return float(np.mean(np.abs(self.ratios - 1) < self.eps))

    def histogram(self, bins: int = 50) -> dict[str, np.ndarray]:
        """density_histogram of the ratios over a range that shows both them and 1 +- eps."""
        low = min(float(self.ratios.min()), 1 - self.eps)
        high = max(float(self.ratios.max()), 1 + self.eps)
        return density_histogram(self.ratios, np.linspace(low, high, bins + 1))


def random_projection(
    count: int, eps: float, source_dim: int = 5_000, max_points: int = 100, seed: int = 0
) -> Projection:
    """Project Gaussian points from R^source_dim to R^k, k = jl_min_dim(count, eps).

    The map is P with i.i.d. N(0, 1/k) entries; the ratios are ||P(x_i - x_j)||^2 /
    ||x_i - x_j||^2 over all pairs of min(count, max_points) points (each pair's ratio has
    the same law, (1/k) chi^2_k, whatever the points). Since P is rotation invariant,
    with X^T = Q R (QR decomposition), P X^T = (P Q) R where P Q is again a k x n matrix with
    N(0, 1/k) entries: so projecting costs k n^2, not k n D.
    """
    rng = np.random.default_rng(seed)
    target_dim = jl_min_dim(count, eps)
    points_used = min(count, max_points)
    points = rng.standard_normal((points_used, source_dim))
    coordinates = np.linalg.qr(points.T, mode="r")
    projected = rng.standard_normal((target_dim, coordinates.shape[0])) @ coordinates
    projected /= math.sqrt(target_dim)
    ratio = _squared_distances(projected) / _squared_distances(coordinates)
    return Projection(
        count=count, eps=eps, source_dim=source_dim, target_dim=target_dim, points_used=points_used, ratios=ratio
    )


def _squared_distances(columns: np.ndarray) -> np.ndarray:
    """||a_i - a_j||^2 for all column pairs i < j."""
    gram = columns.T @ columns
    rows, cols = np.triu_indices(len(gram), k=1)
    norms = np.diag(gram)
    return norms[rows] + norms[cols] - 2 * gram[rows, cols]


def jl_min_dim_curves(counts, eps_values) -> dict[str, np.ndarray]:
    """jl_min_dim over a grid: columns count, eps, min_dim (one row per pair)."""
    count_grid, eps_grid = np.meshgrid(np.asarray(counts), np.asarray(eps_values))
    return {
        "count": count_grid.ravel(),
        "eps": eps_grid.ravel(),
        "min_dim": jl_min_dim(count_grid.ravel(), eps_grid.ravel()),
    }


# --- Back to the model ---------------------------------------------------------------------


def column_cosines(weights: np.ndarray) -> np.ndarray:
    """Cosines between all pairs of represented feature directions (columns) of W (metrics.represented)."""
    return pairwise_cosines(weights[:, metrics.represented(weights)].T)


@dataclass(frozen=True)
class TrainedVersusRandom:
    """A trained W's feature-direction cosines beside random unit vectors of its shape."""

    dim: int
    features_used: int
    edges: np.ndarray
    trained_density: np.ndarray
    random_density: np.ndarray
    trained_max_abs: float
    random_max_abs: np.ndarray
    welch_bound: float


def compare_with_random(
    weights: np.ndarray, repeats: int = 200, seed: int = 0, bins: int = 40
) -> TrainedVersusRandom | None:
    """Cosines and max |cos| of W's represented columns against `repeats` random sets.

    Each random set has as many unit vectors as W has represented features, in as many
    dimensions as W has rows. None when fewer than two features are represented.
    """
    cosines = column_cosines(weights)
    dim, features_used = weights.shape[0], int(metrics.represented(weights).sum())
    if features_used < 2:
        return None
    rng = np.random.default_rng(seed)
    repeats = max(2, min(repeats, BLOCK_ENTRIES // features_used**2))
    random_sets = rng.standard_normal((repeats, features_used, dim))
    random_sets /= np.linalg.norm(random_sets, axis=2, keepdims=True)
    rows, cols = np.triu_indices(features_used, k=1)
    random_cosines = (random_sets @ random_sets.transpose(0, 2, 1))[:, rows, cols]
    edges = np.linspace(-1.0, 1.0, bins + 1)
    return TrainedVersusRandom(
        dim=dim,
        features_used=features_used,
        edges=edges,
        trained_density=density_histogram(cosines, edges)["density"],
        random_density=density_histogram(random_cosines, edges)["density"],
        trained_max_abs=float(np.abs(cosines).max()),
        random_max_abs=np.abs(random_cosines).max(axis=1),
        welch_bound=welch_bound(features_used, dim),
    )
