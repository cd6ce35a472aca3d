"""The hosted deploy (deploy/): the same versions as requirements.txt with PyTorch's CPU build, and
an entry point that runs the same app.

What cannot be checked here (no hosting service and no PyTorch index is reachable): that Community
Cloud installs deploy/requirements.txt and that PyTorch's CPU index serves torch 2.13.0+cpu.
"""

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def requirements(path: Path) -> tuple[dict[str, str], list[str]]:
    """Per package of a requirements file, its version spec; and the option lines (--...)."""
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    specs = {}
    for line in lines:
        if not line.startswith("-"):
            name = line.split("=")[0].split(">")[0].split("<")[0].split("~")[0]
            specs[name] = line[len(name) :]
    return specs, [line for line in lines if line.startswith("-")]


def test_the_deploy_requirements_are_the_app_requirements_with_torch_for_the_cpu():
    deploy, deploy_options = requirements(ROOT / "deploy" / "requirements.txt")
    local, local_options = requirements(ROOT / "requirements.txt")
    assert deploy_options == [CPU_INDEX]
    assert local_options == []  # an index line here would stall every install on machines without it
    assert deploy["torch"] == local["torch"] + "+cpu"
    assert local["torch"].startswith("==")  # one exact version, so "+cpu" names one build
    assert {name: spec for name, spec in deploy.items() if name != "torch"} == {
        name: spec for name, spec in local.items() if name != "torch"
    }


def first_page(script: Path) -> AppTest:
    return AppTest.from_file(str(script), default_timeout=120).run()


def test_the_deploy_entry_point_runs_the_same_app():
    deployed, local = first_page(ROOT / "deploy" / "streamlit_app.py"), first_page(ROOT / "streamlit_app.py")
    assert not deployed.exception, [element.value for element in deployed.exception]
    assert [tab.label for tab in deployed.tabs] == [tab.label for tab in local.tabs]
    assert [title.value for title in deployed.title] == [title.value for title in local.title]
    charts = [json.loads(chart.proto.spec) for app in (deployed, local) for chart in app.get("vega_lite_chart")]
    assert len(charts) >= 2 and charts[: len(charts) // 2] == charts[len(charts) // 2 :]
