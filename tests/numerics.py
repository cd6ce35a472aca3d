"""Comparing the trainer's hand-derived gradients with autograd's, for either dtype of the products."""

import numpy as np
import torch


def assert_matches(value: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, rtol: float, atol: float):
    """float32 products: elementwise; bfloat16 factors (8-bit significand): within 2% in norm."""
    if dtype == torch.float32:
        np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=rtol, atol=atol)
    else:
        assert not torch.equal(value, expected), "bfloat16 products should round"
        assert (value - expected).norm() < 0.02 * expected.norm(), (value, expected)
