"""Held-out evaluation over a sample split into several chunks (superpos.evaluate.CHUNK_VALUES)."""

import numpy as np
import pytest

from superpos import evaluate

SAMPLES = 1000
CHUNK_ROWS = 300  # so 300 + 300 + 300 + 100: several chunks and a short last one


def zero_model_errors(probability: np.ndarray, importance: np.ndarray) -> np.ndarray:
    """feature_errors of the relu model with W = 0, b = 0, so x' = 0 and the error is I_i x_i^2."""
    instances, n_features = probability.shape
    weights, bias = np.zeros((instances, 2, n_features)), np.zeros((instances, n_features))
    return evaluate.feature_errors("relu", weights, bias, probability, importance, samples=SAMPLES)


def test_every_chunk_counts_once(monkeypatch):
    """E[I_i x_i^2] = I_i p_i / 3 (x_i = 0 w.p. 1 - p_i, else U[0, 1]): a chunk dropped, counted
    twice or divided by its own size would move the mean by 10% or more, far beyond the noise."""
    probability = np.array([[1.0] * 40, [0.5] * 40])
    importance = np.array([[1.0] * 40, [2.0] * 40])
    instances, n_features = probability.shape
    monkeypatch.setattr(evaluate, "CHUNK_VALUES", CHUNK_ROWS * instances * n_features)
    errors = zero_model_errors(probability, importance)
    assert errors.shape == (instances, n_features)
    expected = importance * probability / 3
    # Each instance's mean over 40 features and 1000 samples: standard error below 0.5% of it.
    np.testing.assert_allclose(errors.mean(axis=1), expected.mean(axis=1), rtol=0.03)


def test_chunked_and_single_chunk_evaluations_agree(monkeypatch):
    probability, importance = np.full((1, 30), 0.8), np.ones((1, 30))
    single = zero_model_errors(probability, importance)
    monkeypatch.setattr(evaluate, "CHUNK_VALUES", CHUNK_ROWS * 30)
    chunked = zero_model_errors(probability, importance)
    assert not np.array_equal(single, chunked)  # really a different split of the random stream
    assert chunked.mean() == pytest.approx(single.mean(), rel=0.03)


def test_the_score_is_the_same_on_one_thread_or_several(monkeypatch):
    """The chunks are drawn in order on one thread and their sums added in order, so the threads
    that score them change nothing, to the last bit (a trained-looking W, so the products matter)."""
    monkeypatch.setattr(evaluate, "CHUNK_VALUES", CHUNK_ROWS * 2 * 30)
    rng = np.random.default_rng(1)
    weights, bias = rng.normal(size=(2, 5, 30)) * 0.3, rng.normal(size=(2, 30)) * 0.1
    probability, importance = np.full((2, 30), 0.3), np.ones((2, 30))
    scores = []
    for threads in (1, 3):
        monkeypatch.setattr(evaluate, "EVALUATION_THREADS", threads)
        scores.append(evaluate.feature_errors("neuron", weights, bias, probability, importance, samples=SAMPLES))
    np.testing.assert_array_equal(scores[0], scores[1])
    assert scores[0].min() > 0
