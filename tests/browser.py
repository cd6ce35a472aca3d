"""Driving the app in a real browser: a Streamlit server on a free loopback port, Debian's
Chromium through Playwright, and waits that know when a script run has finished.

Plain functions and context managers, so that the browser tests' fixtures (tests/conftest.py)
and the benchmarks (benchmarks/load.py, benchmarks/app_latency.py) share one recipe.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from views import VIEW_NAMES

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
# The app's views, in the order of its tabs; the first is open by default.
VIEWS = VIEW_NAMES
HOST = "127.0.0.1"

CHART = '[data-testid="stVegaLiteChart"]'
DRAWN_CHART = f"{CHART} svg"
EXCEPTION = '[data-testid="stException"]'
ERROR = '[data-testid="stAlertContentError"]'
WARNING = '[data-testid="stAlertContentWarning"]'
OPEN_TAB_PANEL = '[role="tabpanel"]:not([hidden])'

# Installed in every page before the app loads: a log of the app's script-state changes and the
# time of the latest change inside a chart, on the page's own clock (performance.now(), ms).
# A run that takes a few milliseconds can come and go between two polls, so waits read this log
# instead of polling the attribute.
RUN_LOG_SCRIPT = """
window.__runLog = [];
window.__chartDrawnAt = 0;
new MutationObserver((mutations) => {
  const now = performance.now();
  for (const mutation of mutations) {
    const target = mutation.target;
    if (mutation.type === "attributes" && target.getAttribute("data-testid") === "stApp") {
      window.__runLog.push({state: target.getAttribute("data-test-script-state"), at: now});
    } else if (target.closest && target.closest('[data-testid="stVegaLiteChart"]')) {
      window.__chartDrawnAt = now;
    }
  }
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ["data-test-script-state", "d", "transform"]});
"""

# True once the app has run and then stayed idle for `quiet` ms. Loading a page can bring more than
# one run with an idle moment between them (an app that reruns itself), so one idle state is not enough.
SETTLED = """quiet => {
  const app = document.querySelector('[data-testid="stApp"]');
  const last = window.__runLog[window.__runLog.length - 1];
  return app && app.getAttribute("data-test-script-state") === "notRunning"
      && last && last.state === "notRunning" && performance.now() - last.at >= quiet;
}"""

# True once a run started after `mark` has ended and the app is idle.
RUN_FINISHED_AFTER = """mark => {
  const app = document.querySelector('[data-testid="stApp"]');
  const log = window.__runLog.filter(entry => entry.at >= mark);
  return app && app.getAttribute("data-test-script-state") === "notRunning"
      && log.some(entry => entry.state === "running")
      && log[log.length - 1].state === "notRunning";
}"""


def chromium_executable() -> str | None:
    """Debian's Chromium, or any `chromium` on PATH."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    if chromium_executable() is None:
        return f"Chromium not found at {CHROMIUM} or on PATH (tests/install_chromium.sh installs it with apt)"
    return None


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# A line of the server's log that means something went wrong: a Python warning or a traceback.
LOG_PROBLEM = re.compile(r"Traceback|Warning\b|Error\b")


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen
    log: IO[bytes]

    def log_text(self) -> str:
        """Everything the server has written to stdout and stderr so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def log_problems(self) -> list[str]:
        """The log's lines that start a traceback, name an error or carry a warning."""
        return [line for line in self.log_text().splitlines() if LOG_PROBLEM.search(line)]

    def resident_kib(self) -> int:
        """The server's resident memory (VmRSS), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line: not on Linux?")

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far (user + system), in seconds."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def streamlit_server(timeout: float = 60.0) -> Iterator[Server]:
    """`streamlit run streamlit_app.py` from the repository root on a free loopback port, healthy
    when yielded, always stopped afterwards (a leaked server holds its port and skews timings)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.address",
        HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    # A file, not a pipe: nobody reads the log while the server runs, and a full pipe would block it.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://{HOST}:{port}"
            deadline = time.monotonic() + timeout
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    output = log.read().decode(errors="replace")[-4000:]
                    raise RuntimeError(f"the Streamlit server did not become healthy:\n{output}")
                time.sleep(0.1)
            yield Server(url, process, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def launch_chromium(playwright):
    """Debian's Chromium, headless, with the flags that work on this kind of machine."""
    return playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)


def new_page(chromium, viewport: dict | None = None):
    """A page in its own browser context, so its own Streamlit session, logging its runs."""
    context = chromium.new_context(viewport=viewport or VIEWPORT)
    context.add_init_script(RUN_LOG_SCRIPT)
    return context.new_page()


def open_app(page, url: str, timeout_ms: float = 60_000, quiet_ms: float = 500) -> None:
    """Load the app at `url` and wait until its script has settled with its charts drawn."""
    page.goto(url)
    wait_until_settled(page, timeout_ms, quiet_ms)


def wait_until_settled(page, timeout_ms: float = 60_000, quiet_ms: float = 500) -> None:
    """Wait until the app has run, stayed idle for `quiet_ms` and drawn the open view's charts."""
    page.wait_for_function(SETTLED, arg=quiet_ms, polling=50, timeout=timeout_ms)
    wait_for_charts(page, timeout_ms)


def wait_for_charts(page, timeout_ms: float = 60_000) -> None:
    """Every chart in the open view drawn as SVG, and the page's fonts loaded."""
    page.wait_for_function(
        """selector => {
          const charts = [...document.querySelectorAll(selector)];
          return charts.length > 0 && charts.every(chart => chart.querySelector("svg"));
        }""",
        arg=f"{OPEN_TAB_PANEL} {CHART}",
        timeout=timeout_ms,
    )
    page.evaluate("document.fonts.ready.then(() => true)")


def now(page) -> float:
    """The page's clock, in ms."""
    return page.evaluate("performance.now()")


def rerun(page, action: Callable[[], None], timeout_ms: float = 60_000) -> float:
    """Do `action` (which makes the app rerun), wait until that run has finished, and return
    the script time: from the action to the app going idle, in seconds."""
    mark = now(page)
    action()
    page.wait_for_function(RUN_FINISHED_AFTER, arg=mark, timeout=timeout_ms)
    finished = page.evaluate("window.__runLog[window.__runLog.length - 1].at")
    return (finished - mark) / 1000


def charts_drawn_since(page, mark: float, quiet_ms: float = 300) -> float:
    """Seconds from `mark` (page clock, ms) until the charts last changed (0 if they did not),
    once `quiet_ms` have passed both since `mark` and since that change."""
    page.wait_for_function(
        "([mark, quiet]) => performance.now() - Math.max(window.__chartDrawnAt, mark) >= quiet",
        arg=[mark, quiet_ms],
        polling=50,
        timeout=60_000,
    )
    return max(0.0, page.evaluate("window.__chartDrawnAt") - mark) / 1000


def problems_shown(page) -> list[str]:
    """The texts of any uncaught exception or error alert on the page."""
    return page.locator(f"{EXCEPTION}, {ERROR}").all_inner_texts()
