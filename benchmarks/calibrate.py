"""Calibrate the work limit's time model (superpos.schedule.predicted_seconds) on measurements.

    python -m benchmarks.calibrate          # measure, fit, print the constants and the errors
    python -m benchmarks.calibrate --check  # only compare today's constants with new measurements

Times superpos.train.train_instances on one thread over a spread of sizes, batches, instance
counts and restarts, and fits, by least squares on relative error, the non-negative constants of

    seconds = steps x (runs x (B n (PRODUCT m + VALUE) + RUN) + B n UNIFORM + STEP)
              + instances x samples x n x (EVALUATE_PRODUCT m + EVALUATE_VALUE) + START

(runs = instances x (1 + (restarts - 1) x PRUNE_FRACTION); LOW_PRODUCT instead of PRODUCT where the
products run in bfloat16, schedule.product_dtype; samples = superpos.evaluate.heldout_samples(n)).
The measurements and the fit are written to benchmarks/calibration.json with the date and the
commit; the constants are copied by hand into superpos/schedule.py. It times CPU seconds by
default, which on one thread match the wall time of a quiet machine and change far less on a busy
one; on a quiet machine --wall times wall seconds. The fit runs every training on one thread
(schedule.TRAIN_WORKERS = 1); then, with --wall, the settings that train on several threads
(schedule.workers) run again as they do in use, and their wall seconds check the prediction for a
chunk per thread, and the abs model's element-wise work per value (ABSOLUTE_DESIGN,
schedule.ABSOLUTE_VALUE_WORK) is fitted on its own trainings. The work limit should predict within 30%.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from superpos import schedule
from superpos.evaluate import heldout_samples
from superpos.train import TRAIN_THREADS, train_instances

STORE = Path(__file__).with_name("calibration.json")
MEASURE = "cpu"  # or "wall" (--wall): what measure() times
CONSTANTS = (
    "PRODUCT_SECONDS",
    "LOW_PRODUCT_SECONDS",
    "VALUE_SECONDS",
    "UNIFORM_SECONDS",
    "RUN_SECONDS",
    "STEP_SECONDS",
    "EVALUATE_PRODUCT_SECONDS",
    "EVALUATE_VALUE_SECONDS",
    "START_SECONDS",
)
# (n, m, instances, batch, restarts, steps): small and large, narrow and wide, one model and a sweep
# (the app's sweeps of ten models at 5/2 and 20/5, and a sweep's chunk of five models on one
# thread at 400/30 and 1000/100).
DESIGN = [
    (5, 2, 1, 64, 1, 3000),  # nearly all per-step cost: pins STEP_SECONDS
    (5, 2, 1, 256, 6, 400),
    (5, 2, 10, 256, 6, 400),
    (5, 2, 10, 256, 8, 500),
    (20, 5, 1, 256, 6, 400),
    (20, 5, 10, 256, 6, 400),
    (20, 5, 10, 256, 8, 500),
    (20, 5, 10, 1024, 1, 400),
    (100, 20, 1, 512, 1, 400),
    (100, 20, 10, 256, 1, 300),
    (100, 50, 3, 1024, 6, 200),
    (200, 10, 10, 256, 1, 200),
    (400, 30, 1, 256, 1, 400),
    (400, 30, 1, 1024, 1, 200),
    (400, 30, 10, 256, 1, 100),
    (400, 30, 5, 256, 1, 200),
    (400, 100, 3, 512, 1, 100),
    (1000, 10, 1, 512, 1, 200),
    (1000, 100, 1, 512, 1, 100),
    (1000, 100, 3, 256, 1, 60),
    (1000, 100, 5, 256, 1, 60),
    (1000, 200, 1, 256, 1, 60),
    (1000, 200, 1, 1024, 2, 30),
]


# The abs model's settings (n, m, instances, restarts, density): its element-wise work per value
# (schedule.ABSOLUTE_VALUE_WORK) is fitted on them once the constants above are in schedule.py.
ABSOLUTE_DESIGN = [
    (3, 6, 1, 8, 1.0),
    (20, 5, 1, 8, 0.1),
    (100, 40, 1, 1, 0.03),
    (100, 40, 7, 1, 0.1),
    (200, 50, 3, 1, 0.05),
]


def absolute_point(n_features, n_hidden, instances, restarts, density) -> tuple[float, float]:
    """One abs setting's prediction split as fixed + per_work x ABSOLUTE_VALUE_WORK, both over its
    measured wall seconds (the best of two trainings with its automatic schedule)."""
    probability = np.full((instances, n_features), density)
    importance = np.tile(0.9 ** np.arange(n_features), (instances, 1))
    seconds = min(
        train_instances("abs", n_hidden, probability, importance, restarts=restarts, max_seconds=None).seconds
        for _ in range(2)
    )
    plan = schedule.resolve("abs", n_features, n_hidden, probability, restarts=restarts)
    at = [
        schedule.predicted_seconds(n_features, n_hidden, instances, dataclasses.replace(plan, value_work=work))
        for work in (0.0, 1.0)
    ]
    return at[0] / seconds, (at[1] - at[0]) / seconds


def absolute_work() -> float:
    """ABSOLUTE_VALUE_WORK fitted on ABSOLUTE_DESIGN: the predictions are linear in it, so least
    squares on relative error has a closed form. Prints the spread with today's value and the fit."""
    fixed, per_work = np.array([absolute_point(*point) for point in ABSOLUTE_DESIGN]).T
    work = float(np.sum(per_work * (1.0 - fixed)) / np.sum(per_work**2))
    today = schedule.ABSOLUTE_VALUE_WORK
    print(f"abs model, today's {today:g}: {spread(fixed + today * per_work)}")
    print(f"abs model, fitted ABSOLUTE_VALUE_WORK = {work:.2f}: {spread(fixed + work * per_work)}")
    return work


def features(n_features, n_hidden, instances, batch_size, restarts, steps) -> np.ndarray:
    """The terms the constants multiply, in the order of CONSTANTS."""
    runs = schedule.runs_per_step(instances, restarts)
    products = steps * runs * batch_size * n_features * n_hidden
    low = schedule.product_dtype(n_features, n_hidden) == torch.bfloat16
    inputs = instances * heldout_samples(n_features) * n_features
    return np.array(
        [
            0.0 if low else products,
            products if low else 0.0,
            steps * runs * batch_size * n_features,
            steps * batch_size * n_features,
            steps * runs,
            steps,
            inputs * n_hidden,
            inputs,
            1.0,
        ]
    )


def non_negative_fit(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient >= 0: refit without the columns that come out negative."""
    active = np.ones(design.shape[1], dtype=bool)
    while True:
        coefficients = np.zeros(design.shape[1])
        coefficients[active] = np.linalg.lstsq(design[:, active], target, rcond=None)[0]
        if (coefficients >= 0).all():
            return coefficients
        active &= coefficients > 0


def measure(n_features, n_hidden, instances, batch_size, restarts, steps) -> float:
    """CPU seconds of one training (the best of two), sparsity 0.9, uniform importance.

    CPU time, not wall time: on one thread they agree on a quiet machine, and on a busy one the
    CPU time still measures the training rather than the wait for a core (MEASURE in main says
    which was used)."""
    probability = np.full((instances, n_features), 0.1)
    seconds = []
    for _ in range(2):
        started = time.process_time() if MEASURE == "cpu" else time.perf_counter()
        train_instances(
            "relu",
            n_hidden,
            probability,
            np.ones_like(probability),
            steps,
            batch_size,
            0.01,
            0,
            restarts,
            max_seconds=None,
        )
        seconds.append((time.process_time() if MEASURE == "cpu" else time.perf_counter()) - started)
    return min(seconds)


def predicted(point) -> float:
    n_features, n_hidden, instances, batch_size, restarts, steps = point
    plan = schedule.Schedule(steps, batch_size, (0.01,) * instances, restarts)
    return schedule.predicted_seconds(n_features, n_hidden, instances, plan)


def check_threads() -> None:
    """The settings that train a chunk per thread, timed as they run in use, against the prediction."""
    for point in DESIGN:
        n_features, n_hidden, instances, batch_size, restarts, steps = point
        plan = schedule.Schedule(steps, batch_size, (0.01,) * instances, restarts)
        count = schedule.workers(n_features, n_hidden, instances, plan)
        if count > 1:
            seconds = measure(*point)
            ratio = predicted(point) / seconds
            print(f"{point} on {count} threads: {seconds:.3f} s, prediction / measurement {ratio:.2f}")


def spread(ratios: np.ndarray) -> str:
    return f"prediction / measurement from {ratios.min():.2f} to {ratios.max():.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare the current constants only; write nothing")
    parser.add_argument("--wall", action="store_true", help="time wall-clock seconds (a quiet machine) instead of CPU")
    arguments = parser.parse_args()
    global MEASURE
    MEASURE = "wall" if arguments.wall else "cpu"
    torch.set_num_threads(TRAIN_THREADS)
    threads_in_use, schedule.TRAIN_WORKERS = schedule.TRAIN_WORKERS, 1  # the fit: one thread
    train_instances("relu", 2, np.full((1, 5), 0.1), np.ones((1, 5)), 50, 64, 0.01, 0, max_seconds=None)  # warm-up
    rows = []
    for point in DESIGN:
        seconds = measure(*point)
        rows.append({"point": point, "seconds": seconds})
        print(f"{point}: {seconds:.3f} s (today's model predicts {predicted(point):.3f} s)", flush=True)
    measured = np.array([row["seconds"] for row in rows])
    current = np.array([predicted(row["point"]) for row in rows])
    print(f"\ntoday's constants: {spread(current / measured)}")
    schedule.TRAIN_WORKERS = threads_in_use
    if arguments.wall:
        check_threads()
        absolute = absolute_work()
    if arguments.check:
        return
    design = np.array([features(*row["point"]) for row in rows])
    # Least squares on relative error: divide each row by its measurement.
    constants = non_negative_fit(design / measured[:, None], np.ones(len(rows)))
    fitted = design @ constants
    print(f"fitted constants: {spread(fitted / measured)}\n")
    for name, value in zip(CONSTANTS, constants, strict=True):
        print(f"{name} = {value:.3g}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    STORE.write_text(
        json.dumps(
            {
                "date": datetime.date.today().isoformat(),
                "commit": commit,
                "command": "python -m benchmarks.calibrate",
                "threads": TRAIN_THREADS,
                "measured": MEASURE,
                "measurements": rows,
                "constants": dict(zip(CONSTANTS, constants.tolist(), strict=True)),
                "ABSOLUTE_VALUE_WORK": absolute if arguments.wall else None,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
