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

import warnings

import torch


def scripted(function):
    """`function` compiled with TorchScript: a training step is a few dozen small kernels, and one
    call of a scripted function runs them with no Python between them (a tenth less time for the
    abs model's seven-density batch), with the same results to the bit.

    A process's first call of it costs about 0.1 s more, once (TorchScript optimises the graph).
    torch.jit.script is deprecated in favour of torch.compile, which needs a C++ compiler at run
    time; torch is pinned, and where TorchScript is gone the plain function runs, to the same bits.
    """
    script = getattr(torch.jit, "script", None)
    if script is None:
        return function
    with warnings.catch_warnings():  # the deprecation above, once per function at import
        warnings.filterwarnings("ignore", r".*torch\.jit\.script.* is deprecated", DeprecationWarning)
        return script(function)


def hidden(model: str, weights: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """h = W x (linear, relu) or ReLU(W x) (neuron, abs), shape (instances, m, batch)."""
    pre_activation = torch.bmm(weights, x)
    return torch.relu(pre_activation) if model in ("neuron", "abs") else pre_activation


def product(
    first: torch.Tensor, second: torch.Tensor, dtype: torch.dtype = torch.float32, out: torch.Tensor | None = None
) -> torch.Tensor:
    """torch.bmm(first, second) in float32, its factors rounded to `dtype` first.

    With dtype = torch.bfloat16 the product runs several times faster on CPUs with bfloat16
    instructions (superpos.schedule.product_dtype decides); the result and everything around it
    stay float32 (bfloat16 keeps float32's range, with an 8-bit significand).
    """
    # Written with explicit branches on `out`, as TorchScript needs (the trainer's steps are scripted).
    if dtype == torch.float32:
        if out is None:
            return torch.bmm(first, second)
        return torch.bmm(first, second, out=out)
    result = torch.bmm(first.to(dtype), second.to(dtype))
    if out is None:
        return result.float()
    return out.copy_(result)


def forward_parts(
    model: str,
    weights: torch.Tensor,
    bias: torch.Tensor,
    x: torch.Tensor,
    output_weights: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward pass up to the output ReLU: pre = W x, h = ReLU(pre) (neuron, abs) or pre,
    out = W^T h + b (W2 h + b for abs, W2 = output_weights), the products in `dtype` (`product`).
    The trainer's hand-derived gradients need all three, so this is the one place the models'
    products are written."""
    pre_activation = product(weights, x, dtype)
    hidden_values = torch.relu(pre_activation) if model in ("neuron", "abs") else pre_activation
    readout = weights.transpose(1, 2)
    if output_weights is not None:
        readout = output_weights
    return pre_activation, hidden_values, product(readout, hidden_values, dtype).add_(bias[:, :, None])


def forward(
    model: str, weights: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, output_weights=None
) -> torch.Tensor:
    """x' = W^T h + b (W2 h + b for abs, W2 = output_weights), through a ReLU but for linear (in place:
    `out` is a fresh tensor, and the held-out sample's chunks hold a million values each)."""
    out = forward_parts(model, weights, bias, x, output_weights)[2]
    return out if model == "linear" else out.relu_()


def target(model: str, x: torch.Tensor) -> torch.Tensor:
    """What the model should output: |x| for abs, x itself for the others."""
    return x.abs() if model == "abs" else x


def weighted_squared_error(x: torch.Tensor, reconstruction: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Per instance: mean over batch and features of I_i (x_i - x'_i)^2."""
    return (importance[:, :, None] * (x - reconstruction) ** 2).mean(dim=(1, 2))
