"""Charts of one model's embedding W (m x n; column W_i is feature i's direction).

Pure functions from numpy arrays to Altair charts, so they work in a notebook as well:

    result = superpos.train(superpos.Config(n_features=5, n_hidden=2, sparsity=0.95))
    geometry.embedding(result.weights[0], result.bias[0], result.importance[0])

Charts that are concatenated with `linked` share the hover selection HOVER on the field
"feature": pointing at a feature in one chart highlights it in all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import altair as alt
import numpy as np
import pandas as pd

from superpos import metrics

HOVER = alt.selection_point(name="hover", fields=["feature"], on="pointerover", clear="pointerout")
LISTENING = "hover_view"  # the name of a view that sets HOVER, numbered by `linked`
FADED = alt.when(HOVER).then(alt.value(1.0)).otherwise(alt.value(0.2))
LEGEND = alt.Legend(orient="bottom", gradientLength=120)  # below its chart: the views are narrow
IMPORTANCE_COLOR = alt.Color(
    "importance:Q", scale=alt.Scale(scheme="viridis", domain=[0, 1]), title="importance I_i", legend=LEGEND
)
# Paper-like: dark = a direction of its own, gold = much interference.
SUPERPOSITION_COLOR = alt.Color(
    "superposition:Q",
    scale=alt.Scale(domain=[0, 1], range=["#202020", "#f2a900"], clamp=True),
    title="superposition",
    legend=LEGEND,
)
FEATURE_TOOLTIPS = {
    "feature": alt.Tooltip("feature:O", title="feature i"),
    "norm": alt.Tooltip("norm:Q", format=".3f", title="‖W_i‖"),
    "dimensionality": alt.Tooltip("dimensionality:Q", format=".3f", title="D_i"),
    "superposition": alt.Tooltip("superposition:Q", format=".3f"),
    "importance": alt.Tooltip("importance:Q", format=".3g", title="I_i"),
    "bias": alt.Tooltip("bias:Q", format=".3f", title="b_i"),
}
SIZE = 220  # pixels; square direction plots
BAR_WIDTH = 120
BAR_HEIGHT = 110
HEATMAP_FEATURES = 40  # W^T W shows at most the first (most important) 40 features


def charts_in(chart) -> Iterator:
    """`chart` and every chart inside it: layers, concatenated parts, a facet's inner chart."""
    yield chart
    for field in ("layer", "hconcat", "vconcat", "concat"):
        for part in getattr(chart, field, None) or ():
            yield from charts_in(part)
    if isinstance(chart, alt.FacetChart):
        yield from charts_in(chart.spec)


def linked(join: Callable, *parts, **properties):
    """`join(*parts, **properties)` (alt.hconcat or alt.vconcat) with HOVER declared once, on the
    whole chart, listening in every view where a part set it: pointing at a feature anywhere
    highlights it everywhere.

    Declared on each part instead, the copies would be merged by Altair, which warns that it
    deduplicated them. So each part's own HOVER is taken off, the views that set it are named
    LISTENING (after joining, as joining renames layers) and numbered, and one HOVER lists them."""
    parts = [part.copy(deep=True) for part in parts]
    for part in parts:
        inner = list(charts_in(part))
        units = [chart for chart in inner if isinstance(chart, alt.Chart)]
        listening = []
        for chart in inner:
            params = [] if chart.params is alt.Undefined else chart.params
            for param in params:
                if param.name == HOVER.name:  # set by this view, or by the views a layer, facet or join lists
                    views = param.to_dict().get("views")
                    listening += [chart] if views is None else [unit for unit in units if unit.name in views]
            chart.params = [param for param in params if param.name != HOVER.name] or alt.Undefined
        for unit in listening:
            unit.name = LISTENING
    chart = join(*parts, **properties)
    views = []
    for inner in charts_in(chart):
        if isinstance(inner, alt.Chart) and str(inner.name).startswith(LISTENING):
            inner.name = f"{LISTENING}_{len(views)}"
            views.append(inner.name)
    others = [] if chart.params is alt.Undefined else chart.params  # the parts' other parameters, lifted
    chart.params = [*others, alt.TopLevelSelectionParameter(**HOVER.param.to_dict(), views=views)]
    return chart


def feature_table(weights: np.ndarray, importance: np.ndarray, bias=None, basis=None) -> pd.DataFrame:
    """One row per feature i: importance I_i, ||W_i||, superposition sum_{j != i} (hat W_i . W_j)^2,
    D_i, b_i (if given), and (x, y): W_i drawn on the plane `basis` (default: plane(W))."""
    x, y = (plane(weights) if basis is None else basis) @ weights
    table = pd.DataFrame(
        {
            "feature": np.arange(weights.shape[1]),
            "importance": importance,
            "norm": metrics.feature_norms(weights),
            "superposition": metrics.superposition(weights),
            "dimensionality": metrics.dimensionality(weights),
            "x": x,
            "y": y,
        }
    )
    return table if bias is None else table.assign(bias=bias)


def plane(weights: np.ndarray) -> np.ndarray:
    """A (2, m) map to the plane that is drawn: the identity for m = 2, the line for m = 1, and
    for m >= 3 W's top-2 principal axes (left singular vectors), which keep the most of sum ||W_i||^2.
    Each axis is signed so that the largest coordinate on it is positive."""
    m = weights.shape[0]
    if m <= 2:
        return np.eye(2, m)
    axes = np.linalg.svd(weights, full_matrices=False)[0][:, :2].T
    coordinates = axes @ weights
    largest = coordinates[np.arange(2), np.abs(coordinates).argmax(axis=1)]
    return axes * np.where(largest < 0, -1.0, 1.0)[:, None]


def tooltips(table: pd.DataFrame, *first) -> list:
    """The tooltips of FEATURE_TOOLTIPS whose fields `table` has, after `first`."""
    return [*first, *(tip for field, tip in FEATURE_TOOLTIPS.items() if field in table)]


def unit_circle() -> alt.Chart:
    """The circle ||W_i|| = 1, where a represented feature's arrow ends."""
    angle = np.linspace(0, 2 * np.pi, 73)
    circle = pd.DataFrame({"x": np.cos(angle), "y": np.sin(angle), "order": np.arange(73)})
    return alt.Chart(circle).mark_line(color="#bbbbbb", strokeDash=[3, 3]).encode(x="x:Q", y="y:Q", order="order:Q")


def arrows(table: pd.DataFrame, title: str, extent: float | None = None, color=None, tooltip=None) -> alt.LayerChart:
    """Each feature as an arrow from the origin to (x, y), coloured by importance (or `color`),
    with a tooltip (or `tooltip`).

    `extent` fixes the axes to [-extent, extent] (so frames of an animation line up)."""
    if extent is None:
        extent = max(1.0, float(np.abs(table[["x", "y"]].to_numpy()).max(initial=0.0)))
    scale = alt.Scale(domain=[-1.15 * extent, 1.15 * extent], nice=False)
    base = alt.Chart(table).encode(
        x=alt.X("x:Q", scale=scale, title=None),
        y=alt.Y("y:Q", scale=scale, title=None),
        color=IMPORTANCE_COLOR if color is None else color,
        opacity=FADED,
        tooltip=tooltips(table) if tooltip is None else tooltip,
    )
    lines = base.mark_rule(strokeWidth=2.5).encode(x2="origin:Q", y2="origin:Q").transform_calculate(origin="0")
    tips = base.mark_point(filled=True, size=60).add_params(HOVER)
    return alt.layer(unit_circle(), lines, tips).properties(width=SIZE, height=SIZE, title=title)


def feature_bars(table: pd.DataFrame, field: str, title: str, color=None) -> alt.Chart:
    """One bar per feature of `field` (e.g. D_i or b_i), highlighted with the others on hover."""
    return (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X("feature:O", title="feature i", axis=alt.Axis(labelOverlap=True)),
            y=alt.Y(f"{field}:Q", title=title),
            color=alt.value("#4c78a8") if color is None else color,
            opacity=FADED,
            tooltip=[alt.Tooltip("feature:O", title="feature i"), alt.Tooltip(f"{field}:Q", format=".3f", title=title)],
        )
        .add_params(HOVER)
        .properties(width=BAR_WIDTH, height=BAR_HEIGHT, title=title)
    )


def gram_table(weights: np.ndarray, limit: int = HEATMAP_FEATURES) -> pd.DataFrame:
    """W^T W for the first `limit` features, one row per (feature, other) pair."""
    shown = weights[:, :limit]
    gram = shown.T @ shown
    feature, other = np.meshgrid(np.arange(shown.shape[1]), np.arange(shown.shape[1]), indexing="ij")
    return pd.DataFrame({"feature": feature.ravel(), "other": other.ravel(), "value": gram.ravel()})


def gram_heatmap(weights: np.ndarray, limit: int = HEATMAP_FEATURES) -> alt.Chart:
    """W^T W: diagonal ||W_i||^2, off-diagonal W_i . W_j (red negative, blue positive)."""
    n = weights.shape[1]
    title = "WᵀW" if n <= limit else f"WᵀW, first {limit} of {n} features"
    return (
        alt.Chart(gram_table(weights, limit))
        .mark_rect()
        .encode(
            x=alt.X("other:O", title="feature j", axis=alt.Axis(labelOverlap=True)),
            y=alt.Y("feature:O", title="feature i", axis=alt.Axis(labelOverlap=True)),
            color=alt.Color(
                "value:Q",
                scale=alt.Scale(scheme="redblue", domain=[-1, 1], clamp=True),
                title="W_i·W_j",
                legend=LEGEND,
            ),
            opacity=FADED,
            tooltip=[
                alt.Tooltip("feature:O", title="i"),
                alt.Tooltip("other:O", title="j"),
                alt.Tooltip("value:Q", format=".3f", title="W_i·W_j"),
            ],
        )
        .add_params(HOVER)
        .properties(width=SIZE, height=SIZE, title=title)
    )


def embedding(weights: np.ndarray, bias: np.ndarray, importance: np.ndarray) -> alt.ConcatChart:
    """The Embedding view as one chart, hover linked across its parts.

    m <= 2: the arrows W_i (the paper's pentagons), beside D_i and b_i per feature.
    m >= 3: the columns projected on W's top-2 principal axes and W^T W, above ||W_i||
    coloured by superposition, D_i and b_i.
    """
    table = feature_table(weights, importance, bias)
    dimensionality = feature_bars(table, "dimensionality", "D_i, dimensionality")
    bias_bars = feature_bars(table, "bias", "b_i, bias")
    if weights.shape[0] <= 2:
        bars = linked(alt.vconcat, dimensionality, bias_bars)
        return linked(alt.hconcat, arrows(table, "W_i, each feature's direction"), bars)
    norms = feature_bars(table, "norm", "‖W_i‖, coloured by superposition", SUPERPOSITION_COLOR)
    top = linked(alt.hconcat, arrows(table, "W_i on W's top-2 principal axes"), gram_heatmap(weights))
    bottom = linked(alt.hconcat, norms, dimensionality, bias_bars)
    return linked(alt.vconcat, top.resolve_scale(color="independent"), bottom).resolve_scale(color="independent")


def dynamics_table(snapshots: np.ndarray, snapshot_steps: np.ndarray, importance: np.ndarray) -> pd.DataFrame:
    """One row per (snapshot, feature): step, ||W_i|| and W_i drawn on the final W's plane."""
    basis = plane(snapshots[-1])
    frames = [
        feature_table(weights, importance, basis=basis).assign(frame=frame, step=step)
        for frame, (weights, step) in enumerate(zip(snapshots, snapshot_steps, strict=True))
    ]
    return pd.concat(frames, ignore_index=True)


def dynamics(snapshots: np.ndarray, snapshot_steps: np.ndarray, importance: np.ndarray, frame: int) -> alt.HConcatChart:
    """Training dynamics: W at snapshot `frame` (axes fixed over all snapshots), beside every
    ||W_i|| over training with a rule at that snapshot's step. snapshots (frames, m, n)."""
    table = dynamics_table(snapshots, snapshot_steps, importance)
    step = int(snapshot_steps[frame])
    extent = max(1.0, float(np.abs(table[["x", "y"]].to_numpy()).max()))
    now = arrows(table[table["frame"] == frame], f"W_i at step {step}", extent)
    norms = (
        alt.Chart(table)
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("step:Q", scale=alt.Scale(type="sqrt"), title="training step (√ scale)"),
            y=alt.Y("norm:Q", title="‖W_i‖"),
            color=IMPORTANCE_COLOR,
            detail="feature:N",
            opacity=FADED,
            tooltip=[
                alt.Tooltip("feature:O", title="feature i"),
                "step:Q",
                alt.Tooltip("norm:Q", format=".3f", title="‖W_i‖"),
            ],
        )
        .add_params(HOVER)
    )
    rule = alt.Chart(pd.DataFrame({"step": [step]})).mark_rule(color="#888888").encode(x="step:Q")
    return linked(
        alt.hconcat, now, alt.layer(norms, rule).properties(width=SIZE + 20, height=SIZE, title="‖W_i‖ during training")
    )


def importance_bars(importance: np.ndarray) -> alt.Chart:
    """A small preview of I_i = r^i, one bar per feature."""
    table = pd.DataFrame({"feature": np.arange(len(importance)), "importance": importance})
    return (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X("feature:O", axis=None),
            y=alt.Y("importance:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(title=None, tickCount=2)),
            color=IMPORTANCE_COLOR.legend(None),
            tooltip=[alt.Tooltip("feature:O", title="i"), alt.Tooltip("importance:Q", format=".3g", title="I_i")],
        )
        .properties(height=60)
    )
