"""The explorer app, run headless with Streamlit's AppTest: every view, every control, links.

Links set `steps` low where the point is the app, not the quality of the training.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from superpos import experiments
from superpos.config import INTEGER_FIELDS, Config
from tests.apptest import assert_clean, run_app, table_with
from views import VIEW_NAMES, controls, engine

VIEWS = VIEW_NAMES
FAST = {"steps": "60"}  # short trainings: the views then say "not converged"


def link_warnings(app) -> list:
    """The warnings about the link (icon ⚠️), not the convergence notices (engine.NOT_CONVERGED_ICON)."""
    return [warning for warning in app.warning if warning.icon == "⚠️"]


DEFAULTS = Config()


def assert_feature_table(table: pd.DataFrame, n_features: int, n_hidden: int) -> None:
    """The embedding's per-feature data: n rows, metrics in range, arrows W_i of length ||W_i|| for m <= 2."""
    assert len(table) == n_features
    assert table["feature"].tolist() == list(range(n_features))
    assert ((table["dimensionality"] >= 0) & (table["dimensionality"] <= 1 + 1e-6)).all()
    length = np.hypot(table["x"], table["y"])
    if n_hidden <= 2:
        np.testing.assert_allclose(length, table["norm"], rtol=1e-4, atol=1e-6)
    else:  # a projection can only shorten
        assert (length <= table["norm"] + 1e-5).all()


def test_defaults_run_and_draw_one_arrow_per_feature():
    app = run_app(view="Embedding")
    assert_clean(app)
    assert not app.warning
    defaults = DEFAULTS
    assert app.number_input(key="n_features").value == defaults.n_features
    assert app.select_slider(key="sparsity").value == defaults.sparsity
    assert_feature_table(table_with(app, "norm", "dimensionality", "bias"), defaults.n_features, defaults.n_hidden)
    preview = table_with(app, "importance")
    np.testing.assert_allclose(preview["importance"], defaults.importance_decay ** np.arange(defaults.n_features))


def test_every_control_retrains_and_redraws():
    app = run_app(view="Embedding", **FAST)
    changes = [
        (app.number_input(key="n_features"), 7),
        (app.number_input(key="n_hidden"), 3),
        (app.select_slider(key="sparsity"), 0.99),
        (app.slider(key="importance_decay"), 0.8),
        (app.radio(key="model"), "neuron"),
        (app.number_input(key="batch_size"), 512),
        (app.number_input(key="steps"), 80),
        (app.number_input(key="lr"), 0.02),
        (app.number_input(key="seed"), 3),
    ]
    for widget, value in changes:
        app = widget.set_value(value).run()
        assert_clean(app)
    assert_feature_table(table_with(app, "norm", "dimensionality", "bias"), 7, 3)
    gram = table_with(app, "feature", "other", "value")
    assert len(gram) == 7 * 7  # W^T W, shown for m >= 3
    np.testing.assert_allclose(table_with(app, "importance")["importance"], 0.8 ** np.arange(7))


def test_lowering_n_below_m_clamps_m():
    app = run_app(n_features="6", n_hidden="4", **FAST)
    app = app.number_input(key="n_features").set_value(3).run()
    assert_clean(app)
    assert app.number_input(key="n_hidden").value == 3


def test_link_reproduces_every_control():
    link = {
        "n_features": "6",
        "n_hidden": "3",
        "sparsity": "0.95",
        "importance_decay": "0.9",
        "model": "linear",
        "steps": "70",
        "lr": "0.02",
        "batch_size": "512",
        "seed": "5",
        "view": "Loss",
    }
    app = run_app(**link)
    assert_clean(app)
    # The link is used as given; 70 steps is far short of the automatic schedule, and the view says so.
    assert [warning.icon for warning in app.warning] == [engine.NOT_CONVERGED_ICON]
    assert "Not converged" in app.warning[0].value
    assert app.number_input(key="n_features").value == 6
    assert app.number_input(key="n_hidden").value == 3
    assert app.select_slider(key="sparsity").value == 0.95
    assert app.slider(key="importance_decay").value == pytest.approx(0.9)
    assert app.radio(key="model").value == "linear"
    assert app.number_input(key="steps").value == 70
    assert app.number_input(key="lr").value == pytest.approx(0.02)
    assert app.number_input(key="batch_size").value == 512
    assert app.number_input(key="seed").value == 5
    assert app.session_state["view"] == "Loss"
    curve = table_with(app, "step", "loss")
    assert curve["step"].max() < 70  # trained with the link's steps


# A bound widget that cannot use its parameter keeps its default (so the URL, which drops the
# parameter, still describes the view); a fraction for a whole number is rounded.
BAD_LINKS = [
    ({"n_features": "abc"}, "n_features", DEFAULTS.n_features),
    ({"n_features": "nan"}, "n_features", DEFAULTS.n_features),
    ({"n_features": "inf"}, "n_features", DEFAULTS.n_features),
    ({"n_features": "-3"}, "n_features", DEFAULTS.n_features),
    ({"n_features": ""}, "n_features", DEFAULTS.n_features),
    ({"n_features": "2.5"}, "n_features", 2),
    ({"n_hidden": "40", "n_features": "6"}, "n_hidden", DEFAULTS.n_hidden),  # n < m
    ({"n_hidden": "1e400"}, "n_hidden", DEFAULTS.n_hidden),
    ({"sparsity": "1"}, "sparsity", DEFAULTS.sparsity),
    ({"sparsity": "-0.5"}, "sparsity", DEFAULTS.sparsity),
    ({"sparsity": "0.9512"}, "sparsity", DEFAULTS.sparsity),
    ({"importance_decay": "7"}, "importance_decay", DEFAULTS.importance_decay),
    ({"model": "<script>alert(1)</script>"}, "model", DEFAULTS.model),
    ({"lr": "0"}, "lr", DEFAULTS.lr),
    ({"seed": "9" * 5000}, "seed", DEFAULTS.seed),
    ({"batch_size": "**8**"}, "batch_size", DEFAULTS.batch_size),
]


@pytest.mark.parametrize(("link", "name", "expected"), BAD_LINKS, ids=[str(link) for link, _, _ in BAD_LINKS])
def test_a_bad_link_gives_one_warning_and_a_safe_value(link, name, expected):
    app = run_app(**{**FAST, **link})
    assert_clean(app)
    assert len(link_warnings(app)) == 1
    message = link_warnings(app)[0].value
    assert f"`{name}`" in message
    assert "<" not in message and "**8" not in message  # nothing user-supplied is rendered as markup
    widgets = {"sparsity": app.select_slider, "importance_decay": app.slider, "model": app.radio}
    value = widgets.get(name, app.number_input)(key=name).value
    assert value == pytest.approx(expected)  # empty (None) is automatic
    # The warning names the value the control really ended on.
    used = re.search(rf"`{name}` = `[^`]*` [^\n]*: using `([^`]+)`", message).group(1)
    assert used == controls.formatted(int(value) if name in INTEGER_FIELDS and value is not None else value)


def test_a_parameter_the_widget_drops_is_named_with_the_default_it_used():
    """Streamlit's bound widget decides; the app compares the link with what the widgets ended on."""
    link = {"batch_size": "**8**", "n_features": "0x10", "model": "RELU"}
    app = run_app(**FAST, **link)
    assert_clean(app)
    assert not set(link) & set(app.query_params)  # each widget dropped its parameter from the URL
    message = link_warnings(app)[0].value
    assert "`batch_size` = `??8??`" in message and "using `automatic`" in message
    assert f"`n_features` = `0x10` is not a finite number: using `{DEFAULTS.n_features}`" in message
    assert f"`model` = `RELU` is not one of linear, relu, neuron, abs: using `{DEFAULTS.model}`" in message


@pytest.mark.parametrize("text", ["2.7", "2.5"])
def test_a_fraction_for_a_whole_number_means_its_whole_part_in_the_sidebar_and_in_a_view(text):
    app = run_app(**FAST, n_features=text, view="Sparse autoencoder", sae_seeds=text, sparsity="0.975")
    assert_clean(app)
    whole = controls.whole_part(float(text))
    assert app.number_input(key="n_features").value == whole  # the field shows what the model uses
    assert app.slider(key="sae_seeds").value == whole
    # The URL holds the value used, so a copied link reproduces the view.
    assert app.query_params["n_features"] == app.query_params["sae_seeds"] == str(whole)
    sidebar_warning, view_warning = link_warnings(app)
    assert f"`n_features` = `{text}` is not a whole number: using `{whole}`" in sidebar_warning.value
    assert f"`sae_seeds` = `{text}` is not a whole number: using {whole}" in view_warning.value
    assert len(table_with(app, "x", "y", "what").query("what == 'true feature f_i'")) == whole


@pytest.mark.parametrize("text", ["inf", "-Infinity", "1e400"])
def test_an_infinity_for_a_whole_number_leaves_the_url_and_is_named_once(text):
    app = run_app(**FAST, n_features=text, seed="3.5")
    assert_clean(app)
    assert app.number_input(key="n_features").value == DEFAULTS.n_features
    assert "n_features" not in app.query_params and app.query_params["seed"] == "3"
    (warning,) = link_warnings(app)
    assert f"`n_features` = `{text}` is not a finite number: using `{DEFAULTS.n_features}`" in warning.value
    assert "`seed` = `3.5` is not a whole number: using `3`" in warning.value


def test_unknown_parameters_and_views_are_harmless():
    app = run_app(utm_source="x" * 10_000, view="<b>Nope</b>", **FAST)
    assert_clean(app)
    assert len(link_warnings(app)) == 1 and f"showing {VIEWS[0]}" in link_warnings(app)[0].value
    assert app.session_state["view"] == VIEWS[0]


def test_a_link_over_the_work_limit_falls_back_to_the_automatic_schedule():
    # The phase diagram does not train the sidebar's model, which at the limit takes seconds.
    link = {"n_features": "1000", "n_hidden": "200", "batch_size": "8192", "steps": "5000"}
    app = run_app(view="Phase diagram", **link)
    assert_clean(app)
    values = {name: getattr(DEFAULTS, name) for name in controls.CONTROL_FIELDS}
    cap = controls.max_steps(values | {"n_features": 1000, "n_hidden": 200, "batch_size": 8192})
    assert cap < 5000
    assert app.number_input(key="steps").value is None  # automatic
    assert "`steps`" in link_warnings(app)[0].value and f"at most {cap}" in link_warnings(app)[0].value


def test_the_steps_limit_in_a_link_counts_the_hidden_dimensions():
    # One step more than the wide model's limit: within the narrow one's, over the wide one's.
    values = {name: getattr(DEFAULTS, name) for name in controls.CONTROL_FIELDS}
    cap = controls.max_steps(values | {"n_features": 1000, "n_hidden": 200, "batch_size": 8192})
    assert controls.max_steps(values | {"n_features": 1000, "n_hidden": 2, "batch_size": 8192}) > cap + 1
    link = {"n_features": "1000", "batch_size": "8192", "steps": str(cap + 1), "view": "Phase diagram"}
    narrow = run_app(n_hidden="2", **link)
    assert_clean(narrow)
    assert narrow.number_input(key="steps").value == cap + 1 and not link_warnings(narrow)
    wide = run_app(n_hidden="200", **link)
    assert_clean(wide)
    assert wide.number_input(key="steps").value is None
    assert f"at most {cap}" in link_warnings(wide)[0].value
    assert f"at most {cap:,} steps" in " ".join(caption.value for caption in wide.sidebar.caption)


def test_a_diverged_training_shows_an_error_and_the_app_stays_usable(monkeypatch):
    from superpos.train import TrainingDiverged

    def diverge(config, progress=None, max_seconds=None):
        raise TrainingDiverged(7)

    monkeypatch.setattr(engine, "train", diverge)
    app = run_app(view="Embedding", seed="424242", **FAST)  # a seed no other test trained, so no cached result
    assert not app.exception
    assert len(app.error) == 1 and "diverged" in app.error[0].value
    monkeypatch.undo()
    app = app.number_input(key="seed").set_value(424243).run()
    assert_clean(app)


@pytest.mark.parametrize("view", VIEWS)
def test_each_view_opens_and_draws(view):
    app = run_app(view=view, **FAST)
    assert_clean(app)
    assert app.session_state["view"] == view
    assert len(app.get("vega_lite_chart")) >= 2  # the view's charts and the importance preview
    n = DEFAULTS.n_features
    if view == "Embedding":
        assert_feature_table(table_with(app, "norm", "bias"), n, DEFAULTS.n_hidden)
    if view == "Training dynamics":
        frames = table_with(app, "frame", "step", "norm")
        assert len(frames) == frames["frame"].nunique() * n
    if view == "Sparsity sweep":
        sweep = table_with(app, "inverse_density", "dimensionality")
        assert len(sweep) == len(experiments.INTRO_SPARSITIES) * n
        np.testing.assert_allclose(sweep["inverse_density"], 1 / (1 - sweep["sparsity"]))
    if view == "Phase diagram":
        cells = table_with(app, "density", "relative_importance", "phase")
        assert len(cells) == experiments.PHASE_DENSITIES.size * experiments.PHASE_IMPORTANCES.size
        assert cells["phase"].nunique() == 3
    if view == "Loss":
        assert len(table_with(app, "step", "loss")) > 10
        assert len(app.metric) == 3


def test_play_steps_through_the_snapshots():
    app = run_app(view="Training dynamics", **FAST)
    slider = next(slider for slider in app.select_slider if slider.key.startswith("snapshot_of_"))
    steps = [int(option) for option in slider.options]
    key = slider.key
    assert slider.value == steps[-1]
    app = app.toggle(key="dynamics_playing").set_value(True).run()
    assert_clean(app)
    assert app.select_slider(key=key).value == steps[0]  # from the last snapshot round to the first


def test_sparsity_control_reaches_the_sparse_end_in_a_few_steps():
    options = controls.SPARSITY_OPTIONS
    assert {0.0, 0.9, 0.99, 0.999, Config().sparsity} <= set(options)
    assert options.index(0.999) - options.index(0.9) <= 25
    assert all(math.isclose(s, round(s, 6)) for s in options)


def test_a_short_training_says_it_has_not_converged_and_one_click_fixes_it():
    app = run_app(view="Embedding", n_features="20", n_hidden="5", steps="60")
    assert_clean(app)
    notices = [warning for warning in app.warning if warning.icon == engine.NOT_CONVERGED_ICON]
    assert len(notices) == 1 and "Not converged" in notices[0].value
    button = app.button(key="longer_this_model")
    assert "automatic schedule" in button.label
    app = button.click().run()
    assert_clean(app)
    assert app.number_input(key="steps").value is None  # back to automatic
    assert not [warning for warning in app.warning if warning.icon == engine.NOT_CONVERGED_ICON]


def test_the_default_model_is_converged_and_says_nothing():
    app = run_app(view="Embedding")
    assert_clean(app)
    assert not app.warning
