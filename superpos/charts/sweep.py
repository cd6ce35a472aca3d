"""Charts of a sparsity sweep: a TrainResult with one model per sparsity (train_sweep).

- A row of small direction plots, one per sparsity: the paper's intro figure, where more and
  more features are packed into m = 2 dimensions as the features get sparser.
- The feature-geometry plot: every feature's dimensionality
  D_i = ||W_i||^2 / sum_j (hat W_i . W_j)^2 against 1/(1 - S) on a log axis, with the line
  m / ||W||_F^2 (hidden dimensions per embedded feature) and guide lines at the sticky values
  1 (dedicated), 3/4 (tetrahedron), 2/3 (triangle), 1/2 (antipodal pair), 2/5 (pentagon),
  3/8 (square antiprism) and 1/3.
Both share the hover selection on "feature" of superpos.charts.geometry (geometry.linked).
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from superpos import metrics
from superpos.charts.geometry import FADED, HOVER, IMPORTANCE_COLOR, feature_table, linked, tooltips

GUIDES = {"1": 1.0, "3/4": 3 / 4, "2/3": 2 / 3, "1/2": 1 / 2, "2/5": 2 / 5, "3/8": 3 / 8, "1/3": 1 / 3}
SMALL = 90  # pixels per small direction plot
COLUMNS = 5  # small plots per row
GEOMETRY_WIDTH = COLUMNS * (SMALL + 20) - 70


def sweep_table(weights: np.ndarray, probability: np.ndarray, importance: np.ndarray) -> pd.DataFrame:
    """One row per (model, feature) of a sweep: the model's feature probability p (of feature 0),
    sparsity S = 1 - p, 1/(1 - S), its m / ||W||_F^2, a label, and the feature's metrics and
    (x, y) as in geometry.feature_table. weights (models, m, n); probability, importance (models, n)."""
    per_model = []
    for model, (w, p, i) in enumerate(zip(weights, probability, importance, strict=True)):
        density = float(p[0])
        per_model.append(
            feature_table(w, i).assign(
                model=model,
                label=f"p = {density:.3g}",
                probability=density,
                sparsity=1.0 - density,
                inverse_density=1.0 / density,
                dimensions_per_feature=float(metrics.dimensions_per_feature(w)),
            )
        )
    return pd.concat(per_model, ignore_index=True)


def small_directions(table: pd.DataFrame) -> alt.FacetChart:
    """One small plot of the W_i arrows per model of the sweep, in the sweep's order."""
    extent = 1.15 * max(1.0, float(np.abs(table[["x", "y"]].to_numpy()).max()))
    scale = alt.Scale(domain=[-extent, extent], nice=False)
    labels = list(dict.fromkeys(table["label"]))
    return (
        alt.Chart(table)
        .mark_rule(strokeWidth=2.5, strokeCap="round")
        .encode(
            x=alt.X("x:Q", scale=scale, axis=None),
            y=alt.Y("y:Q", scale=scale, axis=None),
            x2="origin:Q",
            y2="origin:Q",
            color=IMPORTANCE_COLOR,
            opacity=FADED,
            tooltip=tooltips(table, "label:N"),
        )
        .transform_calculate(origin="0")
        .add_params(HOVER)
        .properties(width=SMALL, height=SMALL)
        .facet(facet=alt.Facet("label:N", sort=labels, title=None), columns=COLUMNS)
    )


def feature_geometry(table: pd.DataFrame, n_hidden: int) -> alt.LayerChart:
    """D_i of every feature of every model against 1/(1 - S) (log axis), with m / ||W||_F^2
    as a line and the sticky fractions as guide lines."""
    x = alt.X("inverse_density:Q", scale=alt.Scale(type="log", nice=False), title="1 / (1 − S)  (log scale)")
    points = (
        alt.Chart(table)
        .mark_circle(size=45)
        .encode(
            x=x,
            y=alt.Y("dimensionality:Q", title="D_i  (dimensions per feature)"),
            color=IMPORTANCE_COLOR,
            opacity=FADED,
            tooltip=tooltips(table, "label:N"),
        )
        .add_params(HOVER)
    )
    per_model = table.drop_duplicates("model")
    frobenius = (
        alt.Chart(per_model)
        .mark_line(color="#333333", point=True)
        .encode(
            x=x,
            y="dimensions_per_feature:Q",
            tooltip=[
                "label:N",
                alt.Tooltip("dimensions_per_feature:Q", format=".3f", title=f"m/‖W‖_F², m = {n_hidden}"),
            ],
        )
    )
    guides = pd.DataFrame({"fraction": list(GUIDES), "value": list(GUIDES.values())})
    rules = alt.Chart(guides).mark_rule(color="#aaaaaa", strokeDash=[4, 4]).encode(y="value:Q")
    names = (  # just right of the plot, clear of the data
        alt.Chart(guides)
        .mark_text(align="left", dx=4, color="#777777")
        .encode(y="value:Q", x=alt.value(GEOMETRY_WIDTH), text="fraction:N")
    )
    return alt.layer(rules, names, frobenius, points).properties(
        width=GEOMETRY_WIDTH, height=300, title="Feature geometry: D_i (dots) and m/‖W‖_F² (line)"
    )


def sweep(weights: np.ndarray, probability: np.ndarray, importance: np.ndarray) -> alt.VConcatChart:
    """The Sparsity sweep view as one chart: small direction plots above the feature geometry."""
    table = sweep_table(weights, probability, importance)
    return linked(alt.vconcat, small_directions(table), feature_geometry(table, weights.shape[1]))
