"""Trained for real: the paper's results, reproduced with the default training settings."""

import numpy as np
import pytest

import superpos
from superpos import metrics
from superpos.train import learning_rate

INTRO_PROBABILITY = 20.0 ** -np.linspace(0.0, 1.0, 10)
# Held-out loss of the paper's recipe (AdamW 1e-3, 10,000 steps, batch 1024) per instance of
# the intro sweep, n = 5, m = 2, I = 0.9^i, as measured for the project (SCIENCE.md).
REFERENCE_INTRO_LOSS = np.array([0.0366, 0.0485, 0.0433, 0.0330, 0.0228, 0.0124, 0.0077, 0.0048, 0.0032, 0.0018])


@pytest.fixture(scope="module")
def intro_sweep():
    config = superpos.Config(n_features=5, n_hidden=2, importance_decay=0.9)
    return superpos.train_sweep(config, 1.0 - INTRO_PROBABILITY)


def test_dense_regime_keeps_exactly_the_top_m_features():
    config = superpos.Config(n_features=20, n_hidden=5, sparsity=0.0, importance_decay=0.7)
    weights = superpos.train(config).weights[0]
    norms = metrics.feature_norms(weights)
    assert np.all(norms[:5] > 0.9), norms
    assert np.all(norms[5:] < 0.1), norms
    unit = weights[:, :5] / norms[:5]
    np.testing.assert_allclose(unit.T @ unit, np.eye(5), atol=0.05)


def test_pentagon_at_high_sparsity():
    config = superpos.Config(n_features=5, n_hidden=2, sparsity=0.95, importance_decay=1.0)
    weights = superpos.train(config).weights[0]
    norms = metrics.feature_norms(weights)
    assert np.all(np.abs(norms - 1) < 0.2), norms
    np.testing.assert_allclose(metrics.dimensionality(weights), 0.4, atol=0.03)
    angles = np.sort(np.degrees(np.arctan2(weights[1], weights[0])))
    gaps = np.diff(np.append(angles, angles[0] + 360))
    np.testing.assert_allclose(gaps, 72, atol=4)


def test_intro_figure_more_features_as_sparsity_grows(intro_sweep):
    represented = (metrics.feature_norms(intro_sweep.weights) > 0.5).sum(axis=1)
    assert represented[0] == 2, "dense: the two most important features, PCA-like"
    assert represented[-1] == 5, "sparse: all five in superposition"
    assert np.all(np.diff(represented) >= 0), represented


def test_default_settings_reach_the_paper_recipes_loss(intro_sweep):
    ratio = intro_sweep.heldout / REFERENCE_INTRO_LOSS
    assert intro_sweep.heldout.mean() <= REFERENCE_INTRO_LOSS.mean()
    assert ratio.max() <= 1.10, ratio


@pytest.mark.parametrize("model, invariant", [("linear", True), ("relu", True), ("neuron", False)])
def test_rotating_the_hidden_space(model, invariant):
    config = superpos.Config(n_features=6, n_hidden=3, sparsity=0.8, model=model, steps=300)
    result = superpos.train(config)
    rotated = superpos.rotated_loss(model, result.weights, result.bias, result.probability, result.importance)
    change = rotated[0] / result.heldout[0] - 1.0
    if invariant:
        assert abs(change) < 1e-4
    else:
        assert change > 0.05


def test_training_is_deterministic():
    config = superpos.Config(n_features=6, n_hidden=2, sparsity=0.7, steps=100)
    first, second = superpos.train(config), superpos.train(config)
    np.testing.assert_array_equal(first.weights, second.weights)
    assert not np.array_equal(first.weights, superpos.train(config.replace(seed=1)).weights)


def test_result_shapes_history_and_progress():
    config = superpos.Config(n_features=7, n_hidden=3, steps=120)
    fractions = []
    result = superpos.train_sweep(config, [0.0, 0.5, 0.9], progress=fractions.append)
    assert result.weights.shape == (3, 3, 7) and result.bias.shape == (3, 7)
    assert result.snapshots.shape[1:] == (3, 3, 7)
    assert result.snapshot_steps[0] == 0 and result.snapshot_steps[-1] == 120
    assert len(result.snapshot_steps) == len(result.snapshots)
    np.testing.assert_array_equal(result.snapshots[-1], result.weights)
    assert result.loss_history.shape == (3, len(result.loss_steps))
    assert result.loss_history[:, -10:].mean() < result.loss_history[:, :3].mean()
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    np.testing.assert_allclose(result.probability[:, 0], [1.0, 0.5, 0.1])


def test_learning_rate_warms_up_then_decays():
    rates = [learning_rate(step, 1000, 0.1) for step in range(1000)]
    assert rates[0] < rates[49] == pytest.approx(0.1)
    assert rates[-1] < 1e-3
    assert np.all(np.diff(rates[50:]) <= 0)
