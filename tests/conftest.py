"""Fixtures for the browser tests: one app server and one Chromium for the whole run, a fresh
page (its own Streamlit session) per test.

Without Chromium or Playwright the browser tests skip and say why; under CI=true they fail
instead, so a CI machine that lost its browser cannot pass silently.
"""

from __future__ import annotations

import os
import sys

import pytest

from tests import browser


@pytest.fixture(autouse=True)
def fresh_streamlit_caches():
    """Every test starts with Streamlit's caches empty, so no test depends on which ran before it.
    (Only when Streamlit is loaded: the engine's tests never import it.)"""
    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()
    yield


def require_browser() -> None:
    reason = browser.browser_unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def app_server():
    """The app, served from the repository root on a free loopback port, stopped after the run.
    Any warning or traceback in its log fails the run (as an error of the last test that used it)."""
    require_browser()
    with browser.streamlit_server() as server:
        yield server
        problems = server.log_problems()
    assert problems == [], "the app's server logged:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def chromium():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = browser.launch_chromium(playwright)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def new_page(chromium):
    """Opens pages, each in its own browser context (so its own session); all closed afterwards."""
    contexts = []

    def open_page():
        page = browser.new_page(chromium)
        contexts.append(page.context)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """As the app and the command line train: on one torch thread (superpos.train.TRAIN_THREADS)."""
    import torch

    from superpos.train import TRAIN_THREADS

    previous = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    yield
    torch.set_num_threads(previous)
