"""Training configuration: one frozen dataclass, validated on construction.

Conventions (see the paper, Elhage et al. 2022):
- sparsity S = P(x_i = 0); feature probability p = 1 - S; expected active features n (1 - S).
- importance I_i = r^i for i = 0..n-1, r = importance_decay; it weights the squared error.

The limits below keep one training bounded in time and memory on a 2-core CPU, so a
hosted app or a script cannot ask for a job that monopolises the machine.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

MODEL_KINDS = ("linear", "relu", "neuron")
MODEL_LABELS = {
    "linear": "Linear  x' = WᵀWx + b",
    "relu": "ReLU output  x' = ReLU(WᵀWx + b)",
    "neuron": "Neuron  h = ReLU(Wx), x' = ReLU(Wᵀh + b)",
}

# Hard limits, inclusive.
LIMITS = {
    "n_features": (1, 1000),
    "n_hidden": (1, 200),
    "sparsity": (0.0, 0.999),
    "importance_decay": (0.01, 1.0),
    "steps": (10, 20_000),
    "batch_size": (16, 8192),
    "lr": (1e-5, 1.0),
    "seed": (0, 2**31 - 1),
    "restarts": (1, 16),
}
# The work limit caps an estimate of one training's cost (check_work): per step, every run draws
# batch x n feature values, and each value costs element-wise work (sampling, masks, the loss)
# worth about VALUE_COST hidden dimensions of the matrix products, plus m of them. Measured by
# benchmarks/speed.py: about 0.1 ns per unit on one CPU thread, so MAX_WORK is about 10 s.
VALUE_COST = 100
MAX_WORK = 100_000_000_000
MAX_WORK_SECONDS = 10  # what MAX_WORK takes, as the messages say
# Restarts train side by side for this fraction of the steps, then only the best run of each
# model goes on (superpos.train), so they cost far less than `restarts` full trainings.
PRUNE_FRACTION = 0.1


@dataclass(frozen=True)
class Config:
    """One toy model and how to train it.

    The defaults are the settings the app and the command line start from; the training
    defaults (steps, lr, batch_size, restarts) are the fast recipe benchmarked against the
    paper's (AdamW 1e-3, 10,000 steps, batch 1024) in benchmarks/.
    """

    n_features: int = 5
    n_hidden: int = 2
    sparsity: float = 0.9
    importance_decay: float = 1.0
    model: str = "relu"
    steps: int = 400
    batch_size: int = 256
    lr: float = 0.15
    seed: int = 0
    restarts: int = 6

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


INTEGER_FIELDS = ("n_features", "n_hidden", "steps", "batch_size", "seed", "restarts")
FLOAT_FIELDS = ("sparsity", "importance_decay", "lr")


class ConfigError(ValueError):
    """A bad value: `field` names it (the command line's flag, with underscores)."""

    def __init__(self, field: str, detail: str):
        self.field, self.detail = field, detail
        super().__init__(f"{field}: {detail}")


def check_number(name: str, value, low, high, integer: bool) -> None:
    """Raise ConfigError naming `name` unless `value` is a finite number in [low, high]."""
    kind = "an integer" if integer else "a number"
    wrong_type = isinstance(value, bool) or not isinstance(value, int | float)
    if wrong_type or (integer and not float(value).is_integer()):
        raise ConfigError(name, f"{value!r} is not {kind}; allowed {kind} in [{low}, {high}]")
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(name, f"{value!r} is out of range; allowed [{low}, {high}]")


def validate(config: Config) -> None:
    """Check every field; the first problem raises ConfigError naming field, value and range."""
    for name in INTEGER_FIELDS + FLOAT_FIELDS:
        low, high = LIMITS[name]
        check_number(name, getattr(config, name), low, high, integer=name in INTEGER_FIELDS)
    if config.n_hidden > config.n_features:
        raise ConfigError(
            "n_hidden", f"{config.n_hidden} exceeds n_features={config.n_features}; allowed at most n_features"
        )
    if config.model not in MODEL_KINDS:
        raise ConfigError("model", f"{config.model!r} is not one of {', '.join(MODEL_KINDS)}")
    check_work(config.steps, config.batch_size, 1, config.restarts, config.n_features, config.n_hidden)


def runs_per_step(instances: int, restarts: int) -> float:
    """Runs trained per step, on average: instances x (1 + (restarts - 1) x PRUNE_FRACTION)."""
    return instances * (1.0 + (restarts - 1) * PRUNE_FRACTION)


def training_work(steps: int, batch_size: int, instances: int, restarts: int, n_features: int, n_hidden: int) -> float:
    """Estimated cost: steps x batch x runs per step x n x (m + VALUE_COST), see MAX_WORK."""
    return steps * batch_size * runs_per_step(instances, restarts) * n_features * (n_hidden + VALUE_COST)


def max_steps(batch_size: int, instances: int, restarts: int, n_features: int, n_hidden: int) -> int:
    """The most steps the work limit allows for these settings (at most LIMITS' maximum)."""
    per_step = training_work(1, batch_size, instances, restarts, n_features, n_hidden)
    return min(LIMITS["steps"][1], int(MAX_WORK // per_step))


def check_work(steps: int, batch_size: int, instances: int, restarts: int, n_features: int, n_hidden: int) -> None:
    """Raise ConfigError (on steps) if training_work exceeds MAX_WORK, saying how many steps fit."""
    work = training_work(steps, batch_size, instances, restarts, n_features, n_hidden)
    if work > MAX_WORK:
        most = max_steps(batch_size, instances, restarts, n_features, n_hidden)
        models = f"{instances} models" if instances > 1 else "one model"
        raise ConfigError(
            "steps",
            f"{steps} steps of batch {batch_size} for {models} with n = {n_features}, m = {n_hidden} is over the "
            f"work limit (about {MAX_WORK_SECONDS} s of training); at most {most} steps fit: "
            "lower steps, batch_size or n",
        )
