"""The project's fidelity record: one test per step of the tour (superpos.tour), each asserting the
paper's claim on the model trained with the step's exact settings, with a margin. A change that
breaks a result of the paper fails here by name.

Each test runs the step's own check (what the app shows) and asserts the underlying quantity
directly where that says more. tests/test_app_tour.py checks that each step's link opens its view
with these settings.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from superpos import computation, experiments, metrics, structured, tour

STEPS = {step.title: step for step in tour.STEPS}


@pytest.fixture(scope="module")
def engine():
    """One engine for the module: a step's models train once."""
    return tour.Engine()


def checked(engine, title: str) -> tour.Step:
    """The step, after asserting its live check passes (the sentence says what it saw)."""
    step = STEPS[title]
    verdict = step.check(engine)
    assert verdict.passed, verdict.sentence
    return step


def test_features_appear_as_sparsity_grows(engine):
    step = checked(engine, "Features appear as sparsity grows")
    counts = metrics.represented(engine.sweep(step.config, experiments.INTRO_SPARSITIES).weights).sum(axis=-1)
    assert counts[0] == step.config.n_hidden  # dense: only m
    assert counts[-1] == step.config.n_features  # p = 0.05: all
    assert np.all(np.diff(counts) >= 0)


def test_dense_features_are_pca_like_and_sparse_ones_in_superposition(engine):
    step = checked(engine, "Dense: PCA-like. Sparse: superposition")
    weights = engine.sweep(step.config, experiments.INTRO_SPARSITIES).weights
    m = step.config.n_hidden
    norms = metrics.feature_norms(weights[0])
    assert np.all(np.abs(norms[:m] - 1) < 0.1) and np.all(norms[m:] < 0.1)  # the m most important, unit length
    gram = weights[0][:, :m].T @ weights[0][:, :m]
    np.testing.assert_allclose(gram, np.eye(m), atol=0.1)  # orthogonal
    assert metrics.represented(weights[-1]).sum() > m


def test_five_sparse_features_form_a_regular_pentagon(engine):
    step = checked(engine, "The pentagon")
    weights = engine.trained(step.config).weights[0]
    np.testing.assert_allclose(metrics.dimensionality(weights), 2 / 5, atol=0.02)
    np.testing.assert_allclose(tour.neighbour_angles(weights), 72, atol=3)


def test_feature_dimensionality_sticks_at_the_fractions_of_regular_shapes(engine):
    step = checked(engine, "Feature dimensionality sticks at fractions")
    weights = engine.sweep(step.config, experiments.INTRO_SPARSITIES).weights
    dimensionality = metrics.dimensionality(weights)[metrics.represented(weights)]
    distance = np.abs(dimensionality[:, None] - tour.STICKY).min(axis=1)
    assert np.mean(distance < tour.STICKY_TOLERANCE) >= 0.75
    per_feature = metrics.dimensions_per_feature(weights)
    assert per_feature[-1] < per_feature[0] / 2  # sparser: fewer dimensions per feature


def test_two_features_in_one_dimension_change_phase(engine):
    step = checked(engine, "Superposition is a phase change")
    table = engine.phase_diagram(step.config.model, step.config.lr, step.config.seed)
    assert set(table["phase"]) == set(experiments.PHASES)  # all three solutions appear
    sparsest = table[table["density"] == table["density"].min()]
    assert (sparsest["phase"] == experiments.SUPERPOSITION).all()
    densest = table[table["density"] == 1.0]
    assert not (densest["phase"] == experiments.SUPERPOSITION).any()


def test_sparse_features_make_neurons_polysemantic(engine):
    step = checked(engine, "Polysemantic neurons")
    summary = tour.neuron_summary(engine, step)
    sparsest = summary.iloc[-1]
    assert sparsest["features_stored"] > step.config.n_hidden
    assert (
        sparsest["polysemantic_fraction"]
        > summary[summary["sparsity"].between(0.1, 0.5)]["polysemantic_fraction"].min()
    )


def test_rotating_the_hidden_space_changes_only_the_model_with_a_privileged_basis(engine):
    step = checked(engine, "A privileged basis: rotation")
    losses, _ = tour.rotation(engine, step)
    change = dict(zip(losses["model"], losses["relative_change"], strict=True))
    assert abs(change["relu"]) < 1e-4
    assert change["neuron"] > 0.05


def test_random_directions_are_almost_orthogonal(engine):
    step = checked(engine, "Almost orthogonal directions")
    stats = tour.cosines_of(step)
    assert stats.var == pytest.approx(1 / step.params["jl_dim"], rel=0.1)
    assert stats.max_abs < 0.6  # ten times as many directions as dimensions, none close to parallel


def test_correlated_features_are_orthogonal_and_the_pairs_antipodal(engine):
    step = checked(engine, "Correlated features stay orthogonal")
    config, result = tour.preset_model(engine, step)
    cosines = structured.cosines(result.weights[0])
    assert abs(cosines[0, 1]) < 0.2 and abs(cosines[2, 3]) < 0.2
    assert np.all(tour.across_sets(result.weights[0], config.sets).min(axis=1) < -0.9)


def test_anticorrelated_features_are_antipodal(engine):
    step = checked(engine, "Anticorrelated features share a direction")
    config, result = tour.preset_model(engine, step)
    cosines = structured.cosines(result.weights[0])
    assert cosines[0, 1] < -0.9 and cosines[2, 3] < -0.9
    assert np.abs(tour.across_sets(result.weights[0], config.sets)).max() < 0.2


def test_correlated_pairs_collapse_as_they_get_denser(engine):
    step = checked(engine, "Correlated pairs collapse")
    _, table = engine.collapse_sweep(step.config)
    collapsed = table[table["state"] == structured.COLLAPSED].set_index("density")["pairs"]
    assert collapsed[collapsed.index <= 0.05].sum() == 0
    assert (collapsed[collapsed.index >= 0.5] == structured.COLLAPSE_PAIRS).all()


def test_one_sparser_feature_switches_the_pentagon_to_two_digons(engine):
    step = checked(engine, "One feature made different")
    best = tour.best_geometries(engine, step)
    assert best[1.0] == structured.ALL_REPRESENTED
    assert best.iloc[0] == structured.DIGONS
    switch = best.index[best == structured.ALL_REPRESENTED].min()
    assert 0.1 < switch < 1  # feature 0 sparser than the others, not equal


def test_feature_dimensionalities_settle_on_sticky_fractions_during_training(engine):
    step = checked(engine, "Learning dynamics: energy levels")
    result = engine.trained(step.config)
    dimensionality = metrics.dimensionality(result.snapshots[:, 0])
    np.testing.assert_allclose(dimensionality[-1], 1 / 2, atol=0.03)  # 6 features in 3 dimensions: 3 antipodal pairs
    assert np.abs(dimensionality[0] - 1 / 2).max() > 0.15  # they started elsewhere
    assert result.loss_history[0, -1] < result.loss_history[0, 0] / 3


def test_computing_the_absolute_value_takes_two_neurons_per_dense_feature(engine):
    step = checked(engine, "Computing |x| takes two neurons per feature")
    result = tour.computation_model(engine, step)
    pairs = computation.feature_pairs(result.weights[0], result.output_weights[0])
    assert pairs["has_pair"].all()
    assert len(set(pairs["relu_plus"]) | set(pairs["relu_minus"])) == 2 * len(pairs)  # six different neurons


def test_sparse_autoencoders_recover_the_features_and_shrink(engine):
    step = checked(engine, "Sparse autoencoders recover the features")
    _, scores = tour.sae_scores(engine, step)
    assert scores.mmcs_features.max() > 0.99
    assert np.median(scores.mmcs_features) > 0.85
    assert np.all(scores.shrinkage.mean(axis=1) < 1)


def test_every_step_has_its_test():
    """A step added to the tour without a test here fails: the record stays complete."""
    tested = re.findall(r'checked\(engine, "([^"]+)"\)', Path(__file__).read_text())
    assert sorted(tested) == sorted(STEPS)


def test_every_step_draws_a_chart(engine):
    for step in tour.STEPS:
        assert step.chart(engine).to_dict()["$schema"], step.title
