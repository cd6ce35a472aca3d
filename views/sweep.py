"""The "Sparsity sweep" view: one batched training across sparsities (the paper's intro figure
and feature-geometry plot). Thin: views.engine -> superpos.charts.sweep."""

from __future__ import annotations

import altair as alt
import streamlit as st

from superpos.charts import sweep as charts
from superpos.config import Config
from superpos.experiments import INTRO_SPARSITIES
from views import CHART_TEXT_COLUMNS, engine, export

EXPLANATION = r"""
Each small plot is a separate model, trained with the sidebar's $n$, $m$, $r$ and model but its
own sparsity: feature probability $p = 1 - S = 20^{-t}$ for ten $t$ from $0$ to $1$, so $p$ runs
from $1$ (dense) down to $0.05$, as in the paper's first figure. All ten train together as one
batch.

Dense features give the PCA-like answer: the $m$ most important features get orthogonal
directions, the rest are dropped. As $S$ grows, interference gets cheaper, since two features are
rarely active together, and more features squeeze in: antipodal pairs, then triangles and
pentagons (with $n = 5$, $m = 2$, $r = 0.9$: 2 features at $p = 1$, all 5 at the sparse end).

The lower chart breaks this down per feature. $D_i = \lVert W_i \rVert^2 / \sum_j (\hat W_i \cdot W_j)^2$
is the share of a dimension feature $i$ gets; it sticks at the fractions of regular shapes:
$1$ (own dimension), $\tfrac34$ (tetrahedron), $\tfrac23$ (triangle), $\tfrac12$ (antipodal pair),
$\tfrac25$ (pentagon), $\tfrac38$ (square antiprism). The line is $m / \lVert W \rVert_F^2$: since
$\lVert W \rVert_F^2 = \sum_i \lVert W_i \rVert^2$ roughly counts the represented features, it is the
number of hidden dimensions per represented feature. The $x$ axis is $1/(1 - S)$, the mean number
of samples between two activations of a feature, on a log scale.
"""


@st.cache_data(max_entries=16, ttl=engine.TTL_SECONDS, show_spinner=False)
def sweep_chart(config: Config) -> alt.VConcatChart:
    """Cached like the training: assembling the chart takes Altair about 0.1 s."""
    result = engine.sweep(config, INTRO_SPARSITIES)
    return charts.sweep(result.weights, result.probability, result.importance)


def render(config: Config) -> None:
    """The intro sweep for the sidebar's n, m, r and model: small direction plots and D_i against 1/(1 - S)."""
    result = engine.sweep(config, INTRO_SPARSITIES)
    charts_column, text = st.columns(CHART_TEXT_COLUMNS, gap="medium")
    with charts_column:
        engine.convergence_notice(config, result, "These models")
        engine.timing_area(st, "sweep").caption(
            f"{len(INTRO_SPARSITIES)} models trained as one batch in {result.seconds:.1f} s."
        )
        st.altair_chart(sweep_chart(config), width="content")
        export.csv_download(
            lambda: charts.sweep_table(result.weights, result.probability, result.importance), "sparsity_sweep"
        )
    text.markdown(EXPLANATION)
