"""A trained model as JSON (the command line's output, the app's download) and npz; any chart's
data as CSV.

A chart's CSV is the table its builder draws (the *_table functions of superpos.charts).
model_report builds the one JSON object of a model, so files from the app and the output of
`python -m superpos train --json` are the same. W is n_hidden rows x n_features columns; column
W_i is feature i's direction. The abs model's W is W1, and W_out its W2 (n_features rows x
n_hidden columns); rotating its hidden space does not apply (rotated_loss null).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from superpos import computation, metrics
from superpos.config import Config
from superpos.evaluate import rotated_loss
from superpos.train import TrainResult


def model_npz(config: Config, result: TrainResult, index: int = 0) -> bytes:
    """Model `index` of `result` as a numpy .npz: W, b, importance, probability, loss curve,
    snapshots of W, held-out loss, and the config as a JSON string (and W_out for abs)."""
    buffer = io.BytesIO()
    output = {} if result.output_weights is None else {"W_out": result.output_weights[index]}
    np.savez_compressed(
        buffer,
        **output,
        W=result.weights[index],
        b=result.bias[index],
        importance=result.importance[index],
        probability=result.probability[index],
        loss_steps=result.loss_steps,
        loss_history=result.loss_history[index],
        snapshot_steps=result.snapshot_steps,
        snapshots=result.snapshots[:, index],
        loss=result.heldout[index],
        config=json.dumps(config.to_dict()),
    )
    return buffer.getvalue()


def model_report(config: Config, result: TrainResult, index: int, rotated: float | None) -> dict:
    """The JSON object of model `index` of `result`: config, loss (held-out), rotated_loss (the same
    after a random rotation of the hidden space, `rotated`), W, b, importance, feature_probability
    (each feature's marginal P(x_i != 0)), sets ([{"kind", "features"}, ...]: the correlated and
    anticorrelated sets), feature_norms, dimensionality, polysemanticity (per hidden unit),
    converged, final_fall and budget (see TrainResult), schedule (the steps, batch, peak rate and
    restarts used) and seconds (the whole batch's training).
    The abs model adds W_out (W2) after W, its polysemanticity counts both signs of W1
    (superpos.computation) and its rotated_loss is None."""
    weights = result.weights[index]
    if result.output_weights is None:
        output, polysemanticity = {}, metrics.polysemanticity(weights, config.model)
    else:
        output, polysemanticity = {"W_out": result.output_weights[index].tolist()}, computation.polysemanticity(weights)
    return {
        "config": config.to_dict(),
        "loss": float(result.heldout[index]),
        "rotated_loss": None if rotated is None else float(rotated),
        "W": weights.tolist(),
        **output,
        "b": result.bias[index].tolist(),
        "importance": result.importance[index].tolist(),
        "feature_probability": result.probability[index].tolist(),
        "sets": config.sets.sets(),
        "feature_norms": metrics.feature_norms(weights).tolist(),
        "dimensionality": metrics.dimensionality(weights).tolist(),
        "polysemanticity": polysemanticity.tolist(),
        "converged": bool(result.converged[index]),
        "final_fall": float(result.final_fall[index]),
        "budget": float(result.budget[index]),
        "schedule": result.schedule.of_model(index),
        "seconds": result.seconds,
    }


def model_reports(configs: list[Config], result: TrainResult) -> list[dict]:
    """model_report of every model of `result` (configs[i] describes model i)."""
    if result.model == "abs":  # W1 -> R W1 changes what its ReLU neurons see: no invariance to test
        rotated = [None] * len(configs)
    else:
        rotated = rotated_loss(
            result.model, result.weights, result.bias, result.probability, result.importance, sets=result.sets
        )
    return [model_report(config, result, i, rotated[i]) for i, config in enumerate(configs)]


def model_json(config: Config, result: TrainResult) -> bytes:
    """The one model of `result` as JSON bytes: its model_report."""
    return json.dumps(model_reports([config], result)[0]).encode()


def csv(table: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV without the index."""
    return table.to_csv(index=False).encode()
