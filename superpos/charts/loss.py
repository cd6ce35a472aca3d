"""The loss chart: training loss against step, and the final held-out loss.

Loss per model = mean over samples and features of I_i (x_i - x'_i)^2. The training curve is
the trainer's exact expected loss on each step's batch; the held-out loss is measured on a
fixed sample shared by all models (superpos.evaluate), so two settings compare fairly.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd


def loss_table(loss_steps: np.ndarray, loss_history: np.ndarray) -> pd.DataFrame:
    """One row per (model, recorded step); loss_history (models, points)."""
    models, points = loss_history.shape
    return pd.DataFrame(
        {
            "model": np.repeat(np.arange(models), points),
            "step": np.tile(loss_steps, models),
            "loss": loss_history.ravel(),
        }
    )


def loss_chart(loss_steps: np.ndarray, loss_history: np.ndarray, heldout: np.ndarray) -> alt.LayerChart:
    """Training loss per step (log axis), with each model's held-out loss as a dashed line."""
    curve = (
        alt.Chart(loss_table(loss_steps, loss_history))
        .mark_line()
        .encode(
            x=alt.X("step:Q", title="training step"),
            y=alt.Y("loss:Q", scale=alt.Scale(type="log"), title="loss (log scale)"),
            detail="model:N",
            tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4g")],
        )
    )
    final = (
        alt.Chart(pd.DataFrame({"model": np.arange(len(heldout)), "heldout": heldout}))
        .mark_rule(color="#e45756", strokeDash=[5, 4])
        .encode(y="heldout:Q", tooltip=[alt.Tooltip("heldout:Q", format=".4g", title="held-out loss")])
    )
    return alt.layer(curve, final).properties(height=320, title="Training loss (line) and held-out loss (dashed)")
