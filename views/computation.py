"""The "Computation (|x|)" view: the absolute-value model of the paper's "Computation in Superposition".

Thin: widgets, cached engine calls (views.engine) and charts (superpos.charts.computation).
Three settings: the sidebar's n, m, S and r; the paper's n = 3, m = 6 dense; the paper's n = 100,
m = 40, I = 0.8^i across seven densities, trained as one batch.
"""

from __future__ import annotations

import streamlit as st

from superpos import computation
from superpos.charts import computation as charts
from superpos.config import Config
from views import CHART_TEXT_COLUMNS, engine, export
from views.controls import view_link_warning

# The setting control's options, as the buttons and the link (?computation_setting=) show them.
SIDEBAR, SMALL, PAPER = "sidebar's n, m, S, r", "paper: n = 3, m = 6, dense", "paper: n = 100, m = 40, 7 densities"

EXPLANATION = r"""
**The task.** Each input $x_i$ is $0$ with probability $S$ and otherwise uniform on $[-1, 1]$; the
model must output $y_i = |x_i|$ through one layer of ReLU neurons,
$h = \mathrm{ReLU}(W_1 x)$, $y' = \mathrm{ReLU}(W_2 h + b)$, with loss
$\frac{1}{n}\sum_i I_i\,\mathbb{E}\big[(|x_i| - y'_i)^2\big]$. Unlike the other views' models,
this one has to *compute* something, not only store its input.

**Why two neurons per feature.** $|x| = \mathrm{ReLU}(x) + \mathrm{ReLU}(-x)$, and one ReLU neuron
only sees one sign of its input, so computing $|x_i|$ exactly takes a neuron reading $+x_i$ and
another reading $-x_i$, both writing back to output $i$. With dense features and enough neurons
($n = 3$, $m = 6$) that is what training finds: three ReLU(x) / ReLU(−x) pairs.

**Why sparsity lets them be shared.** A neuron that reads several features is only wrong when two
of them are active at once, which happens with probability about $p^2$ for $p = 1 - S$. When
features are sparse that is rare, so polysemantic neurons become worth it: the least important
features join first, the most important keep their own neurons. In the **asymmetric
superposition** motif a neuron reads feature $a$ strongly and feature $b$ weakly with the opposite
sign and writes them back the other way round; when $a$ fires it would add a lot to output $b$, so
a second neuron that also fires on $a$ writes negatively to $b$, and the output ReLU removes the
now negative interference.

Bars show each neuron's input weights normalised so its largest $|W_1|$ is $1$ (the paper's
display) and its output weights rescaled to match ($\mathrm{ReLU}(cz) = c\,\mathrm{ReLU}(z)$ for
$c > 0$, so the function is the same). A neuron's polysemanticity is the participation ratio of
$|W_{1,k}|$: $\mathrm{PR}_k = (\sum_i W_{1,ki}^2)^2 / \sum_i W_{1,ki}^4$, monosemantic below 1.5.
Losses at different densities are different tasks: do not compare them.

**How it is trained.** Models larger than $n\,m = 400$ first train on dense inputs ($S = 0$) for
a thousand steps, then at their own density from there. Dense inputs pair the neurons up on the
most important features first; from a small random start a sparse model commits its neurons to
features one sign at a time and never pairs them up again, ending at up to twice the loss.
"""


def paper_config(config: Config) -> Config:
    """The paper's n = 100, m = 40, I = 0.8^i (its densities are the sweep's), with the sidebar's
    seed and training settings."""
    return config.replace(
        n_features=computation.PAPER_FEATURES,
        n_hidden=computation.PAPER_HIDDEN,
        importance_decay=computation.PAPER_DECAY,
        model="abs",
    )


PAPER_SPARSITIES = tuple(1.0 - density for density in computation.PAPER_DENSITIES)


def render(config: Config) -> None:
    """The chosen setting's abs model, trained with the sidebar's seed and training settings (and
    its n, m, S, r if chosen)."""
    view_link_warning({"computation_density": computation.PAPER_DENSITIES})
    charts_column, text = st.columns(CHART_TEXT_COLUMNS, gap="medium")
    text.markdown(EXPLANATION)
    with charts_column:
        setting = st.segmented_control(
            "model shown",
            (SIDEBAR, SMALL, PAPER),
            default=SIDEBAR,
            required=True,
            key="computation_setting",
            bind="query-params",
        )
        if setting == PAPER:
            render_paper(paper_config(config))
            return
        model_config = computation.small_config(config) if setting == SMALL else config.replace(model="abs")
        result = engine.trained(model_config)
        engine.timing_area(st, "computation").caption(f"Trained in {result.seconds:.1f} s.")
        engine.convergence_notice(model_config, result)
        render_model(model_config, result)


def render_paper(paper: Config) -> None:
    """The seven densities, trained as one batch: neuron counts, the features polysemantic neurons
    read, and one density's neurons."""
    result = engine.sweep(paper, PAPER_SPARSITIES)
    engine.timing_area(st, "computation").caption(
        f"{len(PAPER_SPARSITIES)} models trained as one batch in {result.seconds:.1f} s."
    )
    engine.convergence_notice(paper, result, "These models")
    summary, served = engine.computation_densities(paper, PAPER_SPARSITIES)
    left, right = st.columns(2)
    left.altair_chart(charts.density_chart(summary), width="stretch")
    right.altair_chart(charts.served_features_chart(served), width="stretch")
    density = st.select_slider(
        "density 1 − S of the model shown below",
        computation.PAPER_DENSITIES,
        value=computation.PAPER_DENSITIES[-1],
        key="computation_density",
        bind="query-params",
    )
    render_model(paper, result, PAPER_SPARSITIES, computation.PAPER_DENSITIES.index(density))


def render_model(config: Config, result, sparsities: tuple[float, ...] | None = None, index: int = 0) -> None:
    """One model's neurons (`config`'s, or model `index` of the sweep over `sparsities`): counts,
    the W1 / W2 bars, pairs, and the asymmetric motif if there is one."""
    first, second = result.weights[index], result.output_weights[index]
    table, pairs, motifs = engine.computation_neurons(config, sparsities, index)
    counts = table["label"].value_counts()
    columns = st.columns(4)
    for column, label in zip(columns, ("monosemantic", "polysemantic", "dead"), strict=False):
        column.metric(f"{label} neurons", f"{counts.get(label, 0)} of {len(table)}")
    columns[3].metric(
        "ReLU(x)/ReLU(−x) pairs",
        f"{int(pairs['has_pair'].sum())} of {len(pairs)}",
        help="Features with a monosemantic neuron for each sign that writes back to the feature's output.",
    )
    st.caption(f"Held-out loss {result.heldout[index]:.4g} (n = {config.n_features}, m = {config.n_hidden}).")
    for column, panel in zip(st.columns(2), charts.PANELS, strict=True):
        column.altair_chart(charts.neuron_weights_chart(first, second, table, panel), width="stretch")
    export.csv_download(lambda: charts.weights_table(first, second, table), "computation_neurons")
    st.subheader("Asymmetric superposition")
    if motifs.empty:
        st.caption("No asymmetric superposition motif in this model (it appears with sparse features).")
        return
    motif = motifs.iloc[0]
    a, b, strong, weak = (int(motif[name]) for name in ("neuron", "inhibitor", "strong", "weak"))
    st.markdown(
        f"**{len(motifs)} found**; the strongest, drawn below: neuron {a} reads feature {strong} "
        f"(normalised weight {motif['strong_weight']:+.0f}) and, weakly and with the opposite sign, feature "
        f"{weak} ({motif['weak_weight']:+.2f}); it writes feature {weak} back {motif['writes_weak']:.2f} and "
        f"feature {strong} only {motif['writes_strong']:.2f}. Alone, a unit feature {strong} would add "
        f"{motif['interference']:.2f} to output {weak}; neuron {b} fires on feature {strong} too and subtracts "
        f"{-motif['inhibition']:.2f}, so output {weak} goes negative and its ReLU keeps it at 0."
    )
    st.altair_chart(charts.motif_chart(first, second, motif), width="content")
