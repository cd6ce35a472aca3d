"""The guided tour: the paper's results that superpos reproduces, in order, each checked live.

Each Step is data: a title, the paper's section, its claim, the app's view that shows it with the
exact settings (the link's query parameters), a check that tests the claim on the trained model,
and a chart that draws it. Checks and charts take an `engine`, whatever trains: in the app,
views.engine, whose calls are cached, so that opening a step and then its view trains once; in a
notebook or a test, Engine below, the same calls straight from superpos. Checks reuse
superpos.metrics, neurons, structured, computation and sae_metrics; each returns a Verdict, whether
the trained model agrees and one sentence saying what it shows, or what differs and why.

    from superpos import tour
    engine = tour.Engine()
    for step in tour.STEPS:
        print(step.title, step.check(engine, step))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import altair as alt
import numpy as np

from superpos import computation, experiments, jl, metrics, neurons, structured
from superpos.charts import computation as computation_charts
from superpos.charts import geometry, phase
from superpos.charts import jl as jl_charts
from superpos.charts import neurons as neuron_charts
from superpos.charts import sae as sae_charts
from superpos.charts import structured as structured_charts
from superpos.charts import sweep as sweep_charts
from superpos.config import Config
from superpos.experiments import INTRO_SPARSITIES
from superpos.sae import SAEConfig, SAEResult, train_saes
from superpos.sae_metrics import SAEMetrics, evaluate_saes
from superpos.train import TrainResult, train, train_sweep

CONFIG_FIELDS = ("n_features", "n_hidden", "sparsity", "importance_decay", "model", "steps", "lr", "batch_size", "seed")
STICKY = np.array(list(sweep_charts.GUIDES.values()))  # the sticky fractions D_i = 1, 3/4, 2/3, 1/2, 2/5, 3/8, 1/3
STICKY_TOLERANCE = 0.05  # D_i this close to a sticky fraction sits on it


class Verdict(NamedTuple):
    """A step's live check: whether the trained model agrees with the paper, and what it shows."""

    passed: bool
    sentence: str


class Engine:
    """The engine calls the checks and charts make, straight from superpos (no Streamlit): the
    names and arguments of views.engine's cached ones. Each result is kept for the object's life,
    so checking a step and then drawing it trains once."""

    def __init__(self) -> None:
        self.results: dict[tuple, Any] = {}

    def remembered(self, key: tuple, compute: Callable[[], Any]):
        if key not in self.results:
            self.results[key] = compute()
        return self.results[key]

    def trained(self, config: Config) -> TrainResult:
        return self.remembered(("trained", config), lambda: train(config))

    def sweep(self, config: Config, sparsities) -> TrainResult:
        sparsities = tuple(float(s) for s in sparsities)
        return self.remembered(("sweep", config, sparsities), lambda: train_sweep(config, sparsities))

    def phase_diagram(self, model: str, lr: float | None, seed: int):
        return self.remembered(("phase", model, lr, seed), lambda: experiments.phase_diagram(model, lr, seed))

    def collapse_sweep(self, config: Config):
        return self.remembered(("collapse", config), lambda: structured.collapse_sweep(config))

    def differs_sweep(self, config: Config, importance: float):
        return self.remembered(("differs", config, importance), lambda: structured.differs_sweep(config, importance))

    def saes(self, config: Config, sae_config: SAEConfig, settings=None) -> tuple[SAEResult, SAEMetrics]:
        def compute():
            result = train_saes(self.trained(config), sae_config, settings)
            return result, evaluate_saes(result)

        return self.remembered(("saes", config, sae_config, settings), compute)


def text(value) -> str:
    """A setting as a link writes it: 0.95, 20, relu (superpos's and the app's formatting)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Step:
    """One result of the paper: what it claims, where the app shows it, how it is checked and drawn.

    `params` are the link's query parameters beside `view`: the sidebar's Config fields that differ
    from the defaults and the view's own settings, as Python values. `verdict` and `figure` take an
    engine and the step: check() and chart() call them."""

    title: str
    section: str
    claim: str
    view: str
    params: dict[str, Any]
    verdict: Callable[[Any, Step], Verdict] = field(repr=False)
    figure: Callable[[Any, Step], alt.TopLevelMixin] = field(repr=False)

    @property
    def config(self) -> Config:
        """The sidebar's Config that the link sets."""
        return Config(**{name: value for name, value in self.params.items() if name in CONFIG_FIELDS})

    @property
    def link(self) -> str:
        """The relative link that opens `view` with these settings: ?view=...&n_features=..."""
        query = {"view": self.view} | {name: text(value) for name, value in self.params.items()}
        return "?" + urlencode(query, quote_via=quote)

    def check(self, engine) -> Verdict:
        """Whether the model trained by `engine` agrees with the claim, and what it shows."""
        return self.verdict(engine, self)

    def chart(self, engine) -> alt.TopLevelMixin:
        """The view's picture of this result, from the chart builders of superpos.charts."""
        return self.figure(engine, self)


def listed(values, digits: int = 2) -> str:
    """'0, 0.5, 1': numbers to `digits` significant digits (-0.0 shown as 0), whole numbers as they are."""
    return ", ".join(f"{value + 0.0:.{digits}g}" if isinstance(value, float) else str(value) for value in values)


# --- 1. The intro figure -------------------------------------------------------------------------


def sweep_of(engine, step: Step) -> TrainResult:
    """The Sparsity sweep view's models: one per p = 20^-t, t = 0 ... 1."""
    return engine.sweep(step.config, INTRO_SPARSITIES)


def sweep_figure(engine, step: Step) -> alt.TopLevelMixin:
    result = sweep_of(engine, step)
    return sweep_charts.sweep(result.weights, result.probability, result.importance)


def intro_verdict(engine, step: Step) -> Verdict:
    """m features represented at p = 1, all n at p = 0.05, never fewer at a sparser p."""
    config = step.config
    counts = metrics.represented(sweep_of(engine, step).weights).sum(axis=-1)
    passed = counts[0] == config.n_hidden and counts[-1] == config.n_features and bool(np.all(np.diff(counts) >= 0))
    sentence = f"Features represented from p = 1 to p = 0.05: {listed(counts.tolist())}."
    if not passed:
        sentence += (
            f" The paper: {config.n_hidden} at p = 1, rising to all {config.n_features}. A count that falls back "
            "is one model of the batch stuck in a local minimum: another seed (Advanced: training) gives it new starts."
        )
    return Verdict(passed, sentence)


# --- 2. Dense vs sparse ------------------------------------------------------------------------


def dense_sparse_verdict(engine, step: Step) -> Verdict:
    """Dense: exactly the m most important features, orthogonal (interference ~0); sparse: more than m."""
    config = step.config
    weights = sweep_of(engine, step).weights
    dense, sparse = weights[0], weights[-1]
    stored = np.flatnonzero(metrics.represented(dense))
    interference = float(metrics.superposition(dense)[stored].max()) if stored.size else 0.0
    sparse_count = int(metrics.represented(sparse).sum())
    passed = stored.tolist() == list(range(config.n_hidden)) and interference < 0.01 and sparse_count > config.n_hidden
    sentence = (
        f"Dense (p = 1): features {listed(stored.tolist())} stored, the most interference any of them suffers "
        f"{interference:.1g}; sparse (p = 0.05): {sparse_count} of {config.n_features} features in "
        f"{config.n_hidden} dimensions."
    )
    if not passed:
        sentence += " The dense model should keep exactly the m most important features, orthogonal, and drop the rest."
    return Verdict(passed, sentence)


# --- 3. The pentagon ---------------------------------------------------------------------------


def neighbour_angles(weights: np.ndarray) -> np.ndarray:
    """Angles in degrees between neighbouring directions W_i of a 2-D W (2, n), around the circle."""
    angles = np.sort(np.degrees(np.arctan2(weights[1], weights[0])) % 360)
    return np.diff(np.append(angles, angles[0] + 360))


def embedding_figure(engine, step: Step) -> alt.TopLevelMixin:
    result = engine.trained(step.config)
    return geometry.embedding(result.weights[0], result.bias[0], result.importance[0])


def pentagon_verdict(engine, step: Step) -> Verdict:
    """All 5 represented, D_i = 2/5 and neighbours 72 degrees apart, each within a margin."""
    weights = engine.trained(step.config).weights[0]
    represented = int(metrics.represented(weights).sum())
    dimensionality, angles = metrics.dimensionality(weights), neighbour_angles(weights)
    regular = np.all(np.abs(dimensionality - 2 / 5) < STICKY_TOLERANCE) and np.all(np.abs(angles - 72) < 5)
    passed = represented == 5 and bool(regular)
    sentence = (
        f"{represented} of 5 features represented; D_i from {dimensionality.min():.3f} to {dimensionality.max():.3f} "
        f"(a pentagon: 2/5), neighbours {angles.min():.1f}° to {angles.max():.1f}° apart (72°)."
    )
    if not passed:
        sentence += (
            " Not a regular pentagon: at lower sparsity some trainings stop at 4 features, a local minimum; "
            "S = 0.95 with the automatic schedule's restarts avoids it."
        )
    return Verdict(passed, sentence)


# --- 4. Feature geometry: sticky fractions -------------------------------------------------------


def geometry_figure(engine, step: Step) -> alt.TopLevelMixin:
    result = sweep_of(engine, step)
    table = sweep_charts.sweep_table(result.weights, result.probability, result.importance)
    return sweep_charts.feature_geometry(table, step.config.n_hidden)


def sticky_verdict(engine, step: Step) -> Verdict:
    """Most represented features of the sweep sit on a sticky fraction; m / ||W||_F^2 falls from ~1."""
    weights = sweep_of(engine, step).weights
    dimensionality = metrics.dimensionality(weights)[metrics.represented(weights)]
    distance = np.abs(dimensionality[:, None] - STICKY)
    on_sticky = distance.min(axis=1) < STICKY_TOLERANCE
    share = float(on_sticky.mean())
    levels, counts = np.unique(distance.argmin(axis=1)[on_sticky], return_counts=True)
    names = list(sweep_charts.GUIDES)
    commonest = [names[level] for level in levels[np.argsort(-counts)][:3]]
    per_feature = metrics.dimensions_per_feature(weights)
    passed = share >= 0.75 and per_feature[0] > 0.9 and per_feature[-1] < 0.5
    sentence = (
        f"{share:.0%} of the {len(on_sticky)} represented features of the 10 models sit within {STICKY_TOLERANCE} of a "
        f"sticky fraction (most often {', '.join(commonest)}); dimensions per feature m / ‖W‖²_F fall from "
        f"{per_feature[0]:.2f} (dense) to {per_feature[-1]:.2f}."
    )
    if not passed:
        sentence += " The paper's features cluster on the sticky fractions, and fewer dimensions go to each as S grows."
    return Verdict(passed, sentence)


# --- 5. The phase diagram ---------------------------------------------------------------------


def phase_table(engine, step: Step):
    config = step.config
    return engine.phase_diagram(config.model, config.lr, config.seed)


def phase_verdict(engine, step: Step) -> Verdict:
    """Dense: feature 2 dropped when less important, given the dimension when more; sparsest: antipodal."""
    table = phase_table(engine, step)
    dense, sparse = table[table["density"] == table["density"].max()], table[table["density"] == table["density"].min()]
    less, more = dense[dense["relative_importance"] < 0.9], dense[dense["relative_importance"] > 1.1]
    dropped = float((less["phase"] == experiments.NOT_REPRESENTED).mean())
    dedicated = float((more["phase"] == experiments.DEDICATED).mean())
    antipodal = float((sparse["phase"] == experiments.SUPERPOSITION).mean())
    passed = dropped == 1 and dedicated == 1 and antipodal == 1
    sentence = (
        f"At p = 1: feature 2 dropped in {dropped:.0%} of the cells where it matters less, given the dimension in "
        f"{dedicated:.0%} where it matters more; at p = {table['density'].min():g}: antipodal superposition in "
        f"{antipodal:.0%} of the cells."
    )
    if not passed:
        sentence += " A sparse cell that is not antipodal is a local minimum the 8 starts per cell did not escape."
    return Verdict(passed, sentence)


def phase_figure(engine, step: Step) -> alt.TopLevelMixin:
    return phase.phase_chart(phase_table(engine, step))


# --- 6. Neurons: polysemanticity ---------------------------------------------------------------


def neuron_summary(engine, step: Step):
    """The Neurons view's sweep of the neuron model, from S = 0 to neurons_sparsest."""
    sparsities = tuple(
        neurons.sweep_sparsities(step.params["neurons_sparsest"], step.params["neurons_points"]).tolist()
    )
    return neurons.sparsity_summary(engine.sweep(step.config.replace(model="neuron"), sparsities))


def polysemantic_verdict(engine, step: Step) -> Verdict:
    """Moderately dense (0 < S <= 1/2): m features, one per monosemantic neuron; the sparsest: more
    features than neurons, most neurons polysemantic. (At S = 0 the trained neurons mix the m
    stored features; the paper's point is about sparse ones.)"""
    config = step.config
    summary = neuron_summary(engine, step)
    moderate = summary[(summary["sparsity"] > 0) & (summary["sparsity"] <= 0.5)]
    sparsest = summary.iloc[-1]
    monosemantic = moderate[(moderate["polysemantic_fraction"] == 0) & (moderate["features_stored"] == config.n_hidden)]
    passed = len(monosemantic) > 0 and sparsest["features_stored"] > config.n_hidden
    passed = passed and sparsest["polysemantic_fraction"] >= 0.5
    sentence = (
        f"At S = {moderate['sparsity'].iloc[0]:.2f}: {int(moderate['features_stored'].iloc[0])} features stored, "
        f"{moderate['polysemantic_fraction'].iloc[0]:.0%} of the {config.n_hidden} neurons polysemantic; at "
        f"S = {sparsest['sparsity']:.2f}: {int(sparsest['features_stored'])} features in {config.n_hidden} neurons, "
        f"{sparsest['polysemantic_fraction']:.0%} polysemantic."
    )
    if not passed:
        sentence += " The paper: dense features get a neuron each; sparse ones share neurons."
    return Verdict(passed, sentence)


def polysemantic_figure(engine, step: Step) -> alt.TopLevelMixin:
    return neuron_charts.sparsity_chart(neuron_summary(engine, step))


# --- 7. Privileged basis vs rotation ---------------------------------------------------------


def rotation(engine, step: Step):
    """The Neurons view's rotation: the relu and neuron models of the sidebar's settings, one R."""
    models = [engine.trained(step.config.replace(model=model)) for model in ("relu", "neuron")]
    return neurons.rotation_comparison(models, step.params["neurons_rotation_seed"])


def rotation_verdict(engine, step: Step) -> Verdict:
    """relu: the loss unchanged up to float error; neuron: it rises."""
    losses, _ = rotation(engine, step)
    change = dict(zip(losses["model"], losses["relative_change"], strict=True))
    passed = abs(change["relu"]) < 1e-4 and change["neuron"] > 0.05
    sentence = (
        f"After a random rotation of the hidden space the ReLU output model's loss changes by {change['relu']:+.1e} "
        f"(float rounding), the neuron model's by {change['neuron']:+.0%}."
    )
    if not passed:
        sentence += " The rotation should leave WᵀW, so the relu model, unchanged, and break the neuron model."
    return Verdict(passed, sentence)


def rotation_figure(engine, step: Step) -> alt.TopLevelMixin:
    return neuron_charts.rotation_chart(*rotation(engine, step))


# --- 8. Near-orthogonality ----------------------------------------------------------------------


def cosines_of(step: Step) -> jl.CosineStatistics:
    return jl.cosine_statistics(step.params["jl_count"], step.params["jl_dim"])


def near_orthogonal_verdict(engine, step: Step) -> Verdict:
    """Random cosines have variance 1/d; N = 10 d random directions all have |cos| < 0.6; the trained
    model's directions pack better than as many random ones."""
    stats = cosines_of(step)
    comparison = jl.compare_with_random(engine.trained(step.config).weights[0])
    random_typical = float(np.median(comparison.random_max_abs))
    passed = abs(stats.var / stats.expected_var - 1) < 0.1 and stats.max_abs < 0.6
    passed = passed and comparison.trained_max_abs < random_typical
    sentence = (
        f"{step.params['jl_count']:,} random directions in d = {step.params['jl_dim']}: variance of cos "
        f"{stats.var:.4f} (1/d = {stats.expected_var:.4f}), worst |cos| {stats.max_abs:.2f}. The trained model's "
        f"{comparison.features_used} features: worst |cos| {comparison.trained_max_abs:.2f} against "
        f"{random_typical:.2f} for as many random directions (Welch bound {comparison.welch_bound:.2f})."
    )
    if not passed:
        sentence += (
            " Random cosines should have variance 1/d; a trained model that packs no better than chance "
            "has not converged (see its view)."
        )
    return Verdict(passed, sentence)


def near_orthogonal_figure(engine, step: Step) -> alt.TopLevelMixin:
    stats = cosines_of(step)
    return jl_charts.cosine_histogram_chart(
        stats, jl.cosine_density_curve(step.params["jl_dim"], float(stats.hist_edges[-1]))
    )


# --- 9, 10. Correlated and anticorrelated features -------------------------------------------


def preset_model(engine, step: Step):
    """The Correlated features view's preset: its Config and the trained model."""
    config = structured.PRESETS[step.params["structure_preset"]].config(step.config)
    return config, engine.trained(config)


def preset_figure(engine, step: Step) -> alt.TopLevelMixin:
    config, result = preset_model(engine, step)
    return structured_charts.correlated_view(result.weights[0], config.sets, result.probability[0])


def across_sets(weights: np.ndarray, sets) -> np.ndarray:
    """cos(W_i, W_j) for i in the first set and j in the second."""
    first, second = (group["features"] for group in list(sets.sets())[:2])
    return structured.cosines(weights)[np.ix_(first, second)]


def correlated_verdict(engine, step: Step) -> Verdict:
    """Inside each correlated pair orthogonal (set_checks); each member antipodal to one of the other pair."""
    config, result = preset_model(engine, step)
    weights = result.weights[0]
    checks = structured.set_checks(weights, config.sets, structured.PRESETS[step.params["structure_preset"]].expect)
    across = across_sets(weights, config.sets)
    antipodal = bool(np.all(across.min(axis=1) < structured.ANTIPODAL_COSINE))
    passed = bool(checks["agrees"].all()) and antipodal
    sentence = (
        f"cos inside the pairs {listed(checks['mean_cosine'].round(2).tolist())} (orthogonal: 0); each member's "
        f"nearest opposite in the other pair at cos {listed(across.min(axis=1).round(2).tolist())} (antipodal: −1)."
    )
    if not passed:
        sentence += (
            " Not the paper's geometry: m = 2 fits get stuck; another seed (Advanced: training) gives new starts."
        )
    return Verdict(passed, sentence)


def anticorrelated_verdict(engine, step: Step) -> Verdict:
    """Inside each anticorrelated pair antipodal (set_checks); across pairs orthogonal."""
    config, result = preset_model(engine, step)
    weights = result.weights[0]
    checks = structured.set_checks(weights, config.sets, structured.PRESETS[step.params["structure_preset"]].expect)
    across = float(np.abs(across_sets(weights, config.sets)).max())
    passed = bool(checks["agrees"].all()) and across < structured.ORTHOGONAL_COSINE
    sentence = (
        f"cos inside the pairs {listed(checks['mean_cosine'].round(2).tolist())} (antipodal: −1); largest |cos| "
        f"across the pairs {across:.2f} (orthogonal: 0)."
    )
    if not passed:
        sentence += (
            " Not the paper's geometry: m = 2 fits get stuck; another seed (Advanced: training) gives new starts."
        )
    return Verdict(passed, sentence)


# --- 11. Collapse ------------------------------------------------------------------------------


def collapse_verdict(engine, step: Step) -> Verdict:
    """No pair collapsed at densities <= 0.05, all three at 0.5 and denser."""
    _, table = engine.collapse_sweep(step.config)
    collapsed = table[table["state"] == structured.COLLAPSED].set_index("density")["pairs"]
    sparse, dense = collapsed[collapsed.index <= 0.05], collapsed[collapsed.index >= 0.5]
    passed = bool((sparse == 0).all() and (dense == structured.COLLAPSE_PAIRS).all())
    sentence = "Collapsed pairs by density: " + ", ".join(f"{d:g}: {n}" for d, n in collapsed.items()) + "."
    if not passed:
        sentence += " The paper: none at 0.05 or sparser, all from 0.25 to 0.5 (PCA-like beyond)."
    return Verdict(passed, sentence)


def collapse_figure(engine, step: Step) -> alt.TopLevelMixin:
    return structured_charts.collapse_chart(engine.collapse_sweep(step.config)[1])


# --- 12. One feature made different ------------------------------------------------------------

DIFFERS_IMPORTANCE = 1.0  # feature 0 as important as the others: the view's default


def best_geometries(engine, step: Step):
    """Per relative density of feature 0, the geometry of its best run (One feature differs)."""
    table = engine.differs_sweep(step.config, DIFFERS_IMPORTANCE)
    return table[table["best"]].drop_duplicates("ratio").set_index("ratio")["geometry"]


def differs_verdict(engine, step: Step) -> Verdict:
    """A pentagon at ratio >= 1, two digons with feature 0 dropped at the sparsest ratio, one switch."""
    best = best_geometries(engine, step)
    pentagon = best.index[best == structured.ALL_REPRESENTED]
    switches = int((best.to_numpy()[1:] != best.to_numpy()[:-1]).sum())
    passed = bool((best[best.index >= 1] == structured.ALL_REPRESENTED).all())
    passed = passed and best.iloc[0] == structured.DIGONS and switches == 1
    sentence = (
        f"Best of each relative density: all 5 represented from {pentagon.min():g}× up, two digons with feature 0 "
        f"dropped at {best.index[0]:g}×, with {switches} switch (the paper: one, at about 1/2.5 = 0.4×)."
    )
    if not passed:
        sentence += (
            " The restarts of a ratio all ended in one geometry, a local minimum; another seed gives new starts."
        )
    return Verdict(passed, sentence)


def differs_figure(engine, step: Step) -> alt.TopLevelMixin:
    # In a concatenation, as its view draws it: alone, its wide legend squeezes the plot to nothing.
    return alt.vconcat(structured_charts.differs_chart(engine.differs_sweep(step.config, DIFFERS_IMPORTANCE), 1.0))


# --- 13. Learning dynamics ----------------------------------------------------------------------


def dynamics_verdict(engine, step: Step) -> Verdict:
    """D_i leave their starting values and end on sticky fractions, settled (within the tolerance of
    the end) in the first half of training."""
    result = engine.trained(step.config)
    dimensionality = metrics.dimensionality(result.snapshots[:, 0])
    final = dimensionality[-1][metrics.represented(result.weights[0])]
    on_sticky = bool(np.all(np.abs(final[:, None] - STICKY).min(axis=1) < STICKY_TOLERANCE / 2)) and final.size > 0
    moved = float(np.abs(dimensionality[-1] - dimensionality[0]).max())
    unsettled = np.flatnonzero(np.abs(dimensionality - dimensionality[-1]).max(axis=1) >= STICKY_TOLERANCE)
    settled = int(result.snapshot_steps[unsettled[-1] + 1]) if unsettled.size else 0
    last = int(result.snapshot_steps[-1])
    passed = on_sticky and moved > 0.15 and settled <= last / 2
    sentence = (
        f"The features' D_i moved by up to {moved:.2f} and ended at {listed(sorted(set(np.round(final, 2))))}; "
        f"every D_i within {STICKY_TOLERANCE} of its end from step {settled} of {last}."
    )
    if not passed:
        sentence += (
            " A D_i off the sticky fractions at the end means the training had not settled: "
            "see the view's convergence notice."
        )
    return Verdict(passed, sentence)


def dynamics_figure(engine, step: Step) -> alt.TopLevelMixin:
    result = engine.trained(step.config)
    return structured_charts.energy_levels(
        result.snapshots[:, 0],
        result.snapshot_steps,
        result.loss_steps,
        result.loss_history[0],
        int(result.snapshot_steps[-1]),
    )


# --- 14. Computation in superposition ---------------------------------------------------------


def computation_model(engine, step: Step) -> TrainResult:
    """The Computation view's paper setting n = 3, m = 6, dense."""
    return engine.trained(computation.small_config(step.config))


def computation_verdict(engine, step: Step) -> Verdict:
    """Every feature has a ReLU(x_i) and a ReLU(-x_i) neuron."""
    result = computation_model(engine, step)
    pairs = computation.feature_pairs(result.weights[0], result.output_weights[0])
    passed = bool(pairs["has_pair"].all())
    sentence = f"{int(pairs['has_pair'].sum())} of {len(pairs)} features have a ReLU(x)/ReLU(−x) pair of neurons."
    if not passed:
        sentence += " A feature without its pair shares a neuron: a local minimum of this seed."
    return Verdict(passed, sentence)


def computation_figure(engine, step: Step) -> alt.TopLevelMixin:
    result = computation_model(engine, step)
    first, second = result.weights[0], result.output_weights[0]
    table = computation.neuron_table(first, second)
    panels = [
        computation_charts.neuron_weights_chart(first, second, table, panel) for panel in computation_charts.PANELS
    ]
    return alt.hconcat(*(panel.properties(width=220) for panel in panels))


# --- 15. Sparse autoencoders --------------------------------------------------------------------


def sae_scores(engine, step: Step) -> tuple[SAEResult, SAEMetrics]:
    """The Sparse autoencoder view's ReLU + L1 SAEs on the sidebar's toy."""
    params = step.params
    sae_config = SAEConfig(latents=params["sae_latents"], seeds=params["sae_seeds"], l1=params["sae_l1"])
    return engine.saes(step.config, sae_config)


def sae_verdict(engine, step: Step) -> Verdict:
    """Some seed finds every feature (MMCS > 0.99), most come close (median > 0.85), and L1 shrinks."""
    _, scores = sae_scores(engine, step)
    found = int((scores.mmcs_features > 0.99).sum())
    slopes = scores.shrinkage.mean(axis=1)
    passed = found >= 1 and float(np.median(scores.mmcs_features)) > 0.85 and bool(np.all(slopes < 1))
    mmcs = listed(scores.mmcs_features.round(3).tolist(), 3)
    sentence = (
        f"{found} of {len(slopes)} SAEs found every feature (MMCS {mmcs}); "
        f"activations shrunk to {listed(slopes.round(2).tolist())} of their size by the L1 penalty."
    )
    if found < len(slopes):
        sentence += " A seed near 0.91 has one latent between two neighbouring directions: a local minimum."
    return Verdict(passed, sentence)


def sae_figure(engine, step: Step) -> alt.TopLevelMixin:
    result, scores = sae_scores(engine, step)
    return sae_charts.directions(result, scores, int(np.argmax(scores.mmcs_features)))


STEPS = (
    Step(
        "Features appear as sparsity grows",
        "Introduction (the first figure)",
        "With n = 5 features in m = 2 dimensions and importance 0.9^i, dense features give 2 represented "
        "features; as they get sparser, more and more fit, up to all 5.",
        "Sparsity sweep",
        {"importance_decay": 0.9},
        intro_verdict,
        sweep_figure,
    ),
    Step(
        "Dense: PCA-like. Sparse: superposition",
        "Demonstrating Superposition",
        "Dense features (n = 20, m = 5, importance 0.7^i) give the PCA-like answer: the 5 most important "
        "features get orthogonal directions and the rest are dropped. Sparse, more features than dimensions are "
        "stored, in superposition.",
        "Sparsity sweep",
        {"n_features": 20, "n_hidden": 5, "importance_decay": 0.7},
        dense_sparse_verdict,
        sweep_figure,
    ),
    Step(
        "The pentagon",
        "The Geometry of Superposition",
        "Five equally important sparse features (S = 0.95) in 2 dimensions form a regular pentagon: "
        "72° apart, each with dimensionality D_i = 2/5.",
        "Embedding",
        {"sparsity": 0.95},
        pentagon_verdict,
        embedding_figure,
    ),
    Step(
        "Feature dimensionality sticks at fractions",
        "The Geometry of Superposition: Feature Dimensionality",
        "As sparsity grows, features do not spread evenly: their dimensionality D_i sticks at the fractions of "
        "regular shapes, 1, 3/4, 2/3, 1/2, 2/5, 3/8, and the dimensions per feature fall.",
        "Sparsity sweep",
        {"n_features": 30, "n_hidden": 10},
        sticky_verdict,
        geometry_figure,
    ),
    Step(
        "Superposition is a phase change",
        "Superposition as a Phase Change",
        "Two features in one dimension: dense, the less important feature is dropped, or the more important one "
        "gets the dimension; sparse, both share it as an antipodal pair. The switch between them is abrupt.",
        "Phase diagram",
        {},
        phase_verdict,
        phase_figure,
    ),
    Step(
        "Polysemantic neurons",
        "Superposition in a Privileged Basis",
        "With a ReLU on the hidden units, moderately dense features get a neuron each (monosemantic); sparse "
        "features are packed into shared neurons, more features than neurons, and neurons become polysemantic.",
        "Neurons & polysemanticity",
        {
            "n_features": 10,
            "n_hidden": 5,
            "importance_decay": 0.75,
            "neurons_sparsest": 0.99,
            "neurons_points": 8,
        },
        polysemantic_verdict,
        polysemantic_figure,
    ),
    Step(
        "A privileged basis: rotation",
        "Background and Motivation: Privileged versus Non-privileged Bases",
        "Rotating the hidden space, W → RW, leaves a model that only reads and writes it linearly unchanged "
        "(WᵀRᵀRW = WᵀW), so its per-unit scores mean nothing; a ReLU on each neuron breaks the symmetry: the "
        "neuron model's loss rises.",
        "Neurons & polysemanticity",
        {"neurons_rotation_seed": 0},
        rotation_verdict,
        rotation_figure,
    ),
    Step(
        "Almost orthogonal directions",
        "The Superposition Hypothesis (Johnson–Lindenstrauss)",
        "In d dimensions only d directions are exactly orthogonal, but exponentially many are almost orthogonal: "
        "random directions have cosines of variance 1/d. Trained features pack even better than random ones.",
        "Near-orthogonality (JL)",
        {"jl_dim": 100, "jl_count": 1000},
        near_orthogonal_verdict,
        near_orthogonal_figure,
    ),
    Step(
        "Correlated features stay orthogonal",
        "Non-Uniform Superposition: Correlated and Anticorrelated Features",
        "Features that fire together avoid interfering: two correlated pairs in 2 dimensions put each pair's "
        "members at right angles, and the two pairs antipodal to each other.",
        "Correlated features",
        {"structure_preset": "2 correlated pairs, m = 2"},
        correlated_verdict,
        preset_figure,
    ),
    Step(
        "Anticorrelated features share a direction",
        "Non-Uniform Superposition: Correlated and Anticorrelated Features",
        "Features that never fire together interfere for free: two anticorrelated pairs in 2 dimensions put each "
        "pair's members antipodal, and the pairs at right angles.",
        "Correlated features",
        {"structure_preset": "2 anticorrelated pairs, m = 2"},
        anticorrelated_verdict,
        preset_figure,
    ),
    Step(
        "Correlated pairs collapse",
        "Non-Uniform Superposition: Correlated and Anticorrelated Features",
        "Three correlated pairs in 2 dimensions: sparse, the pairs lie side by side; denser, pair after pair "
        "collapses onto its shared direction (a + b)/√2, none at density 0.05 or less, all from 0.25 to 0.5.",
        "Collapse sweep",
        {},
        collapse_verdict,
        collapse_figure,
    ),
    Step(
        "One feature made different",
        "Non-Uniform Superposition",
        "Five features at density 0.05 form a pentagon; make feature 0 sparser and, at about 2.5× sparser, the "
        "solution switches abruptly to two antipodal pairs with feature 0 dropped.",
        "One feature differs",
        {"sparsity": 0.95},
        differs_verdict,
        differs_figure,
    ),
    Step(
        "Learning dynamics: energy levels",
        "Superposition and Learning Dynamics",
        "During training each feature's dimensionality D_i moves between the sticky fractions and settles on "
        "one; the jumps line up with drops of the loss.",
        "Training dynamics",
        {"n_features": 6, "n_hidden": 3, "sparsity": 0.95},
        dynamics_verdict,
        dynamics_figure,
    ),
    Step(
        "Computing |x| takes two neurons per feature",
        "Computation in Superposition",
        "|x| = ReLU(x) + ReLU(−x): with n = 3 dense features and m = 6 neurons, every feature gets a neuron "
        "reading +x_i and one reading −x_i, both writing back to |x_i|.",
        "Computation (|x|)",
        {"computation_setting": "paper: n = 3, m = 6, dense"},
        computation_verdict,
        computation_figure,
    ),
    Step(
        "Sparse autoencoders recover the features",
        "Approaches to Resolving Superposition (and Bricken et al. 2023)",
        "A sparse autoencoder on the hidden layer of the pentagon toy (p = 0.025) learns one latent per true "
        "feature direction; its L1 penalty shrinks the activations.",
        "Sparse autoencoder",
        {"sparsity": 0.975, "sae_latents": 5, "sae_seeds": 4, "sae_l1": 0.2},
        sae_verdict,
        sae_figure,
    ),
)
