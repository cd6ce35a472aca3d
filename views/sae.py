"""The "Sparse autoencoder" view: dictionary learning on the toy's hidden layer, where the true
features are known. Thin: widgets -> views.engine.saes (superpos.sae, superpos.sae_metrics) ->
superpos.charts.sae. Every control is in the URL."""

from __future__ import annotations

import streamlit as st

from superpos import sae
from superpos.charts import sae as charts
from superpos.config import Config
from superpos.sae_metrics import EVAL_SAMPLES
from views import engine
from views.controls import NumberRange, view_link_warning

DEFAULTS = sae.SAEConfig()
L1_CHOICES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
L0_PENALTY_CHOICES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
SWEEP_TOPK = 8  # the frontier's TopK sweep: k = 1 ... min(8, latents)
SWEEP_SEEDS = 4
LATENTS = NumberRange(1, 64, whole=True)
K = NumberRange(1, 64, whole=True)
SEEDS = NumberRange(1, 8, whole=True)
SHOWN = NumberRange(0, 7, whole=True)

EXPLANATION = r"""
A **sparse autoencoder** (SAE) rewrites each hidden activation $h$ as a sparse sum of learned
directions, $h \approx b_\text{dec} + \sum_j z_j d_j$ with unit $d_j$ and few $z_j > 0$. Trained on
a real network nobody knows the true features; on the toy they are known, $f_i = W_i$ (ReLU$(W_i)$ in
the neuron model), so we can check whether the SAE found them. ReLU + L1 pays $c \sum_j z_j$, which
also pulls every activation down (**shrinkage**); TopK keeps the $k$ largest; JumpReLU zeroes
anything below a learned threshold and pays $\lambda$ per active latent (an L0 penalty).
"""
METRIC_HELP = {
    "L0": "active latents per input, averaged over the toy's inputs (most inputs are all zero)",
    "FVU": "fraction of variance unexplained, E‖h − h'‖² / E‖h − E h‖²",
    "dead": f"latents that fired on none of {EVAL_SAMPLES:,} inputs with a feature active (nor on x = 0)",
    "MMCS f→l": "mean over true features of the best cosine with any latent: were all features found?",
    "MMCS l→f": "mean over latents of the best cosine with any feature: is every latent one feature?",
}


def setting_control(kind: str, latents: int) -> float:
    """The sparsity setting's widget for `kind`, bound to the URL: c, k or lambda."""
    if kind == "relu":
        return st.select_slider(
            sae.SETTING_LABELS[kind], L1_CHOICES, value=DEFAULTS.l1, key="sae_l1", bind="query-params"
        )
    if kind == "topk":
        return st.slider(
            sae.SETTING_LABELS[kind], 1, max(2, latents), min(DEFAULTS.k, latents), key="sae_k", bind="query-params"
        )
    return st.select_slider(
        sae.SETTING_LABELS[kind],
        L0_PENALTY_CHOICES,
        value=DEFAULTS.l0_penalty,
        key="sae_l0_penalty",
        bind="query-params",
    )


def sweep_settings(kind: str, latents: int) -> tuple[float, ...]:
    """The frontier's settings for `kind`."""
    if kind == "relu":
        return L1_CHOICES
    if kind == "topk":
        return tuple(float(k) for k in range(1, min(SWEEP_TOPK, latents) + 1))
    return L0_PENALTY_CHOICES


def render(config: Config) -> None:
    """The SAE view for the sidebar's toy `config`."""
    st.markdown(EXPLANATION)
    view_link_warning(
        {
            "sae_l1": L1_CHOICES,
            "sae_l0_penalty": L0_PENALTY_CHOICES,
            "sae_latents": LATENTS,
            "sae_k": K,
            "sae_seeds": SEEDS,
            "sae_shown": SHOWN,
        }
    )
    kind_column, latents_column, setting_column, seeds_column = st.columns(4)
    kind = kind_column.selectbox(
        "architecture",
        sae.SAE_KINDS,
        key="sae_kind",
        bind="query-params",
        help="relu: ReLU + L1 penalty; topk: the k largest; jumprelu: a learned threshold and an L0 penalty.",
    )
    latents = latents_column.slider(
        "latents d", LATENTS.low, LATENTS.high, config.n_features, key="sae_latents", bind="query-params"
    )
    with setting_column:
        setting = setting_control(kind, latents)
    seeds = seeds_column.slider("seeds", SEEDS.low, SEEDS.high, DEFAULTS.seeds, key="sae_seeds", bind="query-params")
    resample = st.checkbox(
        "resample dead latents (ReLU + L1 only)",
        DEFAULTS.resample,
        key="sae_resample",
        bind="query-params",
        disabled=kind != "relu",
        help=f"At {', '.join(f'{f:.0%}' for f in sae.RESAMPLE_AT)} of training, a latent that fired on no input in "
        f"the preceding {sae.RESAMPLE_WINDOW:.0%} of the steps moves to an input it reconstructs badly.",
    )
    field = sae.SETTING_FIELDS[kind]
    sae_config = DEFAULTS.replace(
        kind=kind,
        latents=latents,
        seeds=seeds,
        resample=resample,
        **{field: min(int(setting), latents) if kind == "topk" else float(setting)},
    )
    result, scores = engine.saes(config, sae_config)
    shown = st.slider("show seed", 0, seeds - 1, 0, key="sae_shown", bind="query-params") if seeds > 1 else 0
    shown = min(shown, seeds - 1)

    columns = st.columns(5)
    values = (
        scores.l0[shown],
        scores.fvu[shown],
        scores.dead_fraction[shown],
        scores.mmcs_features[shown],
        scores.mmcs_latents[shown],
    )
    for column, (name, help_text), value in zip(columns, METRIC_HELP.items(), values, strict=True):
        column.metric(name, f"{value:.0%}" if name == "dead" else f"{value:.3f}", help=help_text)
        column.caption(help_text)
    found = int((scores.mmcs_features > 0.99).sum())
    engine.timing_area(st, "sae").caption(
        f"{seeds} SAE{'s' if seeds > 1 else ''} trained together in {result.seconds:.2f} s; "
        f"{found} of {seeds} found every feature (MMCS f→l > 0.99)."
    )

    left, right = st.columns(2)
    left.altair_chart(charts.directions(result, scores, shown), width="content")
    right.altair_chart(charts.matching_heatmap(scores, shown), width="content")
    left.altair_chart(charts.frequency_chart(result, scores, shown), width="content")
    right.altair_chart(charts.shrinkage_chart(scores, shown), width="content")
    st.caption(
        "Left: each true direction (solid) and decoder direction (dashed; grey if dead). Right: a latent that matches "
        "one feature is one bright cell in its column. Below: a latent that stands for one feature fires as often as "
        "that feature, p_i; on one-hot inputs its activation should follow the dashed line z = x_i‖f_i‖; below it, "
        f"the SAE shrinks (slopes here: {', '.join(f'{s:.2f}' for s in scores.shrinkage[shown])})."
    )

    st.subheader("Frontier: sparsity against reconstruction")
    kinds = st.multiselect(
        "architectures in the frontier",
        sae.SAE_KINDS,
        default=[kind],
        key="sae_frontier",
        bind="query-params",
    )
    sweeps = [
        engine.saes(config, sae_config.replace(kind=name, seeds=SWEEP_SEEDS), sweep_settings(name, latents))
        for name in kinds
    ]
    current = charts.frontier_table([(result, scores)])
    sweep = charts.frontier_table(sweeps) if sweeps else current.iloc[:0]
    st.altair_chart(charts.frontier(sweep, current), width="content")
    st.caption(
        f"Each point is one SAE ({SWEEP_SEEDS} seeds per setting, one batch per architecture); the ringed points are "
        "the SAEs above. ReLU + L1 buys sparsity with shrinkage, so its FVU rises quickly with c; TopK fixes L0 at "
        "most k; JumpReLU's threshold removes small activations without shrinking the rest."
    )
