"""Training configuration: one frozen dataclass, validated on construction.

Conventions (see the paper, Elhage et al. 2022):
- sparsity S = P(x_i = 0); feature probability p = 1 - S; expected active features n (1 - S).
- importance I_i = r^i for i = 0..n-1, r = importance_decay; it weights the squared error.

Every numeric field states its range, whether it is a whole number and what it means once, in
its metadata (`SETTINGS`): validation, the command line's flags and help, the app's widgets and
tooltips and the URL checks are all derived from it, so adding a setting is one edit here.

The training fields (steps, batch_size, lr, restarts) default to None, "automatic": the rule in
superpos.schedule picks them from n, m and S so that the training converges at every size in
range. A value given here overrides the rule.

Features that are not alike (the paper's "Superposition with correlated features" and
"Non-uniform superposition") are data here too: correlated and anticorrelated sets, laid out from
feature 0 (superpos.data.FeatureSets), and per-feature sparsity and importance overrides. Their
metadata (`STRUCTURE_SETTINGS`) states the range of each size or value.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from superpos.data import FeatureSets

MODEL_KINDS = ("linear", "relu", "neuron", "abs")
MODEL_LABELS = {
    "linear": "Linear  x' = WᵀWx + b",
    "relu": "ReLU output  x' = ReLU(WᵀWx + b)",
    "neuron": "Neuron  h = ReLU(Wx), x' = ReLU(Wᵀh + b)",
    "abs": "Absolute value  h = ReLU(W₁x), y' = ReLU(W₂h + b) ≈ |x|",
}
TRAINING_FIELDS = ("steps", "batch_size", "lr", "restarts")


@dataclass(frozen=True)
class Setting:
    """A numeric setting's allowed values, low <= x <= high (low < x < high if `open`; whole numbers
    if `integer`), and its meaning."""

    low: float
    high: float
    integer: bool
    help: str
    open: bool = False

    @property
    def kind(self) -> str:
        return "an integer" if self.integer else "a number"

    def allows(self, value: float) -> bool:
        return self.low < value < self.high if self.open else self.low <= value <= self.high

    def describe(self) -> str:
        """'an integer in [1, 1000]', 'a number in (0, 1), ends excluded', as error messages and help
        texts say it."""
        low, high = (f"{int(v)}" if self.integer else f"{v:g}" for v in (self.low, self.high))
        return f"{self.kind} in ({low}, {high}), ends excluded" if self.open else f"{self.kind} in [{low}, {high}]"


def setting(default, low, high, help: str, integer: bool = False, open: bool = False):
    """A dataclass field carrying its Setting in the metadata."""
    return field(default=default, metadata={"setting": Setting(low, high, integer, help, open)})


def settings_of(cls) -> dict[str, Setting]:
    """The Setting of every field of the dataclass `cls` that has one, by field name."""
    return {spec.name: spec.metadata["setting"] for spec in dataclasses.fields(cls) if "setting" in spec.metadata}


def structure(low, high, help: str, integer: bool = False):
    """A dataclass field of set sizes or per-feature values, empty by default; its Setting bounds
    each size or value."""
    return field(default=(), metadata={"structure": Setting(low, high, integer, help)})


@dataclass(frozen=True)
class Config:
    """One toy model and how to train it.

    The defaults are the settings the app and the command line start from. Training fields left
    at None are chosen by superpos.schedule (benchmarked against the paper's recipe, AdamW 1e-3,
    10,000 steps, batch 1024, in benchmarks/).
    """

    n_features: int = setting(5, 1, 1000, "Number of features n: the input and output dimensions.", integer=True)
    n_hidden: int = setting(2, 1, 200, "Hidden dimensions m, the bottleneck h = Wx; at most n.", integer=True)
    sparsity: float = setting(0.9, 0.0, 0.999, "Sparsity S = P(x_i = 0); feature probability p = 1 - S.")
    importance_decay: float = setting(
        1.0, 0.01, 1.0, "Importance decay r: feature i's squared error is weighted by I_i = r^i."
    )
    model: str = "relu"
    steps: int | None = setting(None, 10, 20_000, "Optimiser steps (Adam, warm-up then cosine decay).", integer=True)
    batch_size: int | None = setting(None, 16, 8192, "Fresh synthetic inputs drawn per step.", integer=True)
    lr: float | None = setting(None, 1e-5, 1.0, "Peak learning rate; too high and training diverges.")
    seed: int = setting(0, 0, 2**31 - 1, "Random seed of the initial weights and the data.", integer=True)
    restarts: int | None = setting(
        None, 1, 16, "Runs per model; the best after a fifth of the steps goes on.", integer=True
    )
    correlated_sets: tuple[int, ...] = structure(
        2, 1000, "Sizes of correlated sets, from feature 0: a set is all zero w.p. S, else all active.", integer=True
    )
    anticorrelated_sets: tuple[int, ...] = structure(
        2,
        1000,
        "Sizes of anticorrelated sets, after the correlated ones: a set is all zero w.p. S, else exactly "
        "one member is active, so each member's P(x_i != 0) is (1 - S) / k.",
        integer=True,
    )
    feature_sparsity: tuple[tuple[int, float], ...] = structure(
        0.0, 0.999, "Sparsity S_i of single features (index -> value) instead of S; not for set members."
    )
    feature_importance: tuple[tuple[int, float], ...] = structure(
        0.0, 10.0, "Importance I_i of single features (index -> value) instead of r^i."
    )

    def __post_init__(self) -> None:
        validate(self)
        for name, value in structure_values(self).items():  # normalised: tuples, overrides sorted by index
            object.__setattr__(self, name, value)

    @property
    def feature_probability(self) -> float:
        """p = 1 - S, the chance that a feature is non-zero."""
        return 1.0 - self.sparsity

    @property
    def sets(self) -> FeatureSets:
        """The feature layout: correlated sets, anticorrelated sets, then independent features."""
        return FeatureSets(self.n_features, self.correlated_sets, self.anticorrelated_sets)

    def probabilities(self, sparsity: float | None = None) -> np.ndarray:
        """Each feature's marginal P(x_i != 0), (n,): 1 - S for independent features and members of
        correlated sets, (1 - S) / k in an anticorrelated set of k, 1 - S_i where feature_sparsity
        gives S_i. `sparsity`, if given, replaces S (one model of a sweep)."""
        sets = self.sets
        base = 1.0 - (self.sparsity if sparsity is None else sparsity)
        probability = sets.marginals(np.full(len(sets.groups()), base))
        for index, value in self.feature_sparsity:
            probability[index] = 1.0 - value
        return probability

    def importances(self) -> np.ndarray:
        """I_i = r^i, (n,), or the value feature_importance gives feature i."""
        importance = self.importance_decay ** np.arange(self.n_features, dtype=np.float64)
        for index, value in self.feature_importance:
            importance[index] = value
        return importance

    def replace(self, **changes) -> Config:
        """A copy with some fields changed (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as plain values; keys are the command line's flags with underscores."""
        return dataclasses.asdict(self)


SETTINGS = settings_of(Config)
LIMITS = {name: (spec.low, spec.high) for name, spec in SETTINGS.items()}
INTEGER_FIELDS = tuple(name for name, spec in SETTINGS.items() if spec.integer)
FLOAT_FIELDS = tuple(name for name, spec in SETTINGS.items() if not spec.integer)
STRUCTURE_SETTINGS: dict[str, Setting] = {
    spec.name: spec.metadata["structure"] for spec in dataclasses.fields(Config) if "structure" in spec.metadata
}


class ConfigError(ValueError):
    """A bad value: `field` names it (the command line's flag, with underscores)."""

    def __init__(self, field: str, detail: str):
        self.field, self.detail = field, detail
        super().__init__(f"{field}: {detail}")


def check_number(name: str, value, spec: Setting) -> None:
    """Raise ConfigError naming `name` unless `value` is a finite number allowed by `spec`."""
    wrong_type = isinstance(value, bool) or not isinstance(value, int | float)
    if wrong_type or (spec.integer and not float(value).is_integer()):
        raise ConfigError(name, f"{value!r} is not {spec.kind}; allowed {spec.describe()}")
    if not math.isfinite(value) or not spec.allows(value):
        raise ConfigError(name, f"{value!r} is out of range; allowed {spec.describe()}")


def validate(config: Config) -> None:
    """Check every field; the first problem raises ConfigError naming field, value and range."""
    for name, spec in SETTINGS.items():
        value = getattr(config, name)
        if value is None and name in TRAINING_FIELDS:
            continue  # automatic
        check_number(name, value, spec)
    # m > n only helps the abs model, which needs two neurons per feature (n = 3, m = 6 in the paper).
    if config.n_hidden > config.n_features and config.model != "abs":
        raise ConfigError(
            "n_hidden", f"{config.n_hidden} exceeds n_features={config.n_features}; allowed at most n_features"
        )
    if config.model not in MODEL_KINDS:
        raise ConfigError("model", f"{config.model!r} is not one of {', '.join(MODEL_KINDS)}")


def set_sizes(name: str, value, spec: Setting) -> tuple[int, ...]:
    """The sizes of `name` as a tuple of ints, each checked against `spec`."""
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
        raise ConfigError(name, f"{value!r} is not a list of set sizes, each {spec.describe()}")
    sizes = tuple(value)
    for size in sizes:
        check_number(name, size, spec)
    return tuple(int(size) for size in sizes)


def overrides(name: str, value, spec: Setting, n_features: int) -> tuple[tuple[int, float], ...]:
    """Per-feature values (a mapping or (index, value) pairs) as ((index, value), ...) sorted by index."""
    pairs = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(index, number) for index, number in pairs]
    except (TypeError, ValueError):
        raise ConfigError(name, f"{value!r} is not a list of (feature index, value) pairs") from None
    for index, number in pairs:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_features:
            raise ConfigError(name, f"feature index {index!r} is not one of 0 ... {n_features - 1} (n_features - 1)")
        check_number(name, number, spec)
    seen = [int(index) for index, _ in pairs]
    if len(set(seen)) < len(seen):
        raise ConfigError(name, f"a feature is given twice in {value!r}")
    return tuple(sorted((int(index), float(number)) for index, number in pairs))


def structure_values(config: Config) -> dict:
    """The structure fields, checked and normalised: set sizes that fit in n, per-feature values in
    range on existing features, and no feature_sparsity on a set member (a set shares one S)."""
    n_features = config.n_features
    values = {
        name: set_sizes(name, getattr(config, name), STRUCTURE_SETTINGS[name])
        for name in ("correlated_sets", "anticorrelated_sets")
    }
    in_sets = 0
    for name, sizes in values.items():
        in_sets += sum(sizes)
        if in_sets > n_features:
            raise ConfigError(name, f"the sets hold {in_sets} features, more than n_features={n_features}")
    for name in ("feature_sparsity", "feature_importance"):
        values[name] = overrides(name, getattr(config, name), STRUCTURE_SETTINGS[name], n_features)
    for index, _ in values["feature_sparsity"]:
        if index < in_sets:
            raise ConfigError(
                "feature_sparsity",
                f"feature {index} is in a set, whose members share the sparsity S; allowed from {in_sets}",
            )
    return values
