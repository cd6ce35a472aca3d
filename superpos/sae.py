"""Sparse autoencoders (SAEs) trained on a toy model's hidden activations, many at once.

The toy's features are known, so whether an SAE pulls them back out of superposition can be
measured exactly (superpos.sae_metrics). The SAE sees h = W x (linear, relu) or h = ReLU(W x)
(neuron), x from the toy's own feature distribution. With d latents and b_dec subtracted first:
    pre = W_enc (h - b_dec) + b_enc,   h' = W_dec z + b_dec,   W_dec's columns of unit norm;
    relu      z = ReLU(pre),                 loss = mean_j (h'_j - h_j)^2 + c sum_k z_k  (Anthropic 2023, ARENA)
    topk      z = ReLU(pre) on the k largest, loss = mean_j (h'_j - h_j)^2 + AuxK          (Gao et al. 2024)
    jumprelu  z = pre 1[pre > theta],         loss = mean_j (h'_j - h_j)^2 + lambda sum_k 1[pre_k > theta_k]
                                                                              (Rajamanoharan et al. 2024)
Why it is fast (benchmarks/sae.py compares it with ARENA's recipe side by side), as the toy trainer:
- every SAE of a batch (seeds x sparsity settings) is one slice of batched tensors (torch.bmm), all
  reading the same inputs;
- inputs are drawn given at least one active feature, plus the one all-zero input (h = 0) weighted
  by its probability: the exact expected loss with a batch of informative inputs;
- gradients are derived by hand (no autograd graph), Adam is written out on one flat tensor;
- a higher peak learning rate with warm-up and cosine decay, so far fewer steps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from superpos.config import ConfigError
from superpos.data import NonzeroSampler, keep_where_positive, zero_input_probability
from superpos.models import hidden
from superpos.train import TrainResult, adam_step, learning_rate

SAE_KINDS = ("relu", "topk", "jumprelu")
SAE_LABELS = {"relu": "ReLU + L1", "topk": "TopK", "jumprelu": "JumpReLU"}
TOY_MODELS = ("linear", "relu", "neuron")  # the toys whose hidden layer is h = W x or ReLU(W x)
# The field holding each kind's sparsity setting, and what it is called.
SETTING_FIELDS = {"relu": "l1", "topk": "k", "jumprelu": "l0_penalty"}
SETTING_LABELS = {"relu": "L1 coefficient c", "topk": "k (active latents)", "jumprelu": "L0 penalty λ"}
LIMITS = {
    "latents": (1, 256),
    "l1": (0.0, 10.0),
    "k": (1, 256),
    "l0_penalty": (0.0, 10.0),
    "seeds": (1, 16),
    "steps": (10, 20_000),
    "batch_size": (16, 8192),
    "lr": (1e-5, 1.0),
    "seed": (0, 2**31 - 1),
}
INTEGER_FIELDS = ("latents", "k", "seeds", "steps", "batch_size", "seed")
MAX_SAES = 128  # SAEs in one batch: settings x seeds
# Work limit: steps x batch x SAEs x latents x (m + 8) element operations, about 10 s on one thread.
MAX_WORK = 20_000_000_000

# JumpReLU: initial threshold and the straight-through estimator's bandwidth (ARENA's toy values).
THRESHOLD_INIT = 0.1
BANDWIDTH = 0.01
# TopK: AuxK's weight (Gao et al.) and when a latent counts as dead for it (no firing in that many steps).
AUX_WEIGHT = 1.0 / 32.0
AUX_DEAD_STEPS = 50
# ReLU SAE resampling (Anthropic's recipe): at these fractions of the steps, a latent that fired on no
# input in the preceding RESAMPLE_WINDOW of the steps is moved to an input drawn with probability
# proportional to its squared reconstruction loss squared.
RESAMPLE_AT = (0.2, 0.4, 0.6)
RESAMPLE_WINDOW = 0.1
RESAMPLE_ENCODER_SCALE = 0.2
RESAMPLE_SAMPLES = 1024


@dataclass(frozen=True)
class SAEConfig:
    """One kind of SAE and how to train it; `seeds` copies differ only in their initial weights.

    Defaults: ARENA's toy settings for the sparsity (c = 0.2, lambda = 0.1; k = 1 as one feature is
    active at a time on the sparse toy) and superpos's fast schedule, benchmarked in benchmarks/sae.py.
    """

    kind: str = "relu"
    latents: int = 5
    l1: float = 0.2
    k: int = 1
    l0_penalty: float = 0.1
    resample: bool = True
    seeds: int = 4
    steps: int = 2000
    batch_size: int = 128
    lr: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SAE_KINDS:
            raise ConfigError("kind", f"{self.kind!r} is not one of {', '.join(SAE_KINDS)}")
        for name, (low, high) in LIMITS.items():
            check_limit(name, getattr(self, name), low, high, integer=name in INTEGER_FIELDS)
        if not isinstance(self.resample, bool):
            raise ConfigError("resample", f"{self.resample!r} is not true or false")
        if self.k > self.latents:
            raise ConfigError("k", f"{self.k} exceeds latents={self.latents}; allowed at most latents")

    @property
    def setting(self) -> float:
        """This kind's sparsity setting: c, k or lambda."""
        return getattr(self, SETTING_FIELDS[self.kind])

    def replace(self, **changes) -> SAEConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SAEResult:
    """A batch of trained SAEs (index s = setting index x seeds + seed index), as numpy arrays.

    encoder (saes, d, m), encoder_bias (saes, d), decoder (saes, m, d) with unit columns,
    decoder_bias (saes, m), threshold (saes, d) (JumpReLU's theta; 0 otherwise), setting and
    seed (saes,); the toy's model kind, W (m, n) and feature probabilities p (n,).
    """

    kind: str
    encoder: np.ndarray
    encoder_bias: np.ndarray
    decoder: np.ndarray
    decoder_bias: np.ndarray
    threshold: np.ndarray
    setting: np.ndarray
    seed: np.ndarray
    model: str
    toy_weights: np.ndarray
    probability: np.ndarray
    seconds: float


def check_limit(name: str, value, low, high, integer: bool) -> None:
    """Raise ConfigError naming `name` unless `value` is a finite number (whole if `integer`) in [low, high]."""
    kind = "an integer" if integer else "a number"
    wrong_type = isinstance(value, bool) or not isinstance(value, int | float)
    if wrong_type or not math.isfinite(value) or (integer and not float(value).is_integer()):
        raise ConfigError(name, f"{value!r} is not {kind}; allowed {kind} in [{low:g}, {high:g}]")
    if not low <= value <= high:
        raise ConfigError(name, f"{value!r} is out of range; allowed [{low:g}, {high:g}]")


def check_toy(model: str) -> None:
    if model not in TOY_MODELS:
        raise ConfigError("model", f"SAEs train on the hidden layer of the {', '.join(TOY_MODELS)} models, not {model}")


def check_work(config: SAEConfig, saes: int, n_hidden: int) -> None:
    """Raise ConfigError unless saes <= MAX_SAES and the work estimate is under MAX_WORK."""
    if saes > MAX_SAES:
        raise ConfigError("seeds", f"{saes} SAEs in one batch; allowed at most {MAX_SAES} (settings x seeds)")
    work = config.steps * config.batch_size * saes * config.latents * (n_hidden + 8)
    if work > MAX_WORK:
        raise ConfigError(
            "steps", f"{saes} SAEs of {config.latents} latents for {config.steps} steps is over the work limit (~10 s)"
        )


class Parameters:
    """Views into one flat (saes, size) tensor, so that one Adam update moves every parameter.
    The same layout holds the gradients and Adam's moments."""

    def __init__(self, flat: torch.Tensor, latents: int, n_hidden: int):
        saes, d, m = flat.shape[0], latents, n_hidden
        ends = np.cumsum([d * m, d, m * d, m, d]).tolist()
        self.flat = flat
        self.encoder = flat[:, : ends[0]].view(saes, d, m)
        self.encoder_bias = flat[:, ends[0] : ends[1]]
        self.decoder = flat[:, ends[1] : ends[2]].view(saes, m, d)
        self.decoder_bias = flat[:, ends[2] : ends[3]]
        self.log_threshold = flat[:, ends[3] : ends[4]]

    @staticmethod
    def size(latents: int, n_hidden: int) -> int:
        return 2 * latents * n_hidden + 2 * latents + n_hidden


def pre_activations(encoder, encoder_bias, decoder_bias, h) -> tuple[torch.Tensor, torch.Tensor]:
    """(h - b_dec, pre = W_enc (h - b_dec) + b_enc); h is (1 or saes, m, batch)."""
    centred = h - decoder_bias[:, :, None]
    return centred, torch.baddbmm(encoder_bias[:, :, None], encoder, centred)


def topk_relu(pre: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """ReLU of each SAE's k largest pre-activations per input, 0 elsewhere; pre (saes, d, batch), k (saes,).

    Keeps r = ReLU(pre) above the (k+1)-th largest r, found one rank at a time: the largest left (a max
    over the latents), then every r equal to it zeroed; once nothing positive is left every further cutoff
    is 0, and on sparse inputs few latents are positive, so this stops early. torch.topk and torch.sort
    cost several times more on rows of d values, every step. (Exact ties would be kept together.)"""
    rectified = torch.relu(pre)
    remaining = rectified
    cutoff = torch.zeros_like(pre[:, :1])
    ranks = min(int(k.max()), pre.shape[1] - 1) + 1  # k >= d keeps every positive: its cutoff stays 0
    at_rank = (k.view(1, -1, 1, 1) == torch.arange(ranks).view(-1, 1, 1, 1)).to(pre.dtype)
    for rank in range(ranks):
        largest = remaining.amax(dim=1, keepdim=True)
        if not largest.any():
            break
        cutoff.addcmul_(largest, at_rank[rank])  # rank k (from 0) is the (k+1)-th largest
        remaining = keep_where_positive(remaining, largest - remaining)
    return keep_where_positive(rectified, rectified - cutoff)


def activations(kind: str, pre: torch.Tensor, k: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """z of `kind` from the pre-activations (saes, d, batch); k (saes,), threshold (saes, d)."""
    if kind == "relu":
        return torch.relu(pre)
    if kind == "topk":
        return topk_relu(pre, k)
    return keep_where_positive(pre, pre - threshold[:, :, None])  # jumprelu


def jumprelu_threshold_grad(pre, threshold, latent_grad, penalty_grad, bandwidth=BANDWIDTH) -> torch.Tensor:
    """dLoss/dtheta summed over the batch, by the straight-through estimators (Rajamanoharan et al. 2024)
    with the rectangle kernel K(u) = 1[|u| < 1/2]:
        dJ/dtheta = -(theta / eps) K((pre - theta) / eps),  dH/dtheta = -(1 / eps) K((pre - theta) / eps),
    so dLoss/dtheta = -(1 / eps) sum_b K (theta dLoss/dz + lambda w_b), with penalty_grad = lambda w_b.
    pre, latent_grad (saes, d, batch); threshold (saes, d); penalty_grad broadcastable to pre."""
    near = ((pre - threshold[:, :, None]).abs() < bandwidth / 2).to(pre.dtype)
    return -(near * (latent_grad * threshold[:, :, None] + penalty_grad)).sum(dim=2) / bandwidth


def gradients(kind, params: Parameters, grads: Parameters, h, output_scale, penalty_grad, k, dead, k_aux):
    """Write dLoss/dparameters of the batch h (1, m, batch) into `grads`; return z (saes, d, batch).

    output_scale (batch,) is (2 / m) w_b, so dLoss/dh' = output_scale (h' - h); penalty_grad (saes, 1,
    batch) is c w_b (relu) or lambda w_b (jumprelu); k (saes,) for topk, whose AuxK term counts when
    `dead` (saes, d) has dead latents. With g = dLoss/dh': dW_dec = g z^T; dLoss/dz = W_dec^T g (+ c w_b);
    through the activation to pre where z > 0 (JumpReLU's threshold by jumprelu_threshold_grad);
    dW_enc = g_pre (h - b_dec)^T, db_enc = sum_b g_pre, db_dec = sum_b g - W_enc^T db_enc.
    """
    threshold = params.log_threshold.exp()
    centred, pre = pre_activations(params.encoder, params.encoder_bias, params.decoder_bias, h)
    z = activations(kind, pre, k, threshold)
    out = torch.baddbmm(params.decoder_bias[:, :, None], params.decoder, z)
    output_grad = (out - h).mul_(output_scale)
    torch.bmm(output_grad, z.transpose(1, 2), out=grads.decoder)
    if kind == "relu":  # + c w_b where z > 0, masked below
        latent_grad = torch.baddbmm(penalty_grad, params.decoder.transpose(1, 2), output_grad)
    else:
        latent_grad = torch.bmm(params.decoder.transpose(1, 2), output_grad)
    if kind == "jumprelu":
        grads.log_threshold.copy_(jumprelu_threshold_grad(pre, threshold, latent_grad, penalty_grad))
        grads.log_threshold.mul_(threshold)  # d/dlog theta = theta d/dtheta
    pre_grad = keep_where_positive(latent_grad, z)  # z > 0 exactly where z passes gradient to pre
    if kind == "topk" and dead.any():
        pre_grad = pre_grad + auxk_grad(params, grads, pre, dead, h - out, output_scale, k_aux)
    torch.bmm(pre_grad, centred.transpose(1, 2), out=grads.encoder)
    torch.sum(pre_grad, dim=2, out=grads.encoder_bias)
    grads.decoder_bias.copy_(output_grad.sum(dim=2))
    grads.decoder_bias.sub_(torch.bmm(grads.encoder_bias[:, None, :], params.encoder)[:, 0])
    return z


def unit_columns(decoder: torch.Tensor) -> torch.Tensor:
    """Divide each decoder column by its norm, in place."""
    return decoder.div_(decoder.norm(dim=1, keepdim=True).clamp_min(1e-12))


def init_parameters(config: SAEConfig, seeds: Sequence[int], n_hidden: int) -> torch.Tensor:
    """Per SAE, from its own seed: random unit decoder columns, W_enc = W_dec^T (Gao et al.),
    biases 0, theta = THRESHOLD_INIT. So an SAE's start depends on its seed only, not on the batch."""
    flat = torch.zeros(len(seeds), Parameters.size(config.latents, n_hidden))
    views = Parameters(flat, config.latents, n_hidden)
    for index, seed in enumerate(seeds):
        generator = torch.Generator().manual_seed(int(seed))
        views.decoder[index] = torch.randn(n_hidden, config.latents, generator=generator)
    unit_columns(views.decoder)
    views.encoder.copy_(views.decoder.transpose(1, 2))
    views.log_threshold.fill_(math.log(THRESHOLD_INIT))
    return flat


def resample_dead(params: Parameters, moments: list[Parameters], dead: torch.Tensor, h, generator) -> None:
    """Anthropic's resampling (Towards Monosemanticity, 2023) for the latents `dead` (saes, d): each gets
    an input h drawn with probability proportional to its SAE's squared reconstruction loss, squared;
    decoder column = h / ||h||, encoder row = that x 0.2 x the mean live encoder row norm, b_enc = 0,
    and Adam's moments of these parameters reset. h is (1, m, samples), drawn given x != 0."""
    centred, pre = pre_activations(params.encoder, params.encoder_bias, params.decoder_bias, h)
    out = torch.baddbmm(params.decoder_bias[:, :, None], params.decoder, torch.relu(pre))
    loss = ((out - h) ** 2).sum(dim=1)  # (saes, samples)
    encoder_norms = params.encoder.norm(dim=2)
    for sae in dead.any(dim=1).nonzero().flatten().tolist():
        latents = dead[sae].nonzero().flatten()
        chosen = torch.multinomial(loss[sae] ** 2 + 1e-12, len(latents), replacement=True, generator=generator)
        directions = h[0][:, chosen]
        directions = directions / directions.norm(dim=0, keepdim=True).clamp_min(1e-12)
        live = encoder_norms[sae][~dead[sae]]
        scale = RESAMPLE_ENCODER_SCALE * (live.mean() if len(live) else 1.0)
        params.decoder[sae][:, latents] = directions
        params.encoder[sae][latents] = scale * directions.T
        params.encoder_bias[sae][latents] = 0.0
        for moment in moments:
            moment.decoder[sae][:, latents] = 0.0
            moment.encoder[sae][latents] = 0.0
            moment.encoder_bias[sae][latents] = 0.0


def train_saes(
    toy: TrainResult,
    config: SAEConfig,
    settings: Sequence[float] | None = None,
    instance: int = 0,
    progress: Callable[[float], None] | None = None,
) -> SAEResult:
    """Train config.seeds SAEs per sparsity setting (default: config's own) on instance `instance`
    of the toy, all in one batch; SAE s has setting settings[s // seeds] and seed config.seed + s % seeds.
    Deterministic for a given config and settings on one machine."""
    started = time.perf_counter()
    check_toy(toy.model)
    settings = [config.setting] if settings is None else [float(value) for value in settings]
    field = SETTING_FIELDS[config.kind]
    for value in settings:
        config.replace(**{field: int(value) if field == "k" else value})  # validates each value
    toy_weights = np.asarray(toy.weights[instance], dtype=np.float32)
    probability = np.asarray(toy.probability[instance], dtype=np.float64)
    n_hidden, latents, seeds = toy_weights.shape[0], config.latents, config.seeds
    setting = np.repeat(np.asarray(settings, dtype=np.float64), seeds)
    seed = np.tile(config.seed + np.arange(seeds), len(settings))
    saes, batch = len(setting), config.batch_size
    check_work(config, saes, n_hidden)
    with torch.no_grad():
        weights = torch.tensor(toy_weights)[None]
        probabilities = torch.tensor(probability, dtype=torch.float32)[None]
        sampler = NonzeroSampler(probabilities)
        generator = torch.Generator().manual_seed(config.seed)
        # Column weights: the last input of every batch is x = 0, weighted by P(x = 0); the others share the rest.
        zero_share = float(zero_input_probability(probabilities)[0])
        column_weight = torch.full((batch,), (1.0 - zero_share) / (batch - 1))
        column_weight[-1] = zero_share
        output_scale = (2.0 / n_hidden) * column_weight  # dLoss/dh' = (2 / m) w_b (h' - h)
        coefficient = torch.tensor(setting, dtype=torch.float32).view(saes, 1, 1)
        penalty_grad = coefficient * column_weight  # (saes, 1, batch): c w_b or lambda w_b
        k = torch.tensor(setting, dtype=torch.int64) if config.kind == "topk" else None
        flat = init_parameters(config, seed, n_hidden)
        params, grads = Parameters(flat, latents, n_hidden), Parameters(torch.zeros_like(flat), latents, n_hidden)
        moments = [Parameters(torch.zeros_like(flat), latents, n_hidden) for _ in range(2)]
        resample_steps = {int(fraction * config.steps) for fraction in RESAMPLE_AT}
        resampling = config.resample and config.kind == "relu"
        window = max(1, int(RESAMPLE_WINDOW * config.steps))
        fired = torch.zeros(saes, latents, dtype=torch.bool)
        last_fired = torch.zeros(saes, latents, dtype=torch.int64)
        k_aux = max(1, math.ceil(n_hidden / 2))

        for step in range(config.steps):
            x = sampler(batch, generator)
            x[:, :, -1] = 0.0
            h = hidden(toy.model, weights, x)  # (1, m, batch)
            dead = None
            if config.kind == "topk":
                dead = (step - last_fired) >= AUX_DEAD_STEPS
            z = gradients(config.kind, params, grads, h, output_scale, penalty_grad, k, dead, k_aux)
            if config.kind == "topk":
                last_fired = torch.where((z > 0).any(dim=2), step, last_fired)
            # Columns stay unit: drop each decoder gradient's component along its column (Gao et al.).
            grads.decoder.sub_(params.decoder * (params.decoder * grads.decoder).sum(dim=1, keepdim=True))
            adam_step(
                flat, grads.flat, moments[0].flat, moments[1].flat, step, learning_rate(step, config.steps, config.lr)
            )
            unit_columns(params.decoder)

            if resampling:
                if any(0 <= at - step <= window for at in resample_steps):
                    fired |= (z > 0).any(dim=2)
                if step + 1 in resample_steps:
                    h_sample = hidden(toy.model, weights, sampler(RESAMPLE_SAMPLES, generator))
                    resample_dead(params, moments, ~fired, h_sample, generator)
                    fired.zero_()
            if progress is not None and step % 100 == 0:
                progress(step / config.steps)
        # Only JumpReLU has a threshold (the others never move log_threshold from its start).
        threshold = params.log_threshold.exp() if config.kind == "jumprelu" else torch.zeros(saes, latents)
    if progress is not None:
        progress(1.0)
    return SAEResult(
        kind=config.kind,
        encoder=params.encoder.numpy().copy(),
        encoder_bias=params.encoder_bias.numpy().copy(),
        decoder=params.decoder.numpy().copy(),
        decoder_bias=params.decoder_bias.numpy().copy(),
        threshold=threshold.numpy().copy(),
        setting=setting,
        seed=seed,
        model=toy.model,
        toy_weights=toy_weights,
        probability=probability,
        seconds=time.perf_counter() - started,
    )


def auxk_grad(params: Parameters, grads: Parameters, pre, dead, residual, output_scale, k_aux) -> torch.Tensor:
    """AuxK (Gao et al. 2024): the k_aux largest dead latents reconstruct the residual e = h - h' alone,
    e^ = W_dec z_aux, at weight AUX_WEIGHT: loss += (1/32) mean_j (e^_j - e_j)^2, e held fixed.
    Adds its decoder gradient to grads.decoder; returns its gradient on pre (saes, d, batch)."""
    dead_pre = pre.masked_fill(~dead[:, :, None], -math.inf)
    count = torch.full((pre.shape[0],), k_aux, dtype=torch.int64).clamp_max_(pre.shape[1])
    aux = topk_relu(dead_pre, count)
    aux_grad = (torch.bmm(params.decoder, aux) - residual).mul_(AUX_WEIGHT * output_scale)
    grads.decoder.add_(torch.bmm(aux_grad, aux.transpose(1, 2)))
    return keep_where_positive(torch.bmm(params.decoder.transpose(1, 2), aux_grad), aux)
