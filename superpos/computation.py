"""Computation in superposition: what each neuron of a trained absolute-value model does (no drawing).

The abs model (superpos.absolute) computes y' = ReLU(W2 ReLU(W1 x) + b) ~ |x| for signed inputs.
Since |x| = ReLU(x) + ReLU(-x), a feature computed without superposition takes two neurons: one
reading +x_i, one reading -x_i, both writing back to output i. Sparse features can share neurons.

Per neuron k (row W1_k, output column W2_:k), as the paper displays it:
- normalised input weights W1_ki / max_j |W1_kj| (largest 1 in size);
- polysemanticity PR_k = (sum_i W1_ki^2)^2 / sum_i W1_ki^4, the participation ratio of |W1_k|
  (both signs count: signed inputs fire a ReLU neuron through either); 1 = monosemantic,
  0 = dead (labels as metrics.neuron_labels);
- the features it serves: normalised |W1_ki| >= SERVED, with the sign of W1_ki.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from superpos import metrics
from superpos.config import Config

# The paper's two settings.
SMALL_FEATURES, SMALL_HIDDEN = 3, 6  # dense: a ReLU(x) and a ReLU(-x) neuron per feature
PAPER_FEATURES, PAPER_HIDDEN, PAPER_DECAY = 100, 40, 0.8
PAPER_DENSITIES = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)  # 1 - S


def small_config(config: Config) -> Config:
    """The paper's n = 3, m = 6, dense, with `config`'s seed and training settings."""
    return config.replace(
        n_features=SMALL_FEATURES, n_hidden=SMALL_HIDDEN, sparsity=0.0, importance_decay=1.0, model="abs"
    )


SERVED = 0.1  # normalised |W1_ki| at least this: neuron k reads feature i
# The asymmetric motif: neuron A reads feature a at least ASYMMETRY times as strongly as feature b
# (opposite signs, |W1_Ab| >= SERVED |W1_Aa|).
ASYMMETRY = 2.0


def normalised_inputs(first: np.ndarray) -> np.ndarray:
    """W1_ki / max_j |W1_kj| per neuron (row) of W1 (..., m, n): the paper's display; dead rows stay 0."""
    largest = np.abs(first).max(axis=-1, keepdims=True)
    return np.divide(first, largest, out=np.zeros_like(first), where=largest > metrics.DEAD_WEIGHT)


def polysemanticity(first: np.ndarray) -> np.ndarray:
    """PR_k = (sum_i W1_ki^2)^2 / sum_i W1_ki^4 per neuron: 1 monosemantic, k for k equal weights, 0 dead."""
    return metrics.participation_ratio(first**2)


def neuron_table(first: np.ndarray, second: np.ndarray) -> pd.DataFrame:
    """One row per neuron of one model, W1 (m, n) and W2 (n, m), in the order neuron_order gives.

    Columns: neuron k; feature, its primary feature argmax_i |W1_ki|; sign of W1 there (+1: it
    computes ReLU(x_i), -1: ReLU(-x_i)); polysemanticity PR_k and label; served, the features it
    reads (normalised |W1_ki| >= SERVED, primary first) and signs, their signs; writes, W2 at the
    primary feature; order, the neuron's place when sorted by the feature it serves most.
    """
    normalised = normalised_inputs(first)
    scores = polysemanticity(first)
    primary = np.abs(first).argmax(axis=1)
    served = [np.flatnonzero(np.abs(row) >= SERVED) for row in normalised]
    served = [s[np.argsort(-np.abs(row[s]), kind="stable")] for s, row in zip(served, normalised, strict=True)]
    table = pd.DataFrame(
        {
            "neuron": np.arange(first.shape[0]),
            "feature": primary,
            "sign": np.sign(first[np.arange(first.shape[0]), primary]).astype(int),
            "polysemanticity": scores,
            "label": metrics.neuron_labels(scores),
            "served": [s.tolist() for s in served],
            "signs": [np.sign(row[s]).astype(int).tolist() for s, row in zip(served, normalised, strict=True)],
            "writes": second[primary, np.arange(first.shape[0])],
        }
    )
    order = neuron_order(table)
    table["order"] = np.argsort(order)
    return table.iloc[order].reset_index(drop=True)


def neuron_order(table: pd.DataFrame) -> np.ndarray:
    """Neurons sorted by the feature they serve most (ReLU(x) before ReLU(-x)), dead ones last."""
    dead = (table["label"] == "dead").to_numpy()
    return np.lexsort((-table["sign"].to_numpy(), table["feature"].to_numpy(), dead))


def feature_pairs(first: np.ndarray, second: np.ndarray) -> pd.DataFrame:
    """Per feature i: does it have a ReLU(x_i) / ReLU(-x_i) pair of monosemantic neurons?

    relu_plus (relu_minus) is a monosemantic neuron whose primary feature is i with W1_ki > 0
    (< 0) that writes back to output i (W2_ik > 0), or -1; has_pair when both exist.
    """
    table = neuron_table(first, second)
    mono = table[(table["label"] == "monosemantic") & (table["writes"] > 0)]
    rows = []
    for feature in range(first.shape[1]):
        own = mono[mono["feature"] == feature]
        plus = own.loc[own["sign"] > 0, "neuron"]
        minus = own.loc[own["sign"] < 0, "neuron"]
        rows.append(
            {
                "feature": feature,
                "relu_plus": int(plus.iloc[0]) if len(plus) else -1,
                "relu_minus": int(minus.iloc[0]) if len(minus) else -1,
            }
        )
    pairs = pd.DataFrame(rows)
    pairs["has_pair"] = (pairs["relu_plus"] >= 0) & (pairs["relu_minus"] >= 0)
    return pairs


def asymmetric_motifs(first: np.ndarray, second: np.ndarray) -> pd.DataFrame:
    """Every asymmetric superposition motif in one model (the paper's "asymmetric superposition").

    Neuron A reads feature a strongly and feature b weakly with the opposite sign, s = sign W1_Aa,
    |W1_Aa| >= ASYMMETRY |W1_Ab| >= ASYMMETRY SERVED |W1_Aa|, and writes both back (W2_aA, W2_bA > 0),
    the weak one at least as strongly (W2_bA >= W2_aA): for x = s e_a it adds interference
    W2_bA |W1_Aa| > 0 to output b. Neuron B, also firing on s e_a (s W1_Ba > 0), inhibits it:
    its contribution W2_bB s W1_Ba is negative and outweighs A's, so output b's input turns
    negative and the output ReLU removes it.
    One row per (A, a, b): neuron, inhibitor, strong, weak (features), strong_weight and
    weak_weight (normalised W1_Aa, W1_Ab), writes_strong and writes_weak (W2_aA, W2_bA),
    interference (A's contribution) and inhibition (B's), both for a unit input s e_a.
    """
    rows = []
    for neuron, row in enumerate(first):
        strong = int(np.abs(row).argmax())
        sign, size = np.sign(row[strong]), np.abs(row[strong])
        if size <= metrics.DEAD_WEIGHT:
            continue
        fires = sign * first[:, strong]  # each neuron's input for x = sign e_strong
        for weak in np.flatnonzero((np.sign(row) == -sign) & (np.abs(row) >= SERVED * size)):
            if size < ASYMMETRY * abs(row[weak]) or not 0 < second[strong, neuron] <= second[weak, neuron]:
                continue
            contribution = second[weak] * np.maximum(fires, 0.0)  # to output `weak`, per neuron
            interference = contribution[neuron]
            others = np.where(np.arange(len(first)) == neuron, np.inf, contribution)
            inhibitor = int(others.argmin())
            if interference + contribution[inhibitor] < 0 <= -contribution[inhibitor]:
                rows.append(
                    {
                        "neuron": neuron,
                        "inhibitor": inhibitor,
                        "strong": strong,
                        "weak": int(weak),
                        "strong_weight": float(sign),
                        "weak_weight": float(row[weak] / size),
                        "writes_strong": float(second[strong, neuron]),
                        "writes_weak": float(second[weak, neuron]),
                        "interference": float(interference),
                        "inhibition": float(contribution[inhibitor]),
                    }
                )
    columns = ["neuron", "inhibitor", "strong", "weak", "strong_weight", "weak_weight"]
    columns += ["writes_strong", "writes_weak", "interference", "inhibition"]
    return pd.DataFrame(rows, columns=columns)


def density_summary(first: np.ndarray, densities) -> pd.DataFrame:
    """Per model of a stack W1 (instances, m, n), one per density 1 - S: how many neurons are
    monosemantic, polysemantic and dead (labels as in neuron_table)."""
    labels = metrics.neuron_labels(polysemanticity(first))
    return pd.DataFrame(
        {
            "density": np.asarray(densities, dtype=float),
            "monosemantic": (labels == "monosemantic").sum(axis=-1),
            "polysemantic": (labels == "polysemantic").sum(axis=-1),
            "dead": (labels == "dead").sum(axis=-1),
        }
    )


def polysemantic_features(first: np.ndarray, importance: np.ndarray, densities) -> pd.DataFrame:
    """Which features the polysemantic neurons serve, per density: one row per (density, neuron,
    feature read with normalised |W1_ki| >= SERVED). importance_rank 0 is the most important
    feature; weight is the normalised W1_ki (1 in size for the neuron's primary feature)."""
    rows = []
    for density, weights, importances in zip(densities, first, importance, strict=True):
        rank = np.argsort(np.argsort(-importances, kind="stable"))
        normalised = normalised_inputs(weights)
        labels = metrics.neuron_labels(polysemanticity(weights))
        for neuron in np.flatnonzero(labels == "polysemantic"):
            for feature in np.flatnonzero(np.abs(normalised[neuron]) >= SERVED):
                weight = float(normalised[neuron, feature])
                rows.append(
                    {
                        "density": float(density),
                        "neuron": int(neuron),
                        "feature": int(feature),
                        "importance_rank": int(rank[feature]),
                        "weight": weight,
                    }
                )
    return pd.DataFrame(rows, columns=["density", "neuron", "feature", "importance_rank", "weight"])
