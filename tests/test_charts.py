"""Chart builders on small trained models: each chart carries the right data.

Vega-Lite's inline datasets are decoded from chart.to_dict() (which also validates the spec).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from superpos import Config, metrics, train, train_sweep
from superpos.charts import geometry, loss, phase, structured, sweep
from superpos.data import FeatureSets
from superpos.experiments import PHASES, classify_phases

QUICK = {"steps": 150, "restarts": 1}


@pytest.fixture(scope="module")
def flat():
    """n = 5 in m = 2: the arrows are W itself."""
    return train(Config(n_features=5, n_hidden=2, sparsity=0.9, **QUICK))


@pytest.fixture(scope="module")
def deep():
    """n = 8 in m = 3: projected arrows and W^T W."""
    return train(Config(n_features=8, n_hidden=3, sparsity=0.9, importance_decay=0.8, **QUICK))


def datasets(chart) -> list[pd.DataFrame]:
    return [pd.DataFrame(rows) for rows in chart.to_dict()["datasets"].values()]


def dataset_with(chart, *columns: str) -> pd.DataFrame:
    return next(table for table in datasets(chart) if set(columns) <= set(table.columns))


def test_m2_embedding_draws_each_column_of_w(flat):
    weights, bias, importance = flat.weights[0], flat.bias[0], flat.importance[0]
    chart = geometry.embedding(weights, bias, importance)
    table = dataset_with(chart, "x", "y", "bias")
    assert len(table) == 5
    np.testing.assert_allclose(table[["x", "y"]].to_numpy().T, weights, rtol=1e-6)
    np.testing.assert_allclose(table["bias"], bias, rtol=1e-6)
    np.testing.assert_allclose(table["dimensionality"], metrics.dimensionality(weights), rtol=1e-6)
    params = chart.to_dict()["params"]
    assert [param["name"] for param in params] == ["hover"]
    assert len(params[0]["views"]) == 3  # hovering the arrows or either bar chart highlights all three


def test_m3_embedding_has_gram_norms_and_a_faithful_projection(deep):
    weights, bias, importance = deep.weights[0], deep.bias[0], deep.importance[0]
    chart = geometry.embedding(weights, bias, importance)
    gram = dataset_with(chart, "feature", "other", "value")
    assert len(gram) == 8 * 8
    np.testing.assert_allclose(gram["value"].to_numpy().reshape(8, 8), weights.T @ weights, rtol=1e-5, atol=1e-6)
    table = dataset_with(chart, "x", "y", "superposition")
    np.testing.assert_allclose(table["norm"], metrics.feature_norms(weights), rtol=1e-6)
    np.testing.assert_allclose(table["superposition"], metrics.superposition(weights), rtol=1e-5, atol=1e-7)
    # The projection keeps as much of sum ||W_i||^2 as any plane can: the top two singular values.
    singular = np.linalg.svd(weights, compute_uv=False)
    np.testing.assert_allclose((table["x"] ** 2 + table["y"] ** 2).sum(), (singular[:2] ** 2).sum(), rtol=1e-5)


def test_plane_is_orthonormal_and_exact_for_planar_embeddings():
    rng = np.random.default_rng(0)
    flat_in_3d = np.vstack([rng.normal(size=(2, 6)), np.zeros((1, 6))])
    rotated = np.linalg.qr(rng.normal(size=(3, 3)))[0] @ flat_in_3d
    basis = geometry.plane(rotated)
    np.testing.assert_allclose(basis @ basis.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(basis @ rotated, axis=0), np.linalg.norm(rotated, axis=0), rtol=1e-10)


def test_gram_heatmap_shows_at_most_the_first_features():
    weights = np.random.default_rng(1).normal(size=(4, 60))
    table = dataset_with(geometry.gram_heatmap(weights), "feature", "other", "value")
    limit = geometry.HEATMAP_FEATURES
    assert len(table) == limit * limit and table["feature"].max() == limit - 1


def test_dynamics_has_every_snapshot_and_marks_the_chosen_step(flat):
    snapshots, steps = flat.snapshots[:, 0], flat.snapshot_steps
    chart = geometry.dynamics(snapshots, steps, flat.importance[0], frame=3)
    frames = max((table for table in datasets(chart) if "frame" in table), key=len)
    assert len(frames) == len(steps) * 5
    last = frames[frames["frame"] == len(steps) - 1]
    np.testing.assert_allclose(last["norm"], metrics.feature_norms(snapshots[-1]), rtol=1e-6)
    shown = min((table for table in datasets(chart) if "frame" in table), key=len)
    assert len(shown) == 5 and (shown["frame"] == 3).all()  # the arrows are snapshot 3
    rule = next(table for table in datasets(chart) if list(table.columns) == ["step"])
    assert rule["step"].tolist() == [steps[3]]


def test_sweep_charts_carry_every_model_and_the_guides():
    config = Config(n_features=5, n_hidden=2, importance_decay=0.9, **QUICK)
    sparsities = [0.0, 0.5, 0.9]
    result = train_sweep(config, sparsities)
    chart = sweep.sweep(result.weights, result.probability, result.importance)
    table = dataset_with(chart, "inverse_density", "dimensionality", "x")
    assert len(table) == 3 * 5
    np.testing.assert_allclose(table.groupby("model")["sparsity"].first(), sparsities, atol=1e-12)
    np.testing.assert_allclose(
        table.groupby("model")["dimensions_per_feature"].first(), metrics.dimensions_per_feature(result.weights)
    )
    guides = dataset_with(chart, "fraction", "value")
    assert guides["fraction"].tolist() == ["1", "3/4", "2/3", "1/2", "2/5", "3/8", "1/3"]


def test_phase_chart_draws_the_table_it_is_given():
    weights = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, -1.0]], [[-0.9, 0.95]]])
    table = pd.DataFrame(
        {
            "density": [1.0, 1.0, 0.1, 0.1],
            "relative_importance": [0.1, 10.0, 0.1, 10.0],
            "w1": weights[:, 0, 0],
            "w2": weights[:, 0, 1],
            "phase": classify_phases(weights),
            "loss": [0.1, 0.2, 0.3, 0.4],
        }
    )
    drawn = dataset_with(phase.phase_chart(table), "phase")
    assert drawn["phase"].tolist() == [PHASES[0], PHASES[1], PHASES[2], PHASES[2]]


def test_loss_chart_has_the_curve_and_the_heldout_loss(flat):
    chart = loss.loss_chart(flat.loss_steps, flat.loss_history, flat.heldout)
    curve = dataset_with(chart, "step", "loss")
    np.testing.assert_allclose(curve["loss"], flat.loss_history[0], rtol=1e-6)
    assert dataset_with(chart, "heldout")["heldout"].tolist() == pytest.approx(flat.heldout.tolist())


def test_importance_preview_is_r_to_the_i():
    table = dataset_with(geometry.importance_bars(0.7 ** np.arange(6)), "importance")
    np.testing.assert_allclose(table["importance"], 0.7 ** np.arange(6))


def unit_names(spec: dict) -> list:
    """The name of every unit view (a spec with a mark) in a Vega-Lite spec, None if unnamed."""
    names = [spec.get("name")] if "mark" in spec else []
    for field in ("layer", "hconcat", "vconcat", "concat"):
        for part in spec.get(field, []):
            names += unit_names(part)
    return names + (unit_names(spec["spec"]) if "spec" in spec else [])


def test_charts_with_a_shared_hover_declare_it_once_without_altair_warnings(flat, deep):
    """Altair warns when it merges copies of one selection declared on several parts of a chart
    (geometry.linked declares it once instead); a page shows several such charts, so each is
    built twice in one process, with every warning recorded."""
    rng = np.random.default_rng(0)
    sets = FeatureSets(6, correlated=(2,), anticorrelated=(2,))
    builders = {
        "embedding m = 2": lambda: geometry.embedding(flat.weights[0], flat.bias[0], flat.importance[0]),
        "embedding m = 3": lambda: geometry.embedding(deep.weights[0], deep.bias[0], deep.importance[0]),
        "dynamics": lambda: geometry.dynamics(flat.snapshots[:, 0], flat.snapshot_steps, flat.importance[0], 2),
        "sweep": lambda: sweep.sweep(rng.normal(size=(3, 2, 5)), np.full((3, 5), 0.1), np.ones((3, 5))),
        "correlated": lambda: structured.correlated_view(rng.normal(size=(2, 6)), sets, np.full(6, 0.1)),
        "energy levels": lambda: structured.energy_levels(
            flat.snapshots[:, 0], flat.snapshot_steps, flat.loss_steps, flat.loss_history[0], 100
        ),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        specs = {name: [build().to_dict() for _ in range(2)] for name, build in builders.items()}
    assert [str(warning.message) for warning in caught] == []
    for name, (spec, _) in specs.items():
        (hover,) = [param for param in spec["params"] if param["name"] == "hover"]
        names = unit_names(spec)
        assert hover["views"] and all(names.count(view) == 1 for view in hover["views"]), name
    assert len(specs["embedding m = 3"][0]["params"][0]["views"]) == 5  # arrows, WᵀW and three bar charts
    assert len(specs["dynamics"][0]["params"][0]["views"]) == 2  # the arrows and the norms over training
