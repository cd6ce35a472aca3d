"""The "Neurons & polysemanticity" view: privileged basis, per-neuron scores, rotation demo.

Thin: widgets, cached engine calls (views.engine, superpos.neurons) and charts
(superpos.charts.neurons). Cached functions are keyed by the frozen Config, never by arrays,
so hashing stays cheap.
"""

from __future__ import annotations

import streamlit as st

from superpos import metrics, neurons
from superpos.charts import neurons as charts
from superpos.config import Config
from views import engine
from views.controls import NumberRange, view_link_warning

SPARSEST_CHOICES = (0.9, 0.95, 0.99, 0.995, 0.999)
POINTS = NumberRange(3, 12, whole=True)  # sparsities in the sweep
ROTATION_SEEDS = NumberRange(0, 2**31 - 1, whole=True)


@st.cache_data(max_entries=16, ttl=engine.TTL_SECONDS, show_spinner=False)
def rotated(config: Config, seed: int):
    """Loss and per-unit scores before/after W -> R W, for the relu and neuron models of `config`."""
    models = [engine.trained(config.replace(model=model)) for model in ("relu", "neuron")]
    return neurons.rotation_comparison(models, seed)


@st.cache_data(max_entries=16, ttl=engine.TTL_SECONDS, show_spinner=False)
def costs(config: Config):
    """Per-feature loss share and interference of the trained model (neurons.feature_costs)."""
    return neurons.feature_costs(engine.trained(config))


def render(config: Config) -> None:
    """Draw the view for the sidebar's validated `config` (its model kind is overridden)."""
    st.markdown(
        r"""
In the **neuron model**, $h = \mathrm{ReLU}(Wx)$ and $x' = \mathrm{ReLU}(W^\top h + b)$, the ReLU acts
on each hidden unit separately, so the hidden units form a **privileged basis**: "which features does
neuron $k$ respond to?" has an answer. Below, that model is trained with the sidebar's
$n$, $m$, $S$ and $r$, and each neuron is scored.
"""
    )
    with engine.failures_shown():
        render_sections(config.replace(model="neuron"))


def render_sections(neuron_config: Config) -> None:
    """The view's sections; a failed training (shown by engine.failures_shown) stops them,
    except the sweep's, which only skips its own chart."""
    weights = engine.trained(neuron_config).weights[0]
    neuron_section(weights)
    sparsity_section(neuron_config)
    rotation_section(neuron_config)
    feature_cost_section(neuron_config)


def neuron_section(weights) -> None:
    """The trained neuron model's neurons: counts by label, weights, scores and their table."""
    table = neurons.neuron_table(weights)

    st.subheader("Neurons of the trained neuron model")
    counts = table["label"].value_counts()
    for column, label in zip(st.columns(3), ("polysemantic", "monosemantic", "dead"), strict=True):
        column.metric(f"{label} neurons", f"{counts.get(label, 0)} of {len(table)}")
    st.altair_chart(charts.neuron_weights_chart(weights, table), width="stretch")
    if weights.size > charts.MAX_WEIGHT_SEGMENTS:
        st.caption(f"Only the {charts.MAX_WEIGHT_SEGMENTS} largest weights are drawn.")
    st.altair_chart(charts.neuron_scores_chart(table), width="stretch")
    st.markdown(
        r"""
A ReLU neuron fires on non-negative features only through its positive weights $w^+_{ki} = \max(W_{ki}, 0)$.
Its polysemanticity is their **participation ratio**
$\mathrm{PR}_k = \big(\sum_i (w^+_{ki})^2\big)^2 / \sum_i (w^+_{ki})^4$: 1 when one feature dominates,
$k$ when $k$ features share it equally, 0 when nothing makes it fire (**dead**). PR $< 1.5$ counts as
**monosemantic**. The black ticks give the count-based score: how many one-hot inputs $e_i$ drive the
neuron above 0.5. Sort the table by any column.
"""
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "polysemanticity": st.column_config.NumberColumn("PR (participation ratio)", format="%.2f"),
            "features_driving": st.column_config.NumberColumn(
                "features driving it", help="one-hot e_i with W_ki > 0.5"
            ),
            "monosemanticity": st.column_config.ProgressColumn(
                "max|W_ki| / ||W_k||", format="%.2f", min_value=0.0, max_value=1.0, help="ARENA's monosemanticity"
            ),
        },
    )


def sparsity_section(neuron_config: Config) -> None:
    """Polysemanticity against sparsity, one batched training of the neuron model per sparsity."""
    st.subheader("Polysemanticity vs sparsity")
    view_link_warning(
        {
            "neurons_sparsest": SPARSEST_CHOICES,
            "neurons_points": POINTS,
            "neurons_rotation_seed": ROTATION_SEEDS,
        }
    )
    left, right = st.columns(2)
    sparsest = left.select_slider(
        "sparsest S in the sweep", SPARSEST_CHOICES, value=0.99, key="neurons_sparsest", bind="query-params"
    )
    points = right.slider(
        "sparsities in the sweep", POINTS.low, POINTS.high, 8, key="neurons_points", bind="query-params"
    )
    sparsities = tuple(neurons.sweep_sparsities(sparsest, points).tolist())
    collisions = metrics.expected_collisions(neuron_config.n_features, neuron_config.n_hidden)
    st.markdown(
        rf"""
One batched training of the neuron model per sparsity, from dense ($S = 0$) to $S = {sparsest}$.
Two features on one neuron only get in each other's way when both are active, which happens with
probability about $p^2$, so sparser features are packed more densely into neurons. Lecomte et al. (2023)
expect about $n^2/(4m) = {collisions:.3g}$ polysemantic neurons when $n$ features land on $m$ neurons at
random; the dashed red line shows it only where every feature is stored and $n^2/(4m) \le m$.
"""
    )
    with engine.failures_shown():
        summary = neurons.sparsity_summary(engine.sweep(neuron_config, sparsities))
        st.altair_chart(charts.sparsity_chart(summary), width="stretch")


def rotation_section(neuron_config: Config) -> None:
    """Loss and per-unit scores before and after a random rotation of the hidden space."""
    st.subheader("Rotate the hidden space")
    # A float input shown without decimals: an int one raises on a link like ?neurons_rotation_seed=inf.
    seed = st.number_input(
        "random rotation R (seed)",
        float(ROTATION_SEEDS.low),
        float(ROTATION_SEEDS.high),
        0.0,
        step=1.0,
        format="%.0f",
        key="neurons_rotation_seed",
        bind="query-params",
        help="Each seed draws a different random orthogonal matrix R.",
    )
    losses, scores = rotated(neuron_config, int(seed))  # a link's 2.5 means 2, see view_link_warning
    st.altair_chart(charts.rotation_chart(losses, scores))
    st.markdown(
        r"""
Replace $W$ by $RW$ for a random rotation $R$ of the $m$-dimensional hidden space. The **ReLU output
model** writes $h = Wx$ and reads it back linearly, $x' = \mathrm{ReLU}(W^\top h + b)$; since
$(RW)^\top (RW) = W^\top R^\top R W = W^\top W$ it computes exactly the same function, and its loss only
moves by float rounding. Its per-unit scores, though, are free to move with $R$ (how far depends on $R$
and on how symmetric $W$ is): in a bottleneck, or a transformer's residual stream, a per-unit score
describes the axes we print it in, not the model. In the **neuron
model** $\mathrm{ReLU}(RWx) \ne R\,\mathrm{ReLU}(Wx)$: the ReLU cuts along each axis, so rotating breaks
the model and its loss rises. The axes matter to the computation, and so do per-neuron scores.
"""
    )
    if neuron_config.n_hidden == 1:
        st.caption("With m = 1 the only rotations are ±1; a seed that gives +1 changes nothing.")


def feature_cost_section(neuron_config: Config) -> None:
    """Each feature's share of the loss and the interference it suffers."""
    st.subheader("Sparse features ride along almost free")
    feature_table = costs(neuron_config)
    st.altair_chart(charts.feature_cost_chart(feature_table), width="stretch")
    drop_costs = feature_table.loc[feature_table["stored"], "fraction_of_drop_cost"].dropna()
    paid = (
        f"the median stored feature here still pays {drop_costs.median():.1%} of that"
        if len(drop_costs)
        else "no feature is stored at these settings"
    )
    st.markdown(
        rf"""
For each feature, its share of the loss, $I_i\,\mathbb E[(x_i - x'_i)^2] / \sum_j I_j\,\mathbb E[(x_j - x'_j)^2]$,
and the interference it suffers, $\sum_{{j \ne i}} (\hat W_i \cdot W_j)^2$. A feature that shares a busy
neuron suffers interference, but that only costs when another feature on the same neuron is active at the
same time, and the output ReLU with a negative bias clips small interference away. So the marginal cost of
packing one more sparse feature into a busy neuron is small next to the cost of dropping it,
$I_i\,p_i/3$: {paid}.
"""
    )
