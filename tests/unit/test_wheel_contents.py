"""The wheel holds the integration, the fake, the local server and the pytest plugin only.

Built offline with the project's build backend (hatchling) through the PEP 517 hook every
installer calls, ``build_wheel``: no benchmark harness, no tests, the ``py.typed`` marker
(PEP 561) and the ``pytest11`` entry point that loads the plugin.
"""

from __future__ import annotations

import configparser
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from hatchling.build import build_wheel

from dagster_wandb_v2 import __version__

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGE = "dagster_wandb_v2"
DIST_INFO = f"{PACKAGE}-{__version__}.dist-info"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout."""
    directory = tmp_path_factory.mktemp("wheel")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPOSITORY)  # PEP 517 hooks run in the project's root
        name = build_wheel(str(directory))
    return directory / name


@pytest.fixture(scope="module")
def wheel_files(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_only_the_package_and_its_metadata_are_installed(wheel_files: list[str]) -> None:
    assert {PurePosixPath(name).parts[0] for name in wheel_files} == {PACKAGE, DIST_INFO}


def test_no_benchmarks_and_no_tests_anywhere(wheel_files: list[str]) -> None:
    for name in wheel_files:
        parts = PurePosixPath(name).parts
        assert "benchmarks" not in parts, name
        assert "tests" not in parts, name
        assert not name.endswith(".pyc"), name


def test_the_integration_fake_server_and_plugin_are_there(wheel_files: list[str]) -> None:
    for module in (
        "__init__.py",
        "io_manager.py",
        "resource.py",
        "testing/fake.py",
        "testing/server/__main__.py",
        "testing/server/server.py",
        "testing/pytest_plugin.py",
        "py.typed",  # PEP 561: type checkers use the package's annotations
    ):
        assert f"{PACKAGE}/{module}" in wheel_files, module


def test_pytest_finds_the_plugin_through_the_entry_point(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"{DIST_INFO}/entry_points.txt").decode()
    entry_points = configparser.ConfigParser()
    entry_points.read_string(text)
    assert dict(entry_points["pytest11"]) == {PACKAGE: f"{PACKAGE}.testing.pytest_plugin"}
