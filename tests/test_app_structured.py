"""The views of features that are not alike in AppTest: defaults, every preset, extremes, bad links,
and D_i over training in the Training dynamics view."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow
import pytest
from streamlit.testing.v1 import AppTest

from superpos import structured
from tests.apptest import assert_clean
from views import VIEW_NAMES

ROOT = Path(__file__).resolve().parents[1]
SHORT = {"steps": "60", "restarts": "1"}


def run_app(view: str, **query) -> AppTest:
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update({"view": view, **query})
    return app.run()


def chart_specs(app: AppTest) -> list[tuple[dict, list]]:
    """(spec, [dataset tables]) of every chart."""
    charts = []
    for chart in app.get("vega_lite_chart"):
        tables = [pyarrow.ipc.open_stream(data.data.data).read_pandas() for data in chart.proto.datasets]
        charts.append((json.loads(chart.proto.spec), tables))
    return charts


def markdown_text(app: AppTest) -> str:
    return "\n".join(element.value for element in app.markdown)


def test_the_new_views_are_tabs():
    assert {"Correlated features", "Collapse sweep", "One feature differs"} <= set(VIEW_NAMES)


@pytest.mark.parametrize("preset", list(structured.PRESETS))
def test_every_preset_states_the_papers_finding_and_whether_training_agrees(preset):
    app = run_app("Correlated features", structure_preset=preset)
    assert_clean(app)
    text = markdown_text(app)
    assert structured.PRESETS[preset].finding in text
    assert "✓" in text or "✗" in text
    features = structured.PRESETS[preset].n_features
    tables = [table for _, tables in chart_specs(app) for table in tables]
    assert any("set" in table and len(table) == features for table in tables)


def test_correlated_view_at_the_default_marks_each_set():
    app = run_app("Correlated features")
    assert_clean(app)
    assert "correlated [0, 1]: orthogonal ✓" in markdown_text(app)
    assert any("D_i during training" in json.dumps(spec) for spec, _ in chart_specs(app)), "D_i over training"


def test_collapse_sweep_counts_three_pairs_per_density():
    app = run_app("Collapse sweep", **SHORT)
    assert_clean(app)
    counts = next(t for _, tables in chart_specs(app) for t in tables if "state" in t)
    assert set(counts["density"]) == set(structured.COLLAPSE_DENSITIES)
    assert (counts.groupby("density")["pairs"].sum() == structured.COLLAPSE_PAIRS).all()
    assert len(app.table) == 1  # the paper's table beside it


@pytest.mark.parametrize(("ratio", "importance"), [("1.0", "1.0"), ("0.1", "0.25"), ("10.0", "4.0")])
def test_one_feature_differs_at_defaults_and_extremes(ratio, importance):
    app = run_app("One feature differs", differs_ratio=ratio, differs_importance=importance, **SHORT)
    assert_clean(app)
    assert app.select_slider(key="differs_ratio").value == float(ratio)
    runs = max((t for _, tables in chart_specs(app) for t in tables if "geometry" in t and "run" in t), key=len)
    assert len(runs) == len(structured.DIFFERS_RATIOS) * structured.DIFFERS_RESTARTS
    assert "the best of" in "".join(caption.value for caption in app.caption)


def test_a_bad_link_to_one_feature_differs_is_named():
    app = run_app("One feature differs", differs_ratio="3", **SHORT)
    assert not app.exception
    assert len(app.warning) == 1 and "`differs_ratio` = `3`" in app.warning[0].value


def test_training_dynamics_shows_each_features_dimensionality_over_training():
    app = run_app("Training dynamics", n_features="5", sparsity="0.95")
    assert_clean(app)
    levels = [tables for spec, tables in chart_specs(app) if "D_i during training" in json.dumps(spec)]
    assert levels, "the energy-level chart is drawn"
    table = next(t for t in levels[0] if "dimensionality" in t)
    assert sorted(table["feature"].unique()) == list(range(5))
    assert table["dimensionality"].between(0, 1.01).all()


@pytest.mark.parametrize("view", ["Correlated features", "Collapse sweep", "One feature differs"])
def test_the_abs_model_gets_a_note_not_an_error(view):
    app = run_app(view, model="abs", **SHORT)
    assert_clean(app)
    assert any("Computation (|x|)" in info.value for info in app.info)
