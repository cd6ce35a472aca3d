"""The engine installs as a package: the wheel holds superpos and its charts, nothing of the app.

The wheel is built offline (--no-build-isolation, with the build backend from requirements-dev.txt)
from a copy of the repository's tracked files in a temporary directory, since setuptools writes
build/ and *.egg-info next to the sources it builds.
"""

import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def copy_tracked_files(destination: Path) -> None:
    """The repository's files as git tracks them (no build output, no local scratch, and never the
    destination itself, wherever the temporary directory is)."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in listing.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)


def requirement_name(line: str) -> str:
    """'torch==2.13.0' -> 'torch'."""
    for separator in "=<>!~[; ":
        line = line.split(separator)[0]
    return line.strip().lower()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[zipfile.ZipFile, Path]:
    """The wheel, and the copy of the repository it was built from."""
    source = tmp_path_factory.mktemp("source") / "superpos"
    copy_tracked_files(source)
    output = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", output, "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (path,) = output.glob("superpos-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive, source


def test_the_wheel_holds_the_engine_and_its_charts_only(built):
    wheel, source = built
    names = wheel.namelist()
    packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert packages == {"superpos"}
    modules = {name for name in names if name.endswith(".py")}
    expected = {path.relative_to(source).as_posix() for path in (source / "superpos").rglob("*.py")}
    assert modules == expected
    assert "superpos/charts/geometry.py" in modules


def test_the_wheel_declares_the_dependencies_extra_and_command(built):
    wheel, source = built
    (metadata_name,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    metadata = email.message_from_bytes(wheel.read(metadata_name))
    requires = metadata.get_all("Requires-Dist")
    runtime = {requirement_name(line) for line in requires if "extra ==" not in line}
    app = {requirement_name(line) for line in requires if 'extra == "app"' in line}
    assert runtime == {"torch", "numpy", "pandas", "altair"}
    assert app == {"streamlit"}
    # Everything the app is pinned to in requirements.txt is a dependency of the package or its app extra.
    lines = (source / "requirements.txt").read_text().splitlines()
    assert {requirement_name(line) for line in lines if line and not line.startswith("#")} == runtime | app
    (entry_points,) = [name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")]
    assert "superpos = superpos.cli:main" in wheel.read(entry_points).decode()
