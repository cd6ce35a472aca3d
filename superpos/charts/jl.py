"""Altair charts of the near-orthogonality (Johnson-Lindenstrauss) results in superpos.jl.

Pure functions: results in (the column dicts and dataclasses superpos.jl returns), an Altair
chart out; no Streamlit, so they work in a notebook too. Every mark has a tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import numpy as np
import pandas as pd

from superpos.jl import CosineStatistics, Projection, TrainedVersusRandom

WIDTH = 420
# Side-by-side panels are narrower, so that two fit a wide page's main column.
PANEL_WIDTH = 300
HEIGHT = 260
CURVE_NAMES = {"measured": "measured", "expected": "expected (exact law)", "welch_bound": "Welch lower bound"}
PACKING_METHODS = {
    "random greedy": ("#4c78a8", [1, 0]),
    "gradient descent": ("#f58518", [1, 0]),
    "exp(d ε²/4) bound": ("#e45756", [6, 3]),
    "N = d (orthogonal)": ("#9d9d9d", [2, 2]),
}


def _compact_legends(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Tighter legends than the default, so several fit beside a plot of height HEIGHT."""
    return chart.configure_legend(rowPadding=2, symbolSize=60, titlePadding=4, labelFontSize=11)


def _frame(columns: Mapping[str, np.ndarray], **constants) -> pd.DataFrame:
    return pd.DataFrame(dict(columns)).assign(**constants)


def _histogram_bars(frame: pd.DataFrame, x_title: str, color: str, label: str) -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_bar(color=color, opacity=0.55)
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title=x_title, scale=alt.Scale(zero=False)),
            x2="bin_end:Q",
            y=alt.Y("density:Q", title="density"),
            tooltip=[
                alt.Tooltip("bin_start:Q", title="from", format=".3f"),
                alt.Tooltip("bin_end:Q", title="to", format=".3f"),
                alt.Tooltip("density:Q", format=".3f"),
                alt.Tooltip("what:N"),
            ],
        )
        .transform_calculate(what=f"'{label}'")
    )


def cosine_histogram_chart(stats: CosineStatistics, exact_curve: Mapping[str, np.ndarray]) -> alt.Chart:
    """Figure 1: histogram of pairwise cosines against the exact density (a line)."""
    sample = "all" if stats.exact else f"a sample of {stats.pairs_used:,}"
    bars = _histogram_bars(_frame(stats.histogram()), "cosine t", "#4c78a8", "measured")
    curve = (
        alt.Chart(_frame(exact_curve))
        .mark_line(color="#e45756", strokeWidth=2)
        .encode(
            x="cos:Q",
            y="density:Q",
            tooltip=[alt.Tooltip("cos:Q", format=".3f"), alt.Tooltip("density:Q", title="exact density", format=".3f")],
        )
    )
    return (bars + curve).properties(
        width=WIDTH,
        height=HEIGHT,
        title=f"Cosines of {sample} pairs of {stats.count:,} random unit vectors in R^{stats.dim}",
    )


def _max_abs_cos_long(curves: Mapping[str, np.ndarray]) -> pd.DataFrame:
    long = _frame(curves).melt(
        id_vars=["dim", "count"], value_vars=list(CURVE_NAMES), var_name="curve", value_name="max_abs_cos"
    )
    return long.dropna().assign(curve=lambda f: f["curve"].map(CURVE_NAMES))


def max_abs_cos_chart(
    curves: Mapping[str, np.ndarray],
    chosen_curve: Mapping[str, np.ndarray] | None = None,
    chosen: tuple[int, float] | None = None,
) -> alt.LayerChart:
    """Figure 2: max |cos| against N (log axis) per dimension: measured, expected, Welch bound.

    chosen_curve (the same columns for one dimension, the view's d) is drawn in black, and
    chosen = (N, max |cos|) marks the view's own N at that dimension with a diamond.
    """
    x = alt.X("count:Q", scale=alt.Scale(type="log"), title="number of vectors N")
    y = alt.Y("max_abs_cos:Q", title="max |cos| over all pairs", scale=alt.Scale(domain=[0, 1]))
    dash = alt.StrokeDash(
        "curve:N",
        title="curve",
        scale=alt.Scale(domain=list(CURVE_NAMES.values()), range=[[1, 0], [6, 3], [2, 2]]),
        legend=alt.Legend(symbolType="stroke", symbolStrokeColor="gray"),
    )
    tooltip = [
        alt.Tooltip("dim:O", title="d"),
        alt.Tooltip("count:Q", title="N", format=","),
        "curve:N",
        alt.Tooltip("max_abs_cos:Q", title="max |cos|", format=".3f"),
    ]
    is_measured = alt.datum.curve == CURVE_NAMES["measured"]
    color = alt.Color("dim:O", title="dimension d", scale=alt.Scale(scheme="tableau10"), legend=alt.Legend(columns=2))
    dims = alt.Chart(_max_abs_cos_long(curves))
    layers = [
        dims.mark_line().encode(x=x, y=y, color=color, strokeDash=dash, tooltip=tooltip),
        dims.mark_point(size=20, filled=True)
        .encode(x=x, y=y, color=color, tooltip=tooltip)
        .transform_filter(is_measured),
    ]
    if chosen_curve is not None:
        mine = alt.Chart(_max_abs_cos_long(chosen_curve))
        layers += [
            mine.mark_line(color="black", strokeWidth=2).encode(x=x, y=y, strokeDash=dash, tooltip=tooltip),
            mine.mark_point(size=20, filled=True, color="black")
            .encode(x=x, y=y, tooltip=tooltip)
            .transform_filter(is_measured),
        ]
    if chosen is not None:
        point = pd.DataFrame({"count": [chosen[0]], "max_abs_cos": [chosen[1]]})
        diamond = (
            alt.Chart(point)
            .mark_point(shape="diamond", size=150, color="black", filled=True)
            .encode(
                x=x,
                y=y,
                tooltip=[
                    alt.Tooltip("count:Q", title="your N", format=","),
                    alt.Tooltip("max_abs_cos:Q", title="max |cos|", format=".3f"),
                ],
            )
        )
        layers.append(diamond)
    chart = alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title="Largest |cos| among N random unit vectors")
    return _compact_legends(chart)


def packing_chart(
    sweep: Mapping[str, np.ndarray], equiangular: Mapping[str, np.ndarray], eps: float, chosen_dim: int | None = None
) -> alt.LayerChart:
    """Figure 3: vectors found with all |cos| <= eps against d (log y), with bounds and references.

    Layers: random greedy and optimised packing counts, the exp(d eps^2/4) lower bound, the
    line N = d (exactly orthogonal vectors), the most equiangular lines for d <= 17 (filled when
    their common |cos| is <= eps), and a rule at chosen_dim.
    """
    frame = _frame(sweep)
    finished = {True: "yes", False: "no: stopped at its budget"}
    counts = pd.concat(
        [
            frame[["dim", "greedy"]]
            .set_axis(["dim", "vectors"], axis=1)
            .assign(method="random greedy", finished=frame["greedy_complete"].map(finished)),
            frame[["dim", "optimised"]]
            .set_axis(["dim", "vectors"], axis=1)
            .assign(method="gradient descent", finished=frame["optimised_complete"].map(finished)),
            frame[["dim", "lower_bound"]].set_axis(["dim", "vectors"], axis=1).assign(method="exp(d ε²/4) bound"),
            frame[["dim"]].assign(vectors=frame["dim"], method="N = d (orthogonal)"),
        ],
        ignore_index=True,
    ).dropna(subset=["vectors"])
    methods = list(PACKING_METHODS)
    y_scale = alt.Scale(type="log")
    lines = (
        alt.Chart(counts)
        .mark_line(point=True)
        .encode(
            x=alt.X("dim:Q", title="dimension d"),
            y=alt.Y("vectors:Q", scale=y_scale, title=f"vectors with all |cos| ≤ {eps:g}"),
            color=alt.Color(
                "method:N",
                title="count",
                scale=alt.Scale(domain=methods, range=[c for c, _ in PACKING_METHODS.values()]),
            ),
            strokeDash=alt.StrokeDash(
                "method:N",
                title="count",
                scale=alt.Scale(domain=methods, range=[d for _, d in PACKING_METHODS.values()]),
            ),
            tooltip=[
                alt.Tooltip("dim:Q", title="d"),
                "method:N",
                alt.Tooltip("vectors:Q", format=",.1f"),
                alt.Tooltip("finished:N", title="search finished"),
            ],
        )
    )
    fits, does_not_fit = "|cos| ≤ ε: a packing here", "|cos| > ε: not a packing here"
    lines_frame = _frame(equiangular).assign(label=lambda f: np.where(f["fits"], fits, does_not_fit))
    equiangular_points = (
        alt.Chart(lines_frame)
        .mark_point(shape="triangle-up", size=70, color="black")
        .encode(
            x="dim:Q",
            y=alt.Y("lines:Q", scale=y_scale),
            fill=alt.Fill(
                "label:N",
                title="most equiangular lines",
                scale=alt.Scale(domain=[fits, does_not_fit], range=["black", "white"]),
            ),
            tooltip=[
                alt.Tooltip("dim:Q", title="d"),
                alt.Tooltip("lines:Q", title="most equiangular lines"),
                alt.Tooltip("cosine:Q", title="their |cos|", format=".3f"),
                alt.Tooltip("label:N", title="at this ε"),
            ],
        )
    )
    chart = lines + equiangular_points
    if chosen_dim is not None:
        rule = pd.DataFrame({"dim": [chosen_dim]})
        chart = chart + alt.Chart(rule).mark_rule(strokeDash=[4, 3], color="gray").encode(
            x="dim:Q", tooltip=[alt.Tooltip("dim:Q", title="your d")]
        )
    chart = chart.properties(width=WIDTH, height=HEIGHT, title=f"How many directions fit with all |cos| ≤ {eps:g}")
    return _compact_legends(chart)


def projection_chart(projection: Projection, min_dim_curves: Mapping[str, np.ndarray]) -> alt.HConcatChart:
    """Figure 4: squared-distance ratios after a random projection, and the JL dimension k(N, eps).

    Left: histogram of the ratios with the band 1 +- eps shaded. Right: k against N (log-log)
    for several eps, with the projection's own (N, k) as a point.
    """
    eps = projection.eps
    band = pd.DataFrame({"low": [1 - eps], "high": [1 + eps]})
    shade = (
        alt.Chart(band)
        .mark_rect(color="#54a24b", opacity=0.15)
        .encode(
            x="low:Q",
            x2="high:Q",
            tooltip=[
                alt.Tooltip("low:Q", title="1 - ε", format=".2f"),
                alt.Tooltip("high:Q", title="1 + ε", format=".2f"),
            ],
        )
    )
    bars = _histogram_bars(_frame(projection.histogram()), "squared distance after / before", "#4c78a8", "measured")
    within = projection.fraction_within
    histogram = (shade + bars).properties(
        width=PANEL_WIDTH,
        height=HEIGHT,
        title=f"R^{projection.source_dim:,} → R^{projection.target_dim:,}: {within:.1%} of pairs within 1 ± {eps:g}",
    )
    curves = _frame(min_dim_curves)
    lines = (
        alt.Chart(curves)
        .mark_line()
        .encode(
            x=alt.X("count:Q", scale=alt.Scale(type="log"), title="number of points N"),
            y=alt.Y("min_dim:Q", scale=alt.Scale(type="log"), title="JL dimension k"),
            color=alt.Color("eps:O", title="ε"),
            tooltip=[
                alt.Tooltip("count:Q", title="N", format=","),
                alt.Tooltip("eps:O", title="ε"),
                alt.Tooltip("min_dim:Q", title="k", format=","),
            ],
        )
    )
    own = pd.DataFrame({"count": [projection.count], "min_dim": [projection.target_dim], "eps": [eps]})
    point = (
        alt.Chart(own)
        .mark_point(shape="diamond", size=150, color="black", filled=True)
        .encode(
            x="count:Q",
            y="min_dim:Q",
            tooltip=[
                alt.Tooltip("count:Q", title="your N", format=","),
                alt.Tooltip("eps:Q", title="your ε"),
                alt.Tooltip("min_dim:Q", title="k", format=","),
            ],
        )
    )
    k_chart = (lines + point).properties(width=PANEL_WIDTH, height=HEIGHT, title="k = 4 ln N / (ε²/2 − ε³/3)")
    return _compact_legends(alt.hconcat(histogram, k_chart))


def trained_vs_random_chart(comparison: TrainedVersusRandom) -> alt.HConcatChart:
    """Figure 5: a trained W's feature cosines and max |cos| beside random unit vectors.

    Left: cosine histograms (trained bars, random as a line). Right: the trained max |cos|,
    the random sets' median with a 5-95% range, and the Welch bound.
    """
    edges = comparison.edges
    bins = {"bin_start": edges[:-1], "bin_end": edges[1:]}
    trained = _frame(bins, density=comparison.trained_density)
    random_sets = _frame(bins, density=comparison.random_density).assign(
        cos=lambda f: (f["bin_start"] + f["bin_end"]) / 2
    )
    bars = _histogram_bars(trained, "cosine between feature directions", "#f58518", "trained W")
    random_line = (
        alt.Chart(random_sets)
        .mark_line(color="#4c78a8", interpolate="step")
        .encode(
            x="cos:Q",
            y="density:Q",
            tooltip=[
                alt.Tooltip("cos:Q", title="bin centre", format=".3f"),
                alt.Tooltip("density:Q", title="random density", format=".3f"),
            ],
        )
    )
    histogram = (bars + random_line).properties(
        width=WIDTH,
        height=HEIGHT,
        title=f"{comparison.features_used} represented features in R^{comparison.dim} (bars) vs random (line)",
    )
    low, median, high = np.quantile(comparison.random_max_abs, [0.05, 0.5, 0.95])
    summary = pd.DataFrame(
        {
            "what": ["trained W", "random", "Welch bound"],
            "max_abs_cos": [comparison.trained_max_abs, median, comparison.welch_bound],
            "low": [np.nan, low, np.nan],
            "high": [np.nan, high, np.nan],
        }
    )
    order = list(summary["what"])
    y = alt.Y("what:N", sort=order, title=None)
    x_scale = alt.Scale(domain=[0, 1])
    points = (
        alt.Chart(summary)
        .mark_point(filled=True, size=120)
        .encode(
            x=alt.X("max_abs_cos:Q", scale=x_scale, title="max |cos| between feature directions"),
            y=y,
            color=alt.Color("what:N", sort=order, legend=None, scale=alt.Scale(range=["#f58518", "#4c78a8", "gray"])),
            tooltip=[
                "what:N",
                alt.Tooltip("max_abs_cos:Q", title="max |cos|", format=".3f"),
                alt.Tooltip("low:Q", title="5%", format=".3f"),
                alt.Tooltip("high:Q", title="95%", format=".3f"),
            ],
        )
    )
    whiskers = (
        alt.Chart(summary.dropna())
        .mark_rule(color="#4c78a8", strokeWidth=2)
        .encode(
            x=alt.X("low:Q", scale=x_scale),
            x2="high:Q",
            y=y,
            tooltip=[alt.Tooltip("low:Q", title="5%", format=".3f"), alt.Tooltip("high:Q", title="95%", format=".3f")],
        )
    )
    maxima = (whiskers + points).properties(
        width=260, height=HEIGHT / 2, title="Worst interference (random: median, 5–95%)"
    )
    return alt.hconcat(histogram, maxima)
