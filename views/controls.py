"""The sidebar: one widget per training setting, each bound to the URL, returning a valid Config.

Query-parameter names are the Config fields, i.e. the command line's flags with underscores
(n_features, n_hidden, sparsity, importance_decay, model, steps, lr, batch_size, seed), so a
copied link reproduces the view. A link can carry anything. A bound widget that cannot use its
parameter (not a number, not finite, out of its range, not one of its options) drops it from
the URL and keeps its default, so the URL stays a faithful link to what is shown; the ranges
are Config's LIMITS, n_hidden <= n_features and the work limit on steps. On a session's first
run, one warning names every parameter that was dropped (or rounded) and the value used
instead. Unknown parameters are left alone, and nothing from the link is rendered as markup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from superpos import config
from superpos.charts.geometry import importance_bars
from superpos.config import INTEGER_FIELDS, LIMITS, MODEL_KINDS, MODEL_LABELS, Config
from superpos.train import importance_profile

DEFAULTS = Config()
CONTROL_FIELDS = (
    "n_features",
    "n_hidden",
    "sparsity",
    "importance_decay",
    "model",
    "steps",
    "lr",
    "batch_size",
    "seed",
)
TAU = 0.1  # the example threshold for "active" next to the sparsity control
SHOWN_CHARACTERS = 24  # of a bad parameter's value, echoed in the warning
LINK_CHECKED = "link_checked"  # session-state key


def formatted(value) -> str:
    """A control's value as the URL and the labels show it: 0.95, relu, 1000."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def sparsity_options() -> tuple[float, ...]:
    """The sparsity control's values: S = 1 - p for p = 1 and p = k x 10^-d (k = 1, 1.5, 2, 2.5,
    3, ..., 9; d = 1, 2, 3), i.e. log-spaced in p down to S = 0.999, so 0.9, 0.99 and 0.999 are
    each a few steps apart; plus the default. Rounded: 1 - 0.07 is 0.9299999999999999."""
    mantissas = (9, 8, 7, 6, 5, 4, 3, 2.5, 2, 1.5, 1)
    probabilities = [1.0] + [k * 10.0**-d for d in (1, 2, 3) for k in mantissas]
    return tuple(sorted({round(1.0 - p, 6) for p in probabilities} | {DEFAULTS.sparsity}))


SPARSITY_OPTIONS = sparsity_options()
SPARSITY_LABELS = {formatted(sparsity): sparsity for sparsity in SPARSITY_OPTIONS}


def nearest_sparsity(sparsity: float) -> float:
    """The control value closest to `sparsity` on the log scale of p = 1 - S."""
    probabilities = 1.0 - np.array(SPARSITY_OPTIONS)
    return SPARSITY_OPTIONS[int(np.abs(np.log(probabilities) - np.log(1.0 - sparsity)).argmin())]


def max_steps(batch_size: int, n_features: int, n_hidden: int) -> int:
    """Most steps the work limit (superpos.config.check_work) allows for the sidebar's model."""
    return config.max_steps(int(batch_size), 1, DEFAULTS.restarts, int(n_features), int(n_hidden))


def parse(name: str, text: str) -> tuple[object, str | None]:
    """The value the widget of field `name` takes from the URL text `text`, following Streamlit's
    rules for bound widgets (what it cannot use leaves the widget at its default), and what was
    wrong with `text` (None if nothing). Whole numbers are held as floats, and rounded."""
    default = getattr(DEFAULTS, name)
    if name == "model":
        return (text, None) if text in MODEL_KINDS else (default, f"is not one of {', '.join(MODEL_KINDS)}")
    if name == "sparsity":
        return sparsity_from_link(text)
    try:
        number = float(text)
    except ValueError:
        return default, "is not a number"
    if not math.isfinite(number):
        return default, "is not a finite number"
    low, high = LIMITS[name]
    if not low <= number <= high:
        return default, f"is outside [{low:g}, {high:g}]"
    if name in INTEGER_FIELDS:
        return round(number), None if number.is_integer() else "is not a whole number"
    return number, None


def sparsity_from_link(text: str) -> tuple[float, str | None]:
    """The sparsity control matches the link's text to its values' labels, e.g. 0.95."""
    if text in SPARSITY_LABELS:
        return SPARSITY_LABELS[text], None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    hint = f" (the nearest is {formatted(nearest_sparsity(number))})" if 0 <= number < 1 else ""
    return DEFAULTS.sparsity, f"is not one of the control's values{hint}"


def sanitise(raw: Mapping[str, str]) -> tuple[dict, dict[str, str]]:
    """The value of every control for a link with the parameters `raw` (the defaults where absent),
    which make a valid Config, and per parameter of `raw` that was not used as given, why."""
    values = {name: getattr(DEFAULTS, name) for name in CONTROL_FIELDS}
    problems = {}
    for name in CONTROL_FIELDS:
        if name in raw:
            values[name], problem = parse(name, raw[name])
            if problem is not None:
                problems[name] = problem
    # The m and steps widgets' ranges depend on n (and the batch size): beyond them, the default.
    if values["n_hidden"] > values["n_features"]:
        values["n_hidden"] = min(DEFAULTS.n_hidden, values["n_features"])
        if "n_hidden" in raw:
            problems.setdefault("n_hidden", f"is more than n_features = {values['n_features']}")
    cap = max_steps(values["batch_size"], values["n_features"], values["n_hidden"])
    if values["steps"] > cap:
        values["steps"] = min(DEFAULTS.steps, cap)
        if "steps" in raw:
            problems.setdefault("steps", f"is over the work limit at this n, m and batch_size: at most {cap}")
    return values, problems


def shown(text: str) -> str:
    """A user-supplied value made safe to echo in markdown: short, and only plain characters."""
    safe = "".join(c if c.isalnum() or c in ".+-" else "?" for c in text[:SHOWN_CHARACTERS])
    return safe + ("…" if len(text) > SHOWN_CHARACTERS else "")


def link_warning(view_names: Sequence[str]) -> None:
    """One warning naming each parameter of the link that the app could not use as given."""
    raw = {name: st.query_params[name] for name in CONTROL_FIELDS if name in st.query_params}
    values, problems = sanitise(raw)
    notes = [
        f"`{name}` = `{shown(raw[name])}` {problem}: using `{formatted(values[name])}`"
        for name, problem in problems.items()
    ]
    view = st.query_params.get("view")
    if view is not None and view not in view_names:
        notes.append(f"`view` = `{shown(view)}` is not a view: showing {view_names[0]}")
    if notes:
        lines = "\n".join(f"- {note}" for note in notes)
        st.warning(f"Some settings in the link could not be used:\n\n{lines}", icon="⚠️")


def sparsity_caption(sparsity: float, n_features: int) -> str:
    """p = 1 - S, n(1 - S), and S_tau = S + (1 - S) tau: the sparsity if 'active' meant x_i > tau."""
    p = 1.0 - sparsity
    return (
        f"feature probability p = 1 − S = **{p:.3g}** · expected active features n(1 − S) = **{n_features * p:.3g}**. "
        f"If *active* meant xᵢ > τ = {TAU:g} instead of xᵢ ≠ 0, the measured sparsity would be "
        f"S\\_τ = S + (1 − S)·τ = **{sparsity + p * TAU:.4g}** (xᵢ is uniform on [0, 1] when active)."
    )


def keep_within_limits() -> None:
    """Before the widgets run: clamp n_hidden to n_features and steps to the work limit, in case
    the other control just moved (a widget's own range keeps each value within LIMITS)."""
    state = st.session_state
    if state.get("n_hidden", 0) > state.get("n_features", DEFAULTS.n_features):
        state["n_hidden"] = state["n_features"]
    cap = max_steps(
        state.get("batch_size", DEFAULTS.batch_size),
        state.get("n_features", DEFAULTS.n_features),
        state.get("n_hidden", DEFAULTS.n_hidden),
    )
    if state.get("steps", 0) > cap:
        state["steps"] = cap


def whole_number_input(label: str, name: str, high: int | None = None, step: int = 1, help: str = "") -> int:
    """A number input for the whole-number field `name`, within LIMITS (and below `high`).

    It holds a float shown without decimals: Streamlit 1.67 raises on a link like
    ?n_features=inf when it seeds an int number input (int(inf)), while a float one falls back.
    """
    low, top = LIMITS[name]
    high = top if high is None else high
    value = st.number_input(
        label,
        float(low),
        float(high),
        value=float(min(getattr(DEFAULTS, name), high)),
        step=float(step),
        format="%.0f",
        key=name,
        bind="query-params",
        help=f"{help} From {low:,} to {high:,}.",
    )
    return int(round(value))


@dataclass(frozen=True)
class NumberRange:
    """The values a view's numeric widget takes: low <= x <= high, whole numbers only if `whole`."""

    low: float
    high: float
    whole: bool = False


def view_link_problem(text: str, allowed: NumberRange | Sequence[float]) -> tuple[str | None, float | None]:
    """What is wrong with a view setting's URL text for its widget (None if nothing), and the
    whole number used instead of a fraction: its whole part, as an int slider takes it (3.5 -> 3)."""
    try:
        number = float(text)
    except ValueError:
        return "cannot be used: using the default", None
    if not isinstance(allowed, NumberRange):
        return (None, None) if number in allowed else ("is not one of the choices: using the default", None)
    if not (math.isfinite(number) and allowed.low <= number <= allowed.high):
        return f"is outside [{allowed.low:g}, {allowed.high:g}]: using the default", None
    if allowed.whole and not number.is_integer():
        return f"is not a whole number: using {math.floor(number)}", math.floor(number)
    return None, None


def view_link_warning(allowed: Mapping[str, NumberRange | Sequence[float]]) -> None:
    """One warning naming each of a view's own URL parameters that its widget cannot use as given.

    `allowed` maps a widget key to its NumberRange or its sequence of choices. Call it before the
    widgets: a bound widget drops a value it cannot use from the URL (and falls back to its
    default); a whole-number widget uses a fraction's whole part, which replaces it in the URL.
    """
    notes = []
    for name, rule in allowed.items():
        if name not in st.query_params:
            continue
        text = st.query_params[name]
        problem, whole = view_link_problem(text, rule)
        if problem is not None:
            notes.append(f"`{name}` = `{shown(text)}` {problem}")
        if whole is not None:  # so that the link shows the value used
            st.query_params[name] = str(whole)
    if notes:
        lines = "\n".join(f"- {note}" for note in notes)
        st.warning(f"Some settings of this view in the link could not be used:\n\n{lines}", icon="⚠️")


def sidebar(view_names: Sequence[str]) -> Config:
    """Draw the controls and return the Config they describe (always valid)."""
    if LINK_CHECKED not in st.session_state:  # the session's first run: the page was opened from a link
        st.session_state[LINK_CHECKED] = True
        link_warning(view_names)
    keep_within_limits()
    with st.sidebar:
        st.header("Model")
        n_features = whole_number_input("n features", "n_features", help="Input dimensions; each one is a feature.")
        n_hidden = whole_number_input(
            "m hidden dimensions", "n_hidden", high=n_features, help="Size of the bottleneck h = Wx; at most n."
        )
        sparsity = st.select_slider(
            "sparsity S = P(x_i = 0)",
            SPARSITY_OPTIONS,
            value=DEFAULTS.sparsity,
            format_func=formatted,
            key="sparsity",
            bind="query-params",
            help="Chance that a feature is zero; the steps are log-spaced in 1 − S, so 0.9, 0.99, 0.999 are close.",
        )
        st.caption(sparsity_caption(sparsity, n_features))
        importance_decay = st.slider(
            "importance decay r",
            *LIMITS["importance_decay"],
            value=DEFAULTS.importance_decay,
            step=0.01,
            key="importance_decay",
            bind="query-params",
            help="Feature i's squared error is weighted by I_i = r^i; r = 1 makes all features equal.",
        )
        st.altair_chart(importance_bars(importance_profile(n_features, importance_decay)), width="stretch")
        model = st.radio(
            "model",
            MODEL_KINDS,
            index=MODEL_KINDS.index(DEFAULTS.model),
            captions=[MODEL_LABELS[kind].split("  ", 1)[-1] for kind in MODEL_KINDS],
            key="model",
            bind="query-params",
            help="Where the ReLUs are: none (linear), on the output, or on the hidden units too (neuron).",
        )
        with st.expander("Advanced: training"):
            batch_size = whole_number_input(
                "batch size", "batch_size", step=256, help="Fresh synthetic inputs drawn per step."
            )
            cap = max_steps(batch_size, n_features, n_hidden)
            steps = whole_number_input(
                "steps", "steps", high=cap, step=100, help="Optimiser steps (Adam, warm-up then cosine decay)."
            )
            if cap < LIMITS["steps"][1]:
                st.caption(
                    f"Work limit (about {config.MAX_WORK_SECONDS} s of training per model): "
                    f"at most {cap:,} steps at this n, m and batch size."
                )
            lr = st.number_input(
                "learning rate",
                *LIMITS["lr"],
                value=DEFAULTS.lr,
                step=0.005,
                format="%.4g",
                key="lr",
                bind="query-params",
                help="Peak learning rate; too high and the training diverges. From {:g} to {:g}.".format(*LIMITS["lr"]),
            )
            seed = whole_number_input("seed", "seed", help="Random seed of the initial weights and the data.")
    return Config(
        n_features=n_features,
        n_hidden=n_hidden,
        sparsity=sparsity,
        importance_decay=importance_decay,
        model=model,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
    )
