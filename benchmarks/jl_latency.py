"""Latency of the "Near-orthogonality (JL)" view and of the `jl` command line path.

The view runs in Streamlit's AppTest with a trained-looking W (a pentagon, 2 x 5). Timed:
- the first (cold) render at the defaults;
- a rerun at the defaults (everything cached);
- a change of each control (d, N, eps) from the defaults to a value not seen before, so that
  its figures are recomputed; the view is set back to the defaults (untimed) in between.
Then cli.jl_summary, what `python -m superpos jl --count 1000000` runs, for a few dimensions.

Wall-clock seconds; the load average is printed too, since other processes on the machine slow
every run (OpenBLAS's threads suffer most: OPENBLAS_NUM_THREADS=1 is often faster under load).

Run from anywhere: python benchmarks/jl_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from superpos import cli  # noqa: E402
from views import jl as view  # noqa: E402

# New values for each control, one per repetition, each a neighbour of the default.
CHANGES = {
    "jl_dim": (10, 50, 5, 100, 3, 200, 2),
    "jl_count": (300, 3000, 100, 10_000, 30, 100_000, 10),
    "jl_eps": (0.35, 0.25, 0.4, 0.2, 0.45, 0.15, 0.5),
}
DEFAULTS = {"jl_dim": view.DEFAULTS.dim, "jl_count": view.DEFAULTS.count, "jl_eps": view.DEFAULTS.eps}
SUMMARY_CASES = ((2, 10**6, 0.5), (100, 10**6, 0.2), (1000, 10**6, 0.3), (10_000, 10**6, 0.1))


def view_script(repo_root: str) -> None:
    import sys

    sys.path.insert(0, repo_root)
    import numpy as np

    from views import jl as view

    angles = 2 * np.pi * np.arange(5) / 5
    view.render(np.stack([np.cos(angles), np.sin(angles)]))


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def set_control(at: AppTest, key: str, value) -> AppTest:
    widget = at.slider(key=key) if key == "jl_eps" else at.select_slider(key=key)
    return widget.set_value(value)


def view_timings(repeats: int) -> dict[str, list[float]]:
    at = AppTest.from_function(view_script, args=(str(REPO_ROOT),), default_timeout=120)
    timings = {"first render (cold)": [timed(at.run)]}
    assert not at.exception, at.exception
    timings["rerun at defaults (cached)"] = [timed(at.run) for _ in range(repeats)]
    for key, values in CHANGES.items():
        runs = []
        for value in values[:repeats]:
            set_control(at, key, value)
            runs.append(timed(at.run))
            assert not at.exception, at.exception
            set_control(at, key, DEFAULTS[key]).run()
        timings[f"change {key.removeprefix('jl_')}"] = runs
    return timings


def summary_timings() -> dict[str, list[float]]:
    timings = {}
    for dim, count, eps in SUMMARY_CASES:
        start = time.perf_counter()
        summary = cli.jl_summary(dim, count, eps)
        label = f"jl_summary d={dim} N={count:.0e} eps={eps} (packing {summary['packing_count']})"
        timings[label] = [time.perf_counter() - start]
    return timings


def print_table(timings: dict[str, list[float]]) -> None:
    width = max(len(label) for label in timings)
    print(f"{'':{width}}  runs  median s   max s")
    for label, runs in timings.items():
        print(f"{label:{width}}  {len(runs):4d}  {statistics.median(runs):8.3f}  {max(runs):6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per control change (at most 7)")
    repeats = min(parser.parse_args().repeats, 7)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print_table(view_timings(repeats) | summary_timings())
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
