"""Held-out loss on a fixed sample, and the hidden-space rotation check.

Every trainer is scored here on the same inputs: a sample of HELDOUT_SAMPLES draws from a
generator seeded with HELDOUT_SEED, so two trainers (or two seeds) can be compared fairly.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from superpos.absolute import signed
from superpos.data import FeatureSets, sample_features
from superpos.models import forward, target

HELDOUT_SAMPLES = 65_536
HELDOUT_SEED = 2022
# A training scores itself on at most this many values (heldout_samples): 65,536 inputs up to
# n = 128, fewer above, where the full sample of ten models took longer than their training.
HELDOUT_VALUES = 2**23
# Values per chunk: bounds memory whatever n is, and small chunks stay in cache.
CHUNK_VALUES = 1_000_000
# Threads that score the chunks: at n = 1000, m = 100 the ten models of a sweep took 1.8 s to
# score on one thread after their training, about a tenth of the whole.
EVALUATION_THREADS = 2


def as_tensor(array) -> torch.Tensor:
    """float32 tensor view of a numpy array or tensor."""
    return torch.as_tensor(np.asarray(array, dtype=np.float32))


def feature_errors(
    model: str,
    weights,
    bias,
    probability,
    importance,
    samples: int = HELDOUT_SAMPLES,
    seed: int = HELDOUT_SEED,
    output_weights=None,
    sets: FeatureSets | None = None,
) -> np.ndarray:
    """Per instance and feature: I_i E[(x_i - x'_i)^2] on the fixed held-out sample.

    weights (instances, m, n), bias/probability/importance (instances, n); returns (instances, n).
    The abs model (W2 = output_weights, (instances, n, m)) is scored on the same sample signed,
    against its target |x|. `sets` groups the features (superpos.data.FeatureSets); probability
    is then each feature's marginal.
    """
    weights, bias = as_tensor(weights), as_tensor(bias)
    output_weights = None if output_weights is None else as_tensor(output_weights)
    probability, importance = as_tensor(probability), as_tensor(importance)
    instances, n_features = probability.shape
    chunk = max(1, min(samples, CHUNK_VALUES // (instances * n_features)))
    generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()  # grad mode is per thread
    def squared_errors(x: torch.Tensor) -> torch.Tensor:
        if model == "abs":
            x = signed(x)
        error = target(model, x) - forward(model, weights, bias, x, output_weights)
        return (error**2).sum(dim=2).double()

    # The chunks are drawn in order from one stream on this thread, so the sample is the same
    # however many threads score it, and their sums are added in order (the same total).
    # EVALUATION_THREADS score them, one torch thread each, at most EVALUATION_THREADS chunks ahead;
    # a sample of one chunk is scored here, with no threads to start.
    draw = lambda start: sample_features(probability, min(chunk, samples - start), generator, sets)  # noqa: E731
    if chunk >= samples:
        total = squared_errors(draw(0))
    else:
        total = torch.zeros(instances, n_features, dtype=torch.float64)
        pending: deque = deque()
        with ThreadPoolExecutor(EVALUATION_THREADS, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            for start in range(0, samples, chunk):
                pending.append(pool.submit(squared_errors, draw(start)))
                if len(pending) > EVALUATION_THREADS:
                    total += pending.popleft().result()
            while pending:
                total += pending.popleft().result()
    return (importance.double() * total / samples).numpy()


def heldout_samples(n_features: int) -> int:
    """Inputs a training's own held-out score uses: min(HELDOUT_SAMPLES, HELDOUT_VALUES / n).

    At n = 1000 that is 8,388 inputs, and the loss of a model at S = 0.99 is then within 0.7%
    (one standard deviation over sample seeds) of its value on the full sample. Benchmarks score
    both trainers on the full sample (heldout_loss's default).
    """
    return min(HELDOUT_SAMPLES, HELDOUT_VALUES // n_features)


def heldout_loss(
    model: str,
    weights,
    bias,
    probability,
    importance,
    samples: int = HELDOUT_SAMPLES,
    seed: int = HELDOUT_SEED,
    output_weights=None,
    sets: FeatureSets | None = None,
) -> np.ndarray:
    """Per instance: mean over the fixed sample and features of I_i (x_i - x'_i)^2 (target |x| for abs)."""
    errors = feature_errors(model, weights, bias, probability, importance, samples, seed, output_weights, sets)
    return errors.mean(axis=1)


def random_rotation(dimension: int, seed: int = 0) -> np.ndarray:
    """A random orthogonal matrix R (Haar measure): QR of a Gaussian matrix, signs fixed."""
    gaussian = np.random.default_rng(seed).standard_normal((dimension, dimension))
    q, r = np.linalg.qr(gaussian)
    return q * np.sign(np.diag(r))


def rotate_hidden(weights: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """W -> R W for every instance: rotates the hidden space, leaves W^T W unchanged."""
    return np.einsum("hk,ikn->ihn", rotation, weights)


def rotated_loss(model: str, weights, bias, probability, importance, seed: int = 0, sets=None) -> np.ndarray:
    """Held-out loss after W -> R W for a random orthogonal R: unchanged for linear and relu
    (W^T W is invariant), higher for neuron (the ReLU acts on each hidden unit's own axis)."""
    rotation = random_rotation(np.shape(weights)[-2], seed)
    rotated = rotate_hidden(np.asarray(weights), rotation)
    return heldout_loss(model, rotated, bias, probability, importance, sets=sets)
