"""ARENA's toy sparse autoencoder recipe in plain torch: the baseline superpos.sae is measured against.

As in ARENA's superposition chapter (ToySAE): W_enc and W_dec Kaiming-uniform, biases 0; the
decoder's rows normalised inside the forward pass; h_cent = h - b_dec, z = ReLU(h_cent W_enc + b_enc),
h' = z W_dec_normalised + b_dec; loss = mean_j (h'_j - h_j)^2 + c sum_k |z_k| per input, averaged
over the batch and summed over SAEs; autograd; torch.optim.Adam at a constant 1e-3; 20,000 steps
of batch 1024, each SAE its own fresh inputs (x_i = U[0, 1] w.p. p, h = W x of the toy).
Simple resampling every 2,500 steps: a latent that fired on no input in the last 500 steps gets a
random unit decoder direction v, encoder weights 0.5 v and encoder bias 0.
"""

from __future__ import annotations

import time

import numpy as np
import torch

STEPS = 20_000
BATCH_SIZE = 1024
LR = 1e-3
L1 = 0.2
RESAMPLE_EVERY = 2_500
RESAMPLE_WINDOW = 500
RESAMPLE_SCALE = 0.5


def train_reference_saes(model: str, weights, probability, latents: int, saes: int, steps=STEPS, seed=0):
    """SAEs on the hidden activations of one toy (W as (m, n), p as (n,)).

    Returns (decoder as (saes, latents, m) unit rows, encoder (saes, m, latents), b_enc (saes, latents),
    b_dec (saes, m), seconds)."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    weights = torch.tensor(np.asarray(weights), dtype=torch.float32)
    probability = torch.tensor(np.asarray(probability), dtype=torch.float32)
    n_hidden, n_features = weights.shape
    encoder = torch.nn.Parameter(torch.nn.init.kaiming_uniform_(torch.empty(saes, n_hidden, latents)))
    decoder = torch.nn.Parameter(torch.nn.init.kaiming_uniform_(torch.empty(saes, latents, n_hidden)))
    encoder_bias = torch.nn.Parameter(torch.zeros(saes, latents))
    decoder_bias = torch.nn.Parameter(torch.zeros(saes, n_hidden))
    optimizer = torch.optim.Adam([encoder, decoder, encoder_bias, decoder_bias], lr=LR)
    fired_history = []
    for step in range(steps):
        if step > 0 and step % RESAMPLE_EVERY == 0:
            resample(encoder, decoder, encoder_bias, torch.stack(fired_history[-RESAMPLE_WINDOW:]))
        optimizer.zero_grad(set_to_none=True)
        values = torch.rand(BATCH_SIZE, saes, n_features)
        x = torch.where(torch.rand(BATCH_SIZE, saes, n_features) <= probability, values, 0.0)
        hidden = torch.einsum("bsf,hf->bsh", x, weights)
        if model == "neuron":
            hidden = torch.relu(hidden)
        unit_decoder = decoder / (decoder.norm(dim=-1, keepdim=True) + 1e-8)
        acts = torch.relu(torch.einsum("bsh,shl->bsl", hidden - decoder_bias, encoder) + encoder_bias)
        reconstruction = torch.einsum("bsl,slh->bsh", acts, unit_decoder) + decoder_bias
        loss = ((reconstruction - hidden).pow(2).mean(-1) + L1 * acts.abs().sum(-1)).mean(0).sum()
        loss.backward()
        optimizer.step()
        fired_history.append((acts > 0).any(dim=0).detach())
    unit_decoder = decoder / (decoder.norm(dim=-1, keepdim=True) + 1e-8)
    seconds = time.perf_counter() - started
    return (
        unit_decoder.detach().numpy().copy(),
        encoder.detach().numpy().copy(),
        encoder_bias.detach().numpy().copy(),
        decoder_bias.detach().numpy().copy(),
        seconds,
    )


@torch.no_grad()
def resample(encoder, decoder, encoder_bias, fired_window) -> None:
    """ARENA's simple resampling: dead = fired on no input of the window."""
    dead = ~fired_window.any(dim=0)  # (saes, latents)
    for sae, latent in dead.nonzero().tolist():
        direction = torch.randn(decoder.shape[-1])
        direction /= direction.norm()
        decoder[sae, latent] = direction
        encoder[sae, :, latent] = RESAMPLE_SCALE * direction
        encoder_bias[sae, latent] = 0.0
