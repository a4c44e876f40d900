"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``,
``nox -s sdk_conformance -- PATH_TO_WANDB_CHECKOUT``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
PACKAGE = "dagster_wandb_v2"
#: The benchmark harness: at the top level, not in the wheel; checked like the package.
BENCHMARKS = "benchmarks"


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Unit and integration tests (integration uses the local W&B-compatible server)."""
    session.install("-e", ".[test]")
    session.run("pytest", *(session.posargs or ["-n", "4"]))


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", PACKAGE, BENCHMARKS, "tests", "examples")
    session.run("ruff", "format", "--check", PACKAGE, BENCHMARKS, "tests", "examples")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", PACKAGE, BENCHMARKS)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks against the legacy dagster-wandb (not run by default; about 45 minutes).

    ``nox -s bench -- --quick`` checks the harness in about a minute. See docs/benchmarks.md.
    """
    session.install("-e", ".", "matplotlib")
    session.run("python", "-m", BENCHMARKS, *session.posargs)


#: What the wandb SDK's artifact and registry system tests import or configure.
SDK_SYSTEM_TEST_REQUIREMENTS = (
    "pytest~=8.4",  # the tests put marks on fixtures, an error from pytest 9 on
    "pytest-asyncio",
    "pytest-mock",
    "pytest-timeout",
    "pytest-xdist",
    "fastapi",
    "uvicorn",
    "httpx",
    "responses",
    "numpy",
    "pandas",
    "pyte",
    "moto[s3]",
    "matplotlib",
    "bokeh",
    "google-cloud-storage",
    "hypothesis",
)


@nox.session(python="3.11")
def sdk_conformance(session: nox.Session) -> None:
    """The wandb SDK's own artifact and registry system tests against the local server.

    ``nox -s sdk_conformance -- PATH_TO_WANDB_CHECKOUT [pytest args]``: the tests run
    unchanged from the checkout; prints passed/failed/skipped by category. Not run by CI;
    see docs/local-server.md for how to get a checkout and for the last figures.
    """
    if not session.posargs:
        session.error("usage: nox -s sdk_conformance -- PATH_TO_WANDB_CHECKOUT [pytest args]")
    session.install("-e", ".", *SDK_SYSTEM_TEST_REQUIREMENTS)
    session.run("python", "tests/sdk_conformance/run.py", *session.posargs)
