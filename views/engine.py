"""The engine calls the views share, cached by their settings (frozen Config and numbers).

Every training runs once per setting: returning to an earlier setting is a cache hit. The
caches are bounded (entries, bytes, time to live) so a hosted app cannot grow without end.
A training that takes noticeable time shows a progress bar. A failure (a diverged training,
a job over the work limit) is shown in the view, and the rest of the app stays usable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import streamlit as st

from superpos import experiments
from superpos.config import Config, ConfigError
from superpos.train import TrainingDiverged, TrainResult, train, train_sweep

TTL_SECONDS = 3600
PROGRESS_AFTER_SECONDS = 0.3  # a faster training shows no bar at all
PROGRESS_STEP = 0.05  # redraw the bar at most every 5%


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
        return train(config, report)


@st.cache_data(max_entries=16, max_size="256MB", ttl=TTL_SECONDS, show_spinner=False)
def swept(config: Config, sparsities: tuple[float, ...]) -> TrainResult:
    with progress_bar(f"Training {len(sparsities)} models, one per sparsity") as report:
        return train_sweep(config, sparsities, report)


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
