"""The absolute-value model of the paper's "Computation in Superposition": its maths for the trainer.

x_i = 0 with probability S_i, otherwise U[-1, 1]; the target is y_i = |x_i|;
h = ReLU(W1 x), y' = ReLU(W2 h + b), with W1 (m x n) and W2 (n x m) untied;
loss = mean over batch and features of I_i (y_i - y'_i)^2.
|x| = ReLU(x) + ReLU(-x), so a feature needs two neurons unless sparsity lets neurons be shared.

The trainer (superpos.train) keeps one run's parameters in one tensor of rows(m) = 2m + 1 rows
of length n: rows 0..m-1 are W1, rows m..2m-1 are W2 transposed, row 2m is b. Everything but the
last row is "the weights" to the trainer, so its one-tensor Adam update moves all three.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from superpos.data import NonzeroSampler, keep_where_positive
from superpos.models import forward_parts, product, scripted, weighted_squared_error

# The automatic schedule (schedule_rule), fitted on the paper's n = 100, m = 40 sweep and n = 3, m = 6
# against ARENA's recipe (benchmarks/computation.py): dense models want a high peak rate, sparse
# ones a lower one (each input carries a feature only with probability about p).
PEAK_LR = 0.06
DENSE_P = 0.3  # from this P(x_i != 0 | x != 0) up, the full peak rate
LR_FLOOR = 0.25  # the sparsest models' rate, as a fraction of PEAK_LR
SMALL_SIZE = 400  # n m at most this: a small model, many restarts and few steps
SMALL_STEPS, SMALL_RESTARTS = 600, 8
# A long warm-up: the rate rises over 40% of the steps, not 5%. Early large steps commit neurons
# to features before the important ones have claimed theirs (at n = 100, m = 40, 1 - S = 0.1 and
# 0.03, 2.0x and 4.1x ARENA's recipe's loss with 5%, 1.15x and 2.1x with 40%).
WARMUP = 0.4
# Larger models start dense: every model first trains DENSE_STEPS steps on dense inputs (p = 1) at
# PEAK_LR, warmed up and then held, and then LARGE_STEPS steps at its own density from there (b = 0),
# at a rate between SPARSE_LR and DENSE_START_LR. Dense inputs give every feature a gradient at
# every step, so neurons pair up (ReLU(x_i), ReLU(-x_i)) on the most important features first; from
# a small start at 1 - S = 0.03 neurons took features one sign at a time, and no schedule of the
# same cost paired them up again (features 0-13 paired, 14-25 one neuron each). The models of a
# batch share one dense run. At n = 100, m = 40 over seeds 0-5 every density ended at 0.15-0.85x
# ARENA's recipe's loss (from up to 2.1x with 1,500 steps from a small start), in a quarter less CPU time.
DENSE_STEPS, LARGE_STEPS = 1000, 1200
SPARSE_LR, DENSE_START_LR = 0.015, 0.02


def schedule_rule(n_features: int, n_hidden: int, p_given_active: np.ndarray) -> dict:
    """Steps, batch, peak rates, restarts and dense start for abs models (superpos.schedule.Schedule's fields).

    p_given_active: per model, the smallest P(x_i != 0 | x != 0). Batch 256, warm-up over WARMUP
    of the steps. Small models (n m <= SMALL_SIZE): SMALL_STEPS steps, SMALL_RESTARTS restarts,
    lr_i = PEAK_LR x clip(sqrt(p_i / DENSE_P), LR_FLOOR, 1). Larger ones: DENSE_STEPS dense steps at
    PEAK_LR, then LARGE_STEPS steps of one run at lr_i clipped to [SPARSE_LR, DENSE_START_LR].
    """
    lr = PEAK_LR * np.clip(np.sqrt(np.asarray(p_given_active) / DENSE_P), LR_FLOOR, 1.0)
    common = {"batch_size": 256, "warmup": WARMUP}
    if n_features * n_hidden <= SMALL_SIZE:
        return {**common, "steps": SMALL_STEPS, "lr": tuple(lr.tolist()), "restarts": SMALL_RESTARTS}
    return {
        **common,
        "steps": LARGE_STEPS,
        "lr": tuple(np.clip(lr, SPARSE_LR, DENSE_START_LR).tolist()),
        "restarts": 1,
        "dense_steps": DENSE_STEPS,
        "dense_lr": PEAK_LR,
    }


def rows(n_hidden: int) -> int:
    """Rows of one run's parameter tensor: W1 (m), W2 transposed (m) and b (1)."""
    return 2 * n_hidden + 1


def split(weights):
    """The trainer's weight rows (..., 2m, n) -> (W1 (..., m, n), W2 (..., n, m)); views, no copies."""
    n_hidden = weights.shape[-2] // 2
    return weights[..., :n_hidden, :], weights[..., n_hidden:, :].swapaxes(-1, -2)


def unpack(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trained weight rows (..., 2m, n) -> contiguous W1 (..., m, n) and W2 (..., n, m)."""
    first, second = split(weights)
    return np.ascontiguousarray(first), np.ascontiguousarray(second)


def initial_parameters(runs: int, n_hidden: int, n_features: int, generator: torch.Generator) -> torch.Tensor:
    """(runs, 2m + 1, n): W1 and W2 uniform on [-a, a] with a = sqrt(6 / (m n)), b = 0.

    ARENA's start: torch's kaiming_uniform_ on the 3-D (instances, m, n) tensors takes fan-in m n.
    A small start lets each neuron grow towards one feature; the usual fan-in n (a = sqrt(6 / n))
    starts every neuron reading many features, a tangle that training does not undo in time
    (measured at n = 100, m = 40: 10-25x the loss of the small start at 1 - S = 0.1 and 0.3).
    """
    parameters = torch.zeros(runs, rows(n_hidden), n_features)
    bound = math.sqrt(6.0 / (n_hidden * n_features))
    parameters[:, :-1] = (torch.rand(runs, 2 * n_hidden, n_features, generator=generator) * 2 - 1) * bound
    return parameters


def signed(x: torch.Tensor) -> torch.Tensor:
    """Inputs of the storage models (active x_i ~ U[0, 1], else 0) -> the abs model's (active
    x_i ~ U[-1, 1]): 2 x_i - 1 where x_i > 0. No new random numbers are drawn: u ~ U[0, 1] makes
    2u - 1 ~ U[-1, 1]. (An active value drawn as exactly 0, chance 2^-24, stays 0.)"""
    return keep_where_positive(x.mul(2.0).sub_(1.0), x)


class SignedSampler(NonzeroSampler):
    """Draws the abs model's x given at least one active feature: NonzeroSampler's x, signed."""

    def __call__(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return signed(super().__call__(batch_size, generator))


def output(weights: torch.Tensor, bias: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """out = W2 ReLU(W1 x) + b before the output ReLU, from the trainer's weight rows (runs, 2m, n)."""
    first, second = split(weights)
    return forward_parts("abs", first, bias, x, second)[2]


@scripted  # one call a step (superpos.models.scripted)
def gradients(
    weights: torch.Tensor,
    bias: torch.Tensor,
    x: torch.Tensor,
    weight_grad: torch.Tensor,
    bias_grad: torch.Tensor,
    output_scale: torch.Tensor,
    zero_scale: torch.Tensor,
    zero_term: bool,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Write the gradients of the weight rows [W1; W2^T] and of b into the given tensors; return out.

    With g = dLoss/d(out) (zero where out <= 0) and dh = W2^T g masked where W1 x <= 0:
    dW2^T = h g^T, dW1 = dh x^T, db = sum_batch g + the zero term's 2 I P0 ReLU(b) / n (left out
    with zero_term=False). output_scale and zero_scale are AbsoluteLoss's; the products' factors
    are rounded to `dtype` (superpos.models.product).
    """
    n_hidden = weights.shape[1] // 2
    first, second_t = weights[:, :n_hidden], weights[:, n_hidden:]
    x_factor = x.to(dtype)
    pre_activation, hidden, out = forward_parts("abs", first, bias, x_factor, second_t.transpose(1, 2), dtype)
    output_grad = keep_where_positive((out - x.abs()).mul_(output_scale), out)
    output_factor = output_grad.to(dtype)
    hidden_grad = keep_where_positive(product(second_t, output_factor, dtype), pre_activation)
    product(hidden, output_factor.transpose(1, 2), dtype, out=weight_grad[:, n_hidden:])
    product(hidden_grad, x_factor.transpose(1, 2), dtype, out=weight_grad[:, :n_hidden])
    torch.addcmul(output_grad.sum(dim=2), zero_scale, torch.relu(bias), value=float(zero_term), out=bias_grad)
    return out


class AbsoluteLoss:
    """Loss = (1 - P0) E[mean_i I_i (|x_i| - y'_i)^2 | x != 0] + P0 mean_i I_i ReLU(b_i)^2 per instance.

    P0 = P(x = 0); x = 0 gives h = 0 and y' = ReLU(b), so that term is exact and batches are drawn
    given x != 0 (SignedSampler). The same interface as superpos.train.ExpectedLoss.
    """

    def __init__(self, importance: torch.Tensor, zero_share: torch.Tensor, batch_size: int, dtype=torch.float32):
        n_features = importance.shape[1]
        self.importance, self.zero_share = importance, zero_share
        self.dtype = dtype  # of the batched products' factors (superpos.models.product)
        # dLoss/dy'_i of one sample: 2 I_i (1 - P0) (y'_i - |x_i|) / (batch n); of the zero term
        # with respect to b_i: 2 I_i P0 ReLU(b_i) / n.
        self.output_scale = ((2.0 / (batch_size * n_features)) * importance * (1.0 - zero_share)[:, None])[:, :, None]
        self.zero_scale = (2.0 / n_features) * importance * zero_share[:, None]

    def gradients(self, weights, bias, x, weight_grad, bias_grad, zero_term: bool = True) -> torch.Tensor:
        """Write the gradients of the weight rows and of b into the given tensors; return out (`gradients`)."""
        scales = (self.output_scale, self.zero_scale)
        return gradients(weights, bias, x, weight_grad, bias_grad, *scales, zero_term, self.dtype)

    def __call__(self, x, out, bias) -> torch.Tensor:
        """The loss per instance, from a batch drawn given x != 0 and its out = W2 h + b."""
        nonzero = weighted_squared_error(x.abs(), torch.relu(out), self.importance)
        zero = (self.importance * torch.relu(bias) ** 2).mean(dim=1)
        return (1.0 - self.zero_share) * nonzero + self.zero_share * zero
