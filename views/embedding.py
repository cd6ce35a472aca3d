"""The "Embedding" and "Training dynamics" views: where each feature goes in the hidden space.

Thin: cached training (views.engine) -> chart builders (superpos.charts.geometry).
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from superpos import metrics
from superpos.charts import geometry
from superpos.charts import structured as structured_charts
from superpos.config import Config
from views import CHART_TEXT_COLUMNS, engine, export

FRAME_SECONDS = 0.4  # between snapshots while playing

EXPLANATION = r"""
**A feature** here is one input dimension: $x_i$ is $0$ with probability $S$ (the sparsity) and
otherwise uniform on $[0, 1]$. The model squeezes $x \in \mathbb{R}^n$ into $m < n$ hidden
dimensions, $h = Wx$, and rebuilds it, $x' = \mathrm{ReLU}(W^\top W x + b)$. Column
$W_i \in \mathbb{R}^m$ is where feature $i$ lives in the hidden space, and the loss
$\sum_i I_i (x_i - x'_i)^2$ weights feature $i$ by its importance $I_i = r^i$.

**Superposition** means representing more features than there are dimensions: more than $m$
columns have $\lVert W_i \rVert \approx 1$, so they cannot all be orthogonal. Reading feature $i$
back then picks up interference $\sum_{j \ne i} (\hat W_i \cdot W_j)\, x_j$ from the others.

**Why sparsity allows it.** Interference only hurts when features sharing directions are active
together, which for sparse features is rare (probability $\approx (1 - S)^2$ for a pair), and the
ReLU with a negative bias $b_i$ filters out the small negative interference. Dense features are
almost always active together, so every sample would pay: the model then does what PCA does, gives
the $m$ most important features orthogonal directions and drops the rest. The linear model always
does this, whatever $S$.

**Dimensionality** $D_i = \lVert W_i \rVert^2 / \sum_j (\hat W_i \cdot W_j)^2$ is the share of a
dimension feature $i$ gets: $1$ on its own, $\tfrac12$ in an antipodal pair, $\tfrac25$ in a pentagon,
$0$ when dropped. Superposition of feature $i$ is $\sum_{j \ne i} (\hat W_i \cdot W_j)^2$: $0$ when it
has a direction to itself.

With $m = 2$ the arrows are the columns $W_i$ themselves (try $n = 5$, $S = 0.95$: a pentagon). With
$m \ge 3$ they are projected on $W$'s two principal axes, and $W^\top W$ shows every overlap
$W_i \cdot W_j$. Point at a feature to highlight it in every chart.
"""

DYNAMICS_EXPLANATION = r"""
The paper shows where training ends; here you can watch how it gets there. $W$ was recorded at
the marked steps (denser early, when the geometry forms). Typically all $\lVert W_i \rVert$ first
grow together, then the features compete for the $m$ dimensions: some win a direction (or a share
of one), the rest shrink back to $0$. With sparse features you can see pairs turn antipodal and
polygons snap into place late in training. Press play, or drag the slider.

Below, each feature's dimensionality $D_i$ over training, above the loss on the same step axis:
the paper's "energy levels". $D_i$ jumps between the sticky fractions ($1$, $\tfrac23$, $\tfrac12$,
$\tfrac25$, ...), and each jump lines up with a drop of the loss.
"""


def summary(config: Config, weights) -> str:
    """One line: represented features, ||W||_F^2 and m / ||W||_F^2."""
    represented = int(metrics.represented(weights).sum())
    frobenius = float((weights**2).sum())
    return (
        f"{represented} of {config.n_features} features represented "
        f"($\\lVert W_i \\rVert \\ge {metrics.REPRESENTED_NORM}$) in "
        f"$m = {config.n_hidden}$ dimensions · $\\lVert W \\rVert_F^2 = {frobenius:.2f}$ · "
        f"$m / \\lVert W \\rVert_F^2 = {config.n_hidden / max(frobenius, 1e-9):.2f}$ dimensions per feature"
    )


# Charts are cached like trainings: assembling one takes Altair about 0.1 s.
@st.cache_data(max_entries=64, ttl=engine.TTL_SECONDS, show_spinner=False)
def embedding_chart(config: Config) -> alt.ConcatChart:
    result = engine.trained(config)
    return geometry.embedding(result.weights[0], result.bias[0], result.importance[0])


@st.cache_data(max_entries=256, max_size="128MB", ttl=engine.TTL_SECONDS, show_spinner=False)
def dynamics_chart(config: Config, frame: int) -> alt.HConcatChart:
    result = engine.trained(config)
    return geometry.dynamics(result.snapshots[:, 0], result.snapshot_steps, result.importance[0], frame)


def render(config: Config) -> None:
    """The arrows (or projection and WᵀW), D_i and b_i of the sidebar's model, and its downloads."""
    result = engine.trained(config)
    weights, bias, importance = result.weights[0], result.bias[0], result.importance[0]
    # With m >= 3 the projection, WᵀW and three bar charts need the page's width: text below them.
    wide = config.n_hidden >= 3
    charts, text = (st.container(), st.container()) if wide else st.columns(CHART_TEXT_COLUMNS, gap="medium")
    charts.caption(summary(config, weights))
    if config.model == "abs":
        charts.caption(
            "Absolute-value model: the arrows are the columns of W₁ (where each feature drives the neurons); "
            "its output weights W₂ and what each neuron computes are in *Computation (|x|)*."
        )
    with charts:
        engine.convergence_notice(config, result)
    engine.timing_area(charts, "embedding").caption(f"Trained in {result.seconds:.1f} s.")
    charts.altair_chart(embedding_chart(config), width="content")
    with charts, st.container(horizontal=True):
        export.csv_download(lambda: geometry.feature_table(weights, importance, bias), "features")
        export.model_downloads(config, result)
    text.markdown(EXPLANATION)


def render_dynamics(config: Config) -> None:
    """W of the sidebar's model at each snapshot of its training, with a slider and a play toggle."""
    result = engine.trained(config)
    charts, text = st.columns(CHART_TEXT_COLUMNS, gap="medium")
    with charts:
        engine.convergence_notice(config, result)
        playing = st.toggle("Play", key="dynamics_playing", help="Step through the snapshots in a loop.")
        # A fragment that reruns on a timer while playing: only the slider and chart redraw.
        st.fragment(run_every=FRAME_SECONDS if playing else None)(snapshot)(config, playing)
        export.csv_download(
            lambda: geometry.dynamics_table(result.snapshots[:, 0], result.snapshot_steps, result.importance[0]),
            "training_dynamics",
        )
    text.markdown(DYNAMICS_EXPLANATION)


def snapshot(config: Config, playing: bool) -> None:
    """The snapshot slider and the chart of W at that snapshot; advances one snapshot per run while playing."""
    result = engine.trained(config)
    steps = result.snapshot_steps.tolist()
    key = f"snapshot_of_{steps[-1]}"  # a new slider when the number of steps (and so the snapshots) changes
    if playing:
        st.session_state[key] = steps[(steps.index(st.session_state.get(key, steps[-1])) + 1) % len(steps)]
    step = st.select_slider("training step", steps, value=steps[-1], key=key, help="Snapshot of W to show.")
    st.altair_chart(dynamics_chart(config, steps.index(step)), width="content")
    st.altair_chart(
        structured_charts.energy_levels(
            result.snapshots[:, 0], result.snapshot_steps, result.loss_steps, result.loss_history[0], step
        ),
        width="content",
    )
