"""The paper's training recipe in plain torch: the baseline superpos is measured against.

As in the paper's companion notebook (Elhage et al. 2022): W Xavier-normal on an
(instances, n, m) tensor, b = 0; a fresh batch every step (two uniforms per value: one for
the mask, one for the magnitude); einsum forward; autograd; torch.optim.AdamW with its
default weight decay 0.01; constant learning rate 1e-3; 10,000 steps of batch 1024.
"""

from __future__ import annotations

import time

import numpy as np
import torch

STEPS = 10_000
BATCH_SIZE = 1024
LR = 1e-3


def train_reference(model: str, n_hidden: int, probability, importance, steps: int = STEPS, seed: int = 0, sample=None):
    """Returns (W as (instances, m, n), b as (instances, n), seconds) after `steps` steps.
    `sample(batch)`, if given, draws x (batch, instances, n) instead of independent features."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    probability = torch.tensor(np.asarray(probability), dtype=torch.float32)
    importance = torch.tensor(np.asarray(importance), dtype=torch.float32)
    instances, n_features = probability.shape
    weights = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(instances, n_features, n_hidden)))
    bias = torch.nn.Parameter(torch.zeros(instances, n_features))
    optimizer = torch.optim.AdamW([weights, bias], lr=LR)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        if sample is None:
            values = torch.rand(BATCH_SIZE, instances, n_features)
            x = torch.where(torch.rand(BATCH_SIZE, instances, n_features) <= probability, values, 0.0)
        else:
            x = sample(BATCH_SIZE)
        hidden = torch.einsum("bif,ifh->bih", x, weights)
        if model == "neuron":
            hidden = torch.relu(hidden)
        out = torch.einsum("bih,ifh->bif", hidden, weights) + bias
        if model != "linear":
            out = torch.relu(out)
        loss = (importance * (x - out) ** 2).mean(dim=(0, 2)).sum()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    return weights.detach().transpose(1, 2).numpy().copy(), bias.detach().numpy().copy(), seconds
