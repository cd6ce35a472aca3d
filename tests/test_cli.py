"""The command line through a real subprocess: JSON fields, consistency, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import superpos
from superpos import metrics

ROOT = Path(__file__).resolve().parent.parent
TRAIN_FIELDS = {
    "config",
    "loss",
    "rotated_loss",
    "W",
    "b",
    "feature_norms",
    "dimensionality",
    "polysemanticity",
    "seconds",
}
CONFIG_FIELDS = {"n_features", "n_hidden", "sparsity", "importance_decay", "model", "steps", "batch_size", "lr", "seed"}


def run(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "superpos", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_train_json_matches_python_api():
    flags = ["--n-features", "5", "--n-hidden", "2", "--sparsity", "0.95", "--importance-decay", "1", "--steps", "400"]
    completed = run("train", *flags, "--json")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report.keys() >= TRAIN_FIELDS
    assert report["config"].keys() >= CONFIG_FIELDS
    weights = np.array(report["W"])
    assert weights.shape == (2, 5)
    config = superpos.Config(n_features=5, n_hidden=2, sparsity=0.95, importance_decay=1.0, steps=400)
    result = superpos.train(config)
    np.testing.assert_allclose(weights, result.weights[0], rtol=1e-5, atol=1e-6)
    assert report["loss"] == pytest.approx(float(result.heldout[0]), rel=1e-5)
    np.testing.assert_allclose(report["feature_norms"], metrics.feature_norms(weights), rtol=1e-6)
    np.testing.assert_allclose(report["dimensionality"], 0.4, atol=0.05)  # the pentagon
    assert len(report["polysemanticity"]) == 2
    assert report["rotated_loss"] == pytest.approx(report["loss"], rel=1e-4)
    assert report["seconds"] > 0


def test_sweep_json_one_result_per_sparsity_in_order():
    completed = run(
        "sweep", "--n-features", "4", "--n-hidden", "2", "--steps", "100", "--sparsities", "0.9,0,0.5", "--json"
    )
    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert [r["config"]["sparsity"] for r in output["results"]] == [0.9, 0.0, 0.5]
    assert all(r.keys() >= TRAIN_FIELDS for r in output["results"])
    assert output["seconds"] > 0


def test_readable_table_without_json():
    completed = run("train", "--steps", "50")
    assert completed.returncode == 0
    assert "held-out loss" in completed.stdout and "polysemanticity" in completed.stdout


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["train", "--sparsity", "1.5"], "--sparsity"),
        (["train", "--n-features", "abc"], "--n-features"),
        (["train", "--n-hidden", "9"], "--n-hidden"),
        (["train", "--model", "mlp"], "--model"),
        (["train", "--lr", "nan"], "--lr"),
        (["train", "--bogus"], "--bogus"),
        (["sweep", "--sparsities", "0,x"], "--sparsities"),
        (["sweep", "--sparsities", "0,1"], "--sparsities"),
        (["jl", "--dim", "0", "--count", "10", "--eps", "0.1"], "--dim"),
    ],
)
def test_bad_input_exits_2_with_one_line(arguments, named):
    completed = run(*arguments)
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert named in lines[0]
    assert "Traceback" not in completed.stderr
