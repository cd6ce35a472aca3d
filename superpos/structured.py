"""Features that are not alike (Elhage et al. 2022, "Superposition with correlated features" and
"Non-uniform superposition"), as plain data: presets, geometry checks and the batched sweeps.

- Presets: small structures whose geometry the paper reports, each with the check of that finding.
- The collapse sweep: 3 correlated pairs in m = 2 across densities 1 - S, one batch; per density,
  how many pairs collapsed onto their shared direction (a + b)/sqrt(2), stayed side by side, or
  were dropped.
- One feature differs: n = 5, m = 2, feature 0's density a multiple of the others'; every restart of
  every multiple is its own model of one batch, so the losing geometry's loss curve shows too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from superpos import metrics
from superpos.config import Config
from superpos.data import ANTICORRELATED, CORRELATED, FeatureSets
from superpos.train import TrainResult, train_instances, train_sweep


@dataclass(frozen=True)
class Preset:
    """A structure the paper trained, the settings that show it, and what it found."""

    n_features: int
    n_hidden: int
    sparsity: float
    correlated_sets: tuple[int, ...]
    anticorrelated_sets: tuple[int, ...]
    finding: str
    # What each kind of set should look like (set_checks): "orthogonal", "antipodal" or "side by side".
    expect: tuple[tuple[str, str], ...] = ((CORRELATED, "orthogonal"), (ANTICORRELATED, "antipodal"))

    def config(self, base: Config) -> Config:
        """`base` (model, seed, training settings) with this preset's structure, I = 1."""
        return base.replace(
            n_features=self.n_features,
            n_hidden=self.n_hidden,
            sparsity=self.sparsity,
            importance_decay=1.0,
            correlated_sets=self.correlated_sets,
            anticorrelated_sets=self.anticorrelated_sets,
            feature_sparsity=(),
            feature_importance=(),
        )


PRESETS = {
    "2 correlated pairs, m = 2": Preset(
        4, 2, 0.99, (2, 2), (), "the members of a pair are orthogonal (they fire together), the pairs antipodal"
    ),
    "2 anticorrelated pairs, m = 2": Preset(
        4, 2, 0.8, (), (2, 2), "the members of a pair are antipodal (they never fire together, so it is free)"
    ),
    "3 correlated pairs, m = 2": Preset(
        6,
        2,
        # Density 0.02, well inside the paper's "no collapse" range (<= 0.05): at 0.03 one seed of
        # eight settled with a pair collapsed, 7% above the side-by-side loss that 2,000 steps find.
        0.98,
        (2, 2, 2),
        (),
        "sparse enough, the pairs lie side by side; denser, they collapse (see Collapse sweep)",
        ((CORRELATED, "side by side"),),
    ),
    "2 sets of 10 correlated, m = 10": Preset(
        20, 10, 0.99, (10, 10), (), "local almost-orthogonal bases: each set nearly orthogonal inside"
    ),
    "mixed: a correlated pair, an anticorrelated pair, 2 independent, m = 3": Preset(
        6,
        3,
        0.95,
        (2,),
        (2,),
        "the correlated pair orthogonal; with dimensions to spare the anticorrelated pair takes two "
        "orthogonal ones too (it turns antipodal when dimensions are scarce)",
        ((CORRELATED, "orthogonal"), (ANTICORRELATED, "orthogonal")),
    ),
}

ORTHOGONAL_COSINE = 0.2  # |cos| below this: orthogonal
ANTIPODAL_COSINE = -0.9  # cos below this: antipodal
COLLAPSED_COSINE = 0.9  # cos above this: the members share one direction
ALIVE_NORM = 0.3  # ||W_i|| above this: the feature has a direction worth comparing


def cosines(weights: np.ndarray) -> np.ndarray:
    """cos(W_i, W_j) for all pairs of columns of one W (m, n)."""
    unit = weights / (metrics.NORM_EPS + metrics.feature_norms(weights))
    return unit.T @ unit


# Whether a set's cosines between members (off the diagonal) look as expected.
EXPECTATIONS = {
    "orthogonal": lambda inside: np.abs(inside).mean() < ORTHOGONAL_COSINE,
    "antipodal": lambda inside: inside.max() < ANTIPODAL_COSINE,
    "side by side": lambda inside: inside.max() < COLLAPSED_COSINE,  # not collapsed onto one direction
}


def set_checks(weights: np.ndarray, sets: FeatureSets, expect=Preset.expect) -> pd.DataFrame:
    """Per set: kind, features, mean cosine between its members, the expected geometry for its kind
    (`expect`: (kind, expectation) pairs) and whether it agrees: orthogonal (mean |cos| <
    ORTHOGONAL_COSINE), antipodal (every cos < ANTIPODAL_COSINE) or side by side (none collapsed,
    every cos < COLLAPSED_COSINE)."""
    cos, rows, expected = cosines(weights), [], dict(expect)
    for group in sets.sets():
        members = group["features"]
        inside = cos[np.ix_(members, members)][~np.eye(len(members), dtype=bool)]
        expectation = expected[group["kind"]]
        agrees = bool(EXPECTATIONS[expectation](inside))
        rows.append({**group, "mean_cosine": float(inside.mean()), "expected": expectation, "agrees": agrees})
    return pd.DataFrame(rows, columns=["kind", "features", "mean_cosine", "expected", "agrees"])


# The collapse sweep: 3 correlated pairs in m = 2 at these densities 1 - S (the paper's table spans them).
COLLAPSE_DENSITIES = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7)
COLLAPSE_PAIRS = 3
COLLAPSED, SIDE_BY_SIDE, DROPPED = "collapsed", "side by side", "dropped"
PAIR_STATES = (SIDE_BY_SIDE, COLLAPSED, DROPPED)
# The paper's table of collapse against density (3 correlated pairs, m = 2).
PAPER_COLLAPSE = (
    ("≤ 0.05", "no pair collapses"),
    ("0.05 – 0.15", "one pair collapses"),
    ("0.15 – 0.2", "two pairs collapse"),
    ("0.25 – 0.5", "all pairs collapse"),
    ("≥ 0.5", "PCA-like"),
)


def pair_states(weights: np.ndarray) -> np.ndarray:
    """Per correlated pair (2k, 2k + 1) of W (..., m, n): 'dropped' if neither member has
    ||W_i|| > ALIVE_NORM, 'collapsed' if both do and cos > COLLAPSED_COSINE (one shared direction),
    else 'side by side'."""
    norms = metrics.feature_norms(weights)
    unit = weights / (metrics.NORM_EPS + norms)[..., None, :]
    first, second = unit[..., 0::2], unit[..., 1::2]
    cos = (first * second).sum(axis=-2)
    alive = norms > ALIVE_NORM
    both, neither = alive[..., 0::2] & alive[..., 1::2], ~(alive[..., 0::2] | alive[..., 1::2])
    return np.where(neither, DROPPED, np.where(both & (cos > COLLAPSED_COSINE), COLLAPSED, SIDE_BY_SIDE))


def collapse_config(config: Config) -> Config:
    """3 correlated pairs in m = 2, I = 1, with `config`'s model, seed and training settings."""
    return config.replace(
        n_features=2 * COLLAPSE_PAIRS,
        n_hidden=2,
        importance_decay=1.0,
        correlated_sets=(2,) * COLLAPSE_PAIRS,
        anticorrelated_sets=(),
        feature_sparsity=(),
        feature_importance=(),
    )


def collapse_sweep(config: Config, densities=COLLAPSE_DENSITIES, progress=None) -> tuple[TrainResult, pd.DataFrame]:
    """One model of collapse_config(config) per density, one batch; the result and one row per
    (density, state) with the number of pairs in that state."""
    result = train_sweep(collapse_config(config), [1.0 - d for d in densities], progress)
    states = pair_states(result.weights)
    rows = [
        {"density": density, "state": state, "pairs": int((states[i] == state).sum()), "loss": result.heldout[i]}
        for i, density in enumerate(densities)
        for state in PAIR_STATES
    ]
    return result, pd.DataFrame(rows)


# One feature differs: n = 5, m = 2; feature 0's density is `ratio` times the others'.
DIFFERS_FEATURES = 5
DIFFERS_RATIOS = tuple(np.round(np.geomspace(0.1, 10.0, 17), 3).tolist())
# Starts per relative density: where feature 0 is denser, about half the runs settle in a geometry
# other than the pentagon (a local minimum); with 6 starts all of one density did so for 1 seed in 5.
DIFFERS_RESTARTS = 10
ALL_REPRESENTED, DIGONS, OTHER = "all 5 represented", "two digons, feature 0 dropped", "other"
GEOMETRIES = (ALL_REPRESENTED, DIGONS, OTHER)
DIGON_D = 0.5


def geometry(weights: np.ndarray) -> np.ndarray:
    """Per model of a stack (..., 2, 5): 'all 5 represented', 'two digons, feature 0 dropped'
    (feature 0 not represented, the others D_i = 1/2 within 0.1) or 'other'."""
    represented = metrics.represented(weights)
    digons = ~represented[..., 0] & np.all(np.abs(metrics.dimensionality(weights)[..., 1:] - DIGON_D) < 0.1, axis=-1)
    return np.where(represented.all(axis=-1), ALL_REPRESENTED, np.where(digons, DIGONS, OTHER))


def differs_probability(density: float, ratios) -> np.ndarray:
    """(len(ratios), 5): the others at `density`, feature 0 at ratio x density (at most 1)."""
    probability = np.full((len(ratios), DIFFERS_FEATURES), density)
    probability[:, 0] = np.minimum(1.0, np.asarray(ratios) * density)
    return probability


def differs_sweep(
    config: Config,
    importance: float = 1.0,
    ratios=DIFFERS_RATIOS,
    restarts: int = DIFFERS_RESTARTS,
    progress=None,
) -> pd.DataFrame:
    """Every restart of every relative density as its own model of one batch (m = 2, the others
    at density 1 - config.sparsity, I = 1 but feature 0's `importance`). One row per run: ratio,
    run, loss (held-out), geometry, best (the lowest loss of its ratio), and the run's W."""
    ratios = np.repeat(np.asarray(ratios, dtype=np.float64), restarts)
    probability = differs_probability(1.0 - config.sparsity, ratios)
    weights_importance = np.ones_like(probability)
    weights_importance[:, 0] = importance
    result = train_instances(
        config.model,
        2,
        probability,
        weights_importance,
        steps=config.steps,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        restarts=1,  # each run is a model here: the losing runs are part of the picture
        progress=progress,
    )
    table = pd.DataFrame(
        {
            "ratio": ratios,
            "run": np.tile(np.arange(restarts), len(ratios) // restarts),
            "loss": result.heldout,
            "geometry": geometry(result.weights),
            "W": list(result.weights),
        }
    )
    table["best"] = table["loss"] == table.groupby("ratio")["loss"].transform("min")
    return table
