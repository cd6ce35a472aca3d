"""The phase diagram chart: 2 features in 1 hidden dimension (superpos.experiments.phase_diagram).

One cell per (feature density, relative importance of feature 2), coloured by where feature 2
ended up: not represented (W = [1, 0]), a dedicated dimension (W = [0, 1]) or antipodal
superposition (W = [1, -1]), as in the paper's "Superposition as a Phase Change".
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from superpos.experiments import PHASES

PHASE_COLORS = alt.Scale(domain=list(PHASES), range=["#d0d0d0", "#4c78a8", "#e45756"])
CELL = 30  # pixels per cell


def phase_chart(table: pd.DataFrame) -> alt.Chart:
    """Cells of `table` (density, relative_importance, phase, w1, w2, ...): density falls to the
    right (sparser features), relative importance rises upwards."""
    hover = alt.selection_point(name="cell", fields=["phase"], on="pointerover", clear="pointerout")
    return (
        alt.Chart(table)
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=alt.X(
                "density:O",
                sort="descending",
                axis=alt.Axis(format=".2g", formatType="number", labelAngle=0, labelOverlap=True),
                title="feature density p = 1 − S (both features)",
            ),
            y=alt.Y(
                "relative_importance:O",
                sort="descending",
                axis=alt.Axis(format=".2g", formatType="number"),
                title="I₂ / I₁",
            ),
            color=alt.Color("phase:N", scale=PHASE_COLORS, title="feature 2 is"),
            opacity=alt.when(hover).then(alt.value(1.0)).otherwise(alt.value(0.4)),
            tooltip=[
                alt.Tooltip("density:Q", format=".3g", title="density p"),
                alt.Tooltip("relative_importance:Q", format=".3g", title="I₂ / I₁"),
                "phase:N",
                alt.Tooltip("w1:Q", format=".3f", title="W₁"),
                alt.Tooltip("w2:Q", format=".3f", title="W₂"),
                alt.Tooltip("loss:Q", format=".3g", title="held-out loss"),
            ],
        )
        .add_params(hover)
        .properties(
            width=alt.Step(CELL), height=alt.Step(CELL), title="Where the extra feature goes: 2 features in 1 dimension"
        )
    )
