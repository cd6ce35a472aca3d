"""superpos: train and inspect the toy models of "Toy Models of Superposition" (Elhage et al. 2022).

Three lines in a notebook:

    import superpos
    result = superpos.train(superpos.Config(n_features=5, n_hidden=2, sparsity=0.95))
    superpos.metrics.dimensionality(result.weights[0])   # ~0.4 each: a pentagon
"""

from superpos import metrics
from superpos.config import LIMITS, MODEL_KINDS, Config
from superpos.evaluate import heldout_loss, rotated_loss
from superpos.train import TrainingDiverged, TrainResult, train, train_instances, train_sweep

__all__ = [
    "LIMITS",
    "MODEL_KINDS",
    "Config",
    "TrainResult",
    "TrainingDiverged",
    "heldout_loss",
    "metrics",
    "rotated_loss",
    "train",
    "train_instances",
    "train_sweep",
]
