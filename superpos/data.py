"""Synthetic inputs: each feature x_i is 0 with probability S_i, else uniform on [0, 1].

Shapes: `probability` is (instances, n), one row per model trained side by side, so a
sparsity sweep or a phase diagram is one batch. Samples are (instances, n, batch): column
vectors, as in h = W x, and the long batch axis innermost keeps element-wise work fast.
"""

from __future__ import annotations

import torch

# Smallest probability used as a divisor; the config limits keep real ones far above it.
TINY = 1e-12


def keep_where_positive(values: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """values where gate > 0, else 0: ReLU's backward as one fused kernel.

    Several times faster on CPU than torch.where(gate > 0, values, 0), which builds a mask.
    """
    return torch.ops.aten.threshold_backward(values, gate, 0.0)


def sample_features(probability: torch.Tensor, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """Draw x of shape (instances, n, batch): x_i = 0 w.p. 1 - p_i, else x_i ~ U[0, 1].

    One uniform u gives both the mask and the magnitude: u < p happens with probability p,
    and then u / p is again U[0, 1], so half the random numbers are needed.
    """
    instances, n_features = probability.shape
    scaled = torch.rand(instances, n_features, batch_size, generator=generator)
    scaled /= probability[:, :, None].clamp_min(TINY)
    return keep_where_positive(scaled, 1.0 - scaled)


def zero_input_probability(probability: torch.Tensor) -> torch.Tensor:
    """P(x = 0) = prod_i (1 - p_i), per instance: the share of inputs with no active feature."""
    return torch.prod(1.0 - probability, dim=-1)


class NonzeroSampler:
    """Draws x conditioned on at least one active feature, exactly.

    The first active feature k has P(k | x != 0) = p_k prod_{j<k} (1 - p_j) / (1 - P(x = 0));
    given k, features before it are 0, feature k is U[0, 1] and later ones are drawn as usual.
    With sparse features most plain samples are all zero and teach only the bias, whose loss
    has a closed form, so the trainer spends its whole batch on informative inputs.
    """

    def __init__(self, probability: torch.Tensor):
        instances, n_features = probability.shape
        survive = torch.cumprod(1.0 - probability, dim=-1)
        none_before = torch.cat([torch.ones_like(survive[:, :1]), survive[:, :-1]], dim=-1)
        first_active = torch.cumsum(probability * none_before, dim=-1)
        # Inverse CDF of k, normalised to end at 1.
        self.cumulative = (first_active / first_active[:, -1:]).contiguous()
        # Given k, feature i is active with probability 0 (i < k), 1 (i = k) or p_i (i > k);
        # u < that threshold is scaled to U[0, 1] by 1 / threshold. Row i, column k holds it
        # (a huge scale where the threshold is 0, so u / threshold is never below 1).
        index = torch.arange(n_features)
        threshold = torch.where(
            index[:, None] > index[None, :], probability[:, :, None], (index[:, None] == index[None, :]).float()
        )
        self.inverse_threshold = 1.0 / threshold.clamp_min(TINY)

    def __call__(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        instances, n_features = self.cumulative.shape
        target = torch.rand(instances, batch_size, generator=generator)
        first = torch.searchsorted(self.cumulative, target).clamp_max_(n_features - 1)
        scale = self.inverse_threshold.gather(2, first[:, None, :].expand(instances, n_features, batch_size))
        scaled = torch.rand(instances, n_features, batch_size, generator=generator).mul_(scale)
        return keep_where_positive(scaled, 1.0 - scaled)
