"""The absolute-value model (computation in superposition): inputs, forward pass and hand-derived
gradients against their formulas and autograd, trained models against the paper, the per-neuron
analysis on hand-built and trained weights."""

import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from superpos import absolute, computation
from superpos.charts import computation as charts
from superpos.config import Config
from superpos.data import sample_features, zero_input_probability
from superpos.evaluate import heldout_loss
from superpos.models import forward
from superpos.schedule import resolve
from superpos.train import train, train_instances, train_sweep
from tests.numerics import assert_matches

ROOT = Path(__file__).resolve().parent.parent
train_module = importlib.import_module("superpos.train")  # the module (superpos.train is also the function)


def test_signed_inputs_are_uniform_on_minus_one_to_one_where_active():
    probability = torch.tensor([[0.3, 1.0, 0.02]])
    x = absolute.signed(sample_features(probability, 200_000, torch.Generator().manual_seed(0)))
    assert x.min() >= -1 and x.max() < 1
    np.testing.assert_allclose((x != 0).float().mean(dim=2)[0].numpy(), probability[0].numpy(), atol=0.005)
    values = x[0, 1]  # always active: U[-1, 1], mean 0, variance 1/3, half negative
    assert abs(values.mean().item()) < 0.01
    assert abs(values.var().item() - 1 / 3) < 0.005
    assert abs((values < 0).float().mean().item() - 0.5) < 0.005


def test_signed_sampler_draws_given_an_active_feature():
    probability = torch.tensor([[0.05] * 4, [0.5, 0.01, 0.2, 0.9]])
    x = absolute.SignedSampler(probability)(100_000, torch.Generator().manual_seed(1))
    assert ((x != 0).sum(dim=1) > 0).all()
    assert x.min() >= -1 and x.max() < 1
    assert abs((x[x != 0] < 0).float().mean().item() - 0.5) < 0.01


FIRST = torch.tensor([[[1.0, -2.0, 0.5], [0.0, 1.0, -1.0]]])  # W1: one instance, m = 2, n = 3
SECOND = torch.tensor([[[0.5, 1.0], [-1.0, 2.0], [0.3, 0.0]]])  # W2: n = 3 x m = 2
BIAS = torch.tensor([[0.1, -0.2, 0.3]])
X = torch.tensor([[[1.0, -0.5], [-0.5, 0.0], [0.0, 0.25]]])  # (instance, n, batch): two samples


def test_forward_matches_the_formula():
    first, second, bias = FIRST[0].numpy(), SECOND[0].numpy(), BIAS[0].numpy()
    rows = torch.cat([FIRST, SECOND.transpose(1, 2)], dim=1)
    for sample in range(2):
        x = X[0, :, sample].numpy()
        expected = np.maximum(second @ np.maximum(first @ x, 0) + bias, 0)
        np.testing.assert_allclose(forward("abs", FIRST, BIAS, X, SECOND)[0, :, sample].numpy(), expected, rtol=1e-6)
        out = absolute.output(rows, BIAS, X)[0, :, sample].numpy()
        np.testing.assert_allclose(np.maximum(out, 0), expected, rtol=1e-6)


def test_parameter_rows_split_into_w1_and_w2():
    rows = torch.cat([FIRST, SECOND.transpose(1, 2)], dim=1)
    first, second = absolute.unpack(rows.numpy())
    np.testing.assert_array_equal(first, FIRST.numpy())
    np.testing.assert_array_equal(second, SECOND.numpy())
    assert absolute.rows(2) == 5


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_hand_derived_gradients_match_autograd(dtype):
    generator = torch.Generator().manual_seed(3)
    probability = torch.tensor([[0.3, 0.5, 0.2, 0.9], [0.05, 0.05, 0.05, 0.05]])
    importance = torch.tensor([[1.0, 0.7, 0.49, 0.343], [1.0, 1.0, 1.0, 1.0]])
    x = absolute.SignedSampler(probability)(64, generator)
    parameters = absolute.initial_parameters(2, 3, 4, generator)
    parameters[:, -1] = torch.randn(2, 4, generator=generator) * 0.3
    weights, bias = parameters[:, :-1], parameters[:, -1]
    loss = absolute.AbsoluteLoss(importance, zero_input_probability(probability), batch_size=64, dtype=dtype)
    grad = torch.zeros_like(parameters)
    out = loss.gradients(weights, bias, x, grad[:, :-1], grad[:, -1])

    auto_weights, auto_bias = weights.clone().requires_grad_(), bias.clone().requires_grad_()
    first, second = auto_weights[:, :3], auto_weights[:, 3:].transpose(1, 2)
    auto_out = torch.baddbmm(auto_bias[:, :, None], second, torch.bmm(first, x).relu())
    loss(x, auto_out, auto_bias).sum().backward()
    assert (auto_weights.grad[:, :3] != 0).any() and (auto_weights.grad[:, 3:] != 0).any()
    assert_matches(out, auto_out.detach(), dtype, rtol=1e-5, atol=1e-6)
    assert_matches(grad[:, :-1], auto_weights.grad, dtype, rtol=1e-4, atol=1e-7)
    assert_matches(grad[:, -1], auto_bias.grad, dtype, rtol=1e-4, atol=1e-7)


def test_expected_loss_adds_the_zero_input_term_exactly():
    """(1 - P0) E[loss | x != 0] + P0 mean_i I_i ReLU(b_i)^2 equals the plain loss on unconditioned inputs."""
    generator = torch.Generator().manual_seed(4)
    probability = torch.tensor([[0.2, 0.1, 0.3]])
    importance = torch.tensor([[1.0, 0.5, 0.25]])
    rows = torch.cat([FIRST, SECOND.transpose(1, 2)], dim=1)
    loss = absolute.AbsoluteLoss(importance, zero_input_probability(probability), batch_size=1)
    conditional = absolute.SignedSampler(probability)(400_000, generator)
    expected = loss(conditional, absolute.output(rows, BIAS, conditional), BIAS)
    plain = heldout_loss("abs", FIRST, BIAS, probability, importance, samples=400_000, output_weights=SECOND)
    np.testing.assert_allclose(expected.numpy(), plain, rtol=0.02)


def test_training_is_deterministic_and_returns_w1_and_w2():
    settings = dict(
        model="abs",
        n_hidden=4,
        probability=np.full((2, 3), 0.5),
        importance=np.ones((2, 3)),
        steps=40,
        batch_size=64,
        lr=0.05,
        seed=7,
        restarts=2,
    )
    first, again = train_instances(**settings), train_instances(**settings)
    assert first.weights.shape == (2, 4, 3) and first.output_weights.shape == (2, 3, 4)
    assert first.snapshots.shape[1:] == (2, 4, 3)
    np.testing.assert_array_equal(first.weights, again.weights)
    np.testing.assert_array_equal(first.output_weights, again.output_weights)
    heldout = heldout_loss(
        "abs", first.weights, first.bias, first.probability, first.importance, output_weights=first.output_weights
    )
    np.testing.assert_allclose(first.heldout, heldout)


# The per-neuron analysis on hand-built weights.
PAIRS_FIRST = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 2.0, 0], [0, -2.0, 0], [0, 0, 0.5], [0, 0, -0.5]])
PAIRS_SECOND = np.abs(PAIRS_FIRST).T  # each neuron writes back to its own feature


def test_three_relu_pairs_are_six_monosemantic_neurons():
    table = computation.neuron_table(PAIRS_FIRST, PAIRS_SECOND)
    assert (table["label"] == "monosemantic").all()
    np.testing.assert_allclose(table["polysemanticity"], 1.0)
    # Sorted by the feature served, ReLU(x) before ReLU(-x).
    assert table["feature"].tolist() == [0, 0, 1, 1, 2, 2]
    assert table["sign"].tolist() == [1, -1, 1, -1, 1, -1]
    pairs = computation.feature_pairs(PAIRS_FIRST, PAIRS_SECOND)
    assert pairs["has_pair"].all()
    assert pairs["relu_plus"].tolist() == [0, 2, 4] and pairs["relu_minus"].tolist() == [1, 3, 5]
    np.testing.assert_allclose(np.abs(computation.normalised_inputs(PAIRS_FIRST)).max(axis=1), 1.0)


def test_a_pair_needs_both_signs_and_a_positive_write_back():
    first = PAIRS_FIRST.copy()
    first[1] = [0.0, 0, 0]  # feature 0's ReLU(-x) neuron is dead
    second = PAIRS_SECOND.copy()
    second[1, 2] = -1.0  # feature 1's ReLU(x) neuron writes the wrong way
    pairs = computation.feature_pairs(first, second)
    assert pairs["has_pair"].tolist() == [False, False, True]
    assert computation.neuron_table(first, second).iloc[-1]["label"] == "dead"  # dead neurons last


def test_polysemanticity_counts_both_signs():
    first = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(computation.polysemanticity(first), [2.0, 3.0, 1.0, 0.0])


# The paper's asymmetric superposition: neuron A reads [2, -1/2] and writes back [1/2, 2];
# neuron B fires on feature 0 and writes -5 to output 1.
MOTIF_FIRST = np.array([[2.0, -0.5], [1.0, 0.0]])


def motif_second(inhibition: float) -> np.ndarray:
    return np.array([[0.5, 0.0], [2.0, inhibition]])


def test_the_asymmetric_motif_is_found_with_its_inhibitor():
    motifs = computation.asymmetric_motifs(MOTIF_FIRST, motif_second(-5.0))
    assert len(motifs) == 1
    motif = motifs.iloc[0]
    assert (motif["neuron"], motif["inhibitor"], motif["strong"], motif["weak"]) == (0, 1, 0, 1)
    np.testing.assert_allclose([motif["weak_weight"], motif["interference"], motif["inhibition"]], [-0.25, 4.0, -5.0])


def test_motif_chart_draws_both_neurons_on_both_features():
    motif = computation.asymmetric_motifs(MOTIF_FIRST, motif_second(-5.0)).iloc[0]  # a row of floats
    table = charts.motif_table(MOTIF_FIRST, motif_second(-5.0), motif)
    assert len(table) == 8  # 2 neurons x 2 features x (reads, writes)
    reads = table[table["weight"] == "reads W1"].set_index(["neuron", "feature"])["value"]
    assert reads[("A (reads both)", "weak 1")] == -0.5
    assert reads[("B (inhibits)", "strong 0")] == 1.0
    assert charts.motif_chart(MOTIF_FIRST, motif_second(-5.0), motif).to_dict()


def test_no_motif_when_the_inhibition_is_too_weak_or_the_weights_are_equal():
    assert computation.asymmetric_motifs(MOTIF_FIRST, motif_second(-1.0)).empty  # 4 - 1 > 0: still interferes
    symmetric = np.array([[1.0, -1.0], [1.0, 0.0]])
    assert computation.asymmetric_motifs(symmetric, motif_second(-5.0)).empty
    assert computation.asymmetric_motifs(PAIRS_FIRST, PAIRS_SECOND).empty


def test_density_summary_and_served_features():
    first = np.stack([PAIRS_FIRST, np.tile([[1.0, 0.5, -0.5]], (6, 1))])
    summary = computation.density_summary(first, [1.0, 0.01])
    assert summary[["monosemantic", "polysemantic", "dead"]].values.tolist() == [[6, 0, 0], [0, 6, 0]]
    importance = np.tile([1.0, 0.8, 0.64], (2, 1))
    served = computation.polysemantic_features(first, importance, [1.0, 0.01])
    assert set(served["density"]) == {0.01}
    assert sorted(set(served["importance_rank"])) == [0, 1, 2]
    assert len(served) == 18


# Trained for real, with the automatic schedule: the paper's two settings.
def test_dense_three_features_in_six_neurons_form_a_relu_pair_each():
    config = Config(n_features=3, n_hidden=6, sparsity=0.0, importance_decay=1.0, model="abs")
    result = train(config)
    first, second = result.weights[0], result.output_weights[0]
    table = computation.neuron_table(first, second)
    assert (table["label"] == "monosemantic").all(), table
    assert sorted(zip(table["feature"], table["sign"], strict=True)) == [(i, s) for i in range(3) for s in (-1, 1)]
    assert computation.feature_pairs(first, second)["has_pair"].all()


@pytest.fixture(scope="module")
def paper_sweep():
    config = Config(
        n_features=computation.PAPER_FEATURES,
        n_hidden=computation.PAPER_HIDDEN,
        importance_decay=computation.PAPER_DECAY,
        model="abs",
    )
    return train_sweep(config, [1.0 - density for density in computation.PAPER_DENSITIES])


def test_sparse_features_share_neurons(paper_sweep):
    summary = computation.density_summary(paper_sweep.weights, computation.PAPER_DENSITIES)
    assert summary["polysemantic"].iloc[-1] > summary["polysemantic"].iloc[0], summary
    # The paper: (almost) all monosemantic at 1 - S = 1 and 0.3.
    assert (summary["monosemantic"].iloc[:2] > computation.PAPER_HIDDEN / 2).all(), summary


def test_the_most_important_features_keep_monosemantic_neurons(paper_sweep):
    monosemantic, polysemantic = [], []
    for index, density in enumerate(computation.PAPER_DENSITIES):
        table = computation.neuron_table(paper_sweep.weights[index], paper_sweep.output_weights[index])
        mono, poly = table[table["label"] == "monosemantic"], table[table["label"] == "polysemantic"]
        if density >= 0.03:
            assert {0, 1, 2} <= set(mono["feature"]), (density, table)
        # Where superposition has set in (several polysemantic neurons; a stray one or two in a dense
        # model is a local minimum's) and some neurons are still monosemantic:
        if len(mono) and len(poly) >= 5:
            monosemantic += mono["feature"].tolist()
            polysemantic += poly["feature"].tolist()
    # there, polysemantic neurons serve less important features, by primary feature. Pooled over those
    # densities: at one density a few neurons of the most important features may also read a second
    # feature weakly (the asymmetric motif), as in one seed of four at 1 - S = 0.1.
    assert len(polysemantic) >= 10
    assert np.mean(monosemantic) < np.mean(polysemantic), (monosemantic, polysemantic)


def test_larger_abs_models_start_dense_and_show_its_progress(monkeypatch):
    """From n m > SMALL_SIZE every run first trains on dense inputs: the models of a sweep (one
    importance profile) start from one dense run, and the progress bar covers both phases."""
    # The bar hears from the training every few milliseconds here, not every 0.1 s: this dense
    # phase lasts about 0.15 s, and on a fast machine it could end before the first report.
    monkeypatch.setattr(train_module, "PROGRESS_SECONDS", 0.005)
    probability = np.array([[1.0] * 30, [0.05] * 30])
    importance = np.tile(0.9 ** np.arange(30), (2, 1))
    automatic = resolve("abs", 30, 20, probability)
    assert automatic.dense_steps == absolute.DENSE_STEPS and automatic.restarts == 1
    assert resolve("abs", 3, 6, probability[:, :3]).dense_steps == 0  # small models: several cold starts
    schedule = dataclasses.replace(automatic, restarts=2, dense_steps=60)
    starts = train_module.dense_start("abs", 20, importance, schedule, 3, None, train_module.Trained(), 1)
    assert starts.shape == (2, 2, absolute.rows(20) - 1, 30)  # restarts, instances, weight rows, n
    torch.testing.assert_close(starts[:, 0], starts[:, 1])  # one profile: one dense run per restart
    assert not torch.equal(starts[0], starts[1])
    fresh = absolute.initial_parameters(1, 20, 30, torch.Generator().manual_seed(0))[0, :-1]
    assert starts.abs().max() > 3 * fresh.abs().max()  # it trained: grown far past the small start
    fractions = []
    train_instances("abs", 20, probability, importance, steps=300, progress=fractions.append)
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    dense_share = absolute.DENSE_STEPS / (absolute.DENSE_STEPS + 300)
    assert any(0.0 < fraction < dense_share for fraction in fractions)  # the dense phase reports


def test_the_dense_start_pairs_the_features_a_small_start_leaves_unpaired(monkeypatch):
    """The paper's n = 100, m = 40 at 1 - S = 0.03, one model: from the dense start it ends at a
    lower loss, with more features computed by a ReLU(x)/ReLU(-x) pair, than the same steps from a
    small random start (seeds 0-3: 0.24-0.72x the loss, 15 pairs against 10-13)."""
    probability = np.full((1, computation.PAPER_FEATURES), 0.03)
    importance = computation.PAPER_DECAY ** np.arange(computation.PAPER_FEATURES)[None]
    losses, pairs = [], []
    for dense_steps, steps in ((absolute.DENSE_STEPS, None), (0, absolute.DENSE_STEPS + absolute.LARGE_STEPS)):
        monkeypatch.setattr(absolute, "DENSE_STEPS", dense_steps)
        result = train_instances("abs", computation.PAPER_HIDDEN, probability, importance, steps=steps)
        assert result.schedule.dense_steps == dense_steps
        losses.append(result.heldout[0])
        pairs.append(int(computation.feature_pairs(result.weights[0], result.output_weights[0])["has_pair"].sum()))
    assert losses[0] < 0.85 * losses[1], losses
    assert pairs[0] > pairs[1], pairs


# The command line: --model abs for train and sweep.
def run_cli(*arguments):
    command = [sys.executable, "-m", "superpos", *arguments]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_train_json_of_the_abs_model():
    flags = ["--model", "abs", "--n-features", "3", "--n-hidden", "6", "--sparsity", "0", "--importance-decay", "1"]
    completed = run_cli("train", *flags, "--json")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["rotated_loss"] is None  # rotation does not apply: not faked
    first, second = np.array(report["W"]), np.array(report["W_out"])
    assert first.shape == (6, 3) and second.shape == (3, 6)  # W1 hidden x features, W2 features x hidden
    np.testing.assert_allclose(report["polysemanticity"], computation.polysemanticity(first), rtol=1e-6)
    bias = np.array(report["b"])[None]
    probability, importance = np.ones((1, 3)), np.ones((1, 3))
    loss = heldout_loss("abs", first[None], bias, probability, importance, output_weights=second[None])[0]
    assert report["loss"] == pytest.approx(loss, rel=1e-4)
    text = run_cli("train", *flags)
    assert text.returncode == 0 and "does not apply to this model" in text.stdout


def test_sweep_json_of_the_abs_model():
    flags = ["--model", "abs", "--n-features", "4", "--n-hidden", "3", "--steps", "50", "--sparsities", "0,0.9"]
    completed = run_cli("sweep", *flags, "--json")
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)["results"]
    assert [r["config"]["sparsity"] for r in results] == [0.0, 0.9]
    assert all(r["rotated_loss"] is None and np.shape(r["W_out"]) == (4, 3) for r in results)
