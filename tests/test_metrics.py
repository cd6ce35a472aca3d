"""Each metric on hand-built W with a known answer."""

import numpy as np
import pytest

from superpos import metrics
from superpos.evaluate import random_rotation


def regular_polygon(k: int) -> np.ndarray:
    angles = 2 * np.pi * np.arange(k) / k
    return np.stack([np.cos(angles), np.sin(angles)])


def test_orthonormal_columns_have_a_dimension_each():
    weights = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))[0][:, :3]
    np.testing.assert_allclose(metrics.feature_norms(weights), 1, atol=1e-6)
    np.testing.assert_allclose(metrics.dimensionality(weights), 1, atol=1e-4)
    np.testing.assert_allclose(metrics.superposition(weights), 0, atol=1e-10)
    assert metrics.dimensions_per_feature(weights) == pytest.approx(4 / 3, rel=1e-4)


@pytest.mark.parametrize("k", [3, 5, 8])
def test_k_gon_in_two_dimensions_gives_two_over_k(k):
    np.testing.assert_allclose(metrics.dimensionality(regular_polygon(k)), 2 / k, rtol=1e-4)


def test_pentagon_and_antipodal_pair():
    np.testing.assert_allclose(metrics.dimensionality(regular_polygon(5)), 0.4, rtol=1e-4)
    pair = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(metrics.dimensionality(pair), [0.5, 0.5, 1.0], rtol=1e-4)
    np.testing.assert_allclose(metrics.superposition(pair), [1.0, 1.0, 0.0], atol=1e-4)


def test_dropped_feature_has_zero_norm_and_dimensionality():
    weights = np.array([[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(metrics.feature_norms(weights), [1.0, 0.0])
    np.testing.assert_allclose(metrics.dimensionality(weights), [1.0, 0.0], atol=1e-4)


def test_metrics_work_on_stacks():
    stack = np.stack([regular_polygon(5), 2 * regular_polygon(5)])
    assert metrics.dimensionality(stack).shape == (2, 5)
    np.testing.assert_allclose(metrics.feature_norms(stack)[1], 2, rtol=1e-6)


def test_polysemanticity_participation_ratio():
    weights = np.array(
        [
            [0.0, 1.0, 0.0, 0.0, 0.0],  # one-hot: monosemantic
            [0.7, 0.7, 0.7, 0.0, 0.0],  # three equal positive weights
            [-1.0, -0.5, 0.0, 0.0, 0.0],  # never fires on non-negative features: dead
            [0.5, 0.5, -3.0, 0.0, 0.0],  # negative weights do not count for a neuron
        ]
    )
    np.testing.assert_allclose(metrics.polysemanticity(weights, "neuron"), [1, 3, 0, 2], rtol=1e-6)
    assert list(metrics.neuron_labels(metrics.polysemanticity(weights, "neuron"))) == [
        "monosemantic",
        "polysemantic",
        "dead",
        "polysemantic",
    ]
    # In the bottleneck models both signs count (and the basis is arbitrary).
    np.testing.assert_allclose(metrics.polysemanticity(weights, "relu")[2], (1.25**2) / (1 + 0.0625), rtol=1e-6)


def test_count_based_score_and_monosemanticity():
    weights = np.array([[0.9, 0.8, 0.1], [0.0, -0.9, 0.0]])
    assert list(metrics.features_driving(weights, "neuron")) == [2, 0]
    assert list(metrics.features_driving(weights, "relu")) == [2, 1]
    np.testing.assert_allclose(metrics.monosemanticity(weights)[1], 1.0)


def test_expected_collisions():
    assert metrics.expected_collisions(10, 5) == pytest.approx(5.0)


def test_rotation_leaves_gram_matrix_unchanged():
    weights = np.random.default_rng(1).standard_normal((3, 7))
    rotation = random_rotation(3, seed=4)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    rotated = rotation @ weights
    np.testing.assert_allclose(rotated.T @ rotated, weights.T @ weights, atol=1e-10)
    np.testing.assert_allclose(metrics.dimensionality(rotated), metrics.dimensionality(weights), rtol=1e-8)
