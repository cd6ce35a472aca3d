"""Trained for real: the paper's results, reproduced with the default training settings."""

import dataclasses
import importlib
import warnings

import numpy as np
import pytest
import torch

import superpos
from superpos import metrics, schedule
from superpos.evaluate import HELDOUT_SAMPLES, heldout_loss, heldout_samples
from superpos.train import learning_rate, train_instances

train_module = importlib.import_module("superpos.train")  # the package's `train` is the function

INTRO_PROBABILITY = 20.0 ** -np.linspace(0.0, 1.0, 10)


@pytest.fixture(scope="module")
def intro_sweep():
    config = superpos.Config(n_features=5, n_hidden=2, importance_decay=0.9)
    return superpos.train_sweep(config, 1.0 - INTRO_PROBABILITY)


def test_dense_regime_keeps_exactly_the_top_m_features():
    config = superpos.Config(n_features=20, n_hidden=5, sparsity=0.0, importance_decay=0.7)
    weights = superpos.train(config).weights[0]
    norms = metrics.feature_norms(weights)
    assert np.all(norms[:5] > 0.9), norms
    assert np.all(norms[5:] < 0.1), norms
    unit = weights[:, :5] / norms[:5]
    np.testing.assert_allclose(unit.T @ unit, np.eye(5), atol=0.05)


def test_pentagon_at_high_sparsity():
    config = superpos.Config(n_features=5, n_hidden=2, sparsity=0.95, importance_decay=1.0)
    weights = superpos.train(config).weights[0]
    norms = metrics.feature_norms(weights)
    assert np.all(np.abs(norms - 1) < 0.2), norms
    np.testing.assert_allclose(metrics.dimensionality(weights), 0.4, atol=0.03)
    angles = np.sort(np.degrees(np.arctan2(weights[1], weights[0])))
    gaps = np.diff(np.append(angles, angles[0] + 360))
    np.testing.assert_allclose(gaps, 72, atol=4)


def test_intro_figure_more_features_as_sparsity_grows(intro_sweep):
    represented = (metrics.feature_norms(intro_sweep.weights) > 0.5).sum(axis=1)
    assert represented[0] == 2, "dense: the two most important features, PCA-like"
    assert represented[-1] == 5, "sparse: all five in superposition"
    assert np.all(np.diff(represented) >= 0), represented


def careful_run(config: superpos.Config, sparsities) -> superpos.TrainResult:
    """The same trainer, far longer and slower than the automatic schedule: a converged baseline."""
    probability = 1.0 - np.repeat(np.asarray(sparsities)[:, None], config.n_features, axis=1)
    plan = schedule.automatic_schedule(config.model, config.n_features, config.n_hidden, probability)
    careful = config.replace(steps=4 * plan.steps, batch_size=2 * plan.batch_size, lr=min(plan.lr) / 2)
    return superpos.train_sweep(careful, sparsities, max_seconds=None)


def test_automatic_schedule_matches_a_careful_run_on_the_intro_sweep(intro_sweep):
    config = superpos.Config(n_features=5, n_hidden=2, importance_decay=0.9)
    careful = careful_run(config, 1.0 - INTRO_PROBABILITY)
    ratio = intro_sweep.heldout / careful.heldout
    assert intro_sweep.heldout.mean() <= 1.03 * careful.heldout.mean(), ratio
    assert ratio.max() <= 1.10, ratio
    assert intro_sweep.converged.all()


def test_automatic_schedule_matches_a_careful_run_at_n_100_m_20():
    config = superpos.Config(n_features=100, n_hidden=20, importance_decay=1.0)
    sparsities = [0.0, 0.9, 0.99]
    automatic = superpos.train_sweep(config, sparsities)
    careful = careful_run(config, sparsities)
    ratio = automatic.heldout / careful.heldout
    assert automatic.heldout.mean() <= 1.03 * careful.heldout.mean(), ratio
    assert ratio.max() <= 1.10, ratio
    assert automatic.converged.all() and careful.converged.all()


def test_a_short_training_is_flagged_and_a_full_one_is_not():
    config = superpos.Config(n_features=100, n_hidden=20, sparsity=0.9)
    short = superpos.train(config.replace(steps=30))
    assert not short.converged[0] and short.budget[0] < 1
    full = superpos.train(config)
    assert full.converged[0] and full.budget[0] == pytest.approx(1.0)
    assert full.heldout[0] < short.heldout[0]


def test_a_training_cut_by_the_work_limit_says_so_instead_of_failing():
    config = superpos.Config(n_features=400, n_hidden=30, sparsity=0.99)
    result = superpos.train(config, max_seconds=0.5)
    assert result.schedule.steps < schedule.automatic_schedule("relu", 400, 30, result.probability).steps
    assert not result.converged[0] and result.budget[0] < 1
    with pytest.raises(schedule.WorkLimitError):  # steps given explicitly are refused, not cut
        superpos.train(config.replace(steps=20_000), max_seconds=0.5)


def test_the_trainer_refuses_exactly_what_the_work_limit_predicts_too_long():
    probability = np.full((10, 400), 0.1)
    plan = schedule.automatic_schedule("relu", 400, 30, probability)
    allowed = schedule.seconds_allowed(10, 1.0)  # a batch of ten models gets twice one model's limit
    most = schedule.max_steps(400, 30, 10, plan, allowed)
    args = ("relu", 30, probability, np.ones_like(probability))
    with pytest.raises(schedule.WorkLimitError):
        train_instances(*args, steps=most + 1, max_seconds=1.0)
    assert schedule.predicted_seconds(400, 30, 10, dataclasses.replace(plan, steps=most)) <= allowed


def test_each_model_of_a_sweep_trains_at_its_own_peak_rate():
    result = superpos.train_sweep(superpos.Config(n_features=50, n_hidden=10, steps=50), [0.0, 0.999])
    dense, sparse = result.schedule.lr
    assert sparse < dense
    expected = schedule.automatic_schedule("relu", 50, 10, result.probability).lr
    assert result.schedule.lr == expected


def test_restart_pruning_keeps_each_instances_own_best(monkeypatch):
    # Rig the selection so that instance i keeps restart i; its history must then be restart i's.
    instances, restarts, n_features, n_hidden = 3, 4, 6, 2
    target = torch.tensor([[0.0 if r == i else 1.0 for i in range(instances)] for r in range(restarts)]).view(-1)
    monkeypatch.setattr(train_module.Runs, "selection_loss", lambda runs, seed: target[: runs.parameters.shape[0]])
    probability = np.full((instances, n_features), 0.2)
    result = train_instances(
        "relu", n_hidden, probability, np.ones_like(probability), steps=50, seed=3, restarts=restarts
    )
    generator = torch.Generator().manual_seed(3)
    std = train_module.initial_std(n_features, n_hidden)
    starts = (torch.randn(instances * restarts, n_hidden, n_features, generator=generator) * std).numpy()
    for instance in range(instances):
        kept = starts[instance * instances + instance]  # restart r of instance i is run r * instances + i
        np.testing.assert_allclose(result.snapshots[0, instance], kept, rtol=1e-6)
    np.testing.assert_array_equal(result.snapshots[-1], result.weights)
    assert result.loss_history.shape == (instances, len(result.loss_steps))


def test_a_selection_loss_of_zero_throughout_counts_as_converged(monkeypatch):
    # A perfect model's loss does not fall: its final fall is 0, not 0 / 0.
    monkeypatch.setattr(train_module.Runs, "selection_loss", lambda runs, seed: torch.zeros(runs.parameters.shape[0]))
    probability = np.full((2, 4), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = train_instances("relu", 2, probability, np.ones_like(probability), max_seconds=None)
    np.testing.assert_array_equal(result.final_fall, 0.0)
    assert result.converged.all()


def test_a_loss_that_stops_being_finite_stops_the_training_with_a_clear_error(monkeypatch):
    # Adam moves each weight by at most about lr per step, so within Config's limits the weights
    # stay far from float32's range: a non-finite loss comes from bad numbers, rigged here.
    draw = train_module.NonzeroSampler.__call__

    def overflowing(sampler, batch_size, generator):
        return draw(sampler, batch_size, generator) * 1e30

    monkeypatch.setattr(train_module.NonzeroSampler, "__call__", overflowing)
    with pytest.raises(superpos.TrainingDiverged) as caught:
        superpos.train(superpos.Config(n_features=20, n_hidden=5, steps=100))
    assert caught.value.step == 0 and "lower lr" in str(caught.value)


@pytest.mark.parametrize("model, invariant", [("linear", True), ("relu", True), ("neuron", False)])
def test_rotating_the_hidden_space(model, invariant):
    config = superpos.Config(n_features=6, n_hidden=3, sparsity=0.8, model=model, steps=300)
    result = superpos.train(config)
    rotated = superpos.rotated_loss(model, result.weights, result.bias, result.probability, result.importance)
    change = rotated[0] / result.heldout[0] - 1.0
    if invariant:
        assert abs(change) < 1e-4
    else:
        assert change > 0.05


def test_training_is_deterministic():
    config = superpos.Config(n_features=6, n_hidden=2, sparsity=0.7, steps=100)
    first, second = superpos.train(config), superpos.train(config)
    np.testing.assert_array_equal(first.weights, second.weights)
    assert not np.array_equal(first.weights, superpos.train(config.replace(seed=1)).weights)


def test_result_shapes_history_and_progress():
    config = superpos.Config(n_features=7, n_hidden=3, steps=120)
    fractions = []
    result = superpos.train_sweep(config, [0.0, 0.5, 0.9], progress=fractions.append)
    assert result.weights.shape == (3, 3, 7) and result.bias.shape == (3, 7)
    assert result.snapshots.shape[1:] == (3, 3, 7)
    assert result.snapshot_steps[0] == 0 and result.snapshot_steps[-1] == 120
    assert len(result.snapshot_steps) == len(result.snapshots)
    np.testing.assert_array_equal(result.snapshots[-1], result.weights)
    assert result.loss_history.shape == (3, len(result.loss_steps))
    assert result.loss_history[:, -10:].mean() < result.loss_history[:, :3].mean()
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    np.testing.assert_allclose(result.probability[:, 0], [1.0, 0.5, 0.1])


def test_learning_rate_warms_up_then_decays():
    rates = [learning_rate(step, 1000, 0.1) for step in range(1000)]
    assert rates[0] < rates[49] == pytest.approx(0.1)
    assert rates[-1] < 1e-3
    assert np.all(np.diff(rates[50:]) <= 0)


@pytest.mark.parametrize("model", superpos.config.MODEL_KINDS)
def test_a_training_that_really_diverges_stops_with_the_divergence_error(model):
    """A real divergence, not rigged inputs. Adam moves each weight by about the rate per step, so
    at Config's highest rate (lr = 1) the weights stay far from float32's range: no training in
    Config's limits diverges (checked below on the same model). So this calls the engine below
    Config's validation (train_instances takes any rate) with a peak rate of 1e30: after one step
    the weights are about 1e29, W^T W x overflows float32 and the loss is no longer finite."""
    probability, importance = np.full((1, 5), 0.1), np.ones((1, 5))
    settings = {"steps": 40, "restarts": 1, "max_seconds": None}
    with pytest.raises(superpos.TrainingDiverged) as caught:
        train_instances(model, 2, probability, importance, lr=1e30, **settings)
    assert caught.value.step > 0 and "lower lr" in str(caught.value)
    highest = superpos.config.SETTINGS["lr"].high
    result = train_instances(model, 2, probability, importance, lr=highest, **settings)
    assert np.isfinite(result.loss_history).all() and np.isfinite(result.weights).all()


def test_a_long_batch_trains_in_chunks_each_as_if_alone(monkeypatch):
    """Several threads (schedule.workers) train contiguous chunks of instances, chunk c with seed + c:
    the weights and loss histories are those of each chunk trained alone, warm starts included."""
    probability = np.stack([np.full(8, p) for p in (1.0, 0.5, 0.2, 0.05, 0.02)])
    importance = np.ones_like(probability)
    start = (np.zeros((5, 3, 8)), np.full((5, 8), 0.1))
    settings = {"steps": 80, "batch_size": 64, "restarts": 2, "max_seconds": None}
    monkeypatch.setattr(schedule, "PARALLEL_SECONDS", 0.0)  # any batch of several models is split in two
    fractions = []
    together = train_instances(
        "relu", 3, probability, importance, seed=7, start=start, progress=fractions.append, **settings
    )
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    monkeypatch.setattr(schedule, "TRAIN_WORKERS", 1)
    parts = [
        train_instances(
            "relu",
            3,
            probability[part],
            importance[part],
            seed=seed,
            start=(start[0][part], start[1][part]),
            **settings,
        )
        for part, seed in ((slice(0, 2), 7), (slice(2, 5), 8))  # chunks of 2 and 3 (np.linspace, rounded)
    ]
    for field in ("weights", "bias", "loss_history", "selection_history", "warm_start_won"):
        np.testing.assert_array_equal(
            getattr(together, field), np.concatenate([getattr(part, field) for part in parts])
        )
    np.testing.assert_array_equal(together.snapshots, np.concatenate([part.snapshots for part in parts], axis=1))


def test_a_divergence_on_a_training_thread_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(schedule, "PARALLEL_SECONDS", 0.0)
    probability = np.full((4, 5), 0.1)
    with pytest.raises(superpos.TrainingDiverged):
        train_instances("relu", 2, probability, np.ones_like(probability), lr=1e30, steps=40, max_seconds=None)


@pytest.mark.parametrize("model", superpos.config.MODEL_KINDS)
def test_a_batch_in_two_halves_has_the_whole_batchs_gradient(model):
    """One model on two threads differentiates each half of the batch apart: the halves' gradients,
    the x = 0 term counted once, add up to the whole batch's."""
    probability = torch.full((2, 6), 0.3)
    parameters = torch.randn(2, 2 * 3 + 1 if model == "abs" else 3 + 1, 6, generator=torch.Generator().manual_seed(0))
    moments = (torch.zeros_like(parameters), torch.zeros_like(parameters))
    runs = train_module.Runs(model, parameters, moments, probability, torch.ones_like(probability), None, 64)
    first, second = (runs.sample(32, torch.Generator().manual_seed(seed)) for seed in (1, 2))
    whole = torch.zeros_like(parameters)
    runs.gradients(torch.cat([first, second], dim=2), whole)
    halves = [torch.zeros_like(parameters), torch.zeros_like(parameters)]
    runs.gradients(first, halves[0])
    runs.gradients(second, halves[1], zero_term=False)
    torch.testing.assert_close(halves[0] + halves[1], whole)


def test_one_long_model_trains_on_two_threads_as_well_as_on_one(monkeypatch):
    probability, importance = np.full((1, 40), 0.1), np.ones((1, 40))
    settings = {"steps": 300, "batch_size": 256, "max_seconds": None, "seed": 4}
    monkeypatch.setattr(schedule, "PARALLEL_SECONDS", 0.0)  # two threads, each half of every batch
    halves = [train_instances("relu", 8, probability, importance, **settings) for _ in range(2)]
    np.testing.assert_array_equal(halves[0].weights, halves[1].weights)  # deterministic
    monkeypatch.setattr(schedule, "TRAIN_WORKERS", 1)
    whole = train_instances("relu", 8, probability, importance, **settings)
    assert abs(halves[0].heldout[0] / whole.heldout[0] - 1) < 0.02, (halves[0].heldout, whole.heldout)


def test_products_round_to_bfloat16_only_for_large_models_on_cpus_fast_at_it(monkeypatch):
    monkeypatch.setattr(schedule, "BFLOAT16_FAST", True)
    assert schedule.product_dtype(1000, 100) == torch.bfloat16
    assert schedule.product_dtype(100, 100) == torch.bfloat16  # n m = LOW_PRECISION_FROM
    assert schedule.product_dtype(100, 20) == torch.float32
    monkeypatch.setattr(schedule, "BFLOAT16_FAST", False)
    assert schedule.product_dtype(1000, 100) == torch.float32


def test_bfloat16_products_train_to_the_same_loss(monkeypatch):
    """The same model trained with bfloat16 and with float32 products ends at the same held-out loss
    (to 1%), though not at the same weights."""
    probability, importance = np.full((2, 200), 0.1), np.ones((2, 200))
    probability[1] = 0.02
    settings = {"steps": 400, "batch_size": 256, "max_seconds": None, "seed": 1}
    results = {}
    for fast in (True, False):
        monkeypatch.setattr(schedule, "BFLOAT16_FAST", fast)
        results[fast] = train_instances("relu", 50, probability, importance, **settings)
    assert not np.array_equal(results[True].weights, results[False].weights)
    np.testing.assert_allclose(results[True].heldout, results[False].heldout, rtol=0.01)


def test_a_wide_model_scores_itself_on_a_smaller_sample_of_the_same_kind():
    assert heldout_samples(100) == HELDOUT_SAMPLES
    assert heldout_samples(1000) < HELDOUT_SAMPLES / 4
    probability, importance = np.full((1, 600), 0.05), np.ones((1, 600))
    result = train_instances("linear", 1, probability, importance, steps=20, max_seconds=None)
    fewer = heldout_loss("linear", result.weights, result.bias, probability, importance, samples=heldout_samples(600))
    np.testing.assert_array_equal(result.heldout, fewer)
    full = heldout_loss("linear", result.weights, result.bias, probability, importance)
    np.testing.assert_allclose(result.heldout, full, rtol=0.01)


def test_an_abs_model_warm_starts_from_its_own_weight_rows():
    """The abs model's start is its weight rows [W1; W2^T]: a trained model restarted from them
    keeps its loss (the warm run wins against a cold one)."""
    probability, importance = np.ones((1, 3)), np.ones((1, 3))
    trained = train_instances("abs", 6, probability, importance, seed=0, max_seconds=None)
    rows = np.concatenate([trained.weights, trained.output_weights.swapaxes(1, 2)], axis=1)
    again = train_instances("abs", 6, probability, importance, steps=50, seed=1, start=(rows, trained.bias))
    assert again.warm_start_won.all()
    assert again.heldout[0] <= 2 * trained.heldout[0] + 1e-6


def test_the_trainer_runs_its_kernels_on_one_thread_and_leaves_the_callers_setting(monkeypatch):
    """A notebook keeps torch's default of several threads; the trainer's own threads use one
    (TRAIN_THREADS), the caller's count is unchanged afterwards."""
    seen = []
    gradients = train_module.Runs.gradients

    def recording(self, *arguments, **keywords):
        seen.append(torch.get_num_threads())
        return gradients(self, *arguments, **keywords)

    monkeypatch.setattr(train_module.Runs, "gradients", recording)
    monkeypatch.setattr(schedule, "PARALLEL_SECONDS", 0.0)  # a second thread for half of each batch too
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train_instances("relu", 2, np.full((1, 5), 0.1), np.ones((1, 5)), steps=20, max_seconds=None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {train_module.TRAIN_THREADS}
