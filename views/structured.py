"""The views of features that are not alike: "Correlated features", "Collapse sweep" and "One
feature differs" (the paper's "Superposition with correlated features" and "Non-uniform superposition").

Thin: widgets (bound to the URL) -> cached engine calls (views.engine, superpos.structured) ->
chart builders (superpos.charts.structured).
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from superpos import structured
from superpos.charts import structured as charts
from superpos.config import Config
from views import CHART_TEXT_COLUMNS, engine, export
from views.controls import view_link_warning

IMPORTANCES = (0.25, 0.5, 1.0, 2.0, 4.0)  # feature 0's importance in "One feature differs"

CORRELATED_EXPLANATION = r"""
Here features are not independent. A **correlated set** is all zero with probability $S$, otherwise
every member is active (each $U[0, 1]$); an **anticorrelated set** is all zero with probability $S$,
otherwise exactly one member, chosen uniformly, is active, so each member is active with
probability $(1 - S)/k$. Sets are laid out from feature 0: correlated sets, anticorrelated sets,
then independent features.

Features that fire together interfere every time, so the model keeps them **orthogonal**; features
that never fire together cost nothing in superposition, so an anticorrelated pair shares one
direction **antipodally**. The graph joins $i$ and $j$ where $|W_i \cdot W_j| > 0.1$: its connected
components are the **tegum factors**, polytopes in orthogonal subspaces that do not interfere.
Each preset trains with the sidebar's model and seed; the lines in $W^\top W$ mark the set boundaries.
"""

COLLAPSE_EXPLANATION = r"""
Three correlated pairs cannot all be orthogonal in $m = 2$. Sparse, the pairs lie **side by side**
(each pair's members next to each other around the circle); denser, a pair **collapses** onto its
shared direction $(a + b)/\sqrt{2}$: the model stores the pair's sum, a PCA-like answer, since the
members almost always fire together. The paper's order of preference for correlated features:
orthogonal, then side by side, then collapse. One model per density, all trained as one batch
with the sidebar's model and seed; a pair counts as collapsed when $\cos(W_a, W_b) > 0.9$.
"""

DIFFERS_EXPLANATION = r"""
Five features in $m = 2$: four at the sidebar's density $1 - S$, feature 0 at a multiple of it. At
equal densities the answer is a pentagon (at high sparsity). Make feature 0 **denser** and the
others move away from it; **sparser**, and they move towards it, until (about 2.5× sparser in the
paper) the solution jumps to **two digons** (antipodal pairs) with feature 0 dropped: a first-order
phase change. Every relative density trains several times from different starts, all in one batch:
each dot is one run, coloured by the geometry it ended in, so both geometries' loss curves show and
cross where the switch happens. The line joins the best run of each density; the dashed rule is the
slider's value, whose best run is drawn below.
"""


def applies(config: Config) -> bool:
    """These views store features: the abs model computes |x| instead (its own view)."""
    if config.model == "abs":
        st.info(
            "This view asks how stored features arrange themselves; the absolute-value model computes |x| "
            "instead (see *Computation (|x|)*). Choose linear, relu or neuron in the sidebar.",
            icon="ℹ️",
        )
    return config.model != "abs"


def render_correlated(config: Config) -> None:
    """A preset structure trained with the sidebar's model and seed: directions by set, WᵀW, the graph."""
    if not applies(config):
        return
    view_link_warning({"structure_preset": list(structured.PRESETS)})
    charts_column, text = st.columns(CHART_TEXT_COLUMNS, gap="medium")
    text.markdown(CORRELATED_EXPLANATION)
    with charts_column:
        name = st.segmented_control(
            "structure",
            list(structured.PRESETS),
            default=next(iter(structured.PRESETS)),
            required=True,
            key="structure_preset",
            bind="query-params",
        )
        preset = structured.PRESETS[name]
        model_config = preset.config(config)
        result = engine.trained(model_config)
        weights, probability = result.weights[0], result.probability[0]
        checks = structured.set_checks(weights, model_config.sets, preset.expect)
        verdicts = ", ".join(
            f"{row.kind} {row.features}: {row.expected} {'✓' if row.agrees else '✗'}" for row in checks.itertuples()
        )
        st.markdown(f"**The paper:** {preset.finding}. **This training:** {verdicts}.")
        st.caption(
            f"n = {model_config.n_features}, m = {model_config.n_hidden}, S = {model_config.sparsity:g}; "
            f"held-out loss {result.heldout[0]:.4g}."
        )
        engine.convergence_notice(model_config, result)
        engine.timing_area(st, "correlated").caption(f"Trained in {result.seconds:.1f} s.")
        st.altair_chart(charts.correlated_view(weights, model_config.sets, probability), width="content")
        with st.container(horizontal=True):
            export.csv_download(
                lambda: charts.set_table(weights, model_config.sets, probability), "correlated_features"
            )
            export.model_downloads(model_config, result)
        with st.expander("D_i over training (the paper's energy levels)"):
            st.altair_chart(
                charts.energy_levels(
                    result.snapshots[:, 0],
                    result.snapshot_steps,
                    result.loss_steps,
                    result.loss_history[0],
                    int(result.snapshot_steps[-1]),
                ),
                width="content",
            )


def render_collapse(config: Config) -> None:
    """3 correlated pairs in m = 2 across densities: pairs collapsed or side by side, beside the paper's table."""
    if not applies(config):
        return
    result, table = engine.collapse_sweep(config)
    charts_column, text = st.columns(CHART_TEXT_COLUMNS, gap="medium")
    text.markdown(COLLAPSE_EXPLANATION)
    text.table(pd.DataFrame(structured.PAPER_COLLAPSE, columns=["density 1 − S", "the paper"]), hide_index=True)
    with charts_column:
        engine.convergence_notice(structured.collapse_config(config), result, "These models")
        engine.timing_area(st, "collapse").caption(
            f"{len(structured.COLLAPSE_DENSITIES)} models trained as one batch in {result.seconds:.1f} s."
        )
        st.altair_chart(charts.collapse_chart(table), width="content")
        st.altair_chart(charts.collapse_directions(result.weights, structured.COLLAPSE_DENSITIES), width="content")
        export.csv_download(lambda: table, "collapse_sweep")


def render_differs(config: Config) -> None:
    """Feature 0's density relative to the others: every run's loss and the chosen density's geometry."""
    if not applies(config):
        return
    view_link_warning({"differs_ratio": structured.DIFFERS_RATIOS, "differs_importance": IMPORTANCES})
    charts_column, text = st.columns(CHART_TEXT_COLUMNS, gap="medium")
    text.markdown(DIFFERS_EXPLANATION)
    with charts_column:
        with st.container(horizontal=True):
            ratio = st.select_slider(
                "feature 0's density ÷ the others'",
                structured.DIFFERS_RATIOS,
                value=1.0,
                key="differs_ratio",
                bind="query-params",
            )
            importance = st.select_slider(
                "feature 0's importance (the others 1)",
                IMPORTANCES,
                value=1.0,
                key="differs_importance",
                bind="query-params",
            )
        table = engine.differs_sweep(config.replace(n_features=structured.DIFFERS_FEATURES, n_hidden=2), importance)
        best = table[(table["ratio"] == ratio) & table["best"]].iloc[0]
        density = 1.0 - config.sparsity
        st.caption(
            f"The others at density {density:g}, feature 0 at {min(1.0, ratio * density):.4g}: the best of "
            f"{structured.DIFFERS_RESTARTS} runs ended as **{best['geometry']}** (held-out loss {best['loss']:.4g}). "
            f"{len(table)} models trained as one batch."
        )
        differs = charts.differs_chart(table, ratio)
        features = charts.set_table(
            best["W"], Config(n_features=structured.DIFFERS_FEATURES).sets, table_probability(ratio, density)
        )
        features["set"] = np.where(features["feature"] == 0, "feature 0", "the others")  # which one differs
        chosen = charts.set_directions(features, f"best run at {ratio:g}×")
        st.altair_chart(alt.vconcat(differs, chosen).resolve_scale(color="independent"), width="content")
        export.csv_download(lambda: table.drop(columns=["W"]), "one_feature_differs")


def table_probability(ratio: float, density: float):
    """The five features' P(x_i != 0) at this relative density."""
    return structured.differs_probability(density, [ratio])[0]
