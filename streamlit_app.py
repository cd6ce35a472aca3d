"""Explorer for "Toy Models of Superposition" (Elhage et al. 2022): `streamlit run streamlit_app.py`.

Thin on purpose: sidebar widgets -> a Config -> the open view, which calls the cached engine
(views.engine) and the chart builders (superpos.charts). Only the open view does any work.
"""

import streamlit as st
import torch

from superpos.train import TRAIN_THREADS
from views import (
    VIEW_NAMES,
    computation,
    controls,
    embedding,
    engine,
    jl,
    loss,
    neurons,
    phase,
    sae,
    structured,
    sweep,
    tour,
)

st.set_page_config(page_title="Superposition explorer", page_icon="🧲", layout="wide")
torch.set_num_threads(TRAIN_THREADS)  # the work outside the trainer's own threads too: steadier on a shared CPU

RENDERERS = (
    tour.render,
    embedding.render,
    embedding.render_dynamics,
    sweep.render,
    phase.render,
    neurons.render,
    lambda config: jl.render(engine.trained_weights(config)),
    loss.render,
    sae.render,
    computation.render,
    structured.render_correlated,
    structured.render_collapse,
    structured.render_differs,
)
VIEWS = dict(zip(VIEW_NAMES, RENDERERS, strict=True))

st.title("Toy models of superposition")
st.caption(
    "Train the small ReLU networks of Elhage et al. (2022) as you move the sliders, and watch them pack "
    "more features than dimensions when the features are sparse."
)
config = controls.sidebar(list(VIEWS))
# Bound to the URL (?view=...); with a key, each tab knows whether it is open.
for tab, render in zip(st.tabs(list(VIEWS), key="view", bind="query-params"), VIEWS.values(), strict=True):
    if tab.open:
        with tab, engine.failures_shown():
            render(config)
