"""Sparse autoencoders on the toy: forward passes and gradients, constraints, resampling, metrics on
hand-built cases, and recovery of the pentagon's five directions."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import superpos
from superpos import sae
from superpos.config import ConfigError
from superpos.sae import SAEConfig, SAEResult, train_saes
from superpos.sae_metrics import evaluate_saes, feature_directions, mmcs

ROOT = Path(__file__).resolve().parents[1]
SAE_FIELDS = {"seed", "kind", "l0", "fvu", "dead_fraction", "mmcs_features", "mmcs_latents", "decoder", "encoder"}
SAE_FIELDS |= {"matches", "shrinkage"}

SAES, LATENTS, HIDDEN, BATCH = 3, 4, 3, 7


def random_parameters(kind: str, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    flat = torch.randn(SAES, sae.Parameters.size(LATENTS, HIDDEN), generator=generator)
    views = sae.Parameters(flat, LATENTS, HIDDEN)
    sae.unit_columns(views.decoder)
    views.log_threshold.fill_(math.log(0.3))
    return flat


def autograd_loss(kind, flat, h, column_weight, coefficient, k, dead, k_aux):
    """The SAE loss written plainly, for torch.autograd: sum over SAEs of sum_b w_b (mean_j (h'_j - h_j)^2
    + penalty), with AuxK's term for topk (its residual held fixed)."""
    params = sae.Parameters(flat, LATENTS, HIDDEN)
    pre = torch.einsum("sdm,smb->sdb", params.encoder, h - params.decoder_bias[:, :, None])
    pre = pre + params.encoder_bias[:, :, None]
    if kind == "relu":
        z = torch.relu(pre)
    elif kind == "topk":
        z = torch.relu(pre) * (pre >= pre.topk(k, dim=1).values[:, -1:, :])
    else:
        z = pre * (pre > params.log_threshold.exp()[:, :, None])
    out = torch.einsum("smd,sdb->smb", params.decoder, z) + params.decoder_bias[:, :, None]
    per_input = ((out - h) ** 2).mean(dim=1)
    if kind == "relu":
        per_input = per_input + coefficient * z.sum(dim=1)
    if kind == "topk":
        masked = pre.masked_fill(~dead[:, :, None], -math.inf)
        aux = torch.relu(pre) * (masked >= masked.topk(k_aux, dim=1).values[:, -1:, :])
        residual = (h - out).detach()
        per_input = per_input + sae.AUX_WEIGHT * (
            (torch.einsum("smd,sdb->smb", params.decoder, aux) - residual) ** 2
        ).mean(1)
    return (per_input * column_weight).sum()


@pytest.mark.parametrize("kind", sae.SAE_KINDS)
def test_hand_derived_gradients_match_autograd(kind):
    flat = random_parameters(kind)
    h = torch.randn(1, HIDDEN, BATCH, generator=torch.Generator().manual_seed(1)).expand(SAES, -1, -1)
    column_weight = torch.rand(BATCH, generator=torch.Generator().manual_seed(2))
    coefficient, k, k_aux = 0.3, 2, 1
    dead = torch.tensor([[True, False, False, True]] * SAES)
    grads = sae.Parameters(torch.zeros_like(flat), LATENTS, HIDDEN)
    sae.gradients(
        kind,
        sae.Parameters(flat.clone(), LATENTS, HIDDEN),
        grads,
        h[:1],
        (2.0 / HIDDEN) * column_weight,
        coefficient * column_weight.view(1, 1, -1).expand(SAES, 1, -1),
        torch.full((SAES,), k),
        dead,
        k_aux,
    )
    leaf = flat.clone().requires_grad_(True)
    autograd_loss(kind, leaf, h, column_weight, coefficient, k, dead, k_aux).backward()
    expected = sae.Parameters(leaf.grad, LATENTS, HIDDEN)
    for name in ("encoder", "encoder_bias", "decoder", "decoder_bias"):
        torch.testing.assert_close(getattr(grads, name), getattr(expected, name), rtol=1e-4, atol=1e-6)


def test_jumprelu_straight_through_values_of_the_worked_example():
    """pre = [1, 1.4, 1.6, 2], theta = 1.5, eps = 0.5: H = [0, 0, 1, 1] with dH/dtheta = [0, -2, -2, 0];
    J = [0, 0, 1.6, 2] with dJ/dtheta = [0, -3, -3, 0]."""
    pre = torch.tensor([[[1.0, 1.4, 1.6, 2.0]]])
    threshold = torch.tensor([[1.5]])
    jump = sae.activations("jumprelu", pre, None, threshold)
    assert jump.flatten().tolist() == pytest.approx([0, 0, 1.6, 2])
    # dLoss/dz = 1 and no penalty gives dJ/dtheta; no dLoss/dz and penalty 1 gives dH/dtheta.
    ones, zeros = torch.ones_like(pre), torch.zeros_like(pre)
    per_input = lambda latent_grad, penalty: (  # noqa: E731
        [
            sae.jumprelu_threshold_grad(pre[..., [b]], threshold, latent_grad[..., [b]], penalty, 0.5).item()
            for b in range(4)
        ]
    )
    assert per_input(ones, 0.0) == pytest.approx([0, -3, -3, 0])
    assert per_input(zeros, 1.0) == pytest.approx([0, -2, -2, 0])
    assert (jump > 0).float().flatten().tolist() == [0, 0, 1, 1]


def test_topk_keeps_exactly_k_latents_per_input():
    pre = torch.randn(2, 6, 50, generator=torch.Generator().manual_seed(0)) + 3.0  # all positive
    z = sae.activations("topk", pre, torch.tensor([1, 4]), None)
    assert ((z > 0).sum(dim=1)[0] == 1).all() and ((z > 0).sum(dim=1)[1] == 4).all()
    torch.testing.assert_close(z[0].max(dim=0).values, pre[0].max(dim=0).values)


def test_topk_is_relu_of_the_k_largest_whatever_k_and_sign():
    """Against torch.topk per SAE: k from 1 to d (k = d keeps every positive), pre-activations of both signs."""
    pre = torch.randn(6, 6, 40, generator=torch.Generator().manual_seed(1))
    k = torch.tensor([1, 2, 3, 4, 6, 2])
    z = sae.topk_relu(pre, k)
    for index, count in enumerate(k.tolist()):
        kept = torch.zeros_like(pre[index]).scatter(0, pre[index].topk(count, dim=0).indices, 1.0)
        torch.testing.assert_close(z[index], torch.relu(pre[index]) * kept)


@pytest.fixture(scope="module")
def pentagon():
    """The 5/2 pentagon toy at feature probability 0.025 (S = 0.975), uniform importance."""
    return superpos.train(superpos.Config(n_features=5, n_hidden=2, sparsity=0.975, importance_decay=1.0))


@pytest.mark.parametrize("kind", sae.SAE_KINDS)
def test_decoder_columns_stay_unit_and_training_is_deterministic(pentagon, kind):
    config = SAEConfig(kind=kind, seeds=2, steps=200)
    first, second = train_saes(pentagon, config), train_saes(pentagon, config)
    np.testing.assert_allclose(np.linalg.norm(first.decoder, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first.decoder, second.decoder)
    assert first.decoder.shape == (2, 2, 5) and first.encoder.shape == (2, 5, 2)


def test_an_sae_starts_from_its_own_seed_whatever_the_batch(pentagon):
    alone = train_saes(pentagon, SAEConfig(seeds=1, seed=3, steps=50))
    batch = train_saes(pentagon, SAEConfig(seeds=4, seed=0, steps=50))
    assert batch.seed.tolist() == [0, 1, 2, 3]
    first = sae.init_parameters(SAEConfig(), [3], 2)
    assert torch.equal(first, sae.init_parameters(SAEConfig(), [0, 1, 2, 3], 2)[3:])
    assert alone.decoder.shape == batch.decoder[3:].shape


def test_resampling_revives_dead_latents():
    """Dead latents (pointing away from every input) get directions of badly reconstructed inputs."""
    latents, n_hidden = 3, 2
    flat = torch.zeros(1, sae.Parameters.size(latents, n_hidden))
    params = sae.Parameters(flat, latents, n_hidden)
    params.decoder.copy_(torch.tensor([[[1.0, -1.0, 0.0], [0.0, 0.0, -1.0]]]))  # latent 0 on e_1; 1, 2 away
    params.encoder.copy_(params.decoder.transpose(1, 2))
    moments = [sae.Parameters(torch.ones_like(flat), latents, n_hidden) for _ in range(2)]
    # Inputs along e_2 only: latent 0 cannot reconstruct them, latents 1 and 2 never fire.
    h = torch.tensor([[[0.0, 0.0, 0.0], [0.5, 1.0, 0.8]]])
    dead = (
        sae.activations(
            "relu", sae.pre_activations(params.encoder, params.encoder_bias, params.decoder_bias, h)[1], None, None
        )
        > 0
    ).sum(dim=2) == 0
    assert dead.tolist() == [[True, True, True]]  # nothing fires on e_2 inputs
    sae.resample_dead(params, moments, torch.tensor([[False, True, True]]), h, torch.Generator().manual_seed(0))
    torch.testing.assert_close(params.decoder[0][:, 1:], torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    pre = sae.pre_activations(params.encoder, params.encoder_bias, params.decoder_bias, h)[1]
    assert (pre[0, 1:] > 0).all()  # they fire now
    assert moments[0].decoder[0][:, 1:].abs().sum() == 0 and moments[0].decoder[0][:, 0].abs().sum() > 0


def hand_built(decoder: np.ndarray, toy_weights: np.ndarray, kind="relu", model="relu") -> SAEResult:
    """An SAE with W_enc = W_dec^T and no biases on a toy with W = toy_weights, p = 0.1."""
    m, d = decoder.shape
    return SAEResult(
        kind=kind,
        encoder=decoder.T[None].astype(np.float32),
        encoder_bias=np.zeros((1, d), np.float32),
        decoder=decoder[None].astype(np.float32),
        decoder_bias=np.zeros((1, m), np.float32),
        threshold=np.zeros((1, d), np.float32),
        setting=np.array([0.0]),
        seed=np.array([0]),
        model=model,
        toy_weights=toy_weights.astype(np.float32),
        probability=np.full(toy_weights.shape[1], 0.1),
        seconds=0.0,
    )


def test_metrics_of_a_perfect_sae_on_orthogonal_features():
    """Toy W = I (2 features in 2 dimensions), SAE = the identity: nothing lost, no shrinkage, MMCS 1."""
    scores = evaluate_saes(hand_built(np.eye(2), np.eye(2)))
    assert scores.fvu[0] == pytest.approx(0.0, abs=1e-10)
    assert scores.mmcs_features[0] == pytest.approx(1.0) and scores.mmcs_latents[0] == pytest.approx(1.0)
    assert scores.dead_fraction[0] == 0.0
    np.testing.assert_allclose(scores.frequency[0], 0.1, atol=0.01)  # fires with its feature, p = 0.1
    assert scores.l0[0] == pytest.approx(0.2, abs=0.02)  # two features at p = 0.1
    np.testing.assert_allclose(scores.shrinkage[0], 1.0, atol=1e-6)
    assert scores.best_feature[0].tolist() == [0, 1]


def test_metrics_of_a_dead_and_a_rotated_latent():
    """Latent 0 on feature 0; latent 1 at 45 degrees between them; latent 2 points at -e_1: never fires."""
    diagonal = np.sqrt(0.5)
    decoder = np.array([[1.0, diagonal, -1.0], [0.0, diagonal, 0.0]])
    scores = evaluate_saes(hand_built(decoder, np.eye(2)))
    assert scores.dead_fraction[0] == pytest.approx(1 / 3)
    assert scores.best_cosine[0].tolist() == pytest.approx([1.0, diagonal, 0.0], abs=1e-6)
    assert scores.mmcs_features[0] == pytest.approx((1.0 + diagonal) / 2)
    assert scores.mmcs_latents[0] == pytest.approx((1.0 + diagonal + 0.0) / 3)
    assert scores.fvu[0] > 0.0


def test_mmcs_both_directions():
    cosine = np.array([[[1.0, 0.2], [0.1, 0.5], [0.0, 0.4]]])  # 3 features x 2 latents
    features, latents = mmcs(cosine)
    assert features[0] == pytest.approx((1.0 + 0.5 + 0.4) / 3)
    assert latents[0] == pytest.approx((1.0 + 0.5) / 2)


def test_the_neuron_models_true_directions_are_the_rectified_columns():
    np.testing.assert_array_equal(feature_directions("neuron", np.array([[1.0, -2.0]])), [[1.0, 0.0]])
    np.testing.assert_array_equal(feature_directions("relu", np.array([[1.0, -2.0]])), [[1.0, -2.0]])


def test_the_l1_sae_shrinks():
    """z = ReLU(a - 0.3) on one-hot inputs of size a: slope through the origin below 1."""
    result = hand_built(np.eye(2), np.eye(2))
    shrunk = SAEResult(**{**result.__dict__, "encoder_bias": np.full((1, 2), -0.3, np.float32)})
    assert (evaluate_saes(shrunk).shrinkage[0] < 0.8).all()


def test_most_seeds_recover_the_pentagon_and_too_few_latents_cannot(pentagon):
    scores = evaluate_saes(train_saes(pentagon, SAEConfig(seeds=8)))
    assert (scores.mmcs_features > 0.99).sum() >= 5  # most seeds: every direction found
    assert np.median(scores.mmcs_features) > 0.99
    too_few = evaluate_saes(train_saes(pentagon, SAEConfig(latents=3, seeds=4)))
    assert (too_few.mmcs_features < 0.9).all()  # 3 latents cannot point at 5 directions


def test_a_sweep_trains_one_batch_in_setting_then_seed_order(pentagon):
    result = train_saes(pentagon, SAEConfig(kind="topk", seeds=2, steps=100), settings=[1, 3])
    assert result.setting.tolist() == [1, 1, 3, 3] and result.seed.tolist() == [0, 1, 0, 1]
    scores = evaluate_saes(result)
    # TopK's L0 is at most k (ReLU after TopK can leave fewer), the k = 1 SAEs use all of theirs,
    # and the k = 3 SAEs more than one.
    assert (scores.l0 <= result.setting + 1e-9).all() and scores.l0[:2] == pytest.approx([1, 1])
    assert (scores.l0[2:] > 1 + 1e-6).all()


def test_bad_settings_are_refused_by_name(pentagon):
    with pytest.raises(ConfigError, match="kind"):
        SAEConfig(kind="gated")
    with pytest.raises(ConfigError, match="k"):
        SAEConfig(kind="topk", k=6, latents=5)
    with pytest.raises(ConfigError, match="l1"):
        SAEConfig(l1=-1.0)
    with pytest.raises(ConfigError, match="latents"):
        SAEConfig(latents=0)
    with pytest.raises(ConfigError, match="l1"):
        train_saes(pentagon, SAEConfig(), settings=[0.1, math.nan])
    abs_toy = type(pentagon)(**{**pentagon.__dict__, "model": "abs"})
    with pytest.raises(ConfigError, match="abs"):
        train_saes(abs_toy, SAEConfig())


def run_cli(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "superpos", "sae", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_cli_json_has_the_toy_and_one_object_per_sae():
    completed = run_cli("--sparsity", "0.975", "--sae-seeds", "2", "--sae-steps", "300", "--json")
    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert {"toy", "saes", "seconds"} <= output.keys()
    assert np.array(output["toy"]["W"]).shape == (2, 5)
    assert [report["seed"] for report in output["saes"]] == [0, 1]
    for report in output["saes"]:
        assert report.keys() >= SAE_FIELDS and report["kind"] == "relu"
        assert np.array(report["decoder"]).shape == (5, 2)  # latents x n_hidden, default latents = n
        np.testing.assert_allclose(np.linalg.norm(report["decoder"], axis=1), 1.0, atol=1e-5)
        assert np.array(report["encoder"]).shape == (5, 2)
        assert (
            len(report["matches"]) == 5 and {"latent", "feature", "cosine", "frequency"} <= report["matches"][0].keys()
        )
        assert len(report["shrinkage"]) == 5
        assert 0.0 <= report["mmcs_features"] <= 1.0 + 1e-6 and 0.0 <= report["dead_fraction"] <= 1.0


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--sae-kind", "gated"], "--sae-kind"),
        (["--sae-kind", "topk", "--k", "9"], "--k"),
        (["--latents", "0"], "--latents"),
        (["--l1", "nan"], "--l1"),
        (["--sae-seeds", "99"], "--sae-seeds"),
        (["--model", "abs"], "--model"),
    ],
)
def test_cli_bad_values_exit_2_with_one_line(flags, named):
    completed = run_cli(*flags)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert len(completed.stderr.strip().splitlines()) == 1 and named in completed.stderr
