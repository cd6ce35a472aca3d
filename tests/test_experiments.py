"""The phase diagram on a real training, the intro sweep's range, and the exports' round trips."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from superpos import Config, experiments, export, train
from superpos.experiments import DEDICATED, NOT_REPRESENTED, SUPERPOSITION


@pytest.fixture(scope="module")
def relu_phases() -> pd.DataFrame:
    """The app's phase diagram: ReLU output model, the default grid and recipe."""
    config = Config()
    return experiments.phase_diagram("relu", config.lr, config.seed)


def cell(table: pd.DataFrame, density: float, importance: float) -> str:
    """The phase at the grid point nearest to (density, relative importance), on log scales."""
    distance = np.log(table["density"] / density) ** 2 + np.log(table["relative_importance"] / importance) ** 2
    return table.loc[distance.idxmin(), "phase"]


def test_classification_of_the_three_natural_solutions():
    weights = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, -1.0]], [[0.9, 0.2]], [[-0.05, 0.98]]])
    phases = experiments.classify_phases(weights)
    assert phases.tolist() == [NOT_REPRESENTED, DEDICATED, SUPERPOSITION, NOT_REPRESENTED, DEDICATED]


def test_phase_diagram_has_all_three_regions_in_the_expected_corners(relu_phases):
    assert len(relu_phases) == experiments.PHASE_DENSITIES.size * experiments.PHASE_IMPORTANCES.size
    # Dense features: no superposition; the more important feature takes the one dimension.
    assert cell(relu_phases, density=1.0, importance=0.1) == NOT_REPRESENTED
    assert cell(relu_phases, density=1.0, importance=10.0) == DEDICATED
    # Sparse features of similar importance share the dimension as an antipodal pair.
    sparse_similar = relu_phases[(relu_phases["density"] <= 0.05) & relu_phases["relative_importance"].between(0.5, 2)]
    assert (sparse_similar["phase"] == SUPERPOSITION).mean() >= 0.8
    antipodal = relu_phases[relu_phases["phase"] == SUPERPOSITION]
    assert (np.sign(antipodal["w1"]) != np.sign(antipodal["w2"])).all()
    # Superposition needs sparsity: none in the densest column.
    assert (relu_phases[relu_phases["density"] == 1.0]["phase"] != SUPERPOSITION).all()


def test_linear_model_never_superposes():
    config = Config()
    table = experiments.phase_diagram("linear", config.lr, config.seed, steps=150, restarts=4)
    assert (table["phase"] != SUPERPOSITION).all()


def test_intro_sweep_runs_from_dense_to_p_of_one_twentieth():
    probability = 1.0 - experiments.INTRO_SPARSITIES
    assert len(probability) == 10
    np.testing.assert_allclose(probability[[0, -1]], [1.0, 0.05])
    np.testing.assert_allclose(np.diff(np.log(probability)), -np.log(20) / 9)


@pytest.fixture(scope="module")
def model():
    config = Config(n_features=6, n_hidden=3, steps=80, restarts=1)
    return config, train(config)


def test_npz_round_trip(model):
    config, result = model
    saved = np.load(io.BytesIO(export.model_npz(config, result)))
    np.testing.assert_array_equal(saved["W"], result.weights[0])
    np.testing.assert_array_equal(saved["b"], result.bias[0])
    np.testing.assert_array_equal(saved["snapshots"], result.snapshots[:, 0])
    assert float(saved["loss"]) == pytest.approx(float(result.heldout[0]))
    assert Config(**json.loads(str(saved["config"]))) == config


def test_json_round_trip(model):
    config, result = model
    saved = json.loads(export.model_json(config, result))
    np.testing.assert_allclose(saved["W"], result.weights[0], rtol=1e-7)
    np.testing.assert_allclose(saved["b"], result.bias[0], rtol=1e-7)
    assert np.shape(saved["W"]) == (3, 6)
    assert Config(**saved["config"]) == config


def test_csv_round_trip():
    table = pd.DataFrame({"feature": [0, 1, 2], "norm": [1.0, 0.5, 1e-9], "phase": ["a", "b, c", 'd "e"']})
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(export.csv(table))), table)
