"""The command line, through a real subprocess and in process: JSON fields, consistency, errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import superpos
from superpos import cli, jl, metrics
from superpos.train import TrainingDiverged, train_instances

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


def test_the_readable_convergence_line_names_the_schedule_and_its_dense_start():
    """A short training says NOT CONVERGED with its steps; a larger abs model's line names its dense start."""
    short = run("train", "--steps", "50")
    assert "NOT CONVERGED (50 steps of batch" in short.stdout and "dense inputs" not in short.stdout
    flags = ["--model", "abs", "--n-features", "30", "--n-hidden", "20", "--steps", "50"]
    dense = run("train", *flags)
    assert dense.returncode == 0, dense.stderr
    assert "NOT CONVERGED (1000 steps on dense inputs, then 50 steps of batch" in dense.stdout


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


# --- cli.main in process: which errors become one line and status 2 ------------------------


def test_a_diverged_training_is_one_line_and_status_2(monkeypatch, capsys):
    """A training that really diverges. Config refuses a rate that high (lr <= 1, at which no
    training diverges: tests/test_training.py), so the command's trainer is given one of 1e30."""
    raised = []

    def diverging(config, max_seconds):
        probability, importance = config.probabilities()[None], config.importances()[None]
        try:
            return train_instances(config.model, config.n_hidden, probability, importance, steps=40, lr=1e30)
        except TrainingDiverged as error:
            raised.append(error)
            raise

    monkeypatch.setattr(cli, "train", diverging)
    assert cli.main(["train", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [f"superpos: error: {raised[0]}"]


def test_a_setting_out_of_range_names_its_flag(capsys):
    assert cli.main(["train", "--importance-decay", "-1"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("superpos: error: --importance-decay: ")


def test_an_unexpected_error_is_not_hidden(monkeypatch):
    """A bug (here a ValueError from inside the trainer) keeps its traceback: main does not catch it."""

    def broken(*arguments, **keywords):
        raise ValueError("a bug")

    monkeypatch.setattr(cli, "train", broken)
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["train"])


def test_an_unexpected_error_exits_non_zero_with_its_traceback():
    code = "import superpos.cli as c; c.train = lambda *a, **k: 1 / 0; c.main(['train'])"
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode != 0
    assert "Traceback" in completed.stderr and "ZeroDivisionError" in completed.stderr


# --- jl -------------------------------------------------------------------------------------


SUMMARY_KEYS = {"dim", "count", "eps", "cos_mean", "cos_var", "max_abs_cos", "welch_bound", "jl_min_dim",
                "packing_count"}  # fmt: skip


def test_small_jl_summary_is_exact_and_json_serialisable():
    dim, count, eps = 8, 500, 0.3
    summary = cli.jl_summary(dim, count, eps)
    assert summary.keys() >= SUMMARY_KEYS
    assert summary["exact"] and summary["pairs_sampled"] == summary["pairs_total"] == count * (count - 1) // 2
    assert summary["max_abs_cos"] >= summary["welch_bound"]
    assert summary["jl_min_dim"] == jl.jl_min_dim(count, eps)
    assert summary["packing_count"] > dim and summary["packing_complete"]
    assert json.loads(json.dumps(summary)) == summary


def test_million_vector_jl_summary_is_sampled():
    dim, count = 10, 10**6
    summary = cli.jl_summary(dim, count, 0.1)
    assert not summary["exact"]
    assert summary["pairs_total"] == count * (count - 1) // 2 > summary["pairs_sampled"]
    assert f"of the {count} vectors" in summary["note"]  # says the statistics come from a sample
    assert summary["cos_var"] == pytest.approx(1 / dim, rel=0.02)
    assert summary["max_abs_cos"] == pytest.approx(float(jl.expected_max_abs_cos(count, dim)))


DIM, COUNT, EPS = (jl.JL_SETTINGS[name] for name in ("dim", "count", "eps"))


@pytest.mark.parametrize(
    ("dim", "count", "eps", "named"),
    [
        (DIM.low - 1, 100, 0.1, "--dim"),
        (DIM.high + 1, 100, 0.1, "--dim"),
        ("2.5", 100, 0.1, "--dim"),
        (20, COUNT.low - 1, 0.1, "--count"),
        (20, COUNT.high + 1, 0.1, "--count"),
        (20, "nan", 0.1, "--count"),
        (20, 100, EPS.low, "--eps"),
        (20, 100, EPS.high, "--eps"),
        (20, 100, "nan", "--eps"),
        (20, 100, "inf", "--eps"),
    ],
)
def test_bad_jl_arguments_are_one_line_naming_their_flag(dim, count, eps, named, capsys):
    assert cli.main(["jl", "--dim", str(dim), "--count", str(count), "--eps", str(eps)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert named in line


def test_a_jl_value_out_of_range_is_told_its_range_from_the_settings(capsys):
    assert cli.main(["jl", "--count", str(COUNT.high + 1)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"allowed {COUNT.describe()}")


def test_jl_accepts_the_ends_of_its_ranges():
    jl.JLSettings(DIM.low, COUNT.low, EPS.low + 1e-9)
    jl.JLSettings(DIM.high, COUNT.high, EPS.high - 1e-9)


def test_jl_help_states_each_flags_meaning_default_and_range():
    help_text = " ".join(run("jl", "--help").stdout.split())
    for name, spec in jl.JL_SETTINGS.items():
        default = getattr(jl.JLSettings(), name)
        assert f"--{name} {name.upper()} {spec.help} Default: {default:g}; allowed: {spec.describe()}." in help_text
