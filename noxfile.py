"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
PACKAGE = "dagster_wandb_v2"


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Unit and integration tests (integration uses the local W&B-compatible server)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", PACKAGE, "tests", "examples")
    session.run("ruff", "format", "--check", PACKAGE, "tests", "examples")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", PACKAGE)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks against the legacy dagster-wandb (not run by default; about 45 minutes).

    ``nox -s bench -- --quick`` checks the harness in about a minute. See docs/benchmarks.md.
    """
    session.install("-e", ".", "matplotlib")
    session.run("python", "-m", f"{PACKAGE}.benchmarks", *session.posargs)
