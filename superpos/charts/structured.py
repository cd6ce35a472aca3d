"""Charts of features that are not alike: directions coloured by set, W^T W with the set boundaries,
the feature-geometry graph, the collapse sweep, one feature's relative density, and D_i over training.

Pure functions from numpy arrays and tables (superpos.structured) to Altair charts; each chart's
data is a *_table function, which the app offers as CSV.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from superpos import metrics, structured
from superpos.charts.geometry import (
    BAR_HEIGHT,
    FADED,
    HEATMAP_FEATURES,
    HOVER,
    LEGEND,
    SIZE,
    arrows,
    gram_table,
    plane,
)
from superpos.data import FeatureSets

# |W_i . W_j| above this joins i and j in the feature-geometry graph; its connected components are
# the tegum factors (polytopes in orthogonal subspaces, which do not interfere).
EDGE_OVERLAP = 0.1
FACET_COLUMNS = 5  # small direction plots per row: five fit beside the view's text
SET_COLOR = alt.Color("set:N", title="set", legend=LEGEND, scale=alt.Scale(scheme="category10"))


def set_labels(sets: FeatureSets) -> np.ndarray:
    """Per feature: 'correlated 1', 'anticorrelated 1', ... or 'independent'."""
    labels, count = [], {}
    for kind, members in sets.groups():
        count[kind] = count.get(kind, 0) + 1
        labels += [kind if kind == "independent" else f"{kind} {count[kind]}"] * len(members)
    return np.array(labels)


def set_table(weights: np.ndarray, sets: FeatureSets, probability: np.ndarray) -> pd.DataFrame:
    """One row per feature: set, P(x_i != 0), ||W_i||, D_i and W_i drawn on the plane (x, y)."""
    x, y = plane(weights) @ weights
    return pd.DataFrame(
        {
            "feature": np.arange(weights.shape[1]),
            "set": set_labels(sets),
            "probability": probability,
            "norm": metrics.feature_norms(weights),
            "dimensionality": metrics.dimensionality(weights),
            "x": x,
            "y": y,
        }
    )


TOOLTIPS = [
    alt.Tooltip("feature:O", title="feature i"),
    "set:N",
    alt.Tooltip("probability:Q", format=".4g", title="P(x_i ≠ 0)"),
    alt.Tooltip("norm:Q", format=".3f", title="‖W_i‖"),
    alt.Tooltip("dimensionality:Q", format=".3f", title="D_i"),
]


def set_directions(table: pd.DataFrame, title: str) -> alt.LayerChart:
    """Each feature's direction W_i (or its projection for m >= 3) coloured by its set."""
    return arrows(table, title, color=SET_COLOR, tooltip=TOOLTIPS)


def boundary_table(sets: FeatureSets) -> pd.DataFrame:
    """Where one set ends and the next begins, as positions between features (i - 0.5)."""
    starts = [members.start for kind, members in sets.groups() if kind != "independent"]
    ends = [members.stop for kind, members in sets.groups() if kind != "independent"]
    return pd.DataFrame({"at": sorted(set(starts + ends) - {0, sets.n_features})})


def gram_with_sets(weights: np.ndarray, sets: FeatureSets) -> alt.LayerChart:
    """W^T W (red negative, blue positive) with a line at every set boundary. Features sit on
    quantitative axes (cell i spans i +- 0.5), so the lines and the cells share one scale."""
    table = gram_table(weights, HEATMAP_FEATURES)
    shown = int(table["feature"].max()) + 1
    scale = alt.Scale(domain=[-0.5, shown - 0.5], nice=False, zero=False)
    whole = alt.Axis(values=list(range(shown)), format="d", labelOverlap=True, grid=False)  # ticks at features
    cells = (
        alt.Chart(table)
        .mark_rect()
        .transform_calculate(left="datum.other - 0.5", right="datum.other + 0.5")
        .transform_calculate(top="datum.feature - 0.5", bottom="datum.feature + 0.5")
        .encode(
            x=alt.X("left:Q", scale=scale, title="feature j", axis=whole),
            x2="right:Q",
            y=alt.Y(
                "top:Q",
                scale=alt.Scale(domain=[shown - 0.5, -0.5], nice=False, zero=False),
                title="feature i",
                axis=whole,
            ),
            y2="bottom:Q",
            color=alt.Color(
                "value:Q",
                scale=alt.Scale(scheme="redblue", domain=[-1, 1], clamp=True),
                title="W_i·W_j",
                legend=LEGEND,
            ),
            tooltip=[
                alt.Tooltip("feature:O", title="i"),
                alt.Tooltip("other:O", title="j"),
                alt.Tooltip("value:Q", format=".3f", title="W_i·W_j"),
            ],
        )
    )
    boundaries = alt.Chart(boundary_table(sets).query("at < @shown")).transform_calculate(position="datum.at - 0.5")
    lines = [
        boundaries.mark_rule(color="#222222", strokeWidth=1.5).encode(x="position:Q"),
        boundaries.mark_rule(color="#222222", strokeWidth=1.5).encode(y="position:Q"),
    ]
    title = "WᵀW, set boundaries" if weights.shape[1] <= HEATMAP_FEATURES else f"WᵀW, first {shown} features"
    return alt.layer(cells, *lines).properties(width=SIZE, height=SIZE, title=title)


def graph_table(weights: np.ndarray, threshold: float = EDGE_OVERLAP) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feature-geometry graph: nodes (feature, component, x, y on a circle) and edges
    (i, j, |W_i . W_j|, endpoints) where |W_i . W_j| > threshold. Components are the tegum factors;
    features with ||W_i|| below metrics.REPRESENTED_NORM are dropped ones, component -1."""
    n = weights.shape[1]
    overlap = np.abs(weights.T @ weights)
    alive = metrics.represented(weights)
    component = np.full(n, -1)
    for start in range(n):  # flood fill over edges between represented features
        if not alive[start] or component[start] >= 0:
            continue
        label, stack = component.max() + 1, [start]
        while stack:
            i = stack.pop()
            if component[i] < 0:
                component[i] = label
                stack += [j for j in range(n) if alive[j] and j != i and overlap[i, j] > threshold]
    angle = 2 * np.pi * np.arange(n) / n
    nodes = pd.DataFrame({"feature": np.arange(n), "component": component, "x": np.sin(angle), "y": np.cos(angle)})
    i, j = np.nonzero(np.triu(overlap > threshold, k=1) & alive[:, None] & alive[None, :])
    edges = pd.DataFrame(
        {
            "i": i,
            "j": j,
            "overlap": overlap[i, j],
            "x": nodes["x"].to_numpy()[i],
            "y": nodes["y"].to_numpy()[i],
            "x2": nodes["x"].to_numpy()[j],
            "y2": nodes["y"].to_numpy()[j],
        }
    )
    return nodes, edges


def geometry_graph(weights: np.ndarray, sets: FeatureSets) -> alt.LayerChart:
    """Features on a circle, coloured by set; an edge where |W_i . W_j| > EDGE_OVERLAP (darker when
    larger). Its connected components are the tegum factors."""
    nodes, edges = graph_table(weights)
    nodes = nodes.assign(set=set_labels(sets))
    axis = alt.Scale(domain=[-1.2, 1.2], nice=False)
    lines = (
        alt.Chart(edges)
        .mark_rule()
        .encode(
            x=alt.X("x:Q", scale=axis, axis=None),
            y=alt.Y("y:Q", scale=axis, axis=None),
            x2="x2:Q",
            y2="y2:Q",
            strokeWidth=alt.StrokeWidth("overlap:Q", scale=alt.Scale(domain=[0, 1], range=[0.5, 4]), legend=None),
            opacity=alt.Opacity("overlap:Q", scale=alt.Scale(domain=[0, 1], range=[0.25, 1]), legend=None),
            tooltip=["i:O", "j:O", alt.Tooltip("overlap:Q", format=".3f", title="|W_i·W_j|")],
        )
    )
    points = (
        alt.Chart(nodes)
        .mark_circle(size=160)
        .encode(
            x=alt.X("x:Q", scale=axis, axis=None),
            y=alt.Y("y:Q", scale=axis, axis=None),
            color=SET_COLOR,
            tooltip=[alt.Tooltip("feature:O", title="feature i"), "set:N", alt.Tooltip("component:O", title="factor")],
        )
    )
    labels = alt.Chart(nodes).mark_text(fontSize=10, color="white").encode(x="x:Q", y="y:Q", text="feature:O")
    components = int(nodes["component"].max()) + 1
    return alt.layer(lines, points, labels).properties(
        width=SIZE, height=SIZE, title=f"Feature geometry: {components} factor{'s' * (components != 1)}"
    )


def correlated_view(weights: np.ndarray, sets: FeatureSets, probability: np.ndarray) -> alt.HConcatChart:
    """Directions coloured by set beside W^T W with set boundaries, the feature-geometry graph below."""
    table = set_table(weights, sets, probability)
    title = "W_i, coloured by set" if weights.shape[0] <= 2 else "W_i on W's top-2 principal axes"
    top = alt.hconcat(set_directions(table, title), gram_with_sets(weights, sets)).resolve_scale(color="independent")
    return alt.vconcat(top, geometry_graph(weights, sets)).resolve_scale(color="independent")


def collapse_chart(table: pd.DataFrame) -> alt.Chart:
    """Per density 1 - S, the pairs collapsed, side by side or dropped (stacked bars); table from
    superpos.structured.collapse_sweep."""
    return (
        alt.Chart(table.astype({"pairs": float}))  # Arrow int64 reaches Vega as BigInt, which it cannot stack
        .mark_bar()
        .encode(
            x=alt.X("density:O", title="density 1 − S", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("pairs:Q", title="correlated pairs", scale=alt.Scale(domain=[0, structured.COLLAPSE_PAIRS])),
            color=alt.Color(
                "state:N",
                title="pair",
                scale=alt.Scale(domain=list(structured.PAIR_STATES), range=["#4c78a8", "#f58518", "#bab0ac"]),
                legend=alt.Legend(orient="right"),  # below, it would take the bars' height
            ),
            tooltip=["density:Q", "state:N", "pairs:Q", alt.Tooltip("loss:Q", format=".4g", title="held-out loss")],
        )
        .properties(width=SIZE + 120, height=SIZE + 40, title="3 correlated pairs in m = 2")
    )


def collapse_directions_table(weights: np.ndarray, densities) -> pd.DataFrame:
    """One row per (density, feature): W_i and its pair (features 2k, 2k + 1 are pair k)."""
    frames = []
    for density, model in zip(densities, weights, strict=True):
        n = model.shape[1]
        frames.append(
            pd.DataFrame(
                {"density": density, "feature": np.arange(n), "pair": np.arange(n) // 2, "x": model[0], "y": model[1]}
            )
        )
    return pd.concat(frames, ignore_index=True)


def collapse_directions(weights: np.ndarray, densities) -> alt.FacetChart:
    """Small direction plots, one per density, each pair in its own colour."""
    scale = alt.Scale(domain=[-1.3, 1.3], nice=False)
    base = alt.Chart(collapse_directions_table(weights, densities)).encode(
        x=alt.X("x:Q", scale=scale, axis=None),
        y=alt.Y("y:Q", scale=scale, axis=None),
        color=alt.Color("pair:N", title="pair", legend=LEGEND),
        tooltip=["feature:O", "pair:O"],
    )
    lines = base.mark_rule(strokeWidth=2).encode(x2="origin:Q", y2="origin:Q").transform_calculate(origin="0")
    layer = alt.layer(lines, base.mark_point(filled=True, size=30)).properties(width=70, height=70)
    return layer.facet(facet=alt.Facet("density:O", title="density 1 − S"), columns=FACET_COLUMNS)


def differs_chart(table: pd.DataFrame, ratio: float) -> alt.LayerChart:
    """The loss of every run against feature 0's relative density (log axis), coloured by the geometry
    it ended in, the best run per density joined by a line, and a rule at `ratio`; table from
    superpos.structured.differs_sweep."""
    data = table.drop(columns=["W"], errors="ignore")
    x = alt.X("ratio:Q", scale=alt.Scale(type="log"), title="feature 0's density ÷ the others'")
    color = alt.Color(
        "geometry:N",
        scale=alt.Scale(domain=list(structured.GEOMETRIES), range=["#4c78a8", "#e45756", "#bab0ac"]),
        legend=LEGEND,
        title="geometry",
    )
    runs = (
        alt.Chart(data)
        .mark_point(filled=True, size=40, opacity=0.7)
        .encode(
            x=x,
            y=alt.Y("loss:Q", scale=alt.Scale(type="log"), title="held-out loss (log)"),
            color=color,
            tooltip=["ratio:Q", "run:O", alt.Tooltip("loss:Q", format=".4g"), "geometry:N", "best:N"],
        )
    )
    best = alt.Chart(data[data["best"]]).mark_line(color="#444444", strokeWidth=1).encode(x=x, y="loss:Q")
    rule = alt.Chart(pd.DataFrame({"ratio": [ratio]})).mark_rule(color="#888888", strokeDash=[4, 3]).encode(x="ratio:Q")
    return alt.layer(best, runs, rule).properties(
        width=SIZE + 60, height=SIZE, title="Every run's loss: the two geometries' curves cross"
    )


def dimensionality_table(snapshots: np.ndarray, snapshot_steps: np.ndarray) -> pd.DataFrame:
    """One row per (snapshot, feature): step and D_i; snapshots (frames, m, n)."""
    dimensionality = metrics.dimensionality(snapshots)
    frames, n = dimensionality.shape
    return pd.DataFrame(
        {
            "step": np.repeat(snapshot_steps, n),
            "feature": np.tile(np.arange(n), frames),
            "dimensionality": dimensionality.ravel(),
        }
    )


def energy_levels(
    snapshots: np.ndarray, snapshot_steps: np.ndarray, loss_steps: np.ndarray, loss: np.ndarray, step: int
) -> alt.VConcatChart:
    """The paper's "energy levels": each feature's D_i over training above the training loss, on one
    step axis (√ scale, as the snapshots), with a rule at `step`. snapshots (frames, m, n), loss (points,)."""
    x = alt.X("step:Q", scale=alt.Scale(type="sqrt", domain=[0, int(snapshot_steps[-1])]), title="training step (√)")
    rule = alt.Chart(pd.DataFrame({"step": [step]})).mark_rule(color="#888888").encode(x=x)
    levels = (
        alt.Chart(dimensionality_table(snapshots, snapshot_steps))
        .mark_line(point=alt.OverlayMarkDef(size=12), interpolate="step-after")
        .encode(
            x=x,
            y=alt.Y("dimensionality:Q", title="D_i", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("feature:N", title="feature i", legend=LEGEND),
            opacity=FADED,
            tooltip=["feature:O", "step:Q", alt.Tooltip("dimensionality:Q", format=".3f", title="D_i")],
        )
        .add_params(HOVER)
    )
    sticky = alt.Chart(pd.DataFrame({"level": [1, 3 / 4, 2 / 3, 1 / 2, 2 / 5]})).mark_rule(
        color="#dddddd", strokeDash=[2, 2]
    )
    curve = (
        alt.Chart(pd.DataFrame({"step": loss_steps, "loss": loss}))
        .mark_line(color="#e45756")
        .encode(x=x, y=alt.Y("loss:Q", scale=alt.Scale(type="log"), title="loss (log)"))
    )
    return alt.vconcat(
        alt.layer(sticky.encode(y="level:Q"), levels, rule).properties(
            width=2 * SIZE, height=SIZE - 60, title="D_i during training (sticky fractions dashed)"
        ),
        alt.layer(curve, rule).properties(width=2 * SIZE, height=BAR_HEIGHT, title="training loss"),
    )
