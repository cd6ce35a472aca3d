"""The "Tour" view: the paper's results in order (superpos.tour), one step at a time.

Thin: the open step is a widget bound to the URL (?step=3); its claim, the link that opens its
view with its exact settings, and its live check and chart, drawn through views.engine's cached
calls, the ones the target view makes, so that following the link trains nothing again.
"""

from __future__ import annotations

import streamlit as st

from superpos.config import Config
from superpos.tour import STEPS
from views import CHART_TEXT_COLUMNS, engine
from views.controls import view_link_warning

NUMBERS = tuple(range(1, len(STEPS) + 1))


def move(by: int) -> None:
    """Button callback, before the next run's widgets: open the step `by` places on."""
    st.session_state["step"] = min(max(st.session_state.get("step", 1) + by, 1), len(STEPS))


def render(config: Config) -> None:
    """The open step; the sidebar's `config` plays no part: each step has its own settings."""
    view_link_warning({"step": NUMBERS})
    with st.container(horizontal=True, vertical_alignment="bottom"):
        number = st.segmented_control(
            "step",
            NUMBERS,
            default=1,
            required=True,
            key="step",
            bind="query-params",
            help="The paper, result by result.",
        )
        st.button("← Previous", on_click=move, args=(-1,), disabled=number == 1, key="tour_previous")
        st.button("Next →", on_click=move, args=(1,), disabled=number == len(STEPS), key="tour_next")
    number = number or 1  # a link's empty ?step= clears the control (view_link_warning names it)
    step = STEPS[number - 1]
    claim, text = st.columns(CHART_TEXT_COLUMNS, gap="medium")
    with claim:
        st.subheader(f"{number}. {step.title}")
        st.markdown(f"**The paper** (*{step.section}*): {step.claim}")
        st.link_button(f"Open in {step.view}, with these settings", step.link, icon=":material/open_in_new:")
        verdict = step.check(engine)
        if verdict.passed:
            st.success(f"**This training agrees ✓** {verdict.sentence}", icon=":material/check_circle:")
        else:
            st.warning(f"**This training differs ✗** {verdict.sentence}", icon=":material/error:")
    text.markdown(
        "**The tour**: the results of Elhage et al. (2022) that superpos reproduces, each checked on a model "
        "trained live. The link opens the step's view with the exact settings in a new tab; here the sidebar "
        "plays no part, each step has its own settings."
    )
    # In a popover, so that the chart below follows the check rather than the list.
    text.popover(f"All {len(STEPS)} steps").markdown(
        "\n".join(
            f"{index}. {'**' + other.title + '**' if index == number else other.title}"
            for index, other in enumerate(STEPS, 1)
        )
    )
    # Below, the page's width: some views draw this chart wider than a column.
    st.altair_chart(step.chart(engine), width="content")
