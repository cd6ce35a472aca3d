"""Command line: `python -m superpos train | sweep | jl | sae`.

The JSON output is a stable interface for scripts: field names do not change.
Expected errors (a bad command line, a bad setting, a job over the work limit, a training that
diverged) exit with status 2 and one line on stderr, nothing on stdout. Anything else is a bug: it
shows its traceback and a non-zero status.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from superpos import export, jl, packing
from superpos.config import MODEL_KINDS, SETTINGS, STRUCTURE_SETTINGS, Config, ConfigError, Setting
from superpos.sae import INTEGER_FIELDS as SAE_INTEGER_FIELDS
from superpos.sae import SAE_KINDS, SAE_LABELS, SAEConfig, SAEResult, check_toy, train_saes
from superpos.sae_metrics import SAEMetrics, evaluate_saes, latent_table
from superpos.schedule import MAX_SECONDS
from superpos.train import TRAIN_THREADS, TrainingDiverged, train, train_sweep


class UsageError(Exception):
    """A bad command line; the message is the one line printed on stderr."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line instead of usage + exit."""

    def error(self, message: str):
        raise UsageError(message)


def flag(field: str) -> str:
    """The command-line flag of a Config field: n_features -> --n-features."""
    return "--" + field.replace("_", "-")


def setting_help(spec: Setting, default) -> str:
    """A flag's help from its setting: what it means, its default and its allowed values."""
    shown = "automatic (superpos.schedule)" if default is None else f"{default:g}"
    return f"{spec.help} Default: {shown}; allowed: {spec.describe()}.".replace("%", "%%")


def add_setting_flags(parser: argparse.ArgumentParser, settings: dict[str, Setting], defaults) -> None:
    """One flag per setting (a field of the dataclass instance `defaults`), from its metadata."""
    for name, spec in settings.items():
        default = getattr(defaults, name)
        number = int if spec.integer else float
        parser.add_argument(
            flag(name), type=number, default=default, metavar=name.upper(), help=setting_help(spec, default)
        )


def add_config_flags(parser: argparse.ArgumentParser, with_sparsity: bool) -> None:
    """One flag per Config field, from its metadata (superpos.config.SETTINGS)."""
    defaults = Config()
    parser.add_argument("--model", choices=MODEL_KINDS, default=defaults.model, help="Default: %(default)s.")
    settings = {name: spec for name, spec in SETTINGS.items() if with_sparsity or name != "sparsity"}
    add_setting_flags(parser, settings, defaults)
    add_structure_flags(parser)
    parser.add_argument(
        "--no-work-limit",
        action="store_true",
        help=f"train even when predicted to take over {MAX_SECONDS:g} s (the app's limit for a hosted server)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def set_sizes(text: str) -> tuple[int, ...]:
    """'2,2' -> (2, 2): the sizes of --correlated-sets / --anticorrelated-sets."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of set sizes") from None


def feature_value(text: str) -> tuple[int, float]:
    """'I=V' -> (I, V): one per-feature override."""
    index, equals, value = text.partition("=")
    try:
        return int(index), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not INDEX=VALUE (e.g. 0=0.99)") from None


def add_structure_flags(parser: argparse.ArgumentParser) -> None:
    """--correlated-sets 2,2, --anticorrelated-sets 2,2 and the repeatable --feature-sparsity I=S,
    --feature-importance I=V (superpos.config.STRUCTURE_SETTINGS)."""
    for name, spec in STRUCTURE_SETTINGS.items():
        help = f"{spec.help} Each {spec.describe()}.".replace("%", "%%")
        if name.endswith("_sets"):
            parser.add_argument(flag(name), type=set_sizes, default=(), metavar="K1,K2,...", help=help)
        else:
            parser.add_argument(flag(name), type=feature_value, action="append", default=[], metavar="I=V", help=help)


def build_parser() -> Parser:
    parser = Parser(prog="python -m superpos", description="Train toy models of superposition.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_config_flags(commands.add_parser("train", help="train one model"), with_sparsity=True)
    sweep = commands.add_parser("sweep", help="one batched training per sparsity")
    add_config_flags(sweep, with_sparsity=False)
    sweep.add_argument("--sparsities", required=True, metavar="S1,S2,...", help="comma-separated sparsities")
    jl_command = commands.add_parser("jl", help="near-orthogonality of random unit vectors")
    add_setting_flags(jl_command, jl.JL_SETTINGS, jl.JLSettings())
    jl_command.add_argument("--json", action="store_true", help="print one JSON object")
    add_sae_flags(commands.add_parser("sae", help="sparse autoencoders on a trained toy's hidden layer"))
    return parser


# The sae command's own flags, by SAEConfig field (the toy's flags are Config's).
SAE_FLAGS = {
    "kind": "--sae-kind",
    "latents": "--latents",
    "l1": "--l1",
    "k": "--k",
    "l0_penalty": "--l0-penalty",
    "resample": "--resample",
    "seeds": "--sae-seeds",
    "steps": "--sae-steps",
    "batch_size": "--sae-batch-size",
    "lr": "--sae-lr",
    "seed": "--sae-seed",
}


def add_sae_flags(parser: argparse.ArgumentParser) -> None:
    """The toy's flags, then one per SAEConfig field; --latents defaults to the toy's n."""
    add_config_flags(parser, with_sparsity=True)
    defaults = SAEConfig()
    for name, option in SAE_FLAGS.items():
        default = getattr(defaults, name)
        if name == "kind":
            parser.add_argument(option, dest="sae_kind", choices=SAE_KINDS, default=default)
        elif name == "resample":
            parser.add_argument(option, action=argparse.BooleanOptionalAction, default=default, help="ReLU SAE")
        else:
            number = int if name in SAE_INTEGER_FIELDS else float
            default = None if name == "latents" else default
            parser.add_argument(option, dest=f"sae_{name}", type=number, default=default, metavar=name.upper())


def config_from(arguments: argparse.Namespace, sparsity: float) -> Config:
    fields = {name: getattr(arguments, name) for name in Config.__dataclass_fields__ if name != "sparsity"}
    return Config(sparsity=sparsity, **fields)


def parse_sparsities(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--sparsities: {text!r} is not a comma-separated list of numbers") from None
    return values


def convergence_line(report: dict) -> str:
    """The schedule used and whether the training converged, in words."""
    schedule = report["schedule"]
    used = f"{schedule['steps']} steps of batch {schedule['batch_size']}, peak lr {schedule['lr']:.3g}"
    if schedule["dense_steps"]:
        used = f"{schedule['dense_steps']} steps on dense inputs, then {used}"
    fell = f"the loss fell {report['final_fall']:.2%} over the last fifth"
    if report["converged"]:
        return f"converged ({used}; {fell})"
    if report["budget"] < 1:
        return (
            f"NOT CONVERGED ({used}: {report['budget']:.0%} of what the automatic schedule needs here; {fell}): "
            "leave --steps and --lr automatic, or add --no-work-limit"
        )
    return f"NOT CONVERGED ({used}; {fell}): train longer with --steps"


def rotation(loss: float | None) -> str:
    return "does not apply to this model" if loss is None else f"{loss:.6f}"


def format_report(report: dict) -> str:
    config = report["config"]
    lines = [
        f"model={config['model']} n_features={config['n_features']} n_hidden={config['n_hidden']} "
        f"sparsity={config['sparsity']:g} (feature probability {1 - config['sparsity']:g}) "
        f"importance_decay={config['importance_decay']:g}",
        *(f"{group['kind']} set: features {group['features']}" for group in report["sets"]),
        f"held-out loss {report['loss']:.6f}   after a random rotation {rotation(report['rotated_loss'])}   "
        f"trained in {report['seconds']:.2f} s",
        convergence_line(report),
        " feature   P(x_i≠0)   I_i     ||W_i||   D_i      b_i",
    ]
    columns = zip(
        report["feature_probability"],
        report["importance"],
        report["feature_norms"],
        report["dimensionality"],
        report["b"],
        strict=True,
    )
    for i, (probability, importance, norm, dim, bias) in enumerate(columns):
        lines.append(f" {i:7d}   {probability:8.4f}   {importance:5.3f}   {norm:7.3f}   {dim:5.3f}   {bias:7.3f}")
    scores = " ".join(f"{score:.2f}" for score in report["polysemanticity"])
    lines.append(f" polysemanticity per hidden unit: {scores}")
    return "\n".join(lines)


def work_limit(arguments: argparse.Namespace) -> float | None:
    """The trainer's max_seconds: the hosted app's limit unless --no-work-limit."""
    return None if arguments.no_work_limit else MAX_SECONDS


def run_train(arguments: argparse.Namespace) -> str:
    config = config_from(arguments, arguments.sparsity)
    report = export.model_reports([config], train(config, max_seconds=work_limit(arguments)))[0]
    return json.dumps(report) if arguments.json else format_report(report)


def run_sweep(arguments: argparse.Namespace) -> str:
    sparsities = parse_sparsities(arguments.sparsities)
    try:
        configs = [config_from(arguments, sparsity) for sparsity in sparsities]
    except ConfigError as error:
        if error.field != "sparsity":
            raise
        raise UsageError(f"--sparsities: {error.detail}") from None
    result = train_sweep(configs[0], sparsities, max_seconds=work_limit(arguments))
    results = export.model_reports(configs, result)
    if arguments.json:
        return json.dumps({"results": results, "seconds": result.seconds})
    return "\n\n".join(format_report(report) for report in results) + f"\n\nsweep trained in {result.seconds:.2f} s"


def jl_summary(dim: int, count: int, eps: float, seed: int = 0) -> dict:
    """Cosine statistics of `count` random unit vectors in R^dim, JL dimension and a packing.

    Keys: dim, count, eps, cos_mean, cos_var, max_abs_cos, welch_bound, jl_min_dim
    (for `count` points at distortion eps), packing_count (unit vectors found in R^dim with
    all |cos| <= eps, packing.optimised_packing), and: exact (all pairs used), pairs_sampled,
    pairs_total, packing_complete (False: the search stopped at its budget) and a note.
    """
    stats = jl.cosine_statistics(count, dim, seed=seed)
    found = packing.optimised_packing(dim, eps, seed=seed)
    if stats.exact:
        note = f"statistics over all {stats.pairs_total} pairs"
    else:
        note = (
            f"cos_mean and cos_var estimated from all {stats.pairs_used} pairs of a random "
            f"{stats.vectors_used} of the {count} vectors; max_abs_cos is the median maximum "
            "predicted by the exact cosine distribution"
        )
    if not found.complete:
        note += "; the packing search stopped at its size or work budget (more vectors may fit)"
    return {
        "dim": dim,
        "count": count,
        "eps": eps,
        "cos_mean": stats.mean,
        "cos_var": stats.var,
        "max_abs_cos": stats.max_abs,
        "welch_bound": jl.welch_bound(count, dim),
        "jl_min_dim": jl.jl_min_dim(count, eps),
        "packing_count": found.count,
        "exact": stats.exact,
        "pairs_sampled": stats.pairs_used,
        "pairs_total": stats.pairs_total,
        "packing_complete": found.complete,
        "note": note,
    }


def run_jl(arguments: argparse.Namespace) -> str:
    settings = jl.JLSettings(arguments.dim, arguments.count, arguments.eps)  # a bad value: ConfigError
    summary = jl_summary(settings.dim, settings.count, settings.eps)
    if arguments.json:
        return json.dumps(summary)
    return "\n".join(f"{key:>14}  {value}" for key, value in summary.items())


def sae_config_from(arguments: argparse.Namespace, n_features: int) -> SAEConfig:
    """The SAEConfig of the sae command's flags; a bad value is a UsageError naming its flag."""
    values = {name: getattr(arguments, f"sae_{name}") for name in SAE_FLAGS if name != "resample"}
    values["latents"] = n_features if values["latents"] is None else values["latents"]
    try:
        return SAEConfig(resample=arguments.resample, **values)
    except ConfigError as error:
        raise UsageError(f"{SAE_FLAGS[error.field]}: {error.detail}") from None


def sae_report(result: SAEResult, scores: SAEMetrics, index: int) -> dict:
    """The JSON object of SAE `index`: decoder and encoder are latents x n_hidden (a latent per row)."""
    matches = latent_table(result, scores, index)
    return {
        "seed": int(result.seed[index]),
        "kind": result.kind,
        "setting": float(result.setting[index]),
        "l0": float(scores.l0[index]),
        "fvu": float(scores.fvu[index]),
        "dead_fraction": float(scores.dead_fraction[index]),
        "mmcs_features": float(scores.mmcs_features[index]),
        "mmcs_latents": float(scores.mmcs_latents[index]),
        "decoder": result.decoder[index].T.tolist(),
        "encoder": result.encoder[index].tolist(),
        "matches": matches.astype({"feature": int, "dead": bool}).to_dict(orient="records"),
        "shrinkage": scores.shrinkage[index].tolist(),
    }


def run_sae(arguments: argparse.Namespace) -> str:
    config = config_from(arguments, arguments.sparsity)
    if not config.sets.independent:  # the SAEs' inputs are drawn as independent features
        raise UsageError("--correlated-sets/--anticorrelated-sets: the sae command trains on independent features")
    sae_config = sae_config_from(arguments, config.n_features)
    check_toy(config.model)
    toy = train(config, max_seconds=work_limit(arguments))
    result = train_saes(toy, sae_config)
    scores = evaluate_saes(result)
    reports = [sae_report(result, scores, index) for index in range(len(result.seed))]
    seconds = toy.seconds + result.seconds
    if arguments.json:
        toy_report = export.model_reports([config], toy)[0]
        return json.dumps({"toy": toy_report, "saes": reports, "seconds": seconds})
    lines = [f"{SAE_LABELS[sae_config.kind]} SAEs with {sae_config.latents} latents on the toy's hidden layer"]
    lines.append(" seed     L0      FVU   dead   MMCS features→latents   latents→features")
    for report in reports:
        lines.append(
            f" {report['seed']:4d}  {report['l0']:5.3f}  {report['fvu']:6.4f}  {report['dead_fraction']:5.2f}"
            f"   {report['mmcs_features']:21.4f}   {report['mmcs_latents']:16.4f}"
        )
    return "\n".join(lines + [f"toy and SAEs trained in {seconds:.2f} s"])


COMMANDS = {"train": run_train, "sweep": run_sweep, "jl": run_jl, "sae": run_sae}


def main(argv: list[str] | None = None) -> int:
    torch.set_num_threads(TRAIN_THREADS)  # the work outside the trainer's own threads too (superpos.train)
    try:
        arguments = build_parser().parse_args(argv)
        output = COMMANDS[arguments.command](arguments)
    except UsageError as error:
        print(f"superpos: error: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:  # a bad setting, or a job over the work limit
        print(f"superpos: error: {flag(error.field)}: {error.detail}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"superpos: error: {error}", file=sys.stderr)
        return 2
    print(output)
    return 0
