"""The sidebar: one widget per training setting, each bound to the URL, returning a valid Config.

Query-parameter names are the Config fields, i.e. the command line's flags with underscores
(n_features, n_hidden, sparsity, importance_decay, model, steps, lr, batch_size, seed), so a
copied link reproduces the view. A link can carry anything. Streamlit's bound widgets decide what
they can use: one that cannot use its parameter (not a number, out of its range, not one of its
options) drops it from the URL and keeps its default; a whole-number widget takes a fraction's
whole part (whole_part) and writes that into the URL. So the URL stays a faithful link to what is
shown. The widgets' ranges are Config's SETTINGS plus the two limits that are ours: n_hidden <=
n_features and the work limit on steps. The app does not predict the widgets: it reads the link
before they run and compares it with what they ended on, and on a session's first run one
warning names every parameter that was dropped or changed, with the value used instead. A fraction
given to a whole-number setting means its whole part, here and in every view.
Unknown parameters are left alone, and nothing from the link is rendered as markup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from superpos import schedule
from superpos.charts.geometry import importance_bars
from superpos.config import INTEGER_FIELDS, LIMITS, MODEL_KINDS, MODEL_LABELS, SETTINGS, Config
from superpos.train import importance_profile
from views import engine

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
WHOLE_NUMBER_FIELDS = tuple(name for name in CONTROL_FIELDS if name in INTEGER_FIELDS)
LINK_CHECKED = "link_checked"  # session-state keys: the link has been compared with the controls,
LINK = "link"  # and the link as it was opened, kept for the rerun that drops an infinity from it


def formatted(value) -> str:
    """A control's value as the URL and the labels show it: 0.95, relu, 1000; None is automatic."""
    if value is None:
        return "automatic"
    return f"{value:g}" if isinstance(value, float) else str(value)


def sparsity_options() -> tuple[float, ...]:
    """The sparsity control's values: S = 1 - p for p = 1 and p = k x 10^-d (k = 1, 1.5, 2, 2.5,
    3, ..., 9; d = 1, 2, 3), i.e. log-spaced in p down to S = 0.999, so 0.9, 0.99 and 0.999 are
    each a few steps apart; plus the default. Rounded: 1 - 0.07 is 0.9299999999999999."""
    mantissas = (9, 8, 7, 6, 5, 4, 3, 2.5, 2, 1.5, 1)
    probabilities = [1.0] + [k * 10.0**-d for d in (1, 2, 3) for k in mantissas]
    return tuple(sorted({round(1.0 - p, 6) for p in probabilities} | {DEFAULTS.sparsity}))


SPARSITY_OPTIONS = sparsity_options()


def nearest_sparsity(sparsity: float) -> float:
    """The control value closest to `sparsity` on the log scale of p = 1 - S."""
    probabilities = 1.0 - np.array(SPARSITY_OPTIONS)
    return SPARSITY_OPTIONS[int(np.abs(np.log(probabilities) - np.log(1.0 - sparsity)).argmin())]


def training_schedule(values: Mapping) -> schedule.Schedule:
    """The schedule the sidebar's model trains with: the automatic one (capped by the work limit)
    with the training settings the user gave instead; `values` maps Config fields to values."""
    n_features, n_hidden = int(values["n_features"]), int(values["n_hidden"])
    probability = [[1.0 - values["sparsity"]] * n_features]
    given = {name: values.get(name) for name in ("steps", "batch_size", "lr")}
    return schedule.resolve(values["model"], n_features, n_hidden, probability, engine.MAX_SECONDS, **given)


def max_steps(values: Mapping) -> int:
    """Most steps the work limit (superpos.schedule.check_time) allows for the sidebar's model."""
    fits = schedule.max_steps(
        int(values["n_features"]), int(values["n_hidden"]), 1, training_schedule(values), engine.MAX_SECONDS
    )
    return int(min(LIMITS["steps"][1], max(LIMITS["steps"][0], fits)))


def whole_part(value: float) -> int:
    """The one rule for a fraction given to a whole-number setting, in the sidebar and every view:
    its whole part (2.7 -> 2), which is what Streamlit's integer widgets take from a link (int())."""
    return math.trunc(value)


def as_number(text: str) -> float | None:
    """`text` as a finite number, or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def taken_as_given(text: str, value) -> bool:
    """Whether a control that ended on `value` took the link's `text` as it was written."""
    if value is None:  # an empty training field: the link's value was dropped
        return False
    if text == formatted(value):
        return True
    number = as_number(text)
    return number is not None and not isinstance(value, str) and number == value


def why_not_used(name: str, text: str, highest: Mapping[str, float]) -> str:
    """Why the link's `text` for control `name` was not used as given: a reason for the warning,
    not a prediction (the widgets decided). `highest` holds the ranges' upper ends that are ours."""
    if name == "model":
        return f"is not one of {', '.join(MODEL_KINDS)}"
    number = as_number(text)
    if name == "sparsity":
        hint = (
            f" (the nearest is {formatted(nearest_sparsity(number))})" if number is not None and 0 <= number < 1 else ""
        )
        return f"is not one of the control's values{hint}"
    if number is None:
        return "is not a finite number"
    low, high = SETTINGS[name].low, highest.get(name, SETTINGS[name].high)
    if name == "n_hidden" and number > high:
        return f"is more than n_features = {high:g}"
    if name == "steps" and high < number <= SETTINGS[name].high:
        return f"is over the work limit at this n, m and batch_size: at most {high:g}"
    if not low <= number <= high:
        return f"is outside [{low:g}, {high:g}]"
    if name in INTEGER_FIELDS and not number.is_integer():
        return "is not a whole number"
    return "is not a value this control takes"


def shown(text: str) -> str:
    """A user-supplied value made safe to echo in markdown: short, and only plain characters."""
    safe = "".join(c if c.isalnum() or c in ".+-" else "?" for c in text[:SHOWN_CHARACTERS])
    return safe + ("…" if len(text) > SHOWN_CHARACTERS else "")


def link_notes(link: Mapping[str, str], values: Mapping, view_names: Sequence[str]) -> list[str]:
    """One note per parameter of `link` (the URL's text before the widgets ran) that the controls,
    now holding `values`, did not take as given: its name, its text, why, and the value used."""
    highest = {"n_hidden": values["n_features"], "steps": max_steps(values)}
    notes = [
        f"`{name}` = `{shown(text)}` {why_not_used(name, text, highest)}: using `{formatted(values[name])}`"
        for name, text in link.items()
        if name in CONTROL_FIELDS and not taken_as_given(text, values[name])
    ]
    if "view" in link and link["view"] not in view_names:
        notes.append(f"`view` = `{shown(link['view'])}` is not a view: showing {view_names[0]}")
    return notes


def link_warning(notes: Sequence[str]) -> None:
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


def infinite(text: str) -> bool:
    """Whether a link's `text` reads as an infinite number (inf, -Infinity, 1e400)."""
    try:
        return math.isinf(float(text))
    except ValueError:
        return False


def keep_within_limits() -> None:
    """Before the widgets run: clamp n_hidden to n_features and steps to the work limit, in case
    the other control just moved (a widget's own range keeps each value within SETTINGS)."""
    state = st.session_state
    if state.get("n_hidden", 0) > state.get("n_features", DEFAULTS.n_features):
        state["n_hidden"] = state["n_features"]
    values = {name: state.get(name, getattr(DEFAULTS, name)) for name in CONTROL_FIELDS}
    if state.get("steps") is not None and state["steps"] > max_steps(values):
        state["steps"] = max_steps(values)


def whole_number_input(label: str, name: str, high: int | None = None, step: int = 1, placeholder: str | None = None):
    """An integer input for the whole-number field `name`, within its range (and below `high`),
    with the field's help text as its tooltip. A field whose default is None ("automatic")
    starts empty, shows `placeholder` and gives None until the user types a number.

    Seeded from a link, Streamlit's integer input takes a fraction's whole part and writes it into
    the URL in place of the fraction (an infinity never reaches it: see sidebar).
    """
    spec, default = SETTINGS[name], getattr(DEFAULTS, name)
    high = int(spec.high) if high is None else high
    return st.number_input(
        label,
        int(spec.low),
        high,
        value=None if default is None else min(default, high),
        step=step,
        key=name,
        bind="query-params",
        placeholder=placeholder,
        help=f"{spec.help} From {int(spec.low):,} to {high:,}.",
    )


@dataclass(frozen=True)
class NumberRange:
    """The values a view's numeric widget takes: low <= x <= high, whole numbers only if `whole`."""

    low: float
    high: float
    whole: bool = False


def view_link_problem(text: str, allowed: NumberRange | Sequence) -> tuple[str | None, int | None]:
    """What is wrong with a view setting's URL text for its widget (None if nothing), and the whole
    number used instead of a fraction: its whole part (whole_part, the sidebar's rule too)."""
    number = as_number(text)
    if not isinstance(allowed, NumberRange):
        usable = text in {formatted(choice) for choice in allowed} or (number is not None and number in allowed)
        return (None, None) if usable else ("is not one of the choices: using the default", None)
    if number is None:
        return "is not a finite number: using the default", None
    if not allowed.low <= number <= allowed.high:
        return f"is outside [{allowed.low:g}, {allowed.high:g}]: using the default", None
    if allowed.whole and not number.is_integer():
        return f"is not a whole number: using {whole_part(number)}", whole_part(number)
    return None, None


def view_link_warning(allowed: Mapping[str, NumberRange | Sequence]) -> None:
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
    """Draw the controls and return the Config they describe (always valid).

    On the session's first run (the page was opened from a link) the link is read before the
    widgets and compared with what they ended on afterwards; one warning names what was dropped or
    changed.

    Streamlit 1.67's integer input raises when a link seeds it with an infinity (int(inf)), so on
    the first run such a parameter leaves the URL before the widgets are drawn (it is not bound to
    one yet, so the script may remove it) and the script reruns on the URL without it, keeping the
    link as it was opened for the comparison."""
    first_run = LINK_CHECKED not in st.session_state
    link = {name: st.query_params[name] for name in (*CONTROL_FIELDS, "view") if name in st.query_params}
    if first_run and LINK not in st.session_state:
        infinities = [name for name in WHOLE_NUMBER_FIELDS if name in link and infinite(link[name])]
        if infinities:
            for name in infinities:
                del st.query_params[name]
            st.session_state[LINK] = link
            st.rerun()
    link = st.session_state.pop(LINK, link)
    keep_within_limits()
    with st.sidebar:
        st.header("Model")
        values = model_controls()
        with st.expander("Advanced: training"):
            values |= training_controls(values)
    notes = link_notes(link, values, view_names) if first_run else []
    st.session_state[LINK_CHECKED] = True
    link_warning(notes)
    return Config(**values)


def model_controls() -> dict:
    """n, m, S, r and the model kind."""
    n_features = whole_number_input("n features", "n_features")
    n_hidden = whole_number_input("m hidden dimensions", "n_hidden", high=n_features)
    sparsity = st.select_slider(
        "sparsity S = P(x_i = 0)",
        SPARSITY_OPTIONS,
        value=DEFAULTS.sparsity,
        format_func=formatted,
        key="sparsity",
        bind="query-params",
        help=SETTINGS["sparsity"].help + " The steps are log-spaced in 1 − S, so 0.9, 0.99, 0.999 are close.",
    )
    st.caption(sparsity_caption(sparsity, n_features))
    importance_decay = st.slider(
        "importance decay r",
        *LIMITS["importance_decay"],
        value=DEFAULTS.importance_decay,
        step=0.01,
        key="importance_decay",
        bind="query-params",
        help=SETTINGS["importance_decay"].help,
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
    return {
        "n_features": n_features,
        "n_hidden": n_hidden,
        "sparsity": sparsity,
        "importance_decay": importance_decay,
        "model": model,
    }


def dense_start(used: schedule.Schedule) -> str:
    """The caption's words for a dense start (the larger abs models), or none."""
    return f"{used.dense_steps:,} steps on dense inputs, then " if used.dense_steps else ""


def training_controls(values: dict) -> dict:
    """Steps, batch size, learning rate and seed; empty means the automatic schedule's value."""
    automatic = training_schedule(values)
    batch_size = whole_number_input(
        "batch size", "batch_size", step=256, placeholder=f"automatic: {automatic.batch_size:,}"
    )
    values = values | {"batch_size": batch_size}
    cap = max_steps(values)
    steps = whole_number_input("steps", "steps", high=cap, step=100, placeholder=f"automatic: {automatic.steps:,}")
    lr = st.number_input(
        "learning rate",
        *LIMITS["lr"],
        value=DEFAULTS.lr,
        step=0.005,
        format="%.4g",
        key="lr",
        bind="query-params",
        placeholder=f"automatic: {automatic.lr[0]:.3g}",
        help="{} From {:g} to {:g}.".format(SETTINGS["lr"].help, *LIMITS["lr"]),
    )
    used = training_schedule(values | {"steps": steps, "lr": lr})
    seconds = schedule.predicted_seconds(int(values["n_features"]), int(values["n_hidden"]), 1, used)
    st.caption(
        f"Training: {dense_start(used)}{used.steps:,} steps of batch {used.batch_size:,}, "
        f"peak learning rate {used.lr[0]:.3g}, "
        f"{used.restarts} start{'s' if used.restarts > 1 else ''} per model; about {seconds:.1f} s. "
        f"Empty fields follow the automatic schedule, which converges at every size in range. "
        f"Work limit: {engine.MAX_SECONDS:g} s per training, at most {cap:,} steps here."
    )
    seed = whole_number_input("seed", "seed")
    return {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
