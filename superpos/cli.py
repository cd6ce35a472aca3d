"""Command line: `python -m superpos train | sweep | jl`.

The JSON output is a stable interface for scripts: field names do not change.
Bad flags or values exit with status 2 and one line on stderr, nothing on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys

from superpos import metrics
from superpos.config import MODEL_KINDS, Config, ConfigError
from superpos.evaluate import rotated_loss
from superpos.train import TrainingDiverged, TrainResult, train, train_sweep


class UsageError(Exception):
    """A bad command line; the message is the one line printed on stderr."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line instead of usage + exit."""

    def error(self, message: str):
        raise UsageError(message)


def flag(field: str) -> str:
    """The command-line flag of a Config field: n_features -> --n-features."""
    return "--" + field.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser, with_sparsity: bool) -> None:
    defaults = Config()
    parser.add_argument("--model", choices=MODEL_KINDS, default=defaults.model)
    parser.add_argument("--n-features", type=int, default=defaults.n_features, metavar="N")
    parser.add_argument("--n-hidden", type=int, default=defaults.n_hidden, metavar="M")
    if with_sparsity:
        parser.add_argument("--sparsity", type=float, default=defaults.sparsity, metavar="S", help="P(x_i = 0)")
    parser.add_argument("--importance-decay", type=float, default=defaults.importance_decay, metavar="R")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--restarts", type=int, default=defaults.restarts, help="runs per model; the best is kept")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> Parser:
    parser = Parser(prog="python -m superpos", description="Train toy models of superposition.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_config_flags(commands.add_parser("train", help="train one model"), with_sparsity=True)
    sweep = commands.add_parser("sweep", help="one batched training per sparsity")
    add_config_flags(sweep, with_sparsity=False)
    sweep.add_argument("--sparsities", required=True, metavar="S1,S2,...", help="comma-separated sparsities")
    jl = commands.add_parser("jl", help="near-orthogonality of random unit vectors")
    jl.add_argument("--dim", type=int, required=True, metavar="D")
    jl.add_argument("--count", type=int, required=True, metavar="N")
    jl.add_argument("--eps", type=float, required=True, metavar="E")
    jl.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def config_from(arguments: argparse.Namespace, sparsity: float) -> Config:
    fields = {name: getattr(arguments, name) for name in Config.__dataclass_fields__ if name != "sparsity"}
    return Config(sparsity=sparsity, **fields)


def parse_sparsities(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--sparsities: {text!r} is not a comma-separated list of numbers") from None
    return values


def instance_report(config: Config, result: TrainResult, index: int, rotated: float) -> dict:
    """The JSON object of one trained model; W is n_hidden rows x n_features columns."""
    weights = result.weights[index]
    return {
        "config": config.to_dict(),
        "loss": float(result.heldout[index]),
        "rotated_loss": float(rotated),
        "W": weights.tolist(),
        "b": result.bias[index].tolist(),
        "feature_norms": metrics.feature_norms(weights).tolist(),
        "dimensionality": metrics.dimensionality(weights).tolist(),
        "polysemanticity": metrics.polysemanticity(weights, config.model).tolist(),
        "seconds": result.seconds,
    }


def reports(configs: list[Config], result: TrainResult) -> list[dict]:
    rotated = rotated_loss(result.model, result.weights, result.bias, result.probability, result.importance)
    return [instance_report(config, result, i, rotated[i]) for i, config in enumerate(configs)]


def format_report(report: dict) -> str:
    config = report["config"]
    lines = [
        f"model={config['model']} n_features={config['n_features']} n_hidden={config['n_hidden']} "
        f"sparsity={config['sparsity']:g} (feature probability {1 - config['sparsity']:g}) "
        f"importance_decay={config['importance_decay']:g}",
        f"held-out loss {report['loss']:.6f}   after a random rotation {report['rotated_loss']:.6f}   "
        f"trained in {report['seconds']:.2f} s",
        " feature   ||W_i||   D_i      b_i",
    ]
    columns = zip(report["feature_norms"], report["dimensionality"], report["b"], strict=True)
    for i, (norm, dim, bias) in enumerate(columns):
        lines.append(f" {i:7d}   {norm:7.3f}   {dim:5.3f}   {bias:7.3f}")
    scores = " ".join(f"{score:.2f}" for score in report["polysemanticity"])
    lines.append(f" polysemanticity per hidden unit: {scores}")
    return "\n".join(lines)


def run_train(arguments: argparse.Namespace) -> str:
    config = config_from(arguments, arguments.sparsity)
    report = reports([config], train(config))[0]
    return json.dumps(report) if arguments.json else format_report(report)


def run_sweep(arguments: argparse.Namespace) -> str:
    sparsities = parse_sparsities(arguments.sparsities)
    try:
        configs = [config_from(arguments, sparsity) for sparsity in sparsities]
    except ConfigError as error:
        if error.field != "sparsity":
            raise
        raise UsageError(f"--sparsities: {error.detail}") from None
    result = train_sweep(configs[0], sparsities)
    results = reports(configs, result)
    if arguments.json:
        return json.dumps({"results": results, "seconds": result.seconds})
    return "\n\n".join(format_report(report) for report in results) + f"\n\nsweep trained in {result.seconds:.2f} s"


def run_jl(arguments: argparse.Namespace) -> str:
    from superpos import jl

    jl.validate_jl_arguments(arguments.dim, arguments.count, arguments.eps)
    summary = jl.jl_summary(arguments.dim, arguments.count, arguments.eps)
    if arguments.json:
        return json.dumps(summary)
    return "\n".join(f"{key:>14}  {value}" for key, value in summary.items())


COMMANDS = {"train": run_train, "sweep": run_sweep, "jl": run_jl}


def main(argv: list[str] | None = None) -> int:
    try:
        arguments = build_parser().parse_args(argv)
        output = COMMANDS[arguments.command](arguments)
    except UsageError as error:
        print(f"superpos: error: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(f"superpos: error: {flag(error.field)}: {error.detail}", file=sys.stderr)
        return 2
    except ValueError as error:  # validation outside Config (e.g. jl) names its flag itself
        print(f"superpos: error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"superpos: error: {error}", file=sys.stderr)
        return 1
    print(output)
    return 0
