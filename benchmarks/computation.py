"""superpos's absolute-value model trainer against ARENA's recipe, side by side in one run.

    python -m benchmarks.computation            # both settings, the recipe in full (2-3 minutes on 2 cores)
    python -m benchmarks.computation --quick    # the recipe cut to 1,000 steps: its time extrapolated,
                                                # its losses those of a short run (not comparable)

The paper's two settings: n = 100, m = 40, I = 0.8^i across 1 - S in {1, 0.3, ..., 0.001}, seven
models trained as one batch; and n = 3, m = 6, dense. superpos uses its automatic schedule
(superpos.absolute.schedule_rule), the recipe is benchmarks/computation_reference.py (Adam 1e-3,
batch 1024, 10,000 steps, Kaiming-uniform). Both are scored on the same held-out sample
(superpos.evaluate.heldout_loss: signed inputs, target |x|). Times are wall-clock seconds of the
whole training call; superpos's includes its held-out evaluation and restart selection. A
superpos training lasts seconds and the recipe minutes, so one superpos run catches the
machine's speed of a moment and the recipe's the average of minutes: superpos trains REPEATS
times, some before the recipe and the rest after it, and its median is compared (its range is
printed; every repeat trains the same models, to the bit). CPU seconds (this process's) are
printed beside them: on a shared machine they are the steadier comparison, since waiting for a
core counts in wall-clock time but not in CPU time. The
recipe runs on whichever of 1 or 2 torch threads is faster right now (each timed twice on 100
steps first); superpos with one torch thread (superpos.train.TRAIN_THREADS) and, for a long
batch, two threads of its own (superpos.schedule.workers), so both may use both cores.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

import superpos
from benchmarks.computation_reference import STEPS, train_reference_abs
from benchmarks.table import print_table
from superpos import computation
from superpos.evaluate import heldout_loss
from superpos.train import TRAIN_THREADS, importance_profile

PROBE_STEPS = 100
REPEATS, REPEATS_BEFORE = 5, 2  # superpos's trainings, and how many of them come before the recipe's


def fastest_reference_threads(n_hidden, probability, importance) -> int:
    """1 or 2 torch threads, whichever runs the recipe faster now: each timed twice, alternately."""
    timings = {1: math.inf, 2: math.inf}
    for threads in (1, 2, 1, 2):
        torch.set_num_threads(threads)
        seconds = train_reference_abs(n_hidden, probability, importance, steps=PROBE_STEPS)[-1]
        timings[threads] = min(timings[threads], seconds)
    return min(timings, key=timings.get)


def train_superpos(config: superpos.Config, densities: np.ndarray) -> tuple[superpos.TrainResult, float]:
    """One timed superpos training of the batch: (result, CPU seconds)."""
    torch.set_num_threads(TRAIN_THREADS)
    cpu = time.process_time()
    result = superpos.train_sweep(config, 1.0 - densities, max_seconds=None)
    return result, time.process_time() - cpu


def compare(name: str, config: superpos.Config, densities, reference_steps: int) -> tuple[dict, list[dict]]:
    """Train both on the same models; one timing row and one loss row per model."""
    densities = np.asarray(densities, dtype=float)
    probability = np.repeat(densities[:, None], config.n_features, axis=1)
    importance = np.tile(importance_profile(config.n_features, config.importance_decay), (len(densities), 1))
    threads = fastest_reference_threads(config.n_hidden, probability, importance)
    runs = [train_superpos(config, densities) for _ in range(REPEATS_BEFORE)]
    torch.set_num_threads(threads)
    cpu = time.process_time()
    first, second, bias, seconds = train_reference_abs(config.n_hidden, probability, importance, reference_steps)
    scale = STEPS / reference_steps
    reference_seconds, reference_cpu = seconds * scale, (time.process_time() - cpu) * scale
    theirs = heldout_loss("abs", first, bias, probability, importance, output_weights=second)
    runs += [train_superpos(config, densities) for _ in range(REPEATS - REPEATS_BEFORE)]
    result = runs[-1][0]
    assert all(np.array_equal(run.weights, result.weights) for run, _ in runs), "repeats must train the same models"
    superpos_seconds = float(np.median([run.seconds for run, _ in runs]))
    superpos_cpu = float(np.median([cpu for _, cpu in runs]))
    timing = {
        "setting": name,
        "reference s": reference_seconds,
        "superpos s": superpos_seconds,
        "superpos range": f"{min(run.seconds for run, _ in runs):.2f}-{max(run.seconds for run, _ in runs):.2f}",
        "ratio": reference_seconds / superpos_seconds,
        "reference CPU s": reference_cpu,
        "superpos CPU s": superpos_cpu,
        "CPU ratio": reference_cpu / superpos_cpu,
        "ref threads": threads,
        "extrapolated": reference_steps < STEPS,
        "schedule": f"{result.schedule.steps} x {result.schedule.batch_size}, restarts {result.schedule.restarts}",
    }
    losses = [
        {
            "setting": name,
            "1 - S": density,
            "reference loss": theirs[i],
            "superpos loss": result.heldout[i],
            "superpos / reference": result.heldout[i] / theirs[i],
            "pairs": int(computation.feature_pairs(result.weights[i], result.output_weights[i])["has_pair"].sum()),
            "polysemantic": int((computation.density_summary(result.weights[i : i + 1], [density])["polysemantic"])[0]),
        }
        for i, density in enumerate(densities)
    ]
    return timing, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the recipe cut to 1,000 steps")
    arguments = parser.parse_args()
    reference_steps = 1000 if arguments.quick else STEPS
    print(f"torch {torch.__version__}, superpos threads {TRAIN_THREADS}")
    started = time.perf_counter()
    superpos.train(superpos.Config(model="abs"))  # warm-up: one-time costs of the first training
    paper = superpos.Config(
        n_features=computation.PAPER_FEATURES,
        n_hidden=computation.PAPER_HIDDEN,
        importance_decay=computation.PAPER_DECAY,
        model="abs",
    )
    small = paper.replace(n_features=computation.SMALL_FEATURES, n_hidden=computation.SMALL_HIDDEN, importance_decay=1)
    timings, losses = [], []
    for name, config, densities in (
        ("n=100 m=40 x 7 densities", paper, computation.PAPER_DENSITIES),
        ("n=3 m=6 dense", small, [1.0]),
    ):
        timing, rows = compare(name, config, densities, reference_steps)
        timings.append(timing)
        losses.extend(rows)
    columns = ["setting", "reference s", "superpos s", "superpos range", "ratio", "reference CPU s", "superpos CPU s"]
    columns += ["CPU ratio", "ref threads", "extrapolated", "schedule"]
    print_table(timings, columns, general=tuple(c for c in columns if "loss" in c or c == "1 - S"))
    print("\nHeld-out loss per model (lower is better; compare within a row, never across densities):\n")
    columns = ["setting", "1 - S", "reference loss", "superpos loss", "superpos / reference", "pairs", "polysemantic"]
    print_table(losses, columns, general=tuple(c for c in columns if "loss" in c or c == "1 - S"))
    if arguments.quick:
        print(f"\nquick: the recipe ran {reference_steps:,} steps; its time is scaled to {STEPS:,}, its losses are not")
    print(f"\nbenchmark wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
