"""Privileged basis and polysemanticity: the data behind the neuron view (no drawing).

An element-wise ReLU acts on each hidden unit separately, so in the neuron model
(h = ReLU(W x), x' = ReLU(W^T h + b)) every unit is a privileged direction and a
per-neuron score means something. The ReLU output model (h = W x, x' = ReLU(W^T W x + b))
only reads and writes h linearly: W -> R W for a rotation R leaves W^T W, and so its loss,
unchanged, while per-unit scores move arbitrarily. Scores are metrics.polysemanticity:
the participation ratio PR_k = (sum_i w+_ki^2)^2 / sum_i w+_ki^4 (1 = monosemantic, 0 = dead).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from superpos import metrics
from superpos.evaluate import feature_errors, heldout_loss, random_rotation, rotate_hidden
from superpos.train import TrainResult


def neuron_table(weights: np.ndarray, model: str = "neuron") -> pd.DataFrame:
    """One row per hidden unit of W (m, n), most polysemantic first, dead units last.

    Columns: neuron (index k), polysemanticity PR_k, label (dead / monosemantic /
    polysemantic), features_driving (one-hot inputs driving the unit above
    metrics.ACTIVATION_THRESHOLD), monosemanticity max_i |W_ki| / ||W_k||.
    """
    scores = metrics.polysemanticity(weights, model)
    table = pd.DataFrame(
        {
            "neuron": np.arange(weights.shape[0]),
            "polysemanticity": scores,
            "label": metrics.neuron_labels(scores),
            "features_driving": metrics.features_driving(weights, model),
            "monosemanticity": metrics.monosemanticity(weights),
        }
    )
    return table.sort_values("polysemanticity", ascending=False, kind="stable").reset_index(drop=True)


def sweep_sparsities(sparsest: float, points: int) -> np.ndarray:
    """S from 0 to `sparsest`, evenly spaced in log 1/(1 - S): p = (1 - S_max)^t, t in [0, 1]."""
    return 1.0 - (1.0 - sparsest) ** np.linspace(0.0, 1.0, points)


def sparsity_summary(result: TrainResult) -> pd.DataFrame:
    """Per instance of a sparsity sweep: how polysemantic its neurons are.

    Columns: sparsity S, feature_probability p = 1 - S, mean_polysemanticity (mean PR_k over
    units that are not dead; NaN if all are), polysemantic_fraction and dead_fraction (of all
    m units), features_stored (represented, metrics.represented), and expected_polysemantic_fraction:
    Lecomte et al.'s n^2 / (4 m) collisions as a fraction of m, where it applies (every
    feature stored and n^2 / (4 m) <= m, i.e. n features actually landing in m neurons),
    else NaN.
    """
    scores = metrics.polysemanticity(result.weights, result.model)
    labels = metrics.neuron_labels(scores)
    alive = (scores > 0).sum(axis=-1)
    mean_score = np.divide(scores.sum(axis=-1), alive, out=np.full(len(scores), np.nan), where=alive > 0)
    n_hidden, n_features = result.weights.shape[-2:]
    stored = metrics.represented(result.weights).sum(axis=-1)
    collisions = metrics.expected_collisions(n_features, n_hidden)
    applies = (stored == n_features) & (collisions <= n_hidden)
    return pd.DataFrame(
        {
            "sparsity": 1.0 - result.probability[:, 0],
            "feature_probability": result.probability[:, 0],
            "mean_polysemanticity": mean_score,
            "polysemantic_fraction": (labels == "polysemantic").mean(axis=-1),
            "dead_fraction": (labels == "dead").mean(axis=-1),
            "features_stored": stored,
            "expected_polysemantic_fraction": np.where(applies, collisions / n_hidden, np.nan),
        }
    )


def rotation_comparison(results: list[TrainResult], seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply one random rotation R (m x m) to the hidden space, W -> R W, of each trained model
    (its first instance: train() gives one).

    Returns (losses, scores). losses: a row per model with the held-out loss before and after
    and relative_change = after / before - 1 (~0 for linear/relu: (R W)^T (R W) = W^T W;
    > 0 for neuron: ReLU(R W x) != R ReLU(W x)). scores: a row per model and hidden unit with
    metrics.polysemanticity before and after (basis-dependent W_ki^2 for linear/relu).
    """
    losses, scores = [], []
    for result in results:
        rotation = random_rotation(result.weights.shape[-2], seed)
        rotated = rotate_hidden(result.weights[:1], rotation)
        # Both on the full held-out sample: a training scores itself on fewer inputs above n = 128
        # (superpos.evaluate.heldout_samples), and the same inputs keep linear's and relu's change at 0.
        scored = (result.bias[:1], result.probability[:1], result.importance[:1])
        before, after = (heldout_loss(result.model, weights, *scored)[0] for weights in (result.weights[:1], rotated))
        losses.append({"model": result.model, "before": before, "after": after, "relative_change": after / before - 1})
        unit_scores = {
            "model": result.model,
            "unit": np.arange(result.weights.shape[-2]),
            "before": metrics.polysemanticity(result.weights[0], result.model),
            "after": metrics.polysemanticity(rotated[0], result.model),
        }
        scores.append(pd.DataFrame(unit_scores))
    return pd.DataFrame(losses), pd.concat(scores, ignore_index=True)


def feature_costs(result: TrainResult, instance: int = 0) -> pd.DataFrame:
    """Per feature of one trained instance: what it costs and what it suffers.

    Columns: feature i, importance I_i, probability p_i, norm ||W_i||, stored (represented, metrics.represented), and
    - error I_i E[(x_i - x'_i)^2] and loss_share = error_i / sum_j error_j;
    - error_if_dropped = I_i p_i / 3 (x'_i = 0, and E[x_i^2] = p_i / 3 for x_i ~ U[0, 1] w.p. p_i);
    - fraction_of_drop_cost = error / error_if_dropped: 0 = stored for free, 1 = as bad as
      dropping it (NaN where I_i underflows to 0);
    - interference sum_{j != i} (hat W_i . W_j)^2 (metrics.superposition);
    - neuron, the hidden unit with the largest weight W_ki, and its PR_k (neuron_polysemanticity).
    """
    weights = result.weights[instance]
    errors = feature_errors(
        result.model,
        result.weights[instance : instance + 1],
        result.bias[instance : instance + 1],
        result.probability[instance : instance + 1],
        result.importance[instance : instance + 1],
    )[0]
    strongest = weights.argmax(axis=0)
    importance, probability = result.importance[instance], result.probability[instance]
    error_if_dropped = importance * probability / 3.0
    norms = metrics.feature_norms(weights)
    return pd.DataFrame(
        {
            "feature": np.arange(weights.shape[1]),
            "importance": importance,
            "probability": probability,
            "norm": norms,
            "stored": metrics.represented(weights),
            "error": errors,
            "loss_share": errors / max(errors.sum(), np.finfo(float).tiny),
            "error_if_dropped": error_if_dropped,
            "fraction_of_drop_cost": np.divide(
                errors, error_if_dropped, out=np.full_like(errors, np.nan), where=error_if_dropped > 0
            ),
            "interference": metrics.superposition(weights),
            "neuron": strongest,
            "neuron_polysemanticity": metrics.polysemanticity(weights, result.model)[strongest],
        }
    )
