"""Features that are not alike: sets, per-feature overrides, their samplers and the paper's findings."""

import json

import numpy as np
import pytest
import torch

import superpos
from superpos import cli, metrics, structured
from superpos.charts import structured as structured_charts
from superpos.config import Config, ConfigError
from superpos.data import FeatureSets, NonzeroSampler, sample_features, zero_input_probability

# (n, correlated sizes, anticorrelated sizes): every kind alone, mixed, and sets of unequal size.
STRUCTURES = [
    (4, (2, 2), ()),
    (4, (), (2, 2)),
    (7, (2,), (3,)),
    (9, (3, 2), (2,)),
    (5, (), ()),
]


def group_probability_rows(sets: FeatureSets) -> np.ndarray:
    """Two instances of distinct group probabilities, one dense and one sparse."""
    groups = len(sets.groups())
    return np.stack([np.linspace(0.2, 0.7, groups), np.linspace(0.01, 0.1, groups)])


def plain_reference(sets: FeatureSets, group_probability: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """The paper's sampling written out per group with numpy, independently of superpos.data."""
    rng = np.random.default_rng(seed)
    x = np.zeros((sets.n_features, samples))
    for (kind, members), q in zip(sets.groups(), group_probability, strict=True):
        active = rng.random(samples) < q
        members = np.array(members)
        if kind == "anticorrelated":
            chosen = members[rng.integers(len(members), size=samples)]
            x[chosen, np.arange(samples)] = active * rng.random(samples)
        else:
            x[members] = active * rng.random((len(members), samples))
    return x


def statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(x_i != 0) and P(x_i != 0 and x_j != 0) over a sample (n, batch)."""
    active = (x > 0).astype(np.float64)
    return active.mean(axis=1), active @ active.T / x.shape[1]


@pytest.mark.parametrize(("n_features", "correlated", "anticorrelated"), STRUCTURES)
def test_samplers_match_the_papers_sampling(n_features, correlated, anticorrelated):
    sets = FeatureSets(n_features, correlated, anticorrelated)
    groups = group_probability_rows(sets)
    probability = torch.tensor(sets.marginals(groups), dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    plain = sample_features(probability, 400_000, generator, sets).numpy()
    conditional = NonzeroSampler(probability, sets)(200_000, generator).numpy()
    exact_zero = np.prod(1.0 - groups, axis=1)
    np.testing.assert_allclose(zero_input_probability(probability, sets).numpy(), exact_zero, rtol=1e-5)
    for instance in range(2):
        reference = plain_reference(sets, groups[instance], 400_000, seed=instance)
        marginal, coactive = statistics(plain[instance])
        expected_marginal, expected_coactive = statistics(reference)
        np.testing.assert_allclose(marginal, probability[instance].numpy(), atol=0.004)
        np.testing.assert_allclose(coactive, expected_coactive, atol=0.004)
        assert abs((plain[instance].sum(axis=0) == 0).mean() - exact_zero[instance]) < 0.004
        # Given x != 0: the plain statistics divided by P(x != 0), and never an all-zero input.
        assert (conditional[instance].sum(axis=0) > 0).all()
        marginal, coactive = statistics(conditional[instance])
        np.testing.assert_allclose(marginal, expected_marginal / (1 - exact_zero[instance]), atol=0.01)
        np.testing.assert_allclose(coactive, expected_coactive / (1 - exact_zero[instance]), atol=0.01)
    for x in (plain, conditional):
        values = x[x > 0]
        assert values.max() < 1 and abs(values.mean() - 0.5) < 0.01 and abs(values.var() - 1 / 12) < 0.005
        for kind, members in sets.groups():
            active = (x[:, list(members)] > 0).sum(axis=1)
            if kind == "anticorrelated":
                assert active.max() <= 1, "an anticorrelated set never has two members active"
            elif kind == "correlated":
                assert np.isin(active, [0, len(members)]).all(), "a correlated set is all active or all zero"


def test_independent_sets_draw_exactly_as_before():
    probability = torch.tensor([[0.1, 0.5, 0.9]])
    sets = FeatureSets(3)
    for draw in (
        lambda s, g: sample_features(probability, 1000, g, s),
        lambda s, g: NonzeroSampler(probability, s)(1000, g),
    ):
        ours = draw(sets, torch.Generator().manual_seed(3))
        plain = draw(None, torch.Generator().manual_seed(3))
        assert torch.equal(ours, plain)


def test_config_marginals_and_importances():
    config = Config(
        n_features=8,
        sparsity=0.8,
        correlated_sets=[2],
        anticorrelated_sets=(4,),
        feature_sparsity={7: 0.5},
        feature_importance={0: 3.0},
        importance_decay=0.5,
    )
    assert config.correlated_sets == (2,) and config.feature_sparsity == ((7, 0.5),)
    np.testing.assert_allclose(config.probabilities(), [0.2, 0.2, 0.05, 0.05, 0.05, 0.05, 0.2, 0.5])
    np.testing.assert_allclose(config.probabilities(0.6)[:3], [0.4, 0.4, 0.1])
    np.testing.assert_allclose(config.importances(), [3.0] + [0.5**i for i in range(1, 8)])
    assert config.sets.sets() == [
        {"kind": "correlated", "features": [0, 1]},
        {"kind": "anticorrelated", "features": [2, 3, 4, 5]},
    ]
    assert config == config.replace()  # normalised values survive a copy, and hash alike
    assert hash(config) == hash(config.replace())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"correlated_sets": (3, 3)}, "correlated_sets"),
        ({"correlated_sets": (2,), "anticorrelated_sets": (2, 2)}, "anticorrelated_sets"),
        ({"anticorrelated_sets": (1,)}, "anticorrelated_sets"),
        ({"correlated_sets": "2,2"}, "correlated_sets"),
        ({"feature_sparsity": {5: 0.5}}, "feature_sparsity"),
        ({"feature_sparsity": {0: 1.0}}, "feature_sparsity"),
        ({"feature_sparsity": {0: 0.5}, "correlated_sets": (2,)}, "feature_sparsity"),
        ({"feature_sparsity": [(1, 0.2), (1, 0.3)]}, "feature_sparsity"),
        ({"feature_importance": {1: -1.0}}, "feature_importance"),
        ({"feature_importance": [1, 2]}, "feature_importance"),
    ],
)
def test_config_rejects_bad_structure_naming_the_field(changes, field):
    with pytest.raises(ConfigError) as caught:
        Config(n_features=5, **changes)
    assert caught.value.field == field


def unit_cosines(weights: np.ndarray) -> np.ndarray:
    unit = weights / np.linalg.norm(weights, axis=0)
    return unit.T @ unit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlated_pairs_are_orthogonal_within_and_antipodal_across(seed):
    config = Config(n_features=4, n_hidden=2, sparsity=0.99, correlated_sets=(2, 2), seed=seed)
    result = superpos.train(config)
    cosines = unit_cosines(result.weights[0])
    assert np.all(metrics.feature_norms(result.weights[0]) > 0.9)
    np.testing.assert_allclose([cosines[0, 1], cosines[2, 3]], 0.0, atol=0.1)
    # Each member of one pair sits opposite a member of the other pair.
    np.testing.assert_allclose(cosines[:2, 2:].min(axis=1), -1.0, atol=0.05)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_anticorrelated_pairs_are_antipodal(seed):
    config = Config(n_features=4, n_hidden=2, sparsity=0.8, anticorrelated_sets=(2, 2), seed=seed)
    result = superpos.train(config)
    cosines = unit_cosines(result.weights[0])
    np.testing.assert_allclose([cosines[0, 1], cosines[2, 3]], -1.0, atol=0.05)
    np.testing.assert_allclose(cosines[:2, 2:], 0.0, atol=0.1)


def test_structured_training_is_scored_on_its_own_inputs():
    """The held-out loss follows the sets: anticorrelated antipodal pairs reconstruct exactly, which
    the same weights would not do on independent inputs."""
    config = Config(n_features=4, n_hidden=2, sparsity=0.8, anticorrelated_sets=(2, 2))
    result = superpos.train(config)
    assert result.sets == config.sets
    assert result.heldout[0] < 1e-4
    independent = superpos.heldout_loss("relu", result.weights, result.bias, result.probability, result.importance)
    assert independent[0] > 10 * result.heldout[0] + 1e-3


def run_cli(*arguments: str, capsys) -> tuple[int, str, str]:
    status = cli.main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_structure_flags_reach_the_json(capsys):
    flags = ["--n-features", "7", "--correlated-sets", "2", "--anticorrelated-sets", "3", "--sparsity", "0.9"]
    overrides = ["--feature-sparsity", "6=0.5", "--feature-importance", "0=2", "--feature-importance", "5=0.5"]
    status, out, err = run_cli("train", *flags, *overrides, "--steps", "50", "--json", capsys=capsys)
    assert status == 0, err
    report = json.loads(out)
    assert report["sets"] == [
        {"kind": "correlated", "features": [0, 1]},
        {"kind": "anticorrelated", "features": [2, 3, 4]},
    ]
    np.testing.assert_allclose(report["feature_probability"], [0.1, 0.1, 0.1 / 3, 0.1 / 3, 0.1 / 3, 0.1, 0.5])
    np.testing.assert_allclose(report["importance"], [2, 1, 1, 1, 1, 0.5, 1])
    config = report["config"]
    assert config["correlated_sets"] == [2] and config["anticorrelated_sets"] == [3]
    assert config["feature_sparsity"] == [[6, 0.5]] and config["feature_importance"] == [[0, 2.0], [5, 0.5]]


def test_cli_sweep_keeps_the_sets_in_every_model(capsys):
    flags = ["sweep", "--n-features", "4", "--anticorrelated-sets", "2,2", "--sparsities", "0.5,0.9", "--steps", "50"]
    status, out, err = run_cli(*flags, "--json", capsys=capsys)
    assert status == 0, err
    results = json.loads(out)["results"]
    np.testing.assert_allclose([r["feature_probability"][0] for r in results], [0.25, 0.05])
    assert all(len(r["sets"]) == 2 for r in results)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--correlated-sets", "3,3"], "--correlated-sets"),
        (["--correlated-sets", "two"], "--correlated-sets"),
        (["--anticorrelated-sets", "1"], "--anticorrelated-sets"),
        (["--correlated-sets", "2", "--anticorrelated-sets", "2,2"], "--anticorrelated-sets"),
        (["--feature-sparsity", "9=0.5"], "--feature-sparsity"),
        (["--feature-sparsity", "0=1.5"], "--feature-sparsity"),
        (["--feature-sparsity", "0=0.5", "--correlated-sets", "2"], "--feature-sparsity"),
        (["--feature-sparsity", "1=0.2", "--feature-sparsity", "1=0.3"], "--feature-sparsity"),
        (["--feature-importance", "1"], "--feature-importance"),
        (["--feature-importance", "1=-2"], "--feature-importance"),
    ],
)
def test_cli_bad_structure_exits_2_naming_the_flag(arguments, named, capsys):
    status, out, err = run_cli("train", "--n-features", "5", *arguments, "--json", capsys=capsys)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and named in err


@pytest.mark.parametrize("name", list(structured.PRESETS))
def test_every_preset_agrees_with_the_paper_for_nearly_every_seed(name):
    """Small models have local minima (the mixed preset's anticorrelated pair settles antipodal,
    34% above the best loss, for one seed in eight), which the view reports as a disagreement:
    at least 3 of 4 seeds must agree on every set."""
    preset = structured.PRESETS[name]
    agreeing = []
    for seed in range(4):
        config = preset.config(Config(seed=seed))
        checks = structured.set_checks(superpos.train(config).weights[0], config.sets, preset.expect)
        assert len(checks) == len(preset.correlated_sets) + len(preset.anticorrelated_sets)
        agreeing.append(bool(checks["agrees"].all()))
    assert sum(agreeing) >= 3, agreeing


def test_set_checks_tell_the_geometries_apart():
    sets = FeatureSets(4, (2,), (2,))
    orthogonal_then_antipodal = np.array([[1.0, 0.0, 1.0, -1.0], [0.0, 1.0, 0.0, 0.0]])
    assert structured.set_checks(orthogonal_then_antipodal, sets)["agrees"].tolist() == [True, True]
    antipodal_then_orthogonal = np.array([[1.0, -1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    assert structured.set_checks(antipodal_then_orthogonal, sets)["agrees"].tolist() == [False, False]


def test_pair_states():
    weights = np.array([[1.0, 0.95, 1.0, 0.0, 0.01, 0.0], [0.0, 0.3, 0.0, 1.0, 0.0, 0.01]])
    assert structured.pair_states(weights).tolist() == ["collapsed", "side by side", "dropped"]


def test_collapse_sweep_no_collapse_when_sparse_all_when_dense():
    result, table = structured.collapse_sweep(Config())
    counts = table.pivot(index="density", columns="state", values="pairs")
    assert (counts.sum(axis=1) == structured.COLLAPSE_PAIRS).all()
    assert counts[structured.COLLAPSED].iloc[0] == 0, counts
    assert counts[structured.COLLAPSED].iloc[-1] == structured.COLLAPSE_PAIRS, counts
    assert result.weights.shape == (len(structured.COLLAPSE_DENSITIES), 2, 6)


@pytest.mark.parametrize("seed", [0, 1])
def test_one_feature_sparser_switches_the_pentagon_to_two_digons(seed):
    table = structured.differs_sweep(Config(sparsity=0.95, seed=seed), ratios=(1.0, 0.25))
    best = table[table["best"]].set_index("ratio")["geometry"]
    assert best[1.0] == structured.ALL_REPRESENTED
    assert best[0.25] == structured.DIGONS
    assert len(table) == 2 * structured.DIFFERS_RESTARTS and table["best"].sum() == 2


def test_feature_geometry_graph_components_are_the_tegum_factors():
    """A triangular bipyramid: a triangle in the plane (x, y) and an antipodal pair on z; plus a dropped feature."""
    angles = 2 * np.pi * np.arange(3) / 3
    triangle = np.stack([np.cos(angles), np.sin(angles), np.zeros(3)])
    pair = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, -1.0]])
    weights = np.concatenate([triangle, pair, np.zeros((3, 1))], axis=1)
    nodes, edges = structured_charts.graph_table(weights)
    assert nodes["component"].tolist() == [0, 0, 0, 1, 1, -1]
    assert sorted(zip(edges["i"], edges["j"], strict=True)) == [(0, 1), (0, 2), (1, 2), (3, 4)]
    np.testing.assert_allclose(
        metrics.dimensionality(weights)[:5], [2 / 3] * 3 + [1 / 2] * 2, atol=1e-4
    )  # NORM_EPS in hat W


def test_cli_sae_refuses_sets(capsys):
    status, out, err = run_cli("sae", "--n-features", "4", "--correlated-sets", "2", capsys=capsys)
    assert status == 2 and out == "" and "--correlated-sets" in err
