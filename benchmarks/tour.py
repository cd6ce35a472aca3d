"""The Tour's render times, per step, in Streamlit's AppTest (one process, as the server runs it).

cold: the step opened with every cache empty (its trainings run);         target <= 5 s
warm: the same step opened again, a new session (its trainings cached);    target <= 1 s
its view: then the step's link, its view with its settings (cached too): what following the link costs.
Each time is the script run's wall time; the first run of the process (importing torch) is left out.

Run from anywhere: python benchmarks/tour.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import streamlit as st  # noqa: E402
import torch  # noqa: E402

from benchmarks.table import print_table  # noqa: E402
from superpos import tour  # noqa: E402
from superpos.train import TRAIN_THREADS  # noqa: E402
from tests.apptest import run_app  # noqa: E402

COLD_TARGET, WARM_TARGET = 5.0, 1.0  # seconds


def seconds_to_run(**params: str) -> float:
    """Wall time of one first run of the app on a link with these parameters (a new session)."""
    started = time.perf_counter()
    app = run_app(**params)
    elapsed = time.perf_counter() - started
    assert not app.exception, [element.value for element in app.exception]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="cold and warm runs per step (the median is shown)")
    repeats = parser.parse_args().repeats
    torch.set_num_threads(TRAIN_THREADS)
    seconds_to_run(step="3")  # imports torch and the app's modules once
    rows = []
    for number, step in enumerate(tour.STEPS, 1):
        cold, warm, view = [], [], []
        for _ in range(repeats):
            st.cache_data.clear()
            cold.append(seconds_to_run(step=str(number)))
            warm.append(seconds_to_run(step=str(number)))
            view.append(seconds_to_run(**dict(parse_qsl(step.link[1:]))))
        rows.append(
            {
                "step": f"{number}. {step.title}".replace("|", "\\|"),  # a bare | would split the Markdown cell
                "cold s": statistics.median(cold),
                "warm s": statistics.median(warm),
                "its view, after the step, s": statistics.median(view),
                "within targets": max(cold) <= COLD_TARGET and max(warm) <= WARM_TARGET,
            }
        )
    print_table(rows, ["step", "cold s", "warm s", "its view, after the step, s", "within targets"])


if __name__ == "__main__":
    main()
