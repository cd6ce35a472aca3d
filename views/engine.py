"""The engine calls the views share, cached by their settings (frozen Config and numbers).

Every training runs once per setting: returning to an earlier setting is a cache hit. The
caches are bounded (entries, bytes, time to live) so a hosted app cannot grow without end.
A training that takes noticeable time shows a progress bar. A failure (a diverged training,
a job over the work limit) is shown in the view, and the rest of the app stays usable.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import streamlit as st

from superpos import computation, experiments, schedule, structured
from superpos.config import SETTINGS, Config, ConfigError
from superpos.sae import SAE_LABELS, SAEConfig, SAEResult, train_saes
from superpos.sae_metrics import SAEMetrics, evaluate_saes
from superpos.train import TrainingDiverged, TrainResult, train, train_sweep

TTL_SECONDS = 3600

PROGRESS_AFTER_SECONDS = 0.3  # a faster training shows no bar at all
PROGRESS_STEP = 0.05  # redraw the bar at most every 5%


def server_max_seconds() -> float:
    """SUPERPOS_MAX_SECONDS if it is a positive number, else superpos.schedule.MAX_SECONDS."""
    try:
        seconds = float(os.environ.get("SUPERPOS_MAX_SECONDS", schedule.MAX_SECONDS))
    except ValueError:
        return schedule.MAX_SECONDS
    return seconds if math.isfinite(seconds) and seconds > 0 else schedule.MAX_SECONDS


# This server's work limit, seconds of training per view (superpos.schedule.check_time): the
# engine's MAX_SECONDS, which protects a hosted demo, unless the environment variable
# SUPERPOS_MAX_SECONDS sets another (a self-hosted server with time to spare; README, Deploy).
MAX_SECONDS = server_max_seconds()


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[float], None]]:
    """Yield a progress callback for the trainer that draws a bar once the work takes noticeable time.

    Called inside a cached function, the bar's messages are recorded and replayed on a cache hit;
    they end with the bar removed, so a hit shows nothing, and the throttling keeps them few.
    """
    started, shown, bar = time.perf_counter(), -1.0, None

    def report(fraction: float) -> None:
        nonlocal shown, bar
        if time.perf_counter() - started < PROGRESS_AFTER_SECONDS or fraction - shown < PROGRESS_STEP:
            return
        bar = bar or st.empty()
        bar.progress(fraction, text=f"{label}: {fraction:.0%}")
        shown = fraction

    try:
        yield report
    finally:
        if bar is not None:
            bar.empty()


@st.cache_data(max_entries=64, max_size="256MB", ttl=TTL_SECONDS, show_spinner=False)
def trained(config: Config) -> TrainResult:
    """The model `config` describes (one instance). Raises TrainingDiverged."""
    with progress_bar(f"Training the {config.model} model, n = {config.n_features}, m = {config.n_hidden}") as report:
        return train(config, report, MAX_SECONDS)


@st.cache_data(max_entries=16, max_size="256MB", ttl=TTL_SECONDS, show_spinner=False)
def swept(config: Config, sparsities: tuple[float, ...]) -> TrainResult:
    with progress_bar(f"Training {len(sparsities)} models, one per sparsity") as report:
        return train_sweep(config, sparsities, report, MAX_SECONDS)


def sweep(config: Config, sparsities) -> TrainResult:
    """One model per sparsity with `config`'s other settings, trained as one batch.
    Raises TrainingDiverged, or ConfigError when the batch is over the work limit."""
    # config.sparsity plays no part: normalise it so the sidebar's S does not retrain the sweep.
    return swept(config.replace(sparsity=Config.sparsity), tuple(float(s) for s in sparsities))


@st.cache_data(max_entries=16, ttl=TTL_SECONDS, show_spinner=False)
def phase_diagram(model: str, lr: float, seed: int) -> pd.DataFrame:
    """superpos.experiments.phase_diagram on its default grid. Raises TrainingDiverged."""
    with progress_bar(
        f"Training {experiments.PHASE_DENSITIES.size * experiments.PHASE_IMPORTANCES.size} models"
    ) as report:
        return experiments.phase_diagram(model, lr, seed, progress=report)


@st.cache_data(max_entries=16, ttl=TTL_SECONDS, show_spinner=False)
def collapse_sweep(config: Config) -> tuple[TrainResult, pd.DataFrame]:
    """superpos.structured.collapse_sweep with `config`'s model, seed and training settings."""
    config = structured.collapse_config(config).replace(sparsity=Config.sparsity)  # S plays no part
    with progress_bar(f"Training {len(structured.COLLAPSE_DENSITIES)} models, one per density") as report:
        return structured.collapse_sweep(config, progress=report)


@st.cache_data(max_entries=16, ttl=TTL_SECONDS, show_spinner=False)
def differs_sweep(config: Config, importance: float) -> pd.DataFrame:
    """superpos.structured.differs_sweep: the others at config's S, feature 0 at `importance`."""
    runs = len(structured.DIFFERS_RATIOS) * structured.DIFFERS_RESTARTS
    with progress_bar(f"Training {runs} models, every restart of every relative density") as report:
        return structured.differs_sweep(config, importance, progress=report)


@st.cache_data(max_entries=32, max_size="128MB", ttl=TTL_SECONDS, show_spinner=False)
def saes(
    config: Config, sae_config: SAEConfig, settings: tuple[float, ...] | None = None
) -> tuple[SAEResult, SAEMetrics]:
    """SAEs on the hidden layer of the model `config` describes (superpos.sae.train_saes: sae_config.seeds
    per setting, default its own) and their metrics. Raises ConfigError for a toy SAEs cannot train on."""
    toy = trained(config)
    with progress_bar(f"Training {SAE_LABELS[sae_config.kind]} SAEs") as report:
        result = train_saes(toy, sae_config, settings, progress=report)
    return result, evaluate_saes(result)


@st.cache_data(max_entries=16, ttl=TTL_SECONDS, show_spinner=False)
def computation_densities(config: Config, sparsities: tuple[float, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Of the abs models `sweep(config, sparsities)` trains: neuron counts per density and the features
    their polysemantic neurons read (superpos.computation)."""
    result = sweep(config, sparsities)
    densities = [round(1.0 - sparsity, 12) for sparsity in sparsities]  # 1 - (1 - 0.001) is not 0.001
    return (
        computation.density_summary(result.weights, densities),
        computation.polysemantic_features(result.weights, result.importance, densities),
    )


@st.cache_data(max_entries=64, ttl=TTL_SECONDS, show_spinner=False)
def computation_neurons(config: Config, sparsities: tuple[float, ...] | None = None, index: int = 0):
    """Per-neuron analysis of one abs model, the one `config` describes or model `index` of
    `sweep(config, sparsities)`: (neuron table, ReLU(x)/ReLU(-x) pairs, asymmetric motifs)."""
    result = trained(config) if sparsities is None else sweep(config, sparsities)
    first, second = result.weights[index], result.output_weights[index]
    motifs = computation.asymmetric_motifs(first, second).sort_values("interference", ascending=False)
    return computation.neuron_table(first, second), computation.feature_pairs(first, second), motifs


# The convergence notice's icon (a Material icon: headless browsers lack most emoji fonts).
NOT_CONVERGED_ICON = ":material/hourglass_top:"
LONGER = 4  # "train longer" multiplies the steps by this, within the work limit


def longer_steps(result: TrainResult, n_features: int, n_hidden: int) -> int:
    """The steps a longer training of `result`'s batch gets: LONGER times as many, at most what the
    work limit allows (and Config's largest), never fewer than it had."""
    instances = len(result.heldout)
    allowed = schedule.seconds_allowed(instances, MAX_SECONDS)
    fits = schedule.max_steps(n_features, n_hidden, instances, result.schedule, allowed)
    return max(result.schedule.steps, min(LONGER * result.schedule.steps, fits, int(SETTINGS["steps"].high)))


def set_training(steps: int | None, lr: float | None) -> None:
    """Button callback, before the next run's widgets: the sidebar's steps and learning rate
    (bound to the URL); None empties a field, i.e. the automatic schedule's value."""
    st.session_state["steps"] = None if steps is None else float(steps)
    st.session_state["lr"] = lr


def own_machine_command(config: Config, result: TrainResult) -> str:
    """The command line that trains this batch past the server's work limit."""
    if len(result.heldout) == 1:
        command = f"python -m superpos train --sparsity {config.sparsity:g}"
    else:
        sparsities = ",".join(f"{1 - p:.6g}" for p in result.probability[:, 0])
        command = f"python -m superpos sweep --sparsities {sparsities}"
    return (
        f"{command} --model {config.model} --n-features {config.n_features} --n-hidden {config.n_hidden} "
        f"--importance-decay {config.importance_decay:g} --no-work-limit"
    )


def convergence_notice(config: Config, result: TrainResult, what: str = "This model") -> None:
    """Say so when a training has not converged (superpos.train: its loss still fell over the last
    fifth of its steps, or it had less than the automatic schedule), and offer what fixes it: the
    automatic schedule if the user's settings cut it short, else a longer training within the work
    limit, else the command that trains it on the user's own machine. The picture is not the answer yet."""
    unconverged = int((~result.converged).sum())
    if unconverged == 0:
        return
    who = what if len(result.converged) == 1 else f"{unconverged} of these {len(result.converged)} models"
    budget, fall = float(result.budget.min()), float(result.final_fall.max())
    if budget < 1:
        why = f"had {budget:.0%} of the training the automatic schedule gives this size"
    else:
        why = f"still improved by {fall:.1%} over the last fifth of its {result.schedule.steps:,} steps"
    name = what.replace(" ", "_").lower()
    with st.container(key=f"convergence_{name}"):
        st.warning(
            f"**Not converged:** {who} {why}, so what is drawn is not yet what it would learn.", icon=NOT_CONVERGED_ICON
        )
        user_cut_it_short = config.steps is not None or config.lr is not None
        automatic = schedule.resolve(
            config.model,
            config.n_features,
            config.n_hidden,
            result.probability,
            MAX_SECONDS,
            batch_size=config.batch_size,
        )
        steps = longer_steps(result, config.n_features, config.n_hidden)
        if user_cut_it_short and schedule.budget(automatic, automatic_uncapped(config, result)).min() >= 1:
            label, settings = f"Use the automatic schedule ({automatic.steps:,} steps)", (None, None)
        elif steps > result.schedule.steps:
            label, settings = f"Train longer: {steps:,} steps", (steps, config.lr)
        else:
            st.caption(
                f"This server's work limit ({MAX_SECONDS:g} s per model) allows no more; on your own machine: "
                f"`{own_machine_command(config, result)}`"
            )
            return
        st.button(
            label,
            on_click=set_training,
            args=settings,
            key=f"longer_{name}",
            help="Sets the training settings under Advanced: training (and in the link).",
        )


def automatic_uncapped(config: Config, result: TrainResult) -> schedule.Schedule:
    """The automatic schedule for this batch with no work limit: what convergence needs."""
    return schedule.resolve(config.model, config.n_features, config.n_hidden, result.probability)


def timing_area(parent, view: str):
    """A container for a wall-clock time in `parent` (a column or st). Keyed `training_time_<view>`
    so that the browser tests can hide it in their screenshots, which must not change from run to run."""
    return parent.container(key=f"training_time_{view}")


def trained_weights(config: Config) -> np.ndarray | None:
    """W (m x n) of the model `config` describes, or None if its training diverged."""
    try:
        return trained(config).weights[0]
    except TrainingDiverged:
        return None


@contextmanager
def failures_shown() -> Iterator[None]:
    """Run a view; if its training diverges or is over the work limit, say so and stop the view there."""
    try:
        yield
    except TrainingDiverged as error:
        st.error(f"The {error} (under *Advanced: training*). The other views still work.", icon="⚠️")
    except ConfigError as error:
        st.warning(f"This view's job is too big: {error.detail}.", icon="⚠️")
