"""Fixtures every test of the suite runs with."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def forget_stale_service_address() -> bool:
    """Drop ``WANDB_SERVICE`` when no wandb service runs in this process any more.

    wandb writes the address of the service it starts to ``WANDB_SERVICE`` and removes it
    on ``wandb.teardown()``. A test that clears ``WANDB_*`` with ``monkeypatch`` and tears
    wandb down gets the old address restored by ``monkeypatch`` afterwards, and every later
    ``wandb`` call in the session then fails to connect to a socket that is gone. Returns
    whether an address was dropped.
    """
    from wandb.sdk import wandb_setup

    if wandb_setup._singleton is None and "WANDB_SERVICE" in os.environ:
        del os.environ["WANDB_SERVICE"]
        return True
    return False


@pytest.fixture(autouse=True)
def _no_stale_wandb_service() -> Iterator[None]:
    # Autouse, so set up before and torn down after the test's own ``monkeypatch``.
    yield
    forget_stale_service_address()


@pytest.fixture
def hashed_by_the_cache(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the artifact cache reads whole to hash them, in order."""
    import dagster_wandb_v2.cache as cache_module

    hashed: list[Path] = []
    original = cache_module.md5_b64

    def counting(path: Path) -> str:
        hashed.append(Path(path))
        return original(path)

    monkeypatch.setattr(cache_module, "md5_b64", counting)
    return hashed
