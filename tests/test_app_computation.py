"""The "Computation (|x|)" view in AppTest: its three settings, the density control, a bad link.

Trainings are cut short (steps in the config) where the point is the view, not the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow
import pytest
from streamlit.testing.v1 import AppTest

from superpos import computation
from superpos.charts.computation import PANELS
from tests.apptest import assert_clean
from views import VIEW_NAMES
from views.computation import PAPER, SIDEBAR, SMALL

ROOT = Path(__file__).resolve().parents[1]
VIEW = "Computation (|x|)"
VIEW_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from superpos.config import Config
import views.computation
views.computation.render(Config(**{config!r}))
"""
SHORT = {"steps": 30, "restarts": 1, "batch_size": 64}


def run_view(config: dict, query_params: dict | None = None) -> AppTest:
    app = AppTest.from_string(VIEW_SCRIPT.format(root=str(ROOT), config=config), default_timeout=120)
    app.query_params.update(query_params or {})
    return app.run()


def chart_tables(app: AppTest) -> list[tuple[dict, object]]:
    """(spec, data) of every chart: the data of its first dataset, decoded from Arrow."""
    charts = []
    for chart in app.get("vega_lite_chart"):
        data = pyarrow.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()
        charts.append((json.loads(chart.proto.spec), data))
    return charts


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_the_view_is_a_tab_of_the_app():
    assert VIEW in VIEW_NAMES
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update({"view": VIEW, "steps": "30"})
    app.run()
    assert_clean(app)
    assert app.tabs[VIEW_NAMES.index(VIEW)].label == VIEW


def test_sidebar_setting_draws_w1_and_w2_per_neuron():
    app = run_view({"n_features": 4, "n_hidden": 3, "sparsity": 0.5, **SHORT})
    assert_clean(app)
    assert app.get("segmented_control")[0].value == SIDEBAR
    spec, weights = chart_tables(app)[0]
    assert {"neuron", "feature", "reads", "writes", "label"} <= set(weights.columns)
    assert set(weights["neuron"]) <= set(range(3)) and set(weights["feature"]) <= set(range(4))
    assert weights["reads"].abs().max() == pytest.approx(1.0)  # normalised: the largest |W1| is 1
    titles = [spec["title"] for spec, _ in chart_tables(app)[:2]]  # W1 and W2 side by side
    assert titles == [title for title, _ in PANELS.values()]
    shown = metrics(app)
    counts = [int(shown[f"{label} neurons"].split(" of ")[0]) for label in ("monosemantic", "polysemantic", "dead")]
    assert sum(counts) == 3
    assert shown["ReLU(x)/ReLU(−x) pairs"].endswith("of 4")


def test_the_papers_dense_setting_is_one_click_away():
    app = run_view({"n_features": 5, "n_hidden": 2})
    app.get("segmented_control")[0].set_value(SMALL).run()
    assert_clean(app)
    _, weights = chart_tables(app)[0]
    assert set(weights["neuron"]) <= set(range(computation.SMALL_HIDDEN))
    assert metrics(app)["ReLU(x)/ReLU(−x) pairs"].endswith(f"of {computation.SMALL_FEATURES}")


def test_the_papers_density_sweep_and_its_density_control():
    app = run_view(SHORT, {"computation_setting": PAPER})
    assert_clean(app)
    tables = [data for _, data in chart_tables(app)]
    summary = next(table for table in tables if {"density", "label", "neurons"} <= set(table.columns))
    assert sorted(set(summary["density"].astype(float))) == sorted(computation.PAPER_DENSITIES)
    assert (summary.groupby("density")["neurons"].sum() == computation.PAPER_HIDDEN).all()
    slider = app.select_slider(key="computation_density")
    assert slider.value == computation.PAPER_DENSITIES[-1]
    slider.set_value(1.0).run()
    assert_clean(app)
    _, weights = chart_tables(app)[2]
    assert set(weights["feature"]) <= set(range(computation.PAPER_FEATURES))


def test_a_bad_density_in_the_link_is_named():
    app = run_view(SHORT, {"computation_setting": PAPER, "computation_density": "0.5"})
    assert not app.exception
    link_warnings = [warning.value for warning in app.warning if "computation_density" in warning.value]
    assert len(link_warnings) == 1 and "`computation_density` = `0.5`" in link_warnings[0]
    assert app.select_slider(key="computation_density").value == computation.PAPER_DENSITIES[-1]


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_every_view_copes_with_the_abs_model_in_the_sidebar(view):
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update({"view": view, "model": "abs", "steps": "30", "restarts": "1"})
    app.run()
    assert_clean(app)


def test_a_short_training_says_it_has_not_converged_in_both_settings():
    """The paper's batch and the sidebar's model, cut to 30 steps: each says so, and offers a
    longer training (four times the steps: the batch of 64 is the user's too)."""
    for setting, key in ((PAPER, "these_models"), (SIDEBAR, "this_model")):
        app = run_view(SHORT | {"n_features": 20, "n_hidden": 5, "model": "abs"}, {"computation_setting": setting})
        assert not app.exception
        notices = [warning.value for warning in app.warning if "Not converged" in warning.value]
        assert len(notices) == 1, (setting, notices)
        assert app.button(key=f"longer_{key}").label == "Train longer: 120 steps"
