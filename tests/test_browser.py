"""The app in a real browser: `streamlit run` on loopback, driven by Playwright in Chromium.

Also screenshots every view: into docs/screenshots/<view>.png, which the README shows, when the
environment variable SUPERPOS_SCREENSHOTS=docs asks for it, else into a temporary directory.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from superpos import tour
from tests import browser

pytestmark = pytest.mark.browser

DOCS_SCREENSHOTS = browser.REPO_ROOT / "docs" / "screenshots"
TALLEST_SCREENSHOT = 4200  # px; taller views are cut there
SUMMARY = "features represented"  # in the Embedding view's caption, which names n, m and ||W||_F^2
# Wall-clock training times (views.engine.timing_area): hidden in the screenshots, which would
# otherwise differ on every run.
TIMES = '[class*="st-key-training_time"]'
VIEWS_WITH_TIMES = (
    "Embedding",
    "Sparsity sweep",
    "Loss",
    "Sparse autoencoder",
    "Computation (|x|)",
    "Correlated features",
    "Collapse sweep",
)
SCREENSHOT_NAMES = {"Computation (|x|)": "computation"}  # not the generic rule's 'computation-x'


def query(page) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlsplit(page.url).query).items()}


def screenshot_name(view: str) -> str:
    """'Neurons & polysemanticity' -> 'neurons-polysemanticity'."""
    if view in SCREENSHOT_NAMES:
        return SCREENSHOT_NAMES[view]
    return re.sub(r"[^a-z0-9]+", "-", view.lower()).strip("-")


def assert_clean(page) -> None:
    assert browser.problems_shown(page) == []


def summary_text(page) -> str:
    return page.locator(browser.OPEN_TAB_PANEL).get_by_text(SUMMARY).inner_text()


def checked_model(page) -> str:
    """The model radio's checked option (its label starts with the model's name)."""
    return (
        page.locator('[data-testid="stRadio"] label').filter(has=page.locator("input:checked")).inner_text().split()[0]
    )


def open_view(page, view: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    tab = page.get_by_role("tab", name=view, exact=True)
    try:
        browser.rerun(page, tab.click, timeout_ms=20_000)
    except PlaywrightTimeoutError:
        # Once in a few hundred clicks no run is seen: the click landed while the tab bar redrew
        # (then click again), or the run was over before the page logged it (then the tab is open).
        if tab.get_attribute("aria-selected") != "true":
            browser.rerun(page, tab.click)
        browser.wait_until_settled(page)
    assert tab.get_attribute("aria-selected") == "true", view
    browser.wait_for_charts(page)


@pytest.fixture
def screenshots(tmp_path):
    """Where the screenshots go: docs/screenshots/ only when SUPERPOS_SCREENSHOTS=docs."""
    return DOCS_SCREENSHOTS if os.environ.get("SUPERPOS_SCREENSHOTS") == "docs" else tmp_path


def save_full_screenshot(page, view: str, folder) -> None:
    """The whole view: the app scrolls inside its main block, not the document, so the viewport
    grows to the block's height for the picture (and the charts redraw at that size first)."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size(
        {**browser.VIEWPORT, "height": max(browser.VIEWPORT["height"], min(height, TALLEST_SCREENSHOT))}
    )
    browser.charts_drawn_since(page, browser.now(page))
    page.screenshot(path=folder / f"{screenshot_name(view)}.png", style=f"{TIMES} {{ opacity: 0 !important; }}")
    page.set_viewport_size(browser.VIEWPORT)


def test_default_page_opens_the_tour_and_draws_its_charts_without_errors(app_server, new_page):
    page = new_page()
    browser.open_app(page, app_server.url)
    assert_clean(page)
    assert page.locator(browser.WARNING).count() == 0
    assert page.locator(browser.DRAWN_CHART).count() >= 2  # the first step's chart and the sidebar's importance bars
    assert page.get_by_role("tab", name="Tour", exact=True).get_attribute("aria-selected") == "true"
    assert page.locator(browser.OPEN_TAB_PANEL).get_by_text("This training agrees ✓").count() == 1
    # XSRF protection is on: the server hands the page its token cookie.
    assert any(cookie["name"] == "_streamlit_xsrf" for cookie in page.context.cookies())


def test_the_tour_steps_on_in_the_url_and_its_link_opens_the_view_with_its_settings(app_server, new_page):
    page = new_page()
    browser.open_app(page, f"{app_server.url}/?step=2")
    browser.rerun(page, lambda: page.get_by_role("button", name="Next →").click())
    browser.wait_for_charts(page)
    assert_clean(page)
    assert query(page) == {"step": "3"}
    step = tour.STEPS[2]
    link = page.locator(browser.OPEN_TAB_PANEL).get_by_role("link", name=f"Open in {step.view}")
    with page.context.expect_page() as opened:
        link.click()  # a new tab, as a link from a teacher would open
    target = opened.value
    browser.wait_until_settled(target)
    assert_clean(target)
    assert target.locator(browser.WARNING).count() == 0
    assert target.get_by_role("tab", name=step.view, exact=True).get_attribute("aria-selected") == "true"
    assert target.get_by_role("slider", name="sparsity").get_attribute("aria-valuetext") == tour.text(
        step.params["sparsity"]
    )
    assert summary_text(target).startswith("5 of 5 features represented")


def test_a_slider_moved_with_the_keyboard_retrains_and_lands_in_the_url(app_server, new_page):
    page = new_page()
    browser.open_app(page, f"{app_server.url}/?view=Embedding")
    before = summary_text(page)
    sparsity = page.get_by_role("slider", name="sparsity")
    browser.rerun(page, lambda: sparsity.press("ArrowRight"))
    browser.wait_for_charts(page)
    assert_clean(page)
    assert sparsity.get_attribute("aria-valuetext") == "0.91"
    assert query(page) == {"view": "Embedding", "sparsity": "0.91"}
    assert summary_text(page) != before  # a new model, so a new ||W||_F^2


def test_every_view_draws_its_charts_and_is_screenshotted(app_server, new_page, screenshots):
    screenshots.mkdir(parents=True, exist_ok=True)
    page = new_page()
    browser.open_app(page, app_server.url)
    tabs = page.get_by_role("tab").all_inner_texts()
    assert tabs == list(browser.VIEWS)
    for view in browser.VIEWS:
        if view != browser.VIEWS[0]:  # the first view is open already
            open_view(page, view)
            assert query(page).get("view") == view
        assert_clean(page)
        panel = page.locator(browser.OPEN_TAB_PANEL)
        assert panel.locator(browser.DRAWN_CHART).count() >= 1, view
        times = panel.locator(TIMES)
        assert times.count() == (view in VIEWS_WITH_TIMES), view
        if times.count():
            assert re.search(r"\d s\b", times.inner_text()), view
        save_full_screenshot(page, view, screenshots)
    assert {path.stem for path in screenshots.glob("*.png")} >= {screenshot_name(view) for view in browser.VIEWS}


def test_a_copied_link_restores_the_settings_in_a_new_page(app_server, new_page):
    page = new_page()
    browser.open_app(page, app_server.url)
    n_features = page.get_by_label("n features", exact=True)
    n_features.fill("6")
    browser.rerun(page, lambda: n_features.press("Enter"))
    sparsity = page.get_by_role("slider", name="sparsity")
    for _ in range(2):
        browser.rerun(page, lambda: sparsity.press("ArrowRight"))
    browser.rerun(page, lambda: page.locator('[data-testid="stRadio"] label').filter(has_text="neuron").click())
    open_view(page, "Loss")
    assert_clean(page)
    link = page.url
    assert query(page) == {"n_features": "6", "sparsity": "0.92", "model": "neuron", "view": "Loss"}
    heldout = page.get_by_test_id("stMetricValue").first.inner_text()

    restored = new_page()
    browser.open_app(restored, link)
    assert_clean(restored)
    assert restored.get_by_label("n features", exact=True).input_value() == "6"
    assert restored.get_by_label("m hidden dimensions", exact=True).input_value() == "2"
    assert restored.get_by_role("slider", name="sparsity").get_attribute("aria-valuetext") == "0.92"
    assert checked_model(restored) == "neuron"
    assert restored.get_by_role("tab", name="Loss", exact=True).get_attribute("aria-selected") == "true"
    assert restored.get_by_test_id("stMetricValue").first.inner_text() == heldout  # the same model
    assert restored.url == link


# Per mark layer of a chart, each mark's opacity (Vega writes it as an attribute when it is not 1).
OPACITIES = """chart => Object.fromEntries([...chart.querySelectorAll("g.role-mark")].map(layer => [
  layer.getAttribute("class").split(" ").pop(),
  [...layer.children].map(mark => mark.getAttribute("opacity") || "1"),
]))"""


def test_pointing_at_a_feature_highlights_it_in_every_part_of_the_embedding(app_server, new_page):
    page = new_page()
    browser.open_app(page, f"{app_server.url}/?view=Embedding")
    chart = page.locator(browser.CHART).filter(has_text="D_i, dimensionality")
    before = chart.evaluate(OPACITIES)
    listening = [layer for layer in before if layer.startswith("hover_view")]
    assert len(listening) == 3 and all(set(before[layer]) == {"1"} for layer in listening)
    box = chart.locator("g.hover_view_1_marks path").nth(3).bounding_box()  # feature 3's D_i bar
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(f"chart => ({OPACITIES})(chart).hover_view_0_marks[0] !== '1'", arg=chart.element_handle())
    after = chart.evaluate(OPACITIES)
    for layer in listening:  # the arrows' tips and both bar charts: feature 3 alone stays opaque
        assert after[layer][3] == "1" and {opacity for i, opacity in enumerate(after[layer]) if i != 3} == {"0.2"}


BAD_LINK = {"n_features": "abc", "sparsity": "1", "model": "<b>x</b>", "utm_source": "<img src=x onerror=alert(1)>"}


def used_values(warning: str) -> dict[str, str]:
    """Per parameter named in the link warning, the value it says the app uses instead."""
    return dict(re.findall(r"^(\w+) = .*: using (\S+)$", warning, flags=re.MULTILINE))


def control_values(page) -> dict[str, str]:
    """What the sidebar shows for the controls the bad link touches."""
    return {
        "n_features": page.get_by_label("n features", exact=True).input_value(),
        "sparsity": page.get_by_role("slider", name="sparsity").get_attribute("aria-valuetext"),
        "model": checked_model(page),
    }


def test_a_bad_link_warns_once_injects_no_markup_and_leaves_a_faithful_url(app_server, new_page):
    page = new_page()
    browser.open_app(page, f"{app_server.url}/?{urlencode(BAD_LINK)}")
    assert_clean(page)
    warnings = page.locator(browser.WARNING)
    assert warnings.count() == 1
    message = warnings.inner_text()
    assert "utm_source" not in message  # not the app's parameter: left alone
    # Nothing from the link became an element.
    assert page.evaluate("[...document.querySelectorAll('b')].filter(b => b.textContent === 'x').length") == 0
    assert page.locator("img[src='x']").count() == 0
    # Each bad parameter is named, with the value the widget really holds.
    shown = control_values(page)
    assert used_values(message) == shown
    assert not {"n_features", "sparsity", "model"} & set(query(page))  # the bad values left the URL

    # The URL now is a link to exactly what is shown, with nothing left to warn about.
    again = new_page()
    browser.open_app(again, page.url)
    assert_clean(again)
    assert again.locator(browser.WARNING).count() == 0
    assert control_values(again) == shown


@pytest.mark.parametrize(
    ("link", "used"),
    [
        ({"n_features": "7.5", "seed": "3.9"}, {"n_features": "7", "seed": "3"}),
        ({"n_features": "inf", "n_hidden": "1.5"}, {"n_hidden": "1"}),  # Streamlit's int input cannot seed from inf
    ],
    ids=["fractions", "infinity"],
)
def test_a_link_with_a_fraction_ends_on_the_url_of_what_is_shown(app_server, new_page, link, used):
    page = new_page()
    crashes = []
    page.on("crash", lambda crashed: crashes.append(crashed))
    browser.open_app(page, f"{app_server.url}/?{urlencode(link)}")
    assert_clean(page)
    assert query(page) == used  # the fraction is gone, the whole part the sidebar uses is there
    assert page.locator(browser.WARNING).count() == 1
    # The page is alive: it still answers and reruns when a control moves.
    sparsity = page.get_by_role("slider", name="sparsity")
    browser.rerun(page, lambda: sparsity.press("ArrowRight"))
    browser.wait_for_charts(page)
    assert crashes == [] and page.evaluate("1 + 1") == 2
    assert query(page) == used | {"sparsity": "0.91"}

    again = new_page()
    browser.open_app(again, page.url)
    assert_clean(again)
    assert again.locator(browser.WARNING).count() == 0
    assert query(again) == query(page)


# Per chart of the open view, what its drawing (the SVG) runs into: the edge of its column (or of
# the main block), and any other element of the view whose box it overlaps, by more than 1 px; and
# whether its plotting area (its largest background box) was squeezed below SMALLEST_PLOT px either
# way, as Streamlit does when it fits a chart's legend and title into the chart's own size (small
# multiples of 70 px are a design; a plot 20 px high is not).
SMALLEST_PLOT = 60
CHART_COLLISIONS = """([panel, smallest]) => {
  const box = element => element.getBoundingClientRect();
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
      && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  const elements = [...document.querySelectorAll(`${panel} [data-testid="stElementContainer"]`)]
      .filter(element => box(element).width > 0 && box(element).height > 0);
  return [...document.querySelectorAll(`${panel} [data-testid="stVegaLiteChart"]`)].flatMap(chart => {
    const drawing = box(chart.querySelector("svg"));
    const place = chart.closest('[data-testid="stColumn"]') || chart.closest('[data-testid="stMainBlockContainer"]');
    const title = chart.querySelector("svg .role-title-text")?.textContent || "a chart";
    const problems = drawing.right - box(place).right > 1 ? [`${title} sticks out of its column`] : [];
    const plots = [...chart.querySelectorAll("svg path.background")].map(box);
    if (!plots.some(plot => plot.width >= smallest && plot.height >= smallest)) {
      problems.push(`${title} has no plotting area of ${smallest} px either way`);
    }
    for (const element of elements) {
      if (!element.contains(chart) && !chart.contains(element) && overlap(drawing, box(element))) {
        problems.push(`${title} overlaps ${element.innerText.slice(0, 40) || element.className}`);
      }
    }
    return problems;
  });
}"""
WIDE_MODEL = "?n_features=8&n_hidden=3"  # m >= 3: the Embedding view's projection and WᵀW


@pytest.mark.parametrize("link", ["", WIDE_MODEL], ids=["defaults", "m3"])
@pytest.mark.parametrize("width", [1280, 1920])
def test_no_chart_runs_into_another_element(app_server, chromium, link, width):
    page = browser.new_page(chromium, {"width": width, "height": 900})
    try:
        browser.open_app(page, app_server.url + "/" + link)
        collisions = {}
        for view in browser.VIEWS:
            if view != browser.VIEWS[0]:
                open_view(page, view)
            collisions[view] = page.evaluate(CHART_COLLISIONS, [browser.OPEN_TAB_PANEL, SMALLEST_PLOT])
        assert collisions == {view: [] for view in browser.VIEWS}
    finally:
        page.context.close()
