"""Any link gives a working page: hypothesis draws query strings over the app's parameters and
some it does not know, with values that are text, numbers, NaN, infinities, huge or negative
numbers, markup and very long strings, and the app runs on each in Streamlit's AppTest.

The trainings here run at most TRAINING_STEPS steps, so that a link that happens to ask for a long
training does not blow the time budget: what is fuzzed is the handling of links, not the trainer.
The caches that hold those short trainings are cleared afterwards, so no other test sees them.
"""

from __future__ import annotations

import math
from pathlib import Path
from unittest import mock

import pytest
import streamlit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from superpos.config import INTEGER_FIELDS, LIMITS, MODEL_KINDS, Config
from tests import browser
from tests.apptest import sidebar_config
from views import controls, engine

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
JL, NEURONS, TOUR = "Near-orthogonality (JL)", "Neurons & polysemanticity", "Tour"
VIEW_SETTINGS = {  # a view's own URL parameters, and the view
    "step": TOUR,
    "jl_dim": JL,
    "jl_count": JL,
    "jl_eps": JL,
    "neurons_sparsest": NEURONS,
    "neurons_points": NEURONS,
    "neurons_rotation_seed": NEURONS,
}
UNKNOWN_KEYS = ("utm_source", "N_FEATURES", "n_features_", "sparsity[]", "<b>key</b>", "snapshot_of_400", "k" * 300)
TRAINING_STEPS = 60

NASTY_VALUES = (
    "",
    " ",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "-1e309",
    "1e308",
    "1e-320",
    "-1",
    "-0",
    "0",
    "1",
    "2.5",
    "0.9",
    "0.95",
    "0.999",
    "9" * 400,
    "0x10",
    "1_000",
    " 7 ",
    "5\x00",
    "<b>x</b>",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "**bold** _it_",
    "$x^2$",
    "[link](javascript:alert(1))",
    "x" * 5000,
    "🧲" * 50,
    "relu",
    "neuron",
    "RELU",
    " linear",
)
values = st.one_of(
    st.sampled_from(NASTY_VALUES),
    st.text(max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
keys = st.sampled_from(controls.CONTROL_FIELDS + ("view", *VIEW_SETTINGS) + UNKNOWN_KEYS)
any_links = st.dictionaries(keys, st.one_of(values, st.sampled_from(browser.VIEWS)), max_size=7)
# A view's own settings only count while that view is open, which a random link rarely asks for.
view_links = st.sampled_from((JL, NEURONS, TOUR)).flatmap(
    lambda view: st.dictionaries(
        st.sampled_from([name for name, owner in VIEW_SETTINGS.items() if owner == view]), values, min_size=1
    ).map(lambda settings: {"view": view, **settings})
)
links = st.one_of(any_links, view_links)


@pytest.fixture(scope="module", autouse=True)
def short_trainings():
    """The app's trainings capped at TRAINING_STEPS steps; the caches emptied afterwards."""
    train, train_sweep = engine.train, engine.train_sweep

    def capped(config: Config) -> Config:
        return config.replace(steps=min(config.steps or TRAINING_STEPS, TRAINING_STEPS))

    try:
        with (
            mock.patch.object(engine, "train", lambda config, *args: train(capped(config), *args)),
            mock.patch.object(engine, "train_sweep", lambda config, *args: train_sweep(capped(config), *args)),
        ):
            yield
    finally:
        streamlit.cache_data.clear()


def clearly_not_a_value(name: str, text: str) -> bool:
    """A link value no control could take, whatever the rest of the link says."""
    if name == "model":
        return text not in MODEL_KINDS
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return True


def clearly_a_value(name: str, text: str) -> bool:
    """A link value the control takes as it is (n_hidden and steps also depend on other settings)."""
    if name == "model":
        return text in MODEL_KINDS
    if name in INTEGER_FIELDS and name not in ("n_hidden", "steps"):
        low, high = LIMITS[name]
        return text.isascii() and text.isdigit() and text == str(int(text)) and low <= int(text) <= high
    return False


def texts_shown(app: AppTest) -> list[str]:
    return [
        element.value for kind in ("markdown", "caption", "warning", "error", "info") for element in getattr(app, kind)
    ]


def check_page(app: AppTest, link: dict[str, str]) -> None:
    assert not app.exception, [element.value for element in app.exception]
    assert all("diverged" in element.value for element in app.error), [element.value for element in app.error]

    warnings = [element.value for element in app.warning]
    for name, text in link.items():
        naming = [warning for warning in warnings if f"`{name}`" in warning]
        assert len(naming) <= 1, (name, naming)  # one warning per bad parameter, at most
        if name in controls.CONTROL_FIELDS and clearly_not_a_value(name, text):
            assert naming, (name, text)
        if name in controls.CONTROL_FIELDS and clearly_a_value(name, text):
            assert not naming, (name, text)
        if name in VIEW_SETTINGS and link.get("view") == VIEW_SETTINGS[name] and clearly_not_a_value(name, text):
            assert naming, (name, text)
        if name == "view" and text not in browser.VIEWS:
            assert naming, text
        if name in UNKNOWN_KEYS:
            assert not naming, name

    sidebar_config(app)  # what the sidebar shows is a valid training setting: Config would raise

    # No markup from the link reaches the page as it was written.
    shown = "\n".join(texts_shown(app))
    for text in link.values():
        if "<" in text:
            assert text not in shown, text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(link=links)
def test_any_link_gives_a_page_without_exceptions(link):
    app = AppTest.from_file(APP, default_timeout=60)
    for name, text in link.items():
        app.query_params[name] = text
    check_page(app.run(), link)


BAD_VIEW_SETTINGS = [
    (JL, "jl_dim", "abc"),
    (JL, "jl_eps", "nan"),
    (NEURONS, "neurons_points", "inf"),
]


@pytest.mark.parametrize(("view", "name", "text"), BAD_VIEW_SETTINGS, ids=[name for _, name, _ in BAD_VIEW_SETTINGS])
def test_a_bad_view_setting_is_named_in_a_warning(view, name, text):
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["view"] = view
    app.query_params[name] = text
    app.run()
    assert not app.exception
    assert any(name in element.value for element in app.warning)
