"""Altair charts of neurons and polysemanticity: data from superpos.neurons in, a chart out.

Each function is pure (no Streamlit), so a notebook can draw the same views:
    table = neurons.neuron_table(result.weights[0])
    neuron_weights_chart(result.weights[0], table)
Features are coloured by index on one viridis scale everywhere (feature 0 is the most
important when importance decays), neuron labels on one dead / mono / poly scale.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from superpos import metrics
from superpos.config import MODEL_LABELS

LEGEND_MAX_FEATURES = 20  # above this a feature legend is a wall of swatches: tooltips instead
# Vega-Lite draws every row as a mark; past a few thousand segments the browser stalls and
# the stacks are unreadable anyway, so only the largest weights are drawn.
MAX_WEIGHT_SEGMENTS = 5000
SMALLEST_DRAWN_WEIGHT = 0.01  # relative to the largest |W_ki|: invisible at chart scale
LABEL_COLORS = alt.Scale(domain=["dead", "monosemantic", "polysemantic"], range=["#9e9e9e", "#4c78a8", "#f58518"])


def feature_color(n_features: int) -> alt.Color:
    """Colour by feature index (viridis), with a legend only when it stays readable."""
    legend = alt.Legend(title="feature") if n_features <= LEGEND_MAX_FEATURES else None
    return alt.Color("feature:O", scale=alt.Scale(scheme="viridis"), legend=legend)


def neuron_axis(table: pd.DataFrame) -> alt.X:
    """Neurons along x in the table's order (most polysemantic first)."""
    return alt.X(
        "neuron:N",
        sort=table["neuron"].tolist(),
        title="neuron (most polysemantic first)",
        axis=alt.Axis(labelAngle=0, labelOverlap=True),
    )


def neuron_weights_chart(weights: np.ndarray, table: pd.DataFrame) -> alt.Chart:
    """The paper's neuron plot: per neuron k, its weights W_ki to every feature i stacked,
    positive up and negative down, coloured by feature; neurons in `table`'s order.

    weights (m, n) of one model; table from neurons.neuron_table(weights).
    """
    n_hidden, n_features = weights.shape
    long = pd.DataFrame(
        {
            "neuron": np.repeat(np.arange(n_hidden), n_features),
            "feature": np.tile(np.arange(n_features), n_hidden),
            "weight": weights.ravel(),
        }
    )
    magnitude = long["weight"].abs()
    long = long[magnitude >= SMALLEST_DRAWN_WEIGHT * magnitude.max()]
    long = long.loc[long["weight"].abs().nlargest(MAX_WEIGHT_SEGMENTS).index]
    long = long.merge(table[["neuron", "polysemanticity", "label"]], on="neuron")
    return (
        alt.Chart(long, title="Each neuron's weights to the features (positive up, negative down)")
        .mark_bar()
        .encode(
            x=neuron_axis(table),
            y=alt.Y("weight:Q", title="weight W_ki"),
            color=feature_color(n_features),
            order=alt.Order("feature:O"),
            tooltip=[
                "neuron:N",
                "feature:O",
                alt.Tooltip("weight:Q", format=".3f"),
                alt.Tooltip("polysemanticity:Q", format=".2f", title="neuron's PR"),
                alt.Tooltip("label:N", title="neuron is"),
            ],
        )
    )


def neuron_scores_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Per neuron: participation ratio PR_k (bars, coloured dead / mono / poly) and the
    count-based score (black ticks), in the table's order; a rule at PR = 1 (monosemantic)."""
    tooltip = [
        "neuron:N",
        alt.Tooltip("polysemanticity:Q", format=".2f", title="PR (participation ratio)"),
        alt.Tooltip("label:N", title="label"),
        alt.Tooltip("features_driving:Q", title="features driving it"),
        alt.Tooltip("monosemanticity:Q", format=".2f", title="max|W_ki| / ||W_k||"),
    ]
    base = alt.Chart(table, title="Polysemanticity per neuron").encode(x=neuron_axis(table), tooltip=tooltip)
    bars = base.mark_bar().encode(
        y=alt.Y("polysemanticity:Q", title="participation ratio PR_k"),
        color=alt.Color("label:N", scale=LABEL_COLORS, title="neuron"),
    )
    counts = base.mark_tick(color="black", thickness=2).encode(y="features_driving:Q")
    monosemantic = alt.Chart().mark_rule(strokeDash=[4, 4], color="gray").encode(y=alt.datum(1))
    return alt.layer(bars, counts, monosemantic)


def sparsity_chart(summary: pd.DataFrame) -> alt.HConcatChart:
    """Across a sparsity sweep (neurons.sparsity_summary), against 1/(1 - S) on a log axis:
    left the mean PR of live neurons; right the fractions of polysemantic and dead neurons,
    with Lecomte et al.'s n^2/(4 m) expectation at the sweep points where it applies."""
    data = summary.assign(inverse_probability=1.0 / summary["feature_probability"])
    x = alt.X("inverse_probability:Q", scale=alt.Scale(type="log"), title="1 / (1 - S)")
    tooltip = [
        alt.Tooltip("sparsity:Q", format=".3f", title="S"),
        alt.Tooltip("feature_probability:Q", format=".3g", title="p = 1 - S"),
        alt.Tooltip("features_stored:Q", title="features stored"),
    ]
    mean_score = (
        alt.Chart(data, title="Mean polysemanticity of live neurons")
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("mean_polysemanticity:Q", title="mean PR", scale=alt.Scale(zero=False)),
            tooltip=[*tooltip, alt.Tooltip("mean_polysemanticity:Q", format=".2f", title="mean PR")],
        )
        .transform_filter("isValid(datum.mean_polysemanticity)")
    )
    series = {
        "polysemantic_fraction": "polysemantic",
        "dead_fraction": "dead",
        "expected_polysemantic_fraction": "expected n²/(4m)",
    }
    fractions = (
        alt.Chart(data.rename(columns=series), title="Share of neurons")
        .transform_fold(list(series.values()), as_=["measure", "fraction"])
        .transform_filter("isValid(datum.fraction)")
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("fraction:Q", title="fraction of the m neurons", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "measure:N",
                title=None,
                scale=alt.Scale(domain=list(series.values()), range=["#f58518", "#9e9e9e", "#e45756"]),
            ),
            strokeDash=alt.StrokeDash(
                "measure:N", title=None, scale=alt.Scale(domain=list(series.values()), range=[[1, 0], [1, 0], [5, 4]])
            ),
            tooltip=[*tooltip, "measure:N", alt.Tooltip("fraction:Q", format=".2f")],
        )
    )
    # Narrow panels: the two legends must fit beside them in a wide page's main column.
    return alt.hconcat(mean_score.properties(width=240), fractions.properties(width=240))


def rotation_chart(losses: pd.DataFrame, scores: pd.DataFrame) -> alt.HConcatChart:
    """Side by side per model (neurons.rotation_comparison): held-out loss before and after
    W -> R W (top, log scale) and each hidden unit's polysemanticity before and after (bottom)."""
    rotation = alt.Color("rotation:N", sort=["before", "after"], title="R applied")
    panels = []
    for row in losses.itertuples():
        loss = (
            alt.Chart(losses[losses["model"] == row.model], title=f"Loss {row.relative_change:+.2%}")
            .transform_fold(["before", "after"], as_=["rotation", "loss"])
            .mark_bar()
            .encode(
                x=alt.X("rotation:N", sort=["before", "after"], title=None, axis=alt.Axis(labelAngle=0)),
                y=alt.Y(
                    "loss:Q",
                    title="held-out loss",
                    scale=alt.Scale(type="log"),
                    axis=alt.Axis(format=".0e"),
                    stack=None,
                ),
                color=rotation,
                tooltip=["rotation:N", alt.Tooltip("loss:Q", format=".3e")],
            )
            .properties(width=300, height=140)
        )
        unit_scores = (
            alt.Chart(scores[scores["model"] == row.model], title="Score of each hidden unit")
            .transform_fold(["before", "after"], as_=["rotation", "score"])
            .mark_bar()
            .encode(
                x=alt.X("unit:O", title="hidden unit", axis=alt.Axis(labelAngle=0, labelOverlap=True)),
                xOffset=alt.XOffset("rotation:N", sort=["before", "after"]),
                y=alt.Y("score:Q", title="participation ratio"),
                color=rotation,
                tooltip=["unit:O", "rotation:N", alt.Tooltip("score:Q", format=".2f")],
            )
            .properties(width=300, height=180)
        )
        panels.append(alt.vconcat(loss, unit_scores, title=MODEL_LABELS[row.model]))
    return alt.hconcat(*panels)


def feature_cost_chart(costs: pd.DataFrame) -> alt.VConcatChart:
    """Per feature (neurons.feature_costs): its share of the loss (top) and the interference
    sum_{j != i} (hat W_i . W_j)^2 it suffers (bottom), coloured by feature; dropped features faded."""
    tooltip = [
        "feature:O",
        alt.Tooltip("importance:Q", format=".3g"),
        alt.Tooltip("norm:Q", format=".2f", title="||W_i||"),
        alt.Tooltip("loss_share:Q", format=".1%", title="share of the loss"),
        alt.Tooltip("error:Q", format=".2e", title="its error"),
        alt.Tooltip("error_if_dropped:Q", format=".2e", title="error if dropped"),
        alt.Tooltip("fraction_of_drop_cost:Q", format=".1%", title="error / error if dropped"),
        alt.Tooltip("interference:Q", format=".3f"),
        alt.Tooltip("neuron:N", title="main neuron"),
        alt.Tooltip("neuron_polysemanticity:Q", format=".2f", title="main neuron's PR"),
    ]
    base = (
        alt.Chart(costs)
        .mark_bar()
        .encode(
            x=alt.X("feature:O", title="feature i", axis=alt.Axis(labelAngle=0, labelOverlap=True)),
            color=feature_color(len(costs)),
            opacity=alt.Opacity(
                "stored:N",
                scale=alt.Scale(domain=[True, False], range=[1.0, 0.35]),
                title=f"stored (||W_i|| ≥ {metrics.REPRESENTED_NORM})",
            ),
            tooltip=tooltip,
        )
    )
    share = base.encode(y=alt.Y("loss_share:Q", title="share of the loss", axis=alt.Axis(format="%"))).properties(
        title="Each feature's share of the loss", height=160
    )
    interference = base.encode(y=alt.Y("interference:Q", title="Σ_j≠i (Ŵ_i·W_j)²")).properties(
        title="Interference each feature suffers", height=160
    )
    return alt.vconcat(share, interference)
