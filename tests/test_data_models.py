"""Inputs and forward passes against their formulas, and the trainer's hand-derived gradients."""

import dataclasses

import numpy as np
import pytest
import torch

from superpos import data, schedule
from superpos.config import SETTINGS, TRAINING_FIELDS, Config, ConfigError
from superpos.data import NonzeroSampler, sample_features, zero_input_probability
from superpos.models import forward
from superpos.train import ExpectedLoss
from tests.numerics import assert_matches


def test_sample_features_probability_and_range():
    probability = torch.tensor([[0.05, 0.5, 1.0], [0.2, 0.0001, 0.9]])
    x = sample_features(probability, 200_000, torch.Generator().manual_seed(0))
    assert x.shape == (2, 3, 200_000)
    assert x.min() >= 0 and x.max() < 1
    active = (x > 0).float().mean(dim=2)
    np.testing.assert_allclose(active.numpy(), probability.numpy(), atol=0.005)
    # Active values are U[0, 1]: mean 1/2, variance 1/12.
    values = x[0, 1][x[0, 1] > 0]
    assert abs(values.mean().item() - 0.5) < 0.01
    assert abs(values.var().item() - 1 / 12) < 0.005


@pytest.mark.parametrize("common", [False, True])
def test_nonzero_sampler_is_the_conditional_distribution(common):
    probability = torch.tensor([[0.05] * 5, [0.3, 0.9, 0.01, 0.5, 0.2], [1.0] * 5])
    generator = torch.Generator().manual_seed(1)
    conditional = NonzeroSampler(probability, common=common)(200_000, generator)
    assert (conditional.sum(dim=1) > 0).all(), "every sample has an active feature"
    plain = sample_features(probability, 400_000, generator)
    for instance in range(3):
        nonzero = plain[instance][:, plain[instance].sum(dim=0) > 0]
        expected = (nonzero > 0).float().mean(dim=1)
        observed = (conditional[instance] > 0).float().mean(dim=1)
        np.testing.assert_allclose(observed.numpy(), expected.numpy(), atol=0.01)
    values = conditional[conditional > 0]
    assert abs(values.mean().item() - 0.5) < 0.01


def test_common_uniforms_serve_every_instance_from_one_draw():
    """With common uniforms two instances with the same probabilities get the same inputs, and a
    denser one is active wherever they are (u < p implies u < 2p); from their own, they differ.
    (P(x = 0) = 0.7^80: no column is redrawn. The conditional test above covers both paths.)"""
    probabilities = torch.tensor([[0.3] * 80, [0.3] * 80, [0.6] * 80])
    common = NonzeroSampler(probabilities, common=True)(500, torch.Generator().manual_seed(2))
    own = NonzeroSampler(probabilities)(500, torch.Generator().manual_seed(2))
    torch.testing.assert_close(common[0], common[1])
    assert ((common[0] > 0) <= (common[2] > 0)).all()
    assert not torch.equal(own[0], own[1])


def test_the_plain_draw_keeps_its_nonzero_columns_and_redraws_the_empty_ones_given_active():
    # Two instances with P(x = 0) = 0.9^40 ~ 1.5% and 0.95^80 ~ 1.7%: the redrawing path.
    first_half = torch.full((1, 80), 0.1).index_fill(1, torch.arange(40, 80), 1e-9)
    probability = torch.cat([first_half, torch.full((1, 80), 0.05)])
    sampler = NonzeroSampler(probability)
    assert sampler.redraw
    batch = 4000
    plain = sample_features(probability, batch, torch.Generator().manual_seed(3))
    empty = plain.amax(dim=1) == 0
    assert empty.sum(dim=1).min() > 10, "the test needs empty columns in both instances"
    # Redrawn column j of instance i holds j + 1 in every feature, so its placement shows.
    sampler.given_active = lambda count, generator: torch.arange(1.0, count + 1).expand(2, 80, count).clone()
    x = sampler(batch, torch.Generator().manual_seed(3))
    for instance in range(2):
        torch.testing.assert_close(x[instance][:, ~empty[instance]], plain[instance][:, ~empty[instance]])
        redrawn = x[instance][:, empty[instance]]
        expected = torch.arange(1.0, int(empty[instance].sum()) + 1).expand(80, -1)
        torch.testing.assert_close(redrawn, expected)


def test_both_ways_of_drawing_given_x_nonzero_agree():
    probability = torch.full((1, 40), 0.1)  # P(x = 0) = 1.5%: redrawn; the same drawn directly
    redrawing, direct = NonzeroSampler(probability), NonzeroSampler(probability)
    direct.redraw = False
    assert redrawing.redraw
    first = [
        (sampler(100_000, torch.Generator().manual_seed(5))[0] > 0).float().argmax(dim=0)
        for sampler in (redrawing, direct)
    ]
    # P(first active feature = k | x != 0) = 0.1 x 0.9^k / (1 - 0.9^40)
    expected = 0.1 * 0.9 ** np.arange(40) / (1 - 0.9**40)
    for draws in first:
        observed = np.bincount(draws.numpy(), minlength=40) / len(draws)
        np.testing.assert_allclose(observed, expected, atol=0.004)


def test_a_batch_stream_splits_one_draw_into_consecutive_batches(monkeypatch):
    """c batches from a stream are one draw of c x batch split in order (each column is an independent
    input), then the next draw; a large batch comes one per draw."""
    monkeypatch.setattr(data, "BLOCK_VALUES", 3 * 2 * 5 * 16)  # three batches of 16 per draw
    sampler = NonzeroSampler(torch.full((2, 5), 0.2))
    stream = data.BatchStream(sampler, 16, torch.Generator().manual_seed(4), values_per_batch=2 * 5 * 16)
    assert stream.count == 3
    batches = [stream() for _ in range(4)]
    generator = torch.Generator().manual_seed(4)
    first, second = sampler(48, generator), sampler(48, generator)
    torch.testing.assert_close(torch.cat(batches[:3], dim=2), first)
    torch.testing.assert_close(batches[3], second[:, :, :16])
    assert data.BatchStream(sampler, 16, generator, values_per_batch=10**9).count == 1


def test_zero_input_probability():
    probability = torch.tensor([[0.5, 0.5], [0.1, 1.0]])
    np.testing.assert_allclose(zero_input_probability(probability).numpy(), [0.25, 0.0], atol=1e-7)


W = torch.tensor([[[1.0, -2.0, 0.5], [0.0, 1.0, -1.0]]])  # one instance, m = 2, n = 3
B = torch.tensor([[0.1, -0.2, 0.3]])
X = torch.tensor([[[1.0, 0.0], [0.5, 1.0], [0.0, 0.25]]])  # (instance, n, batch): two samples


@pytest.mark.parametrize("model", ["linear", "relu", "neuron"])
def test_forward_matches_formula(model):
    w, b = W[0].numpy(), B[0].numpy()
    for sample in range(2):
        x = X[0, :, sample].numpy()
        h = w @ x
        if model == "neuron":
            h = np.maximum(h, 0)
        expected = w.T @ h + b
        if model != "linear":
            expected = np.maximum(expected, 0)
        np.testing.assert_allclose(forward(model, W, B, X)[0, :, sample].numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("model", ["linear", "relu", "neuron"])
def test_hand_derived_gradients_match_autograd(model, dtype):
    generator = torch.Generator().manual_seed(3)
    probability = torch.tensor([[0.3, 0.5, 0.2, 0.9], [0.05, 0.05, 0.05, 0.05]])
    importance = torch.tensor([[1.0, 0.7, 0.49, 0.343], [1.0, 1.0, 1.0, 1.0]])
    zero_share = zero_input_probability(probability)
    x = NonzeroSampler(probability)(64, generator)
    weights = torch.randn(2, 3, 4, generator=generator)
    bias = torch.randn(2, 4, generator=generator) * 0.3
    loss = ExpectedLoss(model, importance, zero_share, batch_size=64, dtype=dtype)
    weight_grad, bias_grad = torch.zeros_like(weights), torch.zeros_like(bias)
    out = loss.gradients(weights, bias, x, weight_grad, bias_grad)

    auto_weights, auto_bias = weights.clone().requires_grad_(), bias.clone().requires_grad_()
    auto_out = torch.baddbmm(
        auto_bias[:, :, None],
        auto_weights.transpose(1, 2),
        torch.bmm(auto_weights, x).relu() if model == "neuron" else torch.bmm(auto_weights, x),
    )
    loss(x, auto_out, auto_bias).sum().backward()
    assert_matches(out, auto_out.detach(), dtype, rtol=1e-5, atol=1e-6)
    assert_matches(weight_grad, auto_weights.grad, dtype, rtol=1e-4, atol=1e-7)
    assert_matches(bias_grad, auto_bias.grad, dtype, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"n_features": 0}, "n_features"),
        ({"n_features": 2.5}, "n_features"),
        ({"n_hidden": 6}, "n_hidden"),
        ({"sparsity": float("nan")}, "sparsity"),
        ({"sparsity": 1.0}, "sparsity"),
        ({"importance_decay": float("inf")}, "importance_decay"),
        ({"model": "mlp"}, "model"),
        ({"lr": "0.1"}, "lr"),
        ({"seed": True}, "seed"),
        ({"steps": 5}, "steps"),
        ({"restarts": 0}, "restarts"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(changes, field):
    with pytest.raises(ConfigError) as caught:
        Config(**changes)
    assert caught.value.field == field
    assert field in str(caught.value)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_setting_is_checked_against_its_own_range(name):
    spec = SETTINGS[name]
    low, high = spec.low, spec.high
    # n_hidden <= n_features: test each against a partner that leaves it room.
    base = {"n_features": {"n_hidden": 1}, "n_hidden": {"n_features": 1000}}.get(name, {})
    Config(**base, **{name: int(low) if spec.integer else low})
    Config(**base, **{name: int(high) if spec.integer else high})
    for outside in (low - 1, high + 1) if spec.integer else (low - abs(low) - 1e-3, high * 1.5 + 1e-3):
        with pytest.raises(ConfigError) as caught:
            Config(**base, **{name: int(outside) if spec.integer else outside})
        assert caught.value.field == name and spec.describe() in caught.value.detail


def test_training_settings_are_automatic_unless_given():
    defaults = Config()
    assert all(getattr(defaults, name) is None for name in TRAINING_FIELDS)
    probability = np.full((1, 5), 0.1)
    automatic = schedule.resolve("relu", 5, 2, probability)
    given = schedule.resolve("relu", 5, 2, probability, steps=77, lr=0.3)
    assert (given.steps, given.lr, given.batch_size) == (77, (0.3,), automatic.batch_size)


@pytest.mark.parametrize(("n_features", "n_hidden", "instances"), [(5, 2, 1), (400, 30, 10), (1000, 200, 1)])
def test_max_steps_is_the_largest_count_the_work_limit_accepts(n_features, n_hidden, instances):
    probability = np.full((instances, n_features), 0.1)
    plan = schedule.automatic_schedule("relu", n_features, n_hidden, probability)
    allowed = schedule.seconds_allowed(instances, schedule.MAX_SECONDS)
    most = schedule.max_steps(n_features, n_hidden, instances, plan, allowed)
    schedule.check_time(n_features, n_hidden, instances, dataclasses.replace(plan, steps=most))
    with pytest.raises(schedule.WorkLimitError) as caught:
        schedule.check_time(n_features, n_hidden, instances, dataclasses.replace(plan, steps=most + 1))
    assert caught.value.field == "steps" and f"at most {most} steps" in caught.value.detail


def test_the_time_model_counts_the_hidden_dimensions_and_the_models(monkeypatch):
    plan = schedule.Schedule(steps=1000, batch_size=512, lr=(0.01,), restarts=1)
    narrow = schedule.predicted_seconds(1000, 2, 1, plan)
    wide = {}
    for fast in (False, True):  # bfloat16 products, where the CPU is fast at them, from n m = 10,000
        monkeypatch.setattr(schedule, "BFLOAT16_FAST", fast)
        wide[fast] = schedule.predicted_seconds(1000, 200, 1, plan)
    assert wide[False] > 2 * narrow
    assert narrow < wide[True] < wide[False]
    sweep = dataclasses.replace(plan, lr=(0.01,) * 10)
    assert schedule.predicted_seconds(1000, 2, 10, sweep) > 5 * narrow


def test_the_time_model_counts_a_dense_start_once_per_batch():
    """The models of a batch share one dense start (one importance profile): it costs one model's
    dense phase on the training's threads, however many models there are."""
    extras = []
    for instances in (7, 14):
        plain = schedule.Schedule(steps=1200, batch_size=256, lr=(0.02,) * instances, restarts=1)
        dense = dataclasses.replace(plain, dense_steps=1000, dense_lr=0.06)
        extras.append(
            schedule.predicted_seconds(100, 40, instances, dense)
            - schedule.predicted_seconds(100, 40, instances, plain)
        )
        phase = schedule.dense_phase(dense)
        one_model = schedule.threaded_seconds(100, 40, 1, phase, schedule.workers(100, 40, 1, phase))
        assert extras[-1] == pytest.approx(one_model)
    assert extras[0] == pytest.approx(extras[1]) and extras[0] > 0


def test_the_time_model_counts_the_abs_models_element_wise_work():
    """The abs model's schedule carries its heavier element-wise work per value: the same steps,
    batch and restarts are predicted to take longer than a storage model's."""
    probability = np.full((1, 20), 0.1)
    absolute = schedule.automatic_schedule("abs", 20, 5, probability)
    assert absolute.value_work == schedule.ABSOLUTE_VALUE_WORK > 1
    storage = dataclasses.replace(absolute, value_work=1.0)
    assert schedule.predicted_seconds(20, 5, 1, absolute) > 1.2 * schedule.predicted_seconds(20, 5, 1, storage)
    assert schedule.automatic_schedule("relu", 20, 5, probability).value_work == 1.0


def test_automatic_steps_stop_at_the_work_limit_but_given_steps_are_refused():
    probability = np.full((10, 1000), 0.01)
    unlimited = schedule.resolve("relu", 1000, 200, probability)
    capped = schedule.resolve("relu", 1000, 200, probability, max_seconds=1.0)
    assert capped.steps < unlimited.steps
    allowed = schedule.seconds_allowed(10, 1.0)  # a batch of ten models gets twice one model's limit
    assert schedule.predicted_seconds(1000, 200, 10, capped) <= allowed or capped.steps == schedule.MIN_STEPS
    with pytest.raises(schedule.WorkLimitError):
        schedule.check_time(1000, 200, 10, dataclasses.replace(capped, steps=capped.steps * 4 + 10), 1.0)


def test_counting_and_searching_find_the_same_first_active_feature(monkeypatch):
    """NonzeroSampler.given_active finds k by counting up to COUNT_BELOW_UP_TO features, by
    torch.searchsorted above: the same draws either way."""
    probability = torch.rand(3, 40, generator=torch.Generator().manual_seed(5)) * 0.1
    sampler = NonzeroSampler(probability)
    counted = sampler.given_active(2000, torch.Generator().manual_seed(6))
    monkeypatch.setattr(data, "COUNT_BELOW_UP_TO", 0)
    searched = sampler.given_active(2000, torch.Generator().manual_seed(6))
    torch.testing.assert_close(counted, searched, rtol=0, atol=0)
