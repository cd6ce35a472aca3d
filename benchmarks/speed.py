"""superpos's trainer against the paper's recipe, side by side in one run.

    python -m benchmarks.speed            # the full table (about 4 minutes on 2 cores)
    python -m benchmarks.speed --quick    # one seed, 5/2 only, reference cut to 2,000 steps

Both trainers are scored on the same held-out sample (superpos.evaluate.heldout_loss).
Times are wall-clock seconds of the whole training call; superpos's includes its own
held-out evaluation and restart selection, the reference's only its training loop.
The reference runs on whichever of 1 or 2 torch threads is faster right now (each timed
twice on 300 steps first); superpos always uses superpos.train.TRAIN_THREADS.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

import superpos
from benchmarks.reference import STEPS, train_reference
from benchmarks.table import print_table
from superpos.evaluate import heldout_loss
from superpos.train import TRAIN_THREADS, importance_profile

INTRO_PROBABILITY = 20.0 ** -np.linspace(0.0, 1.0, 10)  # the paper's intro figure: p from 1 to 0.05
GEOMETRY_PROBABILITY = 1.0 / np.geomspace(1.0, 1000.0, 20)  # 1 / (1 - S) from 1 to 1000


def fastest_reference_threads(model, n_hidden, probability, importance) -> int:
    """1 or 2 torch threads, whichever trains the reference faster right now: each timed twice on
    300 steps, alternately, best of two (a single short probe picks wrongly on a noisy machine)."""
    timings = {1: math.inf, 2: math.inf}
    for threads in (1, 2, 1, 2):
        torch.set_num_threads(threads)
        seconds = train_reference(model, n_hidden, probability, importance, steps=300)[2]
        timings[threads] = min(timings[threads], seconds)
    return min(timings, key=timings.get)


def compare(name, n_features, n_hidden, probability, decay, seeds, reference_steps, rows):
    """Train both on the same instances for each seed; append one table row per seed."""
    importance = np.tile(importance_profile(n_features, decay), (len(probability), 1))
    probability = np.repeat(probability[:, None], n_features, axis=1)
    threads = fastest_reference_threads("relu", n_hidden, probability, importance)
    torch.set_num_threads(threads)
    for seed in seeds:
        weights, bias, reference_seconds = train_reference(
            "relu", n_hidden, probability, importance, steps=reference_steps, seed=seed
        )
        reference_seconds *= STEPS / reference_steps
        config = superpos.Config(n_features=n_features, n_hidden=n_hidden, importance_decay=decay, seed=seed)
        result = superpos.train_sweep(config, 1.0 - probability[:, 0])
        ours = result.heldout
        theirs = heldout_loss("relu", weights, bias, probability, importance)
        rows.append(
            {
                "config": f"{name} seed {seed}",
                "reference s": reference_seconds,
                "superpos s": result.seconds,
                "ratio": reference_seconds / result.seconds,
                "reference loss": theirs.mean(),
                "superpos loss": ours.mean(),
                "worst instance": (ours / theirs).max(),
                "ref threads": threads,
                "extrapolated": reference_steps < STEPS,
            }
        )


def time_only(name, config: superpos.Config, sparsities, reference_steps, rows):
    """Time superpos fully and the reference for `reference_steps` steps, extrapolated to 10,000."""
    importance = np.tile(importance_profile(config.n_features, config.importance_decay), (len(sparsities), 1))
    probability = np.repeat(1.0 - np.asarray(sparsities)[:, None], config.n_features, axis=1)
    result = superpos.train_sweep(config, sparsities)
    row = {"config": name, "superpos s": result.seconds, "superpos loss": result.heldout.mean()}
    if reference_steps:
        threads = fastest_reference_threads("relu", config.n_hidden, probability, importance)
        torch.set_num_threads(threads)
        seconds = train_reference("relu", config.n_hidden, probability, importance, steps=reference_steps)[2]
        reference_seconds = seconds * STEPS / reference_steps
        row.update({"reference s": reference_seconds, "ratio": reference_seconds / result.seconds})
        row.update({"ref threads": threads, "extrapolated": True})
    rows.append(row)


def scaling(rows) -> None:
    """How superpos's time grows: one knob at a time from n = 20, m = 5, 10 instances, S = 0.9."""
    base = superpos.Config(n_features=20, n_hidden=5, sparsity=0.9)
    variants = [("base n=20 m=5 batch=256 x10", base, 10)]
    variants += [(f"n={n}", base.replace(n_features=n), 10) for n in (80, 320)]
    variants += [(f"m={m}", base.replace(n_hidden=m), 10) for m in (10, 20)]
    variants += [(f"batch={b}", base.replace(batch_size=b), 10) for b in (1024, 4096)]
    variants += [(f"instances={k}", base, k) for k in (1, 40)]
    for name, config, instances in variants:
        result = superpos.train_sweep(config, [config.sparsity] * instances)
        rows.append({"change": name, "seconds": result.seconds})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one seed, 5/2 only, reference 2,000 steps")
    arguments = parser.parse_args()
    print(f"torch {torch.__version__}, superpos threads {TRAIN_THREADS}, defaults {superpos.Config()}")
    rows: list[dict] = []
    started = time.perf_counter()
    # Warm-up: a process's first training pays one-time costs (kernel set-up, allocator growth);
    # the reference gets its own warm-up from fastest_reference_threads.
    superpos.train(superpos.Config())
    if arguments.quick:
        compare("intro 5/2", 5, 2, INTRO_PROBABILITY, 0.9, [0], 2000, rows)
    else:
        compare("intro 5/2", 5, 2, INTRO_PROBABILITY, 0.9, [0, 1, 2], STEPS, rows)
        compare("intro 20/5", 20, 5, INTRO_PROBABILITY, 0.9, [0, 1, 2], STEPS, rows)
        geometry = superpos.Config(n_features=200, n_hidden=20, importance_decay=1.0)
        time_only("geometry 200/20 x 20", geometry, 1.0 - GEOMETRY_PROBABILITY, 200, rows)
        large = superpos.Config(n_features=1000, n_hidden=100, sparsity=0.99, importance_decay=1.0)
        time_only("1000/100 x 1", large, [large.sparsity], 0, rows)
    columns = ["config", "reference s", "superpos s", "ratio", "reference loss", "superpos loss", "worst instance"]
    print_table(rows, columns + ["ref threads", "extrapolated"])
    if any(row.get("extrapolated") for row in rows):
        print(f"\nextrapolated: the reference was timed for fewer steps and scaled linearly to {STEPS:,} steps")
    if not arguments.quick:
        growth: list[dict] = []
        scaling(growth)
        print("\nHow superpos's time grows (one knob changed at a time):\n")
        print_table(growth, ["change", "seconds"])
    print(f"\nbenchmark wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
