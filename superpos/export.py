"""Downloads as bytes: a trained model (npz, JSON) and any chart's data (CSV).

A chart's CSV is the table its builder draws (the *_table functions of superpos.charts).
JSON uses the command line's field names (config, W, b, loss), so files from the app and
from `python -m superpos train --json` read the same way. W is n_hidden rows x n_features
columns; column W_i is feature i's direction.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from superpos.config import Config
from superpos.train import TrainResult


def model_npz(config: Config, result: TrainResult, index: int = 0) -> bytes:
    """Model `index` of `result` as a numpy .npz: W, b, importance, probability, loss curve,
    snapshots of W, held-out loss, and the config as a JSON string."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
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


def model_json(config: Config, result: TrainResult, index: int = 0) -> bytes:
    """Model `index` of `result` as JSON: config, W, b, importance and held-out loss."""
    report = {
        "config": config.to_dict(),
        "loss": float(result.heldout[index]),
        "W": result.weights[index].tolist(),
        "b": result.bias[index].tolist(),
        "importance": result.importance[index].tolist(),
    }
    return json.dumps(report).encode()


def csv(table: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV without the index."""
    return table.to_csv(index=False).encode()
