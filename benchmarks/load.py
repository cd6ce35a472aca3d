"""Load test on loopback: many visitors at once, each with their own settings.

1. Cross-talk and latency. `--sessions` browser pages (8 by default), each its own Streamlit
   session, open the Loss view on their own link (n, m, S and seed differ per page). In each of
   `--rounds` rounds every page moves a control at nearly the same moment (sparsity one step
   right, then importance decay one step left, alternately) and each is waited on. Script time
   is from the key press to the page's script going idle (page clock). Afterwards every page is
   checked against its own expected settings (widgets and URL) and result: its held-out loss
   must match a training of its final settings done here, after the load.
2. Memory. One page opens `--configs` (200 by default) distinct links one after another, each a
   new session, cycling through three views; the server's resident memory (VmRSS) is read
   before, along the way and after.

Run from anywhere: python benchmarks/load.py [--sessions 8] [--rounds 4] [--configs 200]
Needs Playwright and Chromium (tests/install_chromium.sh). Starts and stops its own server.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from superpos.config import Config  # noqa: E402
from superpos.train import train  # noqa: E402
from tests import browser  # noqa: E402
from views.controls import SPARSITY_OPTIONS, formatted  # noqa: E402

MEMORY_VIEWS = ("Embedding", "Loss", "Training dynamics")
RSS_EVERY = 50  # configurations between two readings of the server's memory
HELDOUT_TOLERANCE = 1e-3  # relative; the page shows 4 significant digits


@dataclass
class Session:
    """One visitor: a page and the settings it should be showing."""

    page: object
    settings: dict = field(default_factory=dict)
    script_seconds: list[float] = field(default_factory=list)

    def link(self, base_url: str) -> str:
        return f"{base_url}/?{urlencode({name: formatted(value) for name, value in self.settings.items()})}"


def own_settings(index: int) -> dict:
    """Settings no other session shares: n = 4 + i, m = 2 + i mod 3, S and seed per session."""
    return {
        "n_features": 4 + index,
        "n_hidden": 2 + index % 3,
        "sparsity": SPARSITY_OPTIONS[8 + 2 * index],
        "seed": 100 + index,
        "view": "Loss",
    }


def change_control(session: Session, round_number: int) -> float:
    """Press the round's key on the session's page and record the expected new setting; the mark."""
    page, settings = session.page, session.settings
    mark = browser.now(page)
    if round_number % 2 == 0:
        page.get_by_role("slider", name="sparsity").press("ArrowRight")
        settings["sparsity"] = SPARSITY_OPTIONS[SPARSITY_OPTIONS.index(settings["sparsity"]) + 1]
    else:
        page.get_by_role("slider", name="importance decay").press("ArrowLeft")
        settings["importance_decay"] = round(settings.get("importance_decay", Config.importance_decay) - 0.01, 2)
    return mark


def wait_for_run(session: Session, mark: float) -> None:
    page = session.page
    page.wait_for_function(browser.RUN_FINISHED_AFTER, arg=mark, timeout=120_000)
    session.script_seconds.append((page.evaluate("window.__runLog[window.__runLog.length - 1].at") - mark) / 1000)


def check_own_result(session: Session) -> None:
    """The page shows its own settings, its URL carries them (defaults are left out of a URL),
    and its loss is its own model's."""
    page, settings = session.page, session.settings
    assert not browser.problems_shown(page), browser.problems_shown(page)
    sidebar = page.get_by_test_id("stSidebar")
    shown = {
        "n_features": int(sidebar.get_by_label("n features", exact=True).input_value()),
        "n_hidden": int(sidebar.get_by_label("m hidden dimensions", exact=True).input_value()),
        "sparsity": float(sidebar.get_by_role("slider", name="sparsity").get_attribute("aria-valuetext")),
        "importance_decay": float(
            sidebar.get_by_role("slider", name="importance decay").get_attribute("aria-valuetext")
        ),
    }
    expected = {name: settings.get(name, getattr(Config, name)) for name in shown}
    assert shown == expected, (shown, expected)
    in_url = {name: values[-1] for name, values in parse_qs(urlsplit(page.url).query).items()}
    not_defaults = {name: value for name, value in settings.items() if value != getattr(Config, name, None)}
    assert in_url == {name: formatted(value) for name, value in not_defaults.items()}, (in_url, settings)
    heldout = float(page.get_by_test_id("stMetricValue").first.inner_text())
    config = Config(**{name: value for name, value in settings.items() if name != "view"})
    own = float(train(config).heldout[0])
    assert math.isclose(heldout, own, rel_tol=HELDOUT_TOLERANCE), (settings, heldout, own)


def concurrent_sessions(chromium, server: browser.Server, count: int, rounds: int) -> tuple[list[Session], float]:
    """The sessions, checked, and how many CPUs the server kept busy on average during the rounds."""
    sessions = [Session(browser.new_page(chromium), own_settings(index)) for index in range(count)]
    for session in sessions:
        session.page.goto(session.link(server.url))  # all load at once
    for session in sessions:
        browser.wait_until_settled(session.page, timeout_ms=120_000)
    cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
    for round_number in range(rounds):
        marks = [change_control(session, round_number) for session in sessions]
        for session, mark in zip(sessions, marks, strict=True):
            wait_for_run(session, mark)
    busy = (server.cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before)
    for session in sessions:
        check_own_result(session)
    return sessions, busy


def distinct_link(base_url: str, index: int) -> str:
    settings = {
        "n_features": 3 + index % 10,
        "sparsity": SPARSITY_OPTIONS[index % len(SPARSITY_OPTIONS)],
        "seed": 1000 + index,
        "view": MEMORY_VIEWS[index % len(MEMORY_VIEWS)],
    }
    return f"{base_url}/?{urlencode({name: formatted(value) for name, value in settings.items()})}"


def memory_over_configs(chromium, server: browser.Server, count: int) -> list[tuple[int, int]]:
    """(configurations done, server RSS in KiB) along the way."""
    page = browser.new_page(chromium)
    readings = [(0, server.resident_kib())]
    for index in range(count):
        browser.open_app(page, distinct_link(server.url, index), quiet_ms=150)
        assert not browser.problems_shown(page), (index, browser.problems_shown(page))
        if (index + 1) % RSS_EVERY == 0 or index + 1 == count:
            readings.append((index + 1, server.resident_kib()))
            print(f"  {index + 1:4d} configurations: server RSS {readings[-1][1] / 1024:7.1f} MiB", flush=True)
    page.context.close()
    return readings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4, help="control changes per session")
    parser.add_argument("--configs", type=int, default=200, help="distinct links for the memory test")
    arguments = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    began = time.perf_counter()
    with sync_playwright() as playwright, browser.streamlit_server() as server:
        chromium = browser.launch_chromium(playwright)
        print(f"server started, RSS {server.resident_kib() / 1024:.1f} MiB")

        sessions, busy = concurrent_sessions(chromium, server, arguments.sessions, arguments.rounds)
        times = [seconds for session in sessions for seconds in session.script_seconds]
        print(
            f"\n{len(sessions)} concurrent sessions x {arguments.rounds} control changes: every session showed its "
            f"own settings, URL and held-out loss; no errors."
        )
        print(
            f"script time per change (s): p50 {statistics.median(times):.3f}  p95 {percentile(times, 0.95):.3f}  "
            f"max {max(times):.3f}  (n = {len(times)})"
        )
        for index, session in enumerate(sessions):
            runs = " ".join(f"{seconds:.2f}" for seconds in session.script_seconds)
            print(
                f"  session {index}: n = {session.settings['n_features']}, m = {session.settings['n_hidden']}, "
                f"S = {formatted(session.settings['sparsity'])}: {runs}"
            )
            session.page.context.close()
        print(
            f"server CPU use during the changes: {busy:.2f} CPUs on average (the browsers' pages share the same "
            f"{os.cpu_count()} CPUs); server RSS after: {server.resident_kib() / 1024:.1f} MiB"
        )

        print(f"\n{arguments.configs} distinct configurations, one new session each:")
        readings = memory_over_configs(chromium, server, arguments.configs)
        (_, before), (_, after) = readings[0], readings[-1]
        print(
            f"server RSS before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB, "
            f"peak reading {max(rss for _, rss in readings) / 1024:.1f} MiB"
        )
        chromium.close()
    print(f"\ntotal {time.perf_counter() - began:.0f} s; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
