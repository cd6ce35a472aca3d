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
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

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
    """A numeric setting's allowed values, low <= x <= high (whole numbers if `integer`), and its meaning."""

    low: float
    high: float
    integer: bool
    help: str

    @property
    def kind(self) -> str:
        return "an integer" if self.integer else "a number"

    def describe(self) -> str:
        """'an integer in [1, 1000]', as error messages and help texts say it."""
        low, high = (f"{int(v)}" if self.integer else f"{v:g}" for v in (self.low, self.high))
        return f"{self.kind} in [{low}, {high}]"


def setting(default, low, high, help: str, integer: bool = False):
    """A dataclass field carrying its Setting in the metadata."""
    return field(default=default, metadata={"setting": Setting(low, high, integer, help)})


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
        None, 1, 16, "Runs per model; the best after a tenth of the steps goes on.", integer=True
    )

    def __post_init__(self) -> None:
        validate(self)

    @property
    def feature_probability(self) -> float:
        """p = 1 - S, the chance that a feature is non-zero."""
        return 1.0 - self.sparsity

    def replace(self, **changes) -> Config:
        """A copy with some fields changed (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as plain values; keys are the command line's flags with underscores."""
        return dataclasses.asdict(self)


SETTINGS: dict[str, Setting] = {
    spec.name: spec.metadata["setting"] for spec in dataclasses.fields(Config) if "setting" in spec.metadata
}
LIMITS = {name: (spec.low, spec.high) for name, spec in SETTINGS.items()}
INTEGER_FIELDS = tuple(name for name, spec in SETTINGS.items() if spec.integer)
FLOAT_FIELDS = tuple(name for name, spec in SETTINGS.items() if not spec.integer)


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
    if not math.isfinite(value) or not spec.low <= value <= spec.high:
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
