"""Held-out loss on a fixed sample, and the hidden-space rotation check.

Every trainer is scored here on the same inputs: a sample of HELDOUT_SAMPLES draws from a
generator seeded with HELDOUT_SEED, so two trainers (or two seeds) can be compared fairly.
"""

from __future__ import annotations

import threading
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


class HeldoutSample:
    """The fixed held-out sample of a batch of models: `samples` inputs per model, drawn chunk by
    chunk (CHUNK_VALUES values at most) from one generator seeded with `seed`.

    The chunks come in order from one random stream, so the sample is the same however it is
    scored. `prepare` walks the stream once and keeps the generator's state at each chunk's start;
    from then on any chunk can be drawn on any thread, so scoring needs no thread that draws the
    chunks in turn, and some models can be scored while others still train (superpos.train).
    probability (instances, n) is each feature's P(x_i != 0), its marginal with `sets`
    (superpos.data.FeatureSets).
    """

    def __init__(self, probability, samples: int = HELDOUT_SAMPLES, seed: int = HELDOUT_SEED, sets=None):
        self.probability = as_tensor(probability)
        instances, n_features = self.probability.shape
        self.samples, self.seed, self.sets = samples, seed, sets
        self.size = max(1, min(samples, CHUNK_VALUES // (instances * n_features)))  # inputs per chunk
        self.starts = range(0, samples, self.size)
        self.states: list[torch.Tensor] | None = None
        self.lock = threading.Lock()  # one preparation, whichever thread asks first

    def prepare(self) -> HeldoutSample:
        """Keep the generator's state at each chunk's start, drawing the chunks once (once only)."""
        with self.lock:
            if self.states is None:
                generator, states = torch.Generator().manual_seed(self.seed), []
                for start in self.starts:
                    states.append(generator.get_state())
                    self.draw(start, generator)
                self.states = states
        return self

    def draw(self, start: int, generator: torch.Generator, rows: slice = slice(None)) -> torch.Tensor:
        """The inputs of the models `rows` in the chunk that starts at input `start`, from `generator`
        at that chunk's state. Independent features' uniforms fill (instances, n, inputs) in order,
        so the models after `rows` are not drawn (grouped features draw the groups of every model
        first, then their members)."""
        size = min(self.size, self.samples - start)
        if self.sets is None or self.sets.independent:
            return sample_features(self.probability[: rows.stop], size, generator)[rows]
        return sample_features(self.probability, size, generator, self.sets)[rows]

    def errors(
        self, model: str, weights, bias, importance, output_weights=None, rows=slice(None), threads: int | None = None
    ) -> np.ndarray:
        """Per model and feature: I_i E[(x_i - x'_i)^2] on this sample, (models, n), for the models
        `rows` of the batch (weights, bias, importance and output_weights are theirs).

        The abs model (W2 = output_weights) is scored on the sample signed, against its target |x|.
        `threads` (EVALUATION_THREADS if None) score the chunks, one torch thread each, and their sums
        are added in order (the same total however many threads, and for any rows); 1 scores here.
        """
        threads = EVALUATION_THREADS if threads is None else threads
        weights, bias = as_tensor(weights), as_tensor(bias)
        output_weights = None if output_weights is None else as_tensor(output_weights)
        self.prepare()

        @torch.no_grad()  # grad mode is per thread
        def squared_errors(index: int) -> torch.Tensor:
            x = self.draw(self.starts[index], torch.Generator().set_state(self.states[index]), rows)
            if model == "abs":
                x = signed(x)
            # In place: each fresh tensor of a chunk's size is another pass over memory, and these
            # took 0.7x the time of (target - x')^2 at n = 100, seven models. (x' - y)^2 = (y - x')^2 exactly.
            error = forward(model, weights, bias, x, output_weights).sub_(target(model, x))
            return error.square_().sum(dim=2).double()

        chunks = range(len(self.starts))
        if threads == 1 or len(chunks) == 1:
            total = sum(map(squared_errors, chunks))
        else:
            with ThreadPoolExecutor(threads, initializer=torch.set_num_threads, initargs=(1,)) as pool:
                total = sum(pool.map(squared_errors, chunks))
        return (as_tensor(importance).double() * total / self.samples).numpy()


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
    """Per instance and feature: I_i E[(x_i - x'_i)^2] on the fixed held-out sample (HeldoutSample).

    weights (instances, m, n), bias/probability/importance (instances, n); returns (instances, n).
    The abs model's W2 is output_weights, (instances, n, m). `sets` groups the features
    (superpos.data.FeatureSets); probability is then each feature's marginal.
    """
    sample = HeldoutSample(probability, samples, seed, sets)
    return sample.errors(model, weights, bias, importance, output_weights)


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
