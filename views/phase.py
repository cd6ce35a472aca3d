"""The "Phase diagram" view: 2 features in 1 hidden dimension, every cell trained in one batch.
Thin: views.engine -> superpos.experiments -> superpos.charts.phase."""

from __future__ import annotations

import streamlit as st

from superpos import experiments, metrics
from superpos.charts.phase import phase_chart
from superpos.config import Config
from views import CHART_TEXT_COLUMNS, engine, export

EXPLANATION = rf"""
The smallest case of superposition: $n = 2$ features in $m = 1$ dimension, so $W = [w_1, w_2]$.
Feature 1 has importance $1$; feature 2, the "extra" feature, has importance $I_2$, the $y$ axis.
Both features are active with probability $p$, the $x$ axis (sparser to the right). One model is
trained per cell, all {experiments.PHASE_DENSITIES.size * experiments.PHASE_IMPORTANCES.size} in one batch,
with the sidebar's model, learning rate and seed ({experiments.PHASE_STEPS} steps, batch
{experiments.PHASE_BATCH}, best of {experiments.PHASE_RESTARTS} starts).

There are three natural solutions:
- $W = [1, 0]$: feature 2 is **not represented**;
- $W = [0, 1]$: feature 2 gets a **dedicated dimension** and feature 1 is dropped;
- $W = [1, -1]$: both share the dimension in **antipodal superposition**. The ReLU output
  $x' = \mathrm{{ReLU}}(W^\top W x + b)$ recovers either feature alone, but when both are active they
  cancel. That costs loss only with probability $p^2$, so it pays off for sparse features.

Which solution wins flips abruptly as $p$ and $I_2$ change: a phase change, as in the paper's
"Superposition as a Phase Change". The linear model has no superposition region, and neither has
the neuron model: its one ReLU neuron $h = \mathrm{{ReLU}}(w_1 x_1 + w_2 x_2)$ is silent for a feature
with a negative weight.
A cell counts as represented when $\lVert W_2 \rVert \ge {metrics.REPRESENTED_NORM}$, and as
superposition when $(\hat W_2 \cdot W_1)^2 > {experiments.SHARED_OVERLAP}$.
"""


def render(config: Config) -> None:
    """The phase diagram, trained with the sidebar's model, learning rate and seed."""
    if config.model == "abs":
        st.info(
            "The phase diagram does not apply to the absolute-value model: it asks where a second feature is "
            "*stored* in one dimension, while the abs model *computes* |x| and needs two neurons per feature. "
            "Its own view is *Computation (|x|)*; choose linear, relu or neuron in the sidebar for this one.",
            icon="ℹ️",
        )
        return
    table = engine.phase_diagram(config.model, config.lr, config.seed)
    chart_column, text = st.columns(CHART_TEXT_COLUMNS, gap="medium")
    with chart_column:
        st.altair_chart(phase_chart(table), width="content")
        export.csv_download(lambda: table, "phase_diagram")
    text.markdown(EXPLANATION)
