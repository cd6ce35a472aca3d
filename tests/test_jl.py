"""Near-orthogonality (Johnson-Lindenstrauss) engine and view: the facts of SCIENCE.md, bounded work."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from superpos import jl, packing

REPO_ROOT = str(Path(__file__).resolve().parents[1])


# --- Formulas against known values ---------------------------------------------------------


def scikit_learn_min_dim(count: float, eps: float) -> int:
    """scikit-learn's johnson_lindenstrauss_min_dim, written out: int(4 ln N / (eps^2/2 - eps^3/3))."""
    return int(4 * math.log(count) / (eps**2 / 2 - eps**3 / 3))


@pytest.mark.parametrize(("count", "eps"), [(1e6, 0.5), (1e6, 0.1), (1e6, 0.01), (1000, 0.1), (100, 0.5)])
def test_jl_min_dim_matches_scikit_learns_formula(count, eps):
    assert jl.jl_min_dim(count, eps) == scikit_learn_min_dim(count, eps)
    assert isinstance(jl.jl_min_dim(count, eps), int)


def test_jl_min_dim_is_vectorised_and_grows_with_count():
    counts = [100, 1000, 1e6]
    dims = jl.jl_min_dim(np.array(counts), 0.5)
    np.testing.assert_array_equal(dims, [scikit_learn_min_dim(count, 0.5) for count in counts])
    assert (np.diff(dims) > 0).all()


@pytest.mark.parametrize(
    ("dim", "count", "expected"), [(2, 3, 0.5), (2, 5, 0.612), (3, 6, 0.447), (5, 10, 0.333), (20, 100, 0.201)]
)
def test_welch_bound_values(dim, count, expected):
    assert jl.welch_bound(count, dim) == pytest.approx(expected, abs=5e-4)


def test_welch_bound_is_zero_when_an_orthonormal_set_fits():
    assert jl.welch_bound(5, 5) == 0.0
    np.testing.assert_array_equal(jl.welch_bound(np.array([2, 3, 4]), 4), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("dim", [3, 5, 50, 1000])
def test_exact_cosine_density_integrates_to_one(dim):
    curve = jl.cosine_density_curve(dim, points=200_001)
    assert np.trapezoid(curve["density"], curve["cos"]) == pytest.approx(1.0, abs=1e-3)


def test_cosine_density_is_uniform_in_three_dimensions():
    np.testing.assert_allclose(jl.cosine_density([-0.9, 0.0, 0.5], 3), 0.5)


def test_cosine_tail_matches_closed_forms():
    thresholds = np.array([0.0, 0.2, 0.5, 0.9, 0.99])
    np.testing.assert_allclose(jl.cosine_tail(thresholds, 2), 2 * np.arccos(thresholds) / np.pi, atol=1e-6)
    np.testing.assert_allclose(jl.cosine_tail(thresholds, 3), 1 - thresholds, atol=1e-6)


def test_cosine_tail_respects_the_exponential_bound():
    for dim in (10, 100, 1000):
        eps = np.array([0.1, 0.2, 0.4])
        assert np.all(jl.cosine_tail(eps, dim) <= 2 * np.exp(-dim * eps**2 / 2))


@pytest.mark.parametrize(("dim", "reference"), [(100, 0.464), (1000, 0.157)])
def test_expected_max_abs_cos_matches_monte_carlo_references(dim, reference):
    assert jl.expected_max_abs_cos(1000, dim) == pytest.approx(reference, abs=0.02)


def test_equiangular_table_matches_known_maxima():
    table = packing.equiangular_table(eps=0.34)
    lines = dict(zip(table["dim"].tolist(), table["lines"].tolist(), strict=True))
    assert lines == {2: 3, 3: 6, 4: 6, 5: 10, 6: 16, **dict.fromkeys(range(7, 15), 28), 15: 36, 16: 40, 17: 48}
    assert table["fits"].tolist() == [d >= 4 for d in table["dim"]]  # |cos| 1/3 and 1/5 are <= 0.34


# --- Random unit vectors -------------------------------------------------------------------


@pytest.mark.parametrize("dim", [5, 50, 500])
def test_cosine_variance_is_one_over_dim(dim):
    stats = jl.cosine_statistics(2000, dim, seed=1)
    assert stats.exact and stats.pairs_used == 2000 * 1999 // 2
    assert stats.var == pytest.approx(1 / dim, rel=0.03)
    assert abs(stats.mean) < 0.2 / dim


def test_histogram_follows_the_exact_density():
    stats = jl.cosine_statistics(1500, 20, seed=2)
    histogram = stats.histogram()
    centres = (histogram["bin_start"] + histogram["bin_end"]) / 2
    exact = jl.cosine_density(centres, 20)
    assert np.sum(histogram["density"] * (histogram["bin_end"] - histogram["bin_start"])) == pytest.approx(1, abs=1e-3)
    assert np.max(np.abs(histogram["density"] - exact)) < 0.05 * exact.max()


def test_max_abs_cos_of_all_pairs_matches_a_direct_computation():
    stats = jl.cosine_statistics(300, 10, seed=3)
    vectors = jl.random_unit_vectors(300, 10, np.random.default_rng(3))
    assert stats.max_abs == pytest.approx(np.abs(jl.pairwise_cosines(vectors)).max())


def test_large_counts_are_sampled_within_a_fixed_memory_budget():
    stats = jl.cosine_statistics(10**6, 10_000, seed=0)
    assert not stats.exact
    assert stats.vectors_used * stats.dim <= jl.BLOCK_ENTRIES
    assert stats.var == pytest.approx(1e-4, rel=0.05)
    assert stats.max_abs == pytest.approx(jl.expected_max_abs_cos(10**6, 10_000))


def test_max_abs_cos_curves_grow_and_respect_the_welch_bound():
    curves = jl.max_abs_cos_curves((5, 50), measured_up_to=300, predicted_up_to=10**4, points=12)
    for dim in (5, 50):
        rows = (curves["dim"] == dim) & ~np.isnan(curves["measured"])
        measured = curves["measured"][rows]
        assert np.all(np.diff(measured) >= 0)
        assert np.all(measured >= curves["welch_bound"][rows])
        assert measured[-1] == pytest.approx(curves["expected"][rows][-1], abs=0.1)
    assert np.isnan(curves["measured"][curves["count"] > 300]).all()


# --- Packings ------------------------------------------------------------------------------


def assert_is_packing(vectors: np.ndarray, eps: float) -> None:
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.abs(jl.pairwise_cosines(vectors)).max(initial=0.0) <= eps + 1e-12


def test_packing_count_exceeds_dimension_at_eps_0_3_in_20_dimensions():
    greedy = packing.greedy_packing(20, 0.3, seed=0)
    optimised = packing.optimised_packing(20, 0.3, seed=0, start=greedy, work_budget=greedy.work + 1e9)
    assert greedy.count > 20
    assert optimised.count > 2 * greedy.count
    assert_is_packing(greedy.vectors, 0.3)
    assert_is_packing(optimised.vectors, 0.3)


@pytest.mark.parametrize(("dim", "eps", "best"), [(2, 0.5, 3), (3, 0.46, 6)])
def test_optimised_packing_finds_the_known_optimum_in_low_dimensions(dim, eps, best):
    found = packing.optimised_packing(dim, eps, seed=0)
    assert found.count == best and found.complete
    assert_is_packing(found.vectors, eps)


def test_greedy_packing_stops_at_its_vector_cap():
    found = packing.greedy_packing(200, 0.5, max_vectors=50)
    assert found.count == 50 and not found.complete


def test_packing_sweep_grows_faster_than_linearly():
    sweep = packing.packing_sweep((4, 8, 16, 32), 0.5, max_vectors=400, work_budget=1e8)
    assert np.all(np.diff(sweep["greedy"]) > 0)
    assert sweep["greedy"][-1] / sweep["greedy"][-2] > 3  # doubling d more than triples the count
    assert np.all(sweep["greedy"] >= np.floor(sweep["lower_bound"]))
    assert np.all(np.isnan(sweep["optimised"]) | (sweep["optimised"] >= sweep["greedy"]))


# --- Random projection and the trained model -------------------------------------------------


def test_random_projection_keeps_squared_distances_at_the_jl_dimension():
    projection = jl.random_projection(1000, 0.3, source_dim=2000, max_points=100)
    assert projection.target_dim == jl.jl_min_dim(1000, 0.3)
    assert len(projection.ratios) == 100 * 99 // 2
    assert projection.fraction_within > 0.99
    assert np.mean(projection.ratios) == pytest.approx(1.0, abs=0.01)


def pentagon_weights(extra_zero_columns: int = 0) -> np.ndarray:
    angles = 2 * np.pi * np.arange(5) / 5
    pentagon = np.stack([np.cos(angles), np.sin(angles)])
    return np.hstack([pentagon, 1e-4 * np.ones((2, extra_zero_columns))])


def test_column_cosines_of_a_pentagon_skip_dropped_features():
    cosines = np.sort(jl.column_cosines(pentagon_weights(extra_zero_columns=3)))
    expected = np.sort([math.cos(2 * np.pi / 5)] * 5 + [math.cos(4 * np.pi / 5)] * 5)
    np.testing.assert_allclose(cosines, expected, atol=1e-12)


def test_trained_pentagon_packs_better_than_random_vectors():
    comparison = jl.compare_with_random(pentagon_weights(extra_zero_columns=2))
    assert comparison.features_used == 5 and comparison.dim == 2
    assert comparison.trained_max_abs == pytest.approx(math.cos(np.pi / 5))
    assert comparison.welch_bound <= comparison.trained_max_abs < np.median(comparison.random_max_abs)


def test_compare_with_random_needs_two_features():
    assert jl.compare_with_random(np.array([[1.0, 0.0], [0.0, 0.0]])) is None


# --- The view, in isolation ----------------------------------------------------------------


def view_script(repo_root: str, with_weights: bool) -> None:
    import sys

    sys.path.insert(0, repo_root)
    import numpy as np

    from views import jl as view

    angles = 2 * np.pi * np.arange(5) / 5
    view.render(np.stack([np.cos(angles), np.sin(angles)]) if with_weights else None)


def chart_data(at: AppTest, index: int) -> list:
    proto = at.get("vega_lite_chart")[index].proto
    return [pa.ipc.open_stream(dataset.data.data).read_pandas() for dataset in proto.datasets]


def chart_title(at: AppTest, index: int) -> str:
    spec = json.loads(at.get("vega_lite_chart")[index].proto.spec)
    titles = [layer.get("title") for layer in [spec, *spec.get("hconcat", [])]]
    return " | ".join(str(title) for title in titles if title)


@pytest.fixture(scope="module")
def view_with_weights() -> AppTest:
    at = AppTest.from_function(view_script, args=(REPO_ROOT, True), default_timeout=60)
    return at.run()


def test_view_renders_five_figures_with_sensible_data(view_with_weights):
    at = view_with_weights
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 5
    assert [subheader.value[:2] for subheader in at.subheader] == ["1.", "2.", "3.", "4.", "5."]
    histogram = next(frame for frame in chart_data(at, 0) if "bin_end" in frame)
    assert np.sum(histogram["density"] * (histogram["bin_end"] - histogram["bin_start"])) == pytest.approx(1, abs=0.01)
    assert "R^20" in chart_title(at, 0)
    packing = next(frame for frame in chart_data(at, 2) if "vectors" in frame)
    greedy = packing[packing["method"] == "random greedy"]
    assert (greedy["vectors"] >= 1).all() and greedy["vectors"].is_monotonic_increasing
    projection_title = chart_title(at, 3)
    assert "R^5,000 → R^767" in projection_title
    assert float(projection_title.split("% of pairs within 1 ± 0.3")[0].split()[-1]) > 99
    maxima = max((frame for frame in chart_data(at, 4) if "what" in frame), key=len)
    trained, random_median, welch = maxima.set_index("what")["max_abs_cos"]
    assert trained == pytest.approx(math.cos(np.pi / 5)) and welch <= trained < random_median


def test_view_controls_recompute_their_figures(view_with_weights):
    at = view_with_weights
    at.slider(key="jl_eps").set_value(0.5).run()
    assert not at.exception
    assert "|cos| ≤ 0.5" in chart_title(at, 2)
    at.select_slider(key="jl_dim").set_value(100).run()
    assert "R^100" in chart_title(at, 0)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert float(metrics["variance of cos"]) == pytest.approx(0.01, rel=0.1)


def test_view_reads_its_controls_from_the_url():
    at = AppTest.from_function(view_script, args=(REPO_ROOT, False), default_timeout=60)
    at.query_params["jl_dim"] = "50"
    at.query_params["jl_count"] = "300"
    at.run()
    assert not at.exception
    assert at.select_slider(key="jl_dim").value == 50
    assert "300 random unit vectors in R^50" in chart_title(at, 0)


def test_view_without_a_trained_model_says_so():
    at = AppTest.from_function(view_script, args=(REPO_ROOT, False), default_timeout=60).run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 4
    assert "Train a model" in at.info[0].value


def test_view_controls_take_their_defaults_ranges_and_meanings_from_the_settings():
    at = AppTest.from_function(view_script, args=(REPO_ROOT, False), default_timeout=60).run()
    assert not at.exception
    dim, count, eps = at.select_slider(key="jl_dim"), at.select_slider(key="jl_count"), at.slider(key="jl_eps")
    defaults = jl.JLSettings()
    assert (dim.value, count.value, eps.value) == (defaults.dim, defaults.count, defaults.eps)
    for widget, name in ((dim, "dim"), (count, "count"), (eps, "eps")):
        spec = jl.JL_SETTINGS[name]
        assert widget.help.startswith(spec.help)
        ends = [float(option) for option in widget.options] if name != "eps" else [eps.min, eps.max]
        assert all(spec.allows(value) for value in ends), name  # every value the command line takes too
