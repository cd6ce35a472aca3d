"""Every step of the Tour in a real browser: drawn without errors, and no chart of a step runs out
of its column or into another element (the check tests/test_browser.py makes for every view)."""

from __future__ import annotations

import pytest

from superpos import tour
from tests import browser
from tests.test_browser import CHART_COLLISIONS, SMALLEST_PLOT

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 1920])
def test_every_step_draws_its_chart_within_its_column(app_server, chromium, width):
    page = browser.new_page(chromium, {"width": width, "height": 900})
    try:
        problems = {}
        for number, step in enumerate(tour.STEPS, 1):
            browser.open_app(page, f"{app_server.url}/?step={number}")
            problems[step.title] = browser.problems_shown(page) + page.evaluate(
                CHART_COLLISIONS, [browser.OPEN_TAB_PANEL, SMALLEST_PLOT]
            )
        assert problems == {step.title: [] for step in tour.STEPS}
    finally:
        page.context.close()
