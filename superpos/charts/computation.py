"""Altair charts of the absolute-value model's neurons: data from superpos.computation in, a chart out.

Pure functions (no Streamlit), so a notebook draws the same pictures:
    table = computation.neuron_table(result.weights[0], result.output_weights[0])
    neuron_weights_chart(result.weights[0], result.output_weights[0], table, "reads")
Features are coloured by index on the viridis scale of superpos.charts.neurons (feature 0 the
most important), neuron labels on its dead / mono / poly scale.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from superpos import computation
from superpos.charts.neurons import LABEL_COLORS, LEGEND_MAX_FEATURES, SMALLEST_DRAWN_WEIGHT

PANEL_HEIGHT = 320  # px, title, axes and legend included; the width follows the page (two panels per column)
PANELS = {  # the two halves of the neuron plot: column of weights_table, title, y-axis title
    "reads": ("W1: what each neuron reads", "W1_ki / max_j |W1_kj|"),
    "writes": ("W2: what it writes back", "W2_ik (rescaled)"),
}
DRAWN_DENSITY_ORDER = [str(d) for d in computation.PAPER_DENSITIES]


def weights_table(first: np.ndarray, second: np.ndarray, table: pd.DataFrame) -> pd.DataFrame:
    """Long table of one model's weights as drawn: per neuron k and feature i, the normalised
    input weight W1_ki / c_k and the output weight W2_ik c_k, c_k = max_j |W1_kj|. ReLU(c z) =
    c ReLU(z) for c > 0, so the rescaled network computes exactly the same function."""
    n_hidden, n_features = first.shape
    scale = np.abs(first).max(axis=1)
    long = pd.DataFrame(
        {
            "neuron": np.repeat(np.arange(n_hidden), n_features),
            "feature": np.tile(np.arange(n_features), n_hidden),
            "reads": computation.normalised_inputs(first).ravel(),
            "writes": (second * scale[None, :]).T.ravel(),
        }
    )
    return long.merge(table[["neuron", "order", "polysemanticity", "label"]], on="neuron")


def feature_color(n_features: int, legend: bool) -> alt.Color:
    """Viridis by feature index over all n features, so two panels drawing different features agree."""
    shown = alt.Legend(title="feature", orient="right") if legend and n_features <= LEGEND_MAX_FEATURES else None
    return alt.Color("feature:O", scale=alt.Scale(scheme="viridis", domain=list(range(n_features))), legend=shown)


def neuron_weights_chart(first: np.ndarray, second: np.ndarray, table: pd.DataFrame, panel: str) -> alt.Chart:
    """Half of the paper's neuron plot for the abs model, `panel` "reads" or "writes": per neuron,
    its input weights W1 normalised so the largest is 1 in size, or its output weights W2 rescaled
    to match (weights_table), stacked by feature, positive up and negative down, neurons sorted
    by the feature they serve most. table: computation.neuron_table. The legend is on "writes"."""
    long = weights_table(first, second, table)
    magnitude = long[panel].abs()
    drawn = long[magnitude >= SMALLEST_DRAWN_WEIGHT * max(magnitude.max(), 1e-12)]
    title, y_title = PANELS[panel]
    return (
        alt.Chart(drawn, title=title, width="container", height=PANEL_HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X(
                "neuron:N",
                sort=table["neuron"].tolist(),
                title="neuron (by the feature it serves most)",
                axis=alt.Axis(labelAngle=0, labelOverlap=True),
            ),
            y=alt.Y(f"{panel}:Q", title=y_title),
            color=feature_color(first.shape[1], legend=panel == "writes"),
            order=alt.Order("feature:O"),
            tooltip=[
                "neuron:N",
                "feature:O",
                alt.Tooltip(f"{panel}:Q", format=".3f"),
                alt.Tooltip("polysemanticity:Q", format=".2f", title="neuron's PR"),
                alt.Tooltip("label:N", title="neuron is"),
            ],
        )
    )


def motif_table(first: np.ndarray, second: np.ndarray, motif: pd.Series) -> pd.DataFrame:
    """The two neurons of one asymmetric motif (a row of computation.asymmetric_motifs) on its two
    features: what each reads (W1) and writes (W2), as raw weights."""
    rows = []
    neurons = (("A (reads both)", int(motif["neuron"])), ("B (inhibits)", int(motif["inhibitor"])))
    for role, neuron in neurons:
        for name, feature in (("strong", int(motif["strong"])), ("weak", int(motif["weak"]))):
            label = f"{name} {feature}"
            rows.append({"neuron": role, "feature": label, "weight": "reads W1", "value": first[neuron, feature]})
            rows.append({"neuron": role, "feature": label, "weight": "writes W2", "value": second[feature, neuron]})
    return pd.DataFrame(rows)


def motif_chart(first: np.ndarray, second: np.ndarray, motif: pd.Series) -> alt.FacetChart:
    """One asymmetric superposition motif drawn out: for neuron A and its inhibitor B, the weights
    reading (W1) and writing (W2) the strong and the weak feature (labelled by index)."""
    data = motif_table(first, second, motif)
    return (
        alt.Chart(data, width=120, height=140)
        .mark_bar()
        .encode(
            x=alt.X("feature:N", title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title="weight"),
            color=alt.Color("feature:N", scale=alt.Scale(range=["#31688e", "#fde725"]), legend=None),
            column=alt.Column("weight:N", title=None),
            row=alt.Row("neuron:N", title=None),
            tooltip=["neuron:N", "feature:N", "weight:N", alt.Tooltip("value:Q", format=".3f")],
        )
    )


def density_chart(summary: pd.DataFrame) -> alt.Chart:
    """Per density 1 - S (dense left), the neurons that are monosemantic, polysemantic or dead
    (computation.density_summary), as stacked bars."""
    long = summary.melt(id_vars="density", var_name="label", value_name="neurons")
    long["density"] = long["density"].map(str)
    return (
        alt.Chart(long, title="Neurons per density", width="container", height=PANEL_HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("density:N", sort=DRAWN_DENSITY_ORDER, title="density 1 − S", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("neurons:Q", title="neurons"),
            color=alt.Color("label:N", scale=LABEL_COLORS, title="neuron"),
            order=alt.Order("label:N"),
            tooltip=["density:N", "label:N", "neurons:Q"],
        )
    )


def served_features_chart(features: pd.DataFrame) -> alt.Chart:
    """Which features the polysemantic neurons serve (computation.polysemantic_features): per density,
    a point per (neuron, feature) at the feature's importance rank, larger for larger weights."""
    data = features.assign(density=features["density"].map(str), size=features["weight"].abs())
    return (
        alt.Chart(data, title="Features the polysemantic neurons read", width="container", height=PANEL_HEIGHT)
        .mark_circle(opacity=0.5)
        .encode(
            x=alt.X("importance_rank:Q", title="feature's importance rank (0 = most important)"),
            y=alt.Y("density:N", sort=DRAWN_DENSITY_ORDER, title="density 1 − S"),
            size=alt.Size("size:Q", scale=alt.Scale(domain=[0, 1], range=[5, 120]), title="|W1| (normalised)"),
            tooltip=["density:N", "neuron:N", "feature:O", "importance_rank:Q", alt.Tooltip("weight:Q", format=".2f")],
        )
    )
