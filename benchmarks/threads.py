"""How many torch threads should one training use on a shared 2-CPU server: 1 or 2?

Four trainings run at once, as four visitors moving sliders would cause, in two arrangements:
- 4 processes, one training loop each;
- 4 Python threads in one process, which is how the Streamlit server runs its sessions (there
  the trainings share one interpreter and one torch runtime).
A single training alone is timed too, for reference. Each worker trains the same workload
`--repeats` times after one warm-up; the table gives the median seconds per training and the
throughput of the whole arrangement. The engine's setting is superpos.train.TRAIN_THREADS.

Workloads: the app's default model (what the Embedding, Training dynamics and Loss views train),
the default Sparsity sweep (10 instances in one batch), and a larger model, n = 100, m = 20.

Run from anywhere: python benchmarks/threads.py [--repeats 4]   (about 8 minutes on 2 CPUs, most
of it in the 2-thread runs of 4 processes, which ask for twice as many threads as there are CPUs)
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import multiprocessing
import os
import statistics
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from superpos.config import Config  # noqa: E402
from superpos.experiments import INTRO_SPARSITIES  # noqa: E402

# The module, not the function superpos.train that the package exports under the same name.
engine = importlib.import_module("superpos.train")

CONCURRENT = 4
THREAD_COUNTS = (1, 2)
WORKLOADS = {
    "default model": lambda: engine.train(Config()),
    "default sweep (10 models)": lambda: engine.train_sweep(Config(), INTRO_SPARSITIES),
    "n = 100, m = 20": lambda: engine.train(Config(n_features=100, n_hidden=20)),
}


def timed_trainings(workload: str, threads: int, repeats: int, start: threading.Barrier | None = None) -> list[float]:
    """Seconds per training of `workload` on `threads` torch threads, after one warm-up;
    waits at `start` (shared with the other workers) before the timed ones."""
    engine.TRAIN_THREADS = threads
    train = WORKLOADS[workload]
    train()
    if start is not None:
        start.wait()
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        train()
        seconds.append(time.perf_counter() - began)
    return seconds


def process_worker(workload: str, threads: int, repeats: int, start, results) -> None:
    results.put(timed_trainings(workload, threads, repeats, start))


def in_processes(workload: str, threads: int, repeats: int) -> tuple[list[float], float]:
    """Per-training seconds of all workers, and the wall time of the timed part."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(CONCURRENT + 1), context.Queue()
    workers = [
        context.Process(target=process_worker, args=(workload, threads, repeats, start, results))
        for _ in range(CONCURRENT)
    ]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    seconds = [value for _ in workers for value in results.get()]
    wall = time.perf_counter() - began
    for worker in workers:
        worker.join()
    return seconds, wall


def in_threads(workload: str, threads: int, repeats: int) -> tuple[list[float], float]:
    start, seconds = threading.Barrier(CONCURRENT + 1), []
    workers = [
        threading.Thread(target=lambda: seconds.extend(timed_trainings(workload, threads, repeats, start)))
        for _ in range(CONCURRENT)
    ]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    return seconds, time.perf_counter() - began


def alone(workload: str, threads: int, repeats: int) -> tuple[list[float], float]:
    seconds = timed_trainings(workload, threads, repeats)
    return seconds, sum(seconds)


ARRANGEMENTS = {
    "1 training alone": alone,
    f"{CONCURRENT} processes at once": in_processes,
    f"{CONCURRENT} threads, one process": in_threads,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4, help="timed trainings per worker")
    repeats = parser.parse_args().repeats
    print(
        f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}; engine default TRAIN_THREADS = "
        f"{engine.TRAIN_THREADS}"
    )
    header = f"{'workload':27} {'arrangement':27} {'threads':>7} {'median s/training':>18} {'trainings/s':>12}"
    print(header)
    print("-" * len(header))
    throughput = {}
    for workload in WORKLOADS:
        for arrangement, run in ARRANGEMENTS.items():
            for threads in THREAD_COUNTS:
                seconds, wall = run(workload, threads, repeats)
                throughput[workload, arrangement, threads] = len(seconds) / wall
                print(
                    f"{workload:27} {arrangement:27} {threads:7d} {statistics.median(seconds):18.3f} "
                    f"{throughput[workload, arrangement, threads]:12.2f}",
                    flush=True,
                )
    print("\nMore trainings per second with:")
    for workload, arrangement in itertools.product(WORKLOADS, ARRANGEMENTS):
        one, two = (throughput[workload, arrangement, threads] for threads in THREAD_COUNTS)
        best, ratio = (1, one / two) if one >= two else (2, two / one)
        print(f"  {workload:27} {arrangement:27} {best} thread(s), {ratio:.2f}x the throughput")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
