"""The "Loss" view: the training curve and the final held-out loss. Thin: views.engine -> superpos.charts.loss."""

from __future__ import annotations

import streamlit as st

from superpos.charts.loss import loss_chart, loss_table
from superpos.config import Config
from superpos.evaluate import HELDOUT_SAMPLES, HELDOUT_VALUES
from views import CHART_TEXT_COLUMNS, engine, export

EXPLANATION = rf"""
The loss of one model is $L = \frac{{1}}{{n}} \sum_i I_i\, \mathbb{{E}}\big[(x_i - x'_i)^2\big]$, the
importance-weighted squared reconstruction error.

The line is the training loss at each recorded step: the exact expected loss of that step's batch
(the trainer draws inputs with at least one active feature and adds the all-zero input's share in
closed form). The dashed line is the **held-out loss** of the final model on a fixed sample of
{HELDOUT_SAMPLES:,} inputs shared by every setting, so two settings can be compared fairly
(above n = {HELDOUT_VALUES // HELDOUT_SAMPLES} features a smaller fixed sample of {HELDOUT_VALUES:,} / n inputs,
within about 1% of the full sample's loss in a fraction of its time).

Each model is trained from several random starts and the best one is kept, which avoids most
local minima (e.g. 4 of 5 features in the pentagon case). Plateaus in the curve often mark a
feature joining the geometry: compare with *Training dynamics*.
"""


def render(config: Config) -> None:
    """The sidebar model's training curve and held-out loss."""
    result = engine.trained(config)
    chart_column, text = st.columns(CHART_TEXT_COLUMNS, gap="medium")
    with chart_column:
        engine.convergence_notice(config, result)
        heldout, last, seconds = st.columns(3)
        heldout.metric("held-out loss", f"{result.heldout[0]:.4g}")
        last.metric("last training loss", f"{result.loss_history[0, -1]:.4g}")
        engine.timing_area(seconds, "loss").metric("training time", f"{result.seconds:.2f} s")
        st.altair_chart(loss_chart(result.loss_steps, result.loss_history, result.heldout), width="stretch")
        export.csv_download(lambda: loss_table(result.loss_steps, result.loss_history), "loss")
    text.markdown(EXPLANATION)
