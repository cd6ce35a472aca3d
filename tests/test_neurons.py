"""Privileged basis and polysemanticity: scores on hand-built W, trained models, the view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow
import pytest
from streamlit.testing.v1 import AppTest

from superpos import evaluate, neurons
from superpos.charts import neurons as charts
from superpos.config import Config
from superpos.evaluate import heldout_loss
from superpos.train import train, train_sweep

ROOT = Path(__file__).resolve().parents[1]
# The ARENA setting, trained with the app's default recipe (a real training, not a smoke test).
ARENA = Config(n_features=10, n_hidden=5, importance_decay=0.75, model="neuron")


# Hand-built W (3 neurons x 4 features): one-hot row, three equal weights, nothing positive.
HAND_WEIGHTS = np.array(
    [
        [0.0, 1.0, 0.0, 0.0],
        [0.8, 0.8, 0.8, 0.0],
        [-1.0, 0.0, -0.5, 0.0],
    ]
)


def test_scores_on_hand_built_weights():
    table = neurons.neuron_table(HAND_WEIGHTS).set_index("neuron").sort_index()
    assert table.loc[0, "polysemanticity"] == pytest.approx(1.0)
    assert table.loc[1, "polysemanticity"] == pytest.approx(3.0)
    assert table.loc[2, "polysemanticity"] == 0.0
    assert table["label"].tolist() == ["monosemantic", "polysemantic", "dead"]
    assert table["features_driving"].tolist() == [1, 3, 0]
    assert table.loc[0, "monosemanticity"] == pytest.approx(1.0)


def test_table_is_ordered_most_polysemantic_first_dead_last():
    table = neurons.neuron_table(HAND_WEIGHTS)
    assert table["neuron"].tolist() == [1, 0, 2]


def test_bottleneck_scores_count_both_signs():
    weights = np.array([[1.0, -1.0, 0.0]])
    assert neurons.neuron_table(weights, "relu")["polysemanticity"][0] == pytest.approx(2.0)
    assert neurons.neuron_table(weights, "neuron")["polysemanticity"][0] == pytest.approx(1.0)


def test_sweep_sparsities_run_from_dense_to_sparsest():
    sparsities = neurons.sweep_sparsities(0.99, 5)
    assert sparsities[0] == 0.0 and sparsities[-1] == pytest.approx(0.99)
    assert np.all(np.diff(np.log(1 / (1 - sparsities))) == pytest.approx(np.log(100) / 4))


def test_feature_errors_of_a_silent_model_cost_what_dropping_costs():
    # W = 0, b = 0 gives x' = 0, so each feature's error is I_i E[x_i^2] = I_i p_i / 3.
    probability = np.array([[0.5, 0.1, 1.0]])
    importance = np.array([[1.0, 0.5, 0.25]])
    errors = evaluate.feature_errors("neuron", np.zeros((1, 2, 3)), np.zeros((1, 3)), probability, importance)
    np.testing.assert_allclose(errors, importance * probability / 3, rtol=0.05)


def test_feature_errors_average_to_the_heldout_loss():
    rng = np.random.default_rng(0)
    weights, bias = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 6)) * 0.1
    probability, importance = np.full((2, 6), 0.2), np.tile(0.9 ** np.arange(6), (2, 1))
    errors = evaluate.feature_errors("neuron", weights, bias, probability, importance, samples=4096)
    loss = heldout_loss("neuron", weights, bias, probability, importance, samples=4096)
    np.testing.assert_allclose(errors.mean(axis=1), loss, rtol=1e-5)


@pytest.fixture(scope="module")
def arena_sweep():
    return train_sweep(ARENA, [0.0, 0.99])


def test_sparse_features_make_neurons_polysemantic(arena_sweep):
    summary = neurons.sparsity_summary(arena_sweep)
    dense, sparse = summary.iloc[0], summary.iloc[1]
    assert sparse["mean_polysemanticity"] > dense["mean_polysemanticity"] + 1.0
    assert sparse["polysemantic_fraction"] > dense["polysemantic_fraction"]
    assert sparse["features_stored"] > dense["features_stored"]
    # Dense features: at most m = 5 stored, so n features did not land in m neurons.
    assert np.isnan(dense["expected_polysemantic_fraction"])


@pytest.fixture(scope="module")
def rotation():
    quick = ARENA.replace(sparsity=0.9, steps=300, restarts=1)
    return neurons.rotation_comparison([train(quick.replace(model="relu")), train(quick.replace(model="neuron"))])


def test_rotation_leaves_the_bottleneck_loss_and_breaks_the_neurons(rotation):
    losses = rotation[0].set_index("model")
    assert abs(losses.loc["relu", "relative_change"]) < 1e-4
    assert losses.loc["neuron", "relative_change"] > 0.1


def test_rotation_compares_losses_on_the_same_inputs_above_n_128():
    # Above n = 128 a training scores itself on fewer inputs than the full sample the rotated
    # model is scored on: compared across the two samples, relu's loss would seem to change.
    n_features = 300
    assert evaluate.heldout_samples(n_features) < evaluate.HELDOUT_SAMPLES
    result = train(Config(model="relu", n_features=n_features, n_hidden=10, sparsity=0.99, steps=200, restarts=1))
    losses = neurons.rotation_comparison([result])[0]
    assert abs(losses["relative_change"][0]) < 1e-4


def test_rotation_moves_bottleneck_scores(rotation):
    scores = rotation[1]
    relu = scores[scores["model"] == "relu"]
    assert np.abs(relu["after"] - relu["before"]).max() > 0.1


def test_sparse_features_ride_along_almost_free():
    result = train(ARENA.replace(sparsity=0.99))
    costs = neurons.feature_costs(result)
    assert costs["loss_share"].sum() == pytest.approx(1.0)
    assert costs["error"].mean() == pytest.approx(result.heldout[0], rel=1e-5)
    stored = costs[costs["stored"]]
    # The least important feature (I_9 = 0.075) may be dropped: its drop cost I p / 3 is tiny.
    assert len(stored) >= ARENA.n_features - 1
    assert stored["fraction_of_drop_cost"].median() < 0.25


def test_charts_build_from_engine_data(arena_sweep, rotation):
    weights = arena_sweep.weights[1]
    table = neurons.neuron_table(weights)
    built = [
        charts.neuron_weights_chart(weights, table),
        charts.neuron_scores_chart(table),
        charts.sparsity_chart(neurons.sparsity_summary(arena_sweep)),
        charts.rotation_chart(*rotation),
    ]
    for chart in built:
        assert chart.to_dict()  # validates against the Vega-Lite schema


VIEW_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from superpos.config import Config
import views.neurons
views.neurons.render(Config(**{config!r}))
"""


def run_view(config: dict, query_params: dict | None = None) -> AppTest:
    app = AppTest.from_string(VIEW_SCRIPT.format(root=str(ROOT), config=config), default_timeout=60)
    app.query_params.update(query_params or {})
    return app.run()


def chart_data(app: AppTest, index: int):
    proto = app.get("vega_lite_chart")[index].proto
    return json.loads(proto.spec), pyarrow.ipc.open_stream(proto.datasets[0].data.data).read_pandas()


def test_view_at_defaults():
    app = run_view({}, {"neurons_points": "3"})
    assert not app.exception and not app.error and not app.warning
    assert len(app.get("vega_lite_chart")) == 5
    assert app.slider(key="neurons_points").value == 3
    _, weights = chart_data(app, 0)
    assert set(weights.columns) >= {"neuron", "feature", "weight"}
    assert len(app.dataframe) == 1 and len(app.dataframe[0].value) == Config().n_hidden
    app.number_input(key="neurons_rotation_seed").set_value(7).run()
    assert not app.exception


def test_a_fraction_in_a_link_is_named_and_its_whole_part_used():
    app = run_view({}, {"neurons_points": "3.5", "neurons_rotation_seed": "2.5"})
    assert not app.exception and len(app.warning) == 1
    assert "`neurons_points` = `3.5` is not a whole number: using 3" in app.warning[0].value
    assert "`neurons_rotation_seed` = `2.5` is not a whole number: using 2" in app.warning[0].value
    assert app.slider(key="neurons_points").value == 3
    assert app.query_params["neurons_rotation_seed"] == "2"  # the link now shows the value used
    whole = run_view({}, {"neurons_points": "3", "neurons_rotation_seed": "2"})
    assert not whole.warning
    rotation = [chart_data(page, 3)[1] for page in (app, whole)]
    assert not rotation[0].empty and rotation[0].equals(rotation[1])


@pytest.mark.parametrize(
    "config",
    [
        {"n_features": 1, "n_hidden": 1, "sparsity": 0.0, "importance_decay": 0.01, "steps": 20, "restarts": 1},
        {"n_features": 100, "n_hidden": 100, "sparsity": 0.999, "steps": 20, "restarts": 1, "batch_size": 64},
    ],
)
def test_view_at_extremes(config):
    app = run_view(config, {"neurons_points": "3", "neurons_sparsest": "0.999"})
    assert not app.exception and not app.error
    assert app.select_slider(key="neurons_sparsest").value == 0.999
    assert len(app.get("vega_lite_chart")) == 5
