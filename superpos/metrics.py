"""Geometry and polysemanticity of a trained W (numpy; m x n, column W_i is feature i).

With hat W_i = W_i / (1e-5 + ||W_i||) (Elhage et al. 2022):
- feature norm ||W_i||: ~1 represented, ~0 dropped; represented means ||W_i|| >= REPRESENTED_NORM;
- superposition (interference) sum_{j != i} (hat W_i . W_j)^2: 0 = a direction of its own;
- dimensionality D_i = ||W_i||^2 / sum_j (hat W_i . W_j)^2: 1 dedicated, 1/2 antipodal
  pair, 2/5 pentagon, 2/k for a k-gon in 2-D;
- hidden dimensions per embedded feature m / ||W||_F^2.
Functions take one W (m, n) or a stack (..., m, n) and work on the last two axes.
"""

from __future__ import annotations

import numpy as np

NORM_EPS = 1e-5
# ||W_i|| at least this: feature i is represented (trained norms sit near 1 or near 0). Above
# 1/sqrt(2), so that a unit-norm W in 2 features and 1 dimension, ||W_1||^2 + ||W_2||^2 = 1, never
# shows both features represented (superpos.experiments.classify_phases relies on it).
REPRESENTED_NORM = 0.75
DEAD_WEIGHT = 1e-3  # a neuron whose largest counted weight is below this is dead
ACTIVATION_THRESHOLD = 0.5  # count-based score: one-hot inputs driving W_ki above this


def feature_norms(weights: np.ndarray) -> np.ndarray:
    """||W_i|| for every feature (column)."""
    return np.linalg.norm(weights, axis=-2)


def represented(weights: np.ndarray) -> np.ndarray:
    """Mask of the represented features: ||W_i|| >= REPRESENTED_NORM."""
    return feature_norms(weights) >= REPRESENTED_NORM


def overlaps(weights: np.ndarray) -> np.ndarray:
    """(hat W_i . W_j)^2 for all i, j: row i is feature i's overlap with every feature."""
    unit = weights / (NORM_EPS + feature_norms(weights))[..., None, :]
    return (np.swapaxes(unit, -1, -2) @ weights) ** 2


def superposition(weights: np.ndarray) -> np.ndarray:
    """Interference of feature i: sum over j != i of (hat W_i . W_j)^2."""
    squared = overlaps(weights)
    return squared.sum(axis=-1) - np.diagonal(squared, axis1=-2, axis2=-1)


def dimensionality(weights: np.ndarray) -> np.ndarray:
    """D_i = ||W_i||^2 / sum_j (hat W_i . W_j)^2; 0 for a dropped feature."""
    norms_squared = feature_norms(weights) ** 2
    total = overlaps(weights).sum(axis=-1)
    return np.divide(norms_squared, total, out=np.zeros_like(norms_squared), where=total > NORM_EPS**2)


def dimensions_per_feature(weights: np.ndarray) -> np.ndarray:
    """m / ||W||_F^2: hidden dimensions per embedded feature (1 with no superposition)."""
    m = weights.shape[-2]
    frobenius_squared = (weights**2).sum(axis=(-2, -1))
    return m / np.maximum(frobenius_squared, NORM_EPS)


def participation_ratio(values: np.ndarray) -> np.ndarray:
    """(sum_i v_i)^2 / sum_i v_i^2 over the last axis, for v >= 0; 0 where all v are ~0."""
    total = values.sum(axis=-1)
    squares = (values**2).sum(axis=-1)
    alive = values.max(axis=-1, initial=0.0) > DEAD_WEIGHT**2
    return np.divide(total**2, squares, out=np.zeros_like(total), where=alive)


def polysemanticity(weights: np.ndarray, model: str = "neuron") -> np.ndarray:
    """Per hidden unit k, the participation ratio of its input weights.

    Neuron model: w+ = max(W_ki, 0) (only those make a ReLU neuron fire on non-negative
    features): PR_k = (sum_i w+_ki^2)^2 / sum_i w+_ki^4. 1 = monosemantic, k equal weights
    = k, 0 = dead. linear/relu: the same on W_ki^2 (both signs), which depends on the basis.
    """
    counted = np.maximum(weights, 0.0) if model == "neuron" else weights
    return participation_ratio(counted**2)


def features_driving(weights: np.ndarray, model: str = "neuron", threshold: float = ACTIVATION_THRESHOLD) -> np.ndarray:
    """Count-based score: features whose one-hot input drives hidden unit k above `threshold`.

    A one-hot input e_i gives h_k = W_ki (ReLU(W_ki) for neurons); for linear/relu, |W_ki|.
    """
    drive = weights if model == "neuron" else np.abs(weights)
    return (drive > threshold).sum(axis=-1)


def monosemanticity(weights: np.ndarray) -> np.ndarray:
    """ARENA's shading: max_i |W_ki| / ||W_k|| per hidden unit (1 = one feature)."""
    row_norms = np.linalg.norm(weights, axis=-1)
    return np.divide(np.abs(weights).max(axis=-1), row_norms, out=np.zeros_like(row_norms), where=row_norms > NORM_EPS)


def neuron_labels(scores: np.ndarray, monosemantic_below: float = 1.5) -> np.ndarray:
    """'dead' (score 0), 'monosemantic' (PR < 1.5) or 'polysemantic', per hidden unit."""
    return np.where(scores == 0, "dead", np.where(scores < monosemantic_below, "monosemantic", "polysemantic"))


def expected_collisions(n_features: int, n_hidden: int) -> float:
    """Lecomte et al. 2023: about n^2 / (4 m) polysemantic collisions for n features in m neurons."""
    return n_features**2 / (4.0 * n_hidden)
