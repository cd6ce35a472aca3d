"""The Tour view in Streamlit's AppTest: first in the tabs, the open step in the URL, previous and
next, and for every step its live check shown and a link that opens its view with its settings."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from superpos import tour
from tests.apptest import assert_clean, run_app, sidebar_config
from views import VIEW_NAMES, engine

STEP_NUMBERS = range(1, len(tour.STEPS) + 1)


def test_every_step_opens_a_view_of_the_app():
    assert VIEW_NAMES[0] == "Tour"
    assert {step.view for step in tour.STEPS} <= set(VIEW_NAMES)


def test_the_app_opens_on_the_tour_at_its_first_step():
    app = run_app()
    assert_clean(app)
    assert app.session_state["view"] == "Tour" and app.session_state["step"] == 1
    assert not app.warning  # the first step's check passes
    assert app.success[0].value.startswith("**This training agrees ✓**")


@pytest.mark.parametrize("number", STEP_NUMBERS, ids=[step.title for step in tour.STEPS])
def test_each_step_shows_its_check_and_links_to_its_view_with_its_settings(number):
    step = tour.STEPS[number - 1]
    app = run_app(step=str(number))
    assert_clean(app)
    assert f"{number}. {step.title}" in app.subheader[0].value
    assert step.check(engine).sentence in app.success[0].value  # the cached engine: what the run drew
    (button,) = app.get("link_button")
    assert button.proto.url == step.link

    # The link opens the step's view, with every setting used as given.
    target = run_app(**dict(parse_qsl(step.link[1:])))
    assert_clean(target)
    assert not [warning for warning in target.warning if warning.icon == "⚠️"]  # no setting of the link refused
    assert target.session_state["view"] == step.view
    assert sidebar_config(target) == step.config
    for name, value in step.params.items():
        if name not in tour.CONFIG_FIELDS:
            assert tour.text(target.session_state[name]) == tour.text(value), name


def test_next_and_previous_step_through_the_tour():
    app = run_app(step="2")
    app = app.button(key="tour_next").click().run()
    assert_clean(app)
    assert app.session_state["step"] == 3 and "3. The pentagon" in app.subheader[0].value
    app = app.button(key="tour_previous").click().run().button(key="tour_previous").click().run()
    assert app.session_state["step"] == 1
    assert app.button(key="tour_previous").disabled


@pytest.mark.parametrize("text", ["99", "", "2.5"])
def test_a_step_the_tour_does_not_have_is_named_in_a_warning_and_the_first_is_shown(text):
    app = run_app(step=text)
    assert_clean(app)
    assert "1. " + tour.STEPS[0].title in app.subheader[0].value
    assert f"`step` = `{text}`" in app.warning[0].value
