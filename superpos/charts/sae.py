"""Charts of sparse autoencoders trained on a toy (superpos.sae, superpos.sae_metrics).

Pure functions from results and tables to Altair charts, so they work in a notebook as well:

    toy = superpos.train(superpos.Config(sparsity=0.975))
    result = sae.train_saes(toy, sae.SAEConfig())
    scores = sae_metrics.evaluate_saes(result)
    charts.sae.directions(result, scores, 0)
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from superpos.charts.geometry import SIZE, plane, unit_circle
from superpos.sae import SAEResult
from superpos.sae_metrics import SAEMetrics, feature_directions, latent_table

LATENT_COLOR = "#d62728"
DEAD_COLOR = "#9e9e9e"
FEATURE_COLOR = "#303030"
# Streamlit fits a chart's whole drawing (axes, legend, title) into its width and height unless the
# chart says otherwise, which squeezes the plots of these charts with legends to a sliver: the sizes
# below are the plotting areas', and the legends and titles are drawn around them.
AROUND_PLOT = alt.AutoSizeParams(type="pad", contains="padding")
MMCS_COLOR = alt.Color(
    "mmcs_features:Q", scale=alt.Scale(scheme="viridis", domain=[0.5, 1], clamp=True), title="MMCS features→latents"
)


def direction_table(result: SAEResult, scores: SAEMetrics, sae: int) -> pd.DataFrame:
    """One row per true feature direction f_i (its length) and per unit decoder direction d_j, drawn on
    the plane: the identity for m = 2, the toy's top-2 principal axes for m >= 3."""
    features = feature_directions(result.model, result.toy_weights)
    basis = plane(features)
    fx, fy = basis @ features
    dx, dy = basis @ result.decoder[sae]
    latents = latent_table(result, scores, sae)
    return pd.concat(
        [
            pd.DataFrame(
                {"x": fx, "y": fy, "what": "true feature f_i", "name": [f"feature {i}" for i in range(len(fx))]}
            ),
            pd.DataFrame(
                {
                    "x": dx,
                    "y": dy,
                    "what": np.where(latents["dead"], "dead latent", "latent d_j"),
                    "name": [f"latent {j}" for j in range(len(dx))],
                    "cosine": latents["cosine"],
                    "feature": latents["feature"],
                }
            ),
        ],
        ignore_index=True,
    )


def directions(result: SAEResult, scores: SAEMetrics, sae: int) -> alt.LayerChart:
    """The true features as dark arrows and the SAE's decoder directions over them (dead latents grey)."""
    table = direction_table(result, scores, sae)
    extent = max(1.0, float(np.abs(table[["x", "y"]].to_numpy()).max(initial=0.0)))
    scale = alt.Scale(domain=[-1.15 * extent, 1.15 * extent], nice=False)
    color = alt.Color(
        "what:N",
        scale=alt.Scale(
            domain=["true feature f_i", "latent d_j", "dead latent"], range=[FEATURE_COLOR, LATENT_COLOR, DEAD_COLOR]
        ),
        title=None,
        legend=alt.Legend(orient="bottom"),
    )
    base = alt.Chart(table).encode(
        x=alt.X("x:Q", scale=scale, title=None),
        y=alt.Y("y:Q", scale=scale, title=None),
        color=color,
        tooltip=["name:N", alt.Tooltip("feature:O", title="best feature"), alt.Tooltip("cosine:Q", format=".3f")],
    )
    dash = alt.condition("datum.what == 'true feature f_i'", alt.value([1, 0]), alt.value([5, 3]))
    lines = (
        base.mark_rule(strokeWidth=2.5)
        .encode(x2="origin:Q", y2="origin:Q", strokeDash=dash)
        .transform_calculate(origin="0")
    )
    tips = base.mark_point(filled=True, size=60).encode(shape=alt.Shape("what:N", legend=None))
    projected = result.toy_weights.shape[0] > 2
    title = alt.TitleParams(
        "true directions and the SAE's decoder", subtitle="top-2 principal axes" if projected else ""
    )
    return alt.layer(unit_circle(), lines, tips).properties(width=SIZE, height=SIZE, title=title, autosize=AROUND_PLOT)


def matching_table(scores: SAEMetrics, sae: int) -> pd.DataFrame:
    """cos(f_i, d_j) long-form, latents ranked by (best feature, -cosine) in `rank`."""
    cosine = scores.cosine[sae]
    order = np.lexsort((-scores.best_cosine[sae], scores.best_feature[sae]))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    feature, latent = np.indices(cosine.shape)
    return pd.DataFrame(
        {
            "feature": feature.ravel(),
            "latent": latent.ravel(),
            "rank": rank[latent.ravel()],
            "cosine": cosine.ravel(),
        }
    )


def matching_heatmap(scores: SAEMetrics, sae: int) -> alt.Chart:
    """The heatmap cos(d_j, f_i), latents sorted by their best feature: a diagonal = one latent per feature."""
    table = matching_table(scores, sae)
    return (
        alt.Chart(table)
        .mark_rect()
        .encode(
            x=alt.X("latent:O", sort=alt.EncodingSortField("rank"), title="latent j (sorted by best feature)"),
            y=alt.Y("feature:O", title="feature i"),
            color=alt.Color(
                "cosine:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True), title="cos(f_i, d_j)"
            ),
            tooltip=["latent:O", "feature:O", alt.Tooltip("cosine:Q", format=".3f")],
        )
        .properties(width=SIZE, height=SIZE, title="matching: cos(f_i, d_j)", autosize=AROUND_PLOT)
    )


def frequency_chart(result: SAEResult, scores: SAEMetrics, sae: int) -> alt.LayerChart:
    """Each latent's firing frequency P(z_j > 0) as a bar, its best feature's probability p_i as a tick."""
    table = latent_table(result, scores, sae)
    base = alt.Chart(table).encode(x=alt.X("latent:O", title="latent j"))
    bars = base.mark_bar(color=LATENT_COLOR).encode(
        y=alt.Y("frequency:Q", title="firing frequency"),
        tooltip=[
            "latent:O",
            alt.Tooltip("frequency:Q", format=".4f"),
            alt.Tooltip("feature:O", title="best feature"),
            alt.Tooltip("feature_probability:Q", format=".4f", title="its p_i"),
        ],
    )
    ticks = base.mark_tick(color=FEATURE_COLOR, thickness=3, size=22).encode(y="feature_probability:Q")
    return alt.layer(bars, ticks).properties(
        width=SIZE, height=SIZE, title="firing frequency (tick: its feature's p)", autosize=AROUND_PLOT
    )


def shrinkage_chart(scores: SAEMetrics, sae: int) -> alt.LayerChart:
    """Each feature's best latent's z against a = x_i ||f_i|| on one-hot inputs; the dashed line z = a."""
    points = scores.shrinkage_points[scores.shrinkage_points["sae"] == sae]
    top = float(max(points["input"].max(), points["activation"].max(), 1e-6))
    identity = alt.Chart(pd.DataFrame({"input": [0.0, top], "activation": [0.0, top]}))
    diagonal = identity.mark_line(color="#999999", strokeDash=[4, 4]).encode(x="input:Q", y="activation:Q")
    lines = (
        alt.Chart(points)
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("input:Q", title="x_i ‖f_i‖ (one-hot input)"),
            y=alt.Y("activation:Q", title="z of its best latent"),
            color=alt.Color("feature:N", title="feature", legend=alt.Legend(orient="bottom")),
            tooltip=[
                "feature:N",
                "latent:O",
                alt.Tooltip("input:Q", format=".3f"),
                alt.Tooltip("activation:Q", format=".3f"),
            ],
        )
    )
    return alt.layer(diagonal, lines).properties(
        width=SIZE, height=SIZE, title="shrinkage (dashed: none)", autosize=AROUND_PLOT
    )


def frontier_table(results: list[tuple[SAEResult, SAEMetrics]]) -> pd.DataFrame:
    """One row per SAE of every sweep: kind, setting, seed, L0, FVU and both MMCS."""
    rows = [
        pd.DataFrame(
            {
                "kind": result.kind,
                "setting": result.setting,
                "seed": result.seed,
                "l0": scores.l0,
                "fvu": scores.fvu,
                "mmcs_features": scores.mmcs_features,
                "mmcs_latents": scores.mmcs_latents,
            }
        )
        for result, scores in results
    ]
    return pd.concat(rows, ignore_index=True)


def frontier(sweep: pd.DataFrame, current: pd.DataFrame) -> alt.LayerChart:
    """L0 against FVU over the sweeps, coloured by MMCS, a shape per architecture; `current` (the
    settings of the other charts, same columns) ringed."""
    tooltip = [
        "kind:N",
        alt.Tooltip("setting:Q", format=".3g"),
        "seed:O",
        alt.Tooltip("l0:Q", format=".3f", title="L0"),
        alt.Tooltip("fvu:Q", format=".4f", title="FVU"),
        alt.Tooltip("mmcs_features:Q", format=".3f"),
    ]
    x = alt.X("l0:Q", title="L0 (active latents per input)")
    # symlog: linear near 0 (a perfect SAE), logarithmic above 0.01; its default ticks are too few to read.
    y = alt.Y(
        "fvu:Q",
        title="FVU",
        scale=alt.Scale(type="symlog", constant=0.01),
        axis=alt.Axis(values=[0, 0.01, 0.03, 0.1, 0.3, 1], format="~g"),
    )
    points = (
        alt.Chart(sweep)
        .mark_point(filled=True, size=70, opacity=0.85)
        .encode(
            x=x, y=y, color=MMCS_COLOR, shape=alt.Shape("kind:N", legend=alt.Legend(orient="bottom")), tooltip=tooltip
        )
    )
    ring = alt.Chart(current).mark_point(size=260, color="black", strokeWidth=2).encode(x=x, y=y, tooltip=tooltip)
    return alt.layer(points, ring).properties(
        width=2 * SIZE, height=SIZE, title="frontier: sparsity vs reconstruction", autosize=AROUND_PLOT
    )
