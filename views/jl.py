"""The "Near-orthogonality (JL)" view: why superposition is possible at all.

Widgets -> superpos.jl and superpos.packing -> superpos.charts.jl, both cached. No computation happens here.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import streamlit as st

from superpos import jl, packing
from superpos.charts import jl as jl_charts
from superpos.jl import JL_SETTINGS
from views.controls import NumberRange, view_link_warning

# The controls' values, within JL_SETTINGS' ranges (d at most 1000 here, so that a change redraws fast);
# the defaults and meanings are JL_SETTINGS'.
DIM_OPTIONS = (2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)
COUNT_OPTIONS = (10, 30, 100, 300, 1000, 3000, 10_000, 100_000, int(JL_SETTINGS["count"].high))
EPS_STEP = 0.05  # the eps slider's step; its ends are one step inside eps' open range
EPS_RANGE = NumberRange(JL_SETTINGS["eps"].low + EPS_STEP, JL_SETTINGS["eps"].high - EPS_STEP)
DEFAULTS = jl.JLSettings()

# Fixed grids of the figures that look beyond the chosen d, N or eps.
MAX_ABS_COS_DIMS = (3, 10, 30, 100, 300, 1000)
PACKING_DIMS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
JL_EPS_VALUES = (0.1, 0.2, 0.3, 0.5)
JL_COUNTS = tuple(int(n) for n in np.geomspace(10, 1e6, 21))

# Work budgets that keep a control change well under a second (superpos.jl's units).
PAIRS_BUDGET = 1e9
PACKING_SWEEP_BUDGET = 1e8
PACKING_SWEEP_MAX_VECTORS = 300

CACHE = {"max_entries": 32, "ttl": 3600, "show_spinner": False}

# Engine results, then each figure's chart, cached on the controls it depends on: a rerun
# that changes nothing for a figure rebuilds neither its data nor its chart.


@st.cache_data(**CACHE)
def cosine_statistics(count: int, dim: int) -> jl.CosineStatistics:
    return jl.cosine_statistics(count, dim, work_budget=PAIRS_BUDGET)


@st.cache_data(**CACHE)
def cosine_chart(count: int, dim: int) -> alt.TopLevelMixin:
    stats = cosine_statistics(count, dim)
    return jl_charts.cosine_histogram_chart(stats, jl.cosine_density_curve(dim, float(stats.hist_edges[-1])))


@st.cache_data(**CACHE)
def max_abs_cos_curves(dims: tuple[int, ...]) -> dict[str, np.ndarray]:
    return jl.max_abs_cos_curves(dims)


@st.cache_data(**CACHE)
def max_abs_cos_chart(count: int, dim: int) -> alt.TopLevelMixin:
    chosen = (count, cosine_statistics(count, dim).max_abs)
    return jl_charts.max_abs_cos_chart(max_abs_cos_curves(MAX_ABS_COS_DIMS), max_abs_cos_curves((dim,)), chosen)


@st.cache_data(**CACHE)
def packing_sweep(eps: float) -> dict[str, np.ndarray]:
    return packing.packing_sweep(
        PACKING_DIMS, eps, max_vectors=PACKING_SWEEP_MAX_VECTORS, work_budget=PACKING_SWEEP_BUDGET
    )


@st.cache_data(**CACHE)
def packing_chart(eps: float, dim: int) -> alt.TopLevelMixin:
    return jl_charts.packing_chart(packing_sweep(eps), packing.equiangular_table(eps), eps, chosen_dim=dim)


@st.cache_data(**CACHE)
def random_projection(count: int, eps: float) -> jl.Projection:
    return jl.random_projection(count, eps)


@st.cache_data(**CACHE)
def projection_chart(count: int, eps: float) -> alt.TopLevelMixin:
    min_dim_curves = jl.jl_min_dim_curves(JL_COUNTS, sorted({*JL_EPS_VALUES, eps}))
    return jl_charts.projection_chart(random_projection(count, eps), min_dim_curves)


@st.cache_data(**CACHE)
def trained_versus_random(weights: np.ndarray) -> tuple[jl.TrainedVersusRandom, alt.TopLevelMixin] | None:
    comparison = jl.compare_with_random(weights)
    return None if comparison is None else (comparison, jl_charts.trained_vs_random_chart(comparison))


def controls() -> tuple[int, int, float]:
    """The view's own dimension d, number of vectors N and tolerance eps (kept in the URL)."""
    view_link_warning({"jl_dim": DIM_OPTIONS, "jl_count": COUNT_OPTIONS, "jl_eps": EPS_RANGE})
    left, middle, right = st.columns(3)
    dim = left.select_slider(
        "dimension d",
        options=DIM_OPTIONS,
        value=DEFAULTS.dim,
        key="jl_dim",
        bind="query-params",
        help=JL_SETTINGS["dim"].help,
    )
    count = middle.select_slider(
        "number of vectors N",
        options=COUNT_OPTIONS,
        value=DEFAULTS.count,
        key="jl_count",
        bind="query-params",
        help=f"{JL_SETTINGS['count'].help} Above a few thousand, pairwise statistics come from a random sample "
        "of the pairs.",
    )
    eps = right.slider(
        "tolerance ε",
        min_value=EPS_RANGE.low,
        max_value=EPS_RANGE.high,
        value=DEFAULTS.eps,
        step=EPS_STEP,
        key="jl_eps",
        bind="query-params",
        help=JL_SETTINGS["eps"].help,
    )
    return dim, count, eps


def render(trained_weights: np.ndarray | None) -> None:
    """Draw the view; `trained_weights` is the sidebar model's W (m hidden x n features) or None."""
    st.header("Near-orthogonality (JL)")
    st.markdown(
        "In $d$ dimensions at most $d$ directions are exactly orthogonal, but exponentially many are "
        "*almost* orthogonal. That is why a model can give many more features than it has dimensions "
        "a nearly private direction each, paying only a little interference $|\\cos|$ between them."
    )
    dim, count, eps = controls()
    random_directions_section(count, dim)
    worst_pair_section(count, dim)
    packing_section(eps, dim)
    projection_section(count, eps)
    trained_model_section(trained_weights)


def random_directions_section(count: int, dim: int) -> None:
    """Figure 1: the cosines of random unit vectors against their exact law."""
    st.subheader("1. Random directions are nearly orthogonal")
    stats = cosine_statistics(count, dim)
    st.markdown(
        "The cosine $t$ of two independent random unit vectors in $\\mathbb{R}^d$ has the exact law "
        "$\\tfrac{t+1}{2} \\sim \\mathrm{Beta}\\big(\\tfrac{d-1}{2}, \\tfrac{d-1}{2}\\big)$, density "
        "$\\propto (1-t^2)^{(d-3)/2}$ (red line): mean $0$ and variance $1/d$, so typical cosines "
        "shrink like $1/\\sqrt{d}$."
    )
    mean_col, var_col, max_col, welch_col = st.columns(4)
    mean_col.metric("mean cos", f"{stats.mean:+.4f}", help="Theory: 0.")
    var_col.metric("variance of cos", f"{stats.var:.4f}", help=f"Theory: 1/d = {stats.expected_var:.4f}.")
    max_col.metric(
        "max |cos|",
        f"{stats.max_abs:.3f}",
        help="Over all pairs." if stats.exact else "Too many pairs to visit: the typical maximum by the exact law.",
    )
    welch_col.metric(
        "Welch bound",
        f"{jl.welch_bound(count, dim):.3f}",
        help="No N unit vectors in d dimensions can all have |cos| below this.",
    )
    if not stats.exact:
        st.caption(
            f"{stats.pairs_total:,} pairs are too many to visit: mean, variance and histogram use all "
            f"{stats.pairs_used:,} pairs of a random {stats.vectors_used:,} of the {count:,} vectors."
        )
    st.altair_chart(cosine_chart(count, dim))


def worst_pair_section(count: int, dim: int) -> None:
    """Figure 2: the largest |cos| against N."""
    st.subheader("2. The worst pair grows slowly with N")
    st.markdown(
        "Each pair has $P(|t| \\ge \\varepsilon) \\le 2e^{-d\\varepsilon^2/2}$, so the largest of the "
        "$N(N-1)/2$ cosines grows only like $\\sqrt{4\\ln N / d}$. The Welch bound "
        "$\\sqrt{(N-d)/(d(N-1))}$ is the least max $|\\cos|$ any arrangement of $N$ vectors can reach; "
        "dashed lines extend the exact law beyond what is sampled. Black: your $d$; the diamond is your $N$."
    )
    st.altair_chart(max_abs_cos_chart(count, dim))


def packing_section(eps: float, dim: int) -> None:
    """Figure 3: how many directions fit with all |cos| <= eps."""
    st.subheader("3. How many directions fit: exponential in d")
    st.markdown(
        "The tail bound gives at least $e^{d\\varepsilon^2/4}$ unit vectors with all pairwise "
        "$|\\cos| \\le \\varepsilon$: exponential, not linear, in $d$. Below: how many a random greedy "
        "search keeps (accept a random direction if it clashes with none kept so far) and how many "
        "gradient descent on the cosines above $\\varepsilon$ fits. Triangles: the most equiangular lines "
        "known for $d \\le 17$, filled when their common $|\\cos|$ is within $\\varepsilon$ (then they are "
        "a packing here too)."
    )
    st.altair_chart(packing_chart(eps, dim))
    st.caption(
        f"Searches stop at {PACKING_SWEEP_MAX_VECTORS} vectors; gradient descent shares a fixed work budget "
        "and is skipped where it runs out. Every count is a set that was checked, so a lower bound on the best."
    )


def projection_section(count: int, eps: float) -> None:
    """Figure 4: squared distances under a random projection to the JL dimension."""
    st.subheader("4. Random projections keep distances (Johnson–Lindenstrauss)")
    projection = random_projection(count, eps)
    st.markdown(
        "A random linear map to $k \\ge 4\\ln N/(\\varepsilon^2/2 - \\varepsilon^3/3)$ dimensions keeps every "
        "squared distance among $N$ points within a factor $1 \\pm \\varepsilon$ with high probability. "
        f"Here $N = {count:,}$ and $\\varepsilon = {eps:g}$ give $k = {projection.target_dim:,}$; "
        f"{projection.points_used} Gaussian points in $\\mathbb{{R}}^{{{projection.source_dim:,}}}$ are projected "
        "with a Gaussian matrix (every pair's ratio has the same law, so a few points show it)."
    )
    st.altair_chart(projection_chart(count, eps))


def trained_model_section(trained_weights: np.ndarray | None) -> None:
    """Figure 5: the trained model's feature directions against random ones."""
    st.subheader("5. Back to the model: trained features pack better than chance")
    if trained_weights is None:
        st.info("Train a model (sidebar) to compare its feature directions with random ones.")
        return
    figure = trained_versus_random(np.asarray(trained_weights, dtype=float))
    if figure is None:
        st.info("The trained model represents fewer than two features: there are no pairs to compare.")
        return
    comparison, chart = figure
    st.markdown(
        f"The {comparison.features_used} features the model represents (columns $W_i$ of non-negligible "
        f"norm) live in $m = {comparison.dim}$ hidden dimensions. Compare the cosines between their "
        "directions with those of as many random unit vectors in as many dimensions: training usually "
        "spreads features apart, so the worst interference sits below chance, towards the Welch bound."
    )
    st.altair_chart(chart)
