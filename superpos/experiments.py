"""The explorer's multi-model experiments (Elhage et al. 2022), as plain data: no drawing.

- The intro sweep: one model per feature probability p = 20^(-t), t = 0, 1/9, ..., 1
  (p from 1 down to 0.05), trained as one batch.
- The phase diagram of "Superposition as a Phase Change": 2 features in 1 hidden dimension,
  feature 1 with importance 1; over a grid of the features' density p (both features, as in
  the paper) and feature 2's relative importance I_2 / I_1, where does feature 2 end up?
  The three natural solutions are W = [1, 0] (feature 2 not represented), W = [0, 1]
  (feature 2 gets the dimension) and W = [1, -1] (antipodal superposition).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from superpos import metrics
from superpos.train import train_instances

INTRO_SPARSITIES = 1.0 - 20.0 ** -np.linspace(0.0, 1.0, 10)

# The phase grid; 11 points each way puts relative importance 1 on the grid.
PHASE_DENSITIES = np.geomspace(1.0, 0.01, 11)
PHASE_IMPORTANCES = np.geomspace(0.1, 10.0, 11)
# 968 tiny models (121 cells x 8 starts, the best kept): sparse cells have local minima that
# only restarts escape, while 2 features need few steps and small batches; about 1.5 s.
PHASE_STEPS = 300
PHASE_BATCH = 128
PHASE_RESTARTS = 8

NOT_REPRESENTED, DEDICATED, SUPERPOSITION = "not represented", "dedicated dimension", "superposition (antipodal)"
PHASES = (NOT_REPRESENTED, DEDICATED, SUPERPOSITION)
# A linear model's best rank-1 W is a projection, ||W_1||^2 + ||W_2||^2 = 1: with metrics.represented
# (REPRESENTED_NORM^2 > 1/2) and this overlap these rules never call it antipodal, not even at
# I_2 = I_1 where every direction in the plane is optimal.
SHARED_OVERLAP = 0.5  # (hat W_2 . W_1)^2 above this: feature 2 shares feature 1's direction


def classify_phases(weights: np.ndarray) -> np.ndarray:
    """Per model of a stack (..., m, 2): where feature 2 (the "extra" feature) ended up.

    'not represented' unless feature 2 is represented (metrics.represented); else
    'superposition (antipodal)' if it shares feature 1's direction, (hat W_2 . W_1)^2 > 0.5 (in
    1 dimension: feature 1 represented too, and the ReLU model puts the two on opposite sides);
    else 'dedicated dimension'.
    """
    shared = metrics.overlaps(weights)[..., 1, 0]
    phase = np.where(shared > SHARED_OVERLAP, SUPERPOSITION, DEDICATED)
    return np.where(metrics.represented(weights)[..., 1], phase, NOT_REPRESENTED)


def phase_diagram(
    model: str,
    lr: float,
    seed: int,
    densities=PHASE_DENSITIES,
    importances=PHASE_IMPORTANCES,
    steps: int = PHASE_STEPS,
    batch_size: int = PHASE_BATCH,
    restarts: int = PHASE_RESTARTS,
    progress: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """Train one 2-feature, 1-dimension model per (density, relative importance) cell, as one batch.

    Both features have probability p = density; I_1 = 1 and I_2 = relative importance.
    One row per cell: density, relative_importance, w1 and w2 (W = [w1, w2]), norm_1, norm_2,
    phase (see classify_phases) and the held-out loss.
    """
    density, importance = (grid.ravel() for grid in np.meshgrid(densities, importances, indexing="ij"))
    result = train_instances(
        model,
        n_hidden=1,
        probability=np.stack([density, density], axis=1),
        importance=np.stack([np.ones_like(importance), importance], axis=1),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        restarts=restarts,
        progress=progress,
    )
    norms = metrics.feature_norms(result.weights)
    return pd.DataFrame(
        {
            "density": density,
            "relative_importance": importance,
            "w1": result.weights[:, 0, 0],
            "w2": result.weights[:, 0, 1],
            "norm_1": norms[:, 0],
            "norm_2": norms[:, 1],
            "phase": classify_phases(result.weights),
            "loss": result.heldout,
        }
    )
