"""How well each SAE of a batch (superpos.sae.SAEResult) recovers the toy's known features.

True direction of feature i in the hidden space: f_i = W_i (linear, relu) or ReLU(W_i) (neuron),
what a one-hot input x = t e_i writes, h = t f_i. Decoder direction of latent j: d_j (unit).
- L0 = E[#{k : z_k > 0}], active latents per input;
- FVU = E||h - h'||^2 / E||h - E h||^2, fraction of variance unexplained;
- dead fraction: latents that fire on no input of the evaluation sample (EVAL_SAMPLES inputs drawn
  given x != 0, and x = 0);
- cos_ij = f_i . d_j / (||f_i|| ||d_j||); MMCS features->latents = mean_i max_j cos_ij (each true
  feature's best latent), MMCS latents->features = mean_j max_i cos_ij (each latent's best feature, dead
  ones included);
- firing frequency of latent j: P(z_j > 0), to set beside p_i of its best feature;
- shrinkage of feature i: on one-hot inputs x = t e_i, the slope through the origin of its best
  latent's z against a = t ||f_i||, sum z a / sum a^2 (1 = none; the L1 SAE's known bias is < 1).
Expectations are over the toy's distribution: the sample drawn given x != 0 and the input x = 0,
weighted by 1 - P(x = 0) and P(x = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from superpos.data import NonzeroSampler, zero_input_probability
from superpos.models import hidden
from superpos.sae import SAEResult, activations, pre_activations

EVAL_SAMPLES = 8192
EVAL_SEED = 2022
SHRINKAGE_POINTS = 20  # one-hot magnitudes t = 1/20, ..., 1


def feature_directions(model: str, toy_weights: np.ndarray) -> np.ndarray:
    """f_i, the hidden vector of x = e_i, as columns (m, n): W_i, or ReLU(W_i) for the neuron model."""
    return np.maximum(toy_weights, 0.0) if model == "neuron" else toy_weights


def encode(result: SAEResult, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, h') of every SAE for hidden activations h (1, m, batch): (saes, d, batch), (saes, m, batch)."""
    as_tensor = lambda array: torch.as_tensor(np.asarray(array, dtype=np.float32))  # noqa: E731
    decoder_bias = as_tensor(result.decoder_bias)
    _, pre = pre_activations(as_tensor(result.encoder), as_tensor(result.encoder_bias), decoder_bias, h)
    k = torch.as_tensor(result.setting).long() if result.kind == "topk" else None
    z = activations(result.kind, pre, k, as_tensor(result.threshold))
    return z, torch.baddbmm(decoder_bias[:, :, None], as_tensor(result.decoder), z)


def evaluation_sample(result: SAEResult) -> tuple[torch.Tensor, torch.Tensor]:
    """h (1, m, EVAL_SAMPLES + 1) from the fixed evaluation inputs (the last is x = 0) and each input's weight."""
    probability = torch.as_tensor(result.probability, dtype=torch.float32)[None]
    x = NonzeroSampler(probability)(EVAL_SAMPLES + 1, torch.Generator().manual_seed(EVAL_SEED))
    x[:, :, -1] = 0.0
    zero_share = float(zero_input_probability(probability)[0])
    weight = torch.full((EVAL_SAMPLES + 1,), (1.0 - zero_share) / EVAL_SAMPLES, dtype=torch.float64)
    weight[-1] = zero_share
    return hidden(result.model, torch.as_tensor(result.toy_weights)[None], x), weight


def cosines(result: SAEResult) -> np.ndarray:
    """cos(f_i, d_j) per SAE: (saes, n, d)."""
    features = feature_directions(result.model, result.toy_weights)
    unit_features = features / np.maximum(np.linalg.norm(features, axis=0), 1e-12)
    unit_decoder = result.decoder / np.maximum(np.linalg.norm(result.decoder, axis=1, keepdims=True), 1e-12)
    return np.einsum("mi,smj->sij", unit_features, unit_decoder)


def mmcs(cosine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features->latents mean_i max_j cos_ij, latents->features mean_j max_i cos_ij) per SAE."""
    return cosine.max(axis=-1).mean(axis=-1), cosine.max(axis=-2).mean(axis=-1)


def fraction_of_variance_unexplained(h, reconstruction, weight) -> np.ndarray:
    """FVU = sum_b w_b ||h_b - h'_b||^2 / sum_b w_b ||h_b - hbar||^2, hbar = sum_b w_b h_b, per SAE."""
    h, reconstruction = h.double(), reconstruction.double()
    mean = (h * weight).sum(dim=2, keepdim=True)
    variance = (((h - mean) ** 2).sum(dim=1) * weight).sum(dim=1)
    error = (((reconstruction - h) ** 2).sum(dim=1) * weight).sum(dim=1)
    return (error / variance.clamp_min(1e-30)).numpy()


def shrinkage(result: SAEResult, best_latent: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Per SAE and feature, the slope through the origin of its best latent's z against a = t ||f_i||
    on one-hot inputs x = t e_i (saes, n); and the points (sae, feature, latent, a, z)."""
    features = feature_directions(result.model, result.toy_weights)
    n_features = features.shape[1]
    magnitude = np.arange(1, SHRINKAGE_POINTS + 1) / SHRINKAGE_POINTS
    # Inputs t e_i for every i and t, one column each (feature-major).
    x = np.kron(np.eye(n_features), magnitude[None, :])
    h = hidden(result.model, torch.as_tensor(result.toy_weights)[None], torch.as_tensor(x, dtype=torch.float32)[None])
    z = encode(result, h)[0].numpy().reshape(len(result.setting), -1, n_features, SHRINKAGE_POINTS)
    chosen = np.take_along_axis(z, best_latent[:, None, :, None], axis=1)[:, 0]  # (saes, n, points)
    along = np.linalg.norm(features, axis=0)[:, None] * magnitude[None, :]  # a = t ||f_i||, (n, points)
    slope = (chosen * along).sum(axis=-1) / np.maximum((along**2).sum(axis=-1), 1e-12)
    sae, feature, point = np.indices(chosen.shape)
    points = pd.DataFrame(
        {
            "sae": sae.ravel(),
            "feature": feature.ravel(),
            "latent": best_latent[sae.ravel(), feature.ravel()],
            "input": along[feature.ravel(), point.ravel()],
            "activation": chosen.ravel(),
        }
    )
    return slope, points


@dataclass(frozen=True)
class SAEMetrics:
    """Per SAE (saes,): l0, fvu, dead_fraction, mmcs_features, mmcs_latents; cosine (saes, n, d);
    per latent (saes, d): best_feature, best_cosine, frequency; per feature (saes, n): shrinkage;
    shrinkage_points, one row per one-hot input (see shrinkage)."""

    l0: np.ndarray
    fvu: np.ndarray
    dead_fraction: np.ndarray
    mmcs_features: np.ndarray
    mmcs_latents: np.ndarray
    cosine: np.ndarray
    best_feature: np.ndarray
    best_cosine: np.ndarray
    frequency: np.ndarray
    shrinkage: np.ndarray
    shrinkage_points: pd.DataFrame


def evaluate_saes(result: SAEResult) -> SAEMetrics:
    """Every metric of the module docstring, for every SAE of `result`."""
    h, weight = evaluation_sample(result)
    with torch.no_grad():
        z, reconstruction = encode(result, h)
    active = (z > 0).double()
    frequency = (active * weight).sum(dim=2).numpy()  # P(z_j > 0)
    cosine = cosines(result)
    mmcs_features, mmcs_latents = mmcs(cosine)
    slope, points = shrinkage(result, cosine.argmax(axis=-1))
    return SAEMetrics(
        l0=frequency.sum(axis=1),
        fvu=fraction_of_variance_unexplained(h, reconstruction, weight),
        dead_fraction=(active.sum(dim=2) == 0).double().mean(dim=1).numpy(),
        mmcs_features=mmcs_features,
        mmcs_latents=mmcs_latents,
        cosine=cosine,
        best_feature=cosine.argmax(axis=-2),
        best_cosine=cosine.max(axis=-2),
        frequency=frequency,
        shrinkage=slope,
        shrinkage_points=points,
    )


def latent_table(result: SAEResult, scores: SAEMetrics, sae: int) -> pd.DataFrame:
    """One row per latent of SAE `sae`: its best feature and cosine, firing frequency, that feature's p,
    and whether it is dead."""
    best = scores.best_feature[sae]
    return pd.DataFrame(
        {
            "latent": np.arange(len(best)),
            "feature": best,
            "cosine": scores.best_cosine[sae],
            "frequency": scores.frequency[sae],
            "feature_probability": result.probability[best],
            "dead": scores.frequency[sae] == 0,
        }
    )
