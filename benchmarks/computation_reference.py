"""ARENA's recipe for the absolute-value model in plain torch: the baseline superpos's abs trainer
is measured against (benchmarks/computation.py).

As in ARENA's superposition chapter (NeuronComputationModel): W1 (instances, m, n) and W2
(instances, n, m) initialised with torch's kaiming_uniform_ on those 3-D tensors, b = 0; a fresh
batch every step, x_i = U[-1, 1] where a uniform <= p_i, else 0 (two uniforms per value); einsum
forward; loss = sum over instances of mean over batch and features of I_i (ReLU(W2 ReLU(W1 x) + b)
- |x|)^2; autograd; torch.optim.Adam, constant learning rate 1e-3; 10,000 steps of batch 1024.
"""

from __future__ import annotations

import time

import numpy as np
import torch

STEPS = 10_000
BATCH_SIZE = 1024
LR = 1e-3


def train_reference_abs(n_hidden: int, probability, importance, steps: int = STEPS, seed: int = 0):
    """Returns (W1 (instances, m, n), W2 (instances, n, m), b (instances, n), seconds) after `steps` steps."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    probability = torch.tensor(np.asarray(probability), dtype=torch.float32)
    importance = torch.tensor(np.asarray(importance), dtype=torch.float32)
    instances, n_features = probability.shape
    first = torch.nn.Parameter(torch.nn.init.kaiming_uniform_(torch.empty(instances, n_hidden, n_features)))
    second = torch.nn.Parameter(torch.nn.init.kaiming_uniform_(torch.empty(instances, n_features, n_hidden)))
    bias = torch.nn.Parameter(torch.zeros(instances, n_features))
    optimizer = torch.optim.Adam([first, second, bias], lr=LR)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        magnitude = torch.rand(BATCH_SIZE, instances, n_features) * 2 - 1
        x = (torch.rand(BATCH_SIZE, instances, n_features) <= probability) * magnitude
        hidden = torch.relu(torch.einsum("bif,ihf->bih", x, first))
        out = torch.relu(torch.einsum("bih,ifh->bif", hidden, second) + bias)
        loss = (importance * (out - x.abs()) ** 2).mean(dim=(0, 2)).sum()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    weights = (tensor.detach().numpy().copy() for tensor in (first, second, bias))
    return (*weights, seconds)
