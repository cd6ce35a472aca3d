"""The "Sparse autoencoder" view in Streamlit's AppTest: its controls, its charts' data, its links."""

from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.apptest import assert_clean, run_app, table_with

VIEW = "Sparse autoencoder"
# The pentagon toy at p = 0.025; few SAE seeds keep the runs short.
TOY = {"view": VIEW, "sparsity": "0.975", "sae_seeds": "2"}


def run_view(**params: str) -> AppTest:
    return run_app(timeout=180, **{**TOY, **params})


def metric(app: AppTest, label: str) -> float:
    return float(next(m.value for m in app.metric if m.label == label).rstrip("%"))


def test_defaults_draw_directions_matching_frequency_shrinkage_and_frontier():
    app = run_view()
    assert_clean(app)
    assert not app.warning
    directions = table_with(app, "x", "y", "what")
    assert (directions["what"] == "true feature f_i").sum() == 5
    assert directions["what"].isin(["latent d_j", "dead latent"]).sum() == 5  # latents default to n
    latents = directions[directions["what"] != "true feature f_i"]
    np.testing.assert_allclose(np.hypot(latents["x"], latents["y"]), 1.0, atol=1e-5)  # unit decoder, m = 2
    matching = table_with(app, "feature", "latent", "rank", "cosine")
    assert len(matching) == 25 and matching["cosine"].abs().max() <= 1 + 1e-6
    frequency = table_with(app, "frequency", "feature_probability")
    np.testing.assert_allclose(frequency["feature_probability"], 0.025)
    assert table_with(app, "input", "activation", "feature")["feature"].nunique() == 5
    frontier = table_with(app, "l0", "fvu", "mmcs_features", "kind")
    assert set(frontier["kind"]) == {"relu"} and len(frontier) >= 8 * 4  # 8 settings x 4 seeds (and the ring)
    assert 0.0 <= metric(app, "MMCS f→l") <= 1.0


def test_every_architecture_and_the_frontiers_they_tick():
    for kind in ("topk", "jumprelu"):
        app = run_view(sae_kind=kind, sae_frontier=kind, sae_latents="4", sae_k="2")
        assert_clean(app)
        assert app.selectbox(key="sae_kind").value == kind
        frontier = table_with(app, "l0", "fvu", "kind")
        assert set(frontier["kind"]) == {kind}
        if kind == "topk":
            assert metric(app, "L0") <= 2.0 + 1e-9  # TopK: at most k active latents
    app = run_view(sae_frontier=["relu", "topk"])
    assert_clean(app)
    assert set(table_with(app, "l0", "fvu", "kind")["kind"]) == {"relu", "topk"}


def test_controls_retrain_and_too_few_latents_miss_features():
    app = run_view()
    full = metric(app, "MMCS f→l")
    app.slider(key="sae_latents").set_value(2).run()
    assert_clean(app)
    assert metric(app, "MMCS f→l") < min(full, 0.9)  # 2 latents cannot point at 5 directions
    app.checkbox(key="sae_resample").uncheck().run()
    assert_clean(app)


def test_a_bad_view_link_warns_and_falls_back():
    app = run_view(sae_l1="7", sae_latents="abc")
    assert_clean(app)
    warning = " ".join(element.value for element in app.warning)
    assert "sae_l1" in warning and "sae_latents" in warning
    assert app.select_slider(key="sae_l1").value == 0.2


def test_the_abs_toy_is_refused_with_a_message():
    app = run_view(model="abs")
    assert not app.exception
    if app.radio(key="model").value == "abs":  # the abs model exists: the SAE view says it cannot use it
        assert any("abs" in element.value for element in app.warning)
