"""The toy models, vectorised over a leading instance axis.

W has shape (instances, m, n): column W[:, :, i] is feature i's direction in the hidden space.
Inputs x are (instances, n, batch): one column per sample.
| model  | hidden        | output               | superposition           |
| linear | h = W x       | x' = W^T h + b       | none: learns the top m  |
| relu   | h = W x       | x' = ReLU(W^T h + b) | bottleneck (no basis)   |
| neuron | h = ReLU(W x) | x' = ReLU(W^T h + b) | neuron (privileged)     |
| abs    | h = ReLU(W x) | y' = ReLU(W2 h + b)  | computes |x| (untied)   |
The abs model (superpos.absolute) has signed inputs, target y = |x| and its own W2 (n x m).
"""

from __future__ import annotations

import torch


def hidden(model: str, weights: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """h = W x (linear, relu) or ReLU(W x) (neuron, abs), shape (instances, m, batch)."""
    pre_activation = torch.bmm(weights, x)
    return torch.relu(pre_activation) if model in ("neuron", "abs") else pre_activation


def product(first: torch.Tensor, second: torch.Tensor, dtype=torch.float32, out=None) -> torch.Tensor:
    """torch.bmm(first, second) in float32, its factors rounded to `dtype` first.

    With dtype = torch.bfloat16 the product runs several times faster on CPUs with bfloat16
    instructions (superpos.schedule.product_dtype decides); the result and everything around it
    stay float32 (bfloat16 keeps float32's range, with an 8-bit significand).
    """
    if dtype == torch.float32:
        return torch.bmm(first, second, out=out)
    result = torch.bmm(first.to(dtype), second.to(dtype))
    return result.float() if out is None else out.copy_(result)


def forward_parts(
    model: str, weights: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, output_weights=None, dtype=torch.float32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward pass up to the output ReLU: pre = W x, h = ReLU(pre) (neuron, abs) or pre,
    out = W^T h + b (W2 h + b for abs, W2 = output_weights), the products in `dtype` (`product`).
    The trainer's hand-derived gradients need all three, so this is the one place the models'
    products are written."""
    pre_activation = product(weights, x, dtype)
    hidden_values = torch.relu(pre_activation) if model in ("neuron", "abs") else pre_activation
    readout = weights.transpose(1, 2) if output_weights is None else output_weights
    return pre_activation, hidden_values, product(readout, hidden_values, dtype).add_(bias[:, :, None])


def forward(
    model: str, weights: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, output_weights=None
) -> torch.Tensor:
    """x' = W^T h + b (W2 h + b for abs, W2 = output_weights), through a ReLU but for linear."""
    out = forward_parts(model, weights, bias, x, output_weights)[2]
    return out if model == "linear" else torch.relu(out)


def target(model: str, x: torch.Tensor) -> torch.Tensor:
    """What the model should output: |x| for abs, x itself for the others."""
    return x.abs() if model == "abs" else x


def weighted_squared_error(x: torch.Tensor, reconstruction: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Per instance: mean over batch and features of I_i (x_i - x'_i)^2."""
    return (importance[:, :, None] * (x - reconstruction) ** 2).mean(dim=(1, 2))
