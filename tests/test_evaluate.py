"""Held-out evaluation over a sample split into several chunks (superpos.evaluate.CHUNK_VALUES)."""

import numpy as np
import pytest
import torch

from superpos import evaluate
from superpos.data import FeatureSets, sample_features

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


def test_the_score_is_the_same_on_any_threads_for_any_rows(monkeypatch):
    """A prepared sample's chunks are drawn from saved generator states, on any thread, and their
    sums added in order, so neither the threads that score them nor scoring some models apart
    (as the trainer does, a chunk of models at a time) changes anything, to the last bit (a
    trained-looking W, so the products matter); nor does drawing the sample from one stream."""
    monkeypatch.setattr(evaluate, "CHUNK_VALUES", CHUNK_ROWS * 3 * 30)
    rng = np.random.default_rng(1)
    weights, bias = rng.normal(size=(3, 5, 30)) * 0.3, rng.normal(size=(3, 30)) * 0.1
    probability, importance = np.array([[0.3] * 30, [0.05] * 30, [1.0] * 30]), np.ones((3, 30))
    sample = evaluate.HeldoutSample(probability, SAMPLES)
    assert len(sample.starts) == 4
    whole = sample.errors("neuron", weights, bias, importance, threads=1)
    assert whole.min() > 0
    np.testing.assert_array_equal(sample.errors("neuron", weights, bias, importance, threads=3), whole)
    apart = [
        sample.errors("neuron", weights[rows], bias[rows], importance[rows], rows=rows, threads=threads)
        for rows, threads in ((slice(0, 2), 2), (slice(2, 3), 1))
    ]
    np.testing.assert_array_equal(np.concatenate(apart), whole)
    # The same inputs as drawn in one pass from the seeded stream, chunk after chunk.
    generator = torch.Generator().manual_seed(evaluate.HELDOUT_SEED)
    tensor = torch.as_tensor(probability, dtype=torch.float32)
    streamed = sum(
        (torch.as_tensor(importance)[:, :, None] * sample_features(tensor, size, generator) ** 2).sum(dim=2)
        for size in (CHUNK_ROWS, CHUNK_ROWS, CHUNK_ROWS, SAMPLES - 3 * CHUNK_ROWS)
    )
    zero = np.zeros_like(weights), np.zeros_like(bias)
    np.testing.assert_allclose(sample.errors("relu", *zero, importance), streamed.numpy() / SAMPLES, rtol=1e-6)


def test_a_sample_of_grouped_features_is_the_same_scored_apart():
    sets = FeatureSets(6, correlated=(3,), anticorrelated=(2,))
    rng = np.random.default_rng(2)
    weights, bias = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 6)) * 0.1
    probability, importance = np.full((2, 6), 0.2), np.ones((2, 6))
    whole = evaluate.feature_errors("relu", weights, bias, probability, importance, samples=SAMPLES, sets=sets)
    sample = evaluate.HeldoutSample(probability, SAMPLES, sets=sets)
    first = sample.errors("relu", weights[:1], bias[:1], importance[:1], rows=slice(0, 1))
    np.testing.assert_array_equal(first, whole[:1])
