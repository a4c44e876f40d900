"""Pytest plugin of dagster_wandb_v2 (registered through the ``pytest11`` entry point).

Fixtures:

- ``fake_wandb``: a fresh in-memory :class:`~dagster_wandb_v2.testing.FakeWandb`;
- ``fake_wandb_resources``: ``{"wandb": ..., "wandb_artifacts_manager": ...}`` wired to it,
  with the cache in the test's ``tmp_path``.

Example::

    def test_my_asset(fake_wandb, fake_wandb_resources):
        assert materialize([my_asset], resources=fake_wandb_resources).success
        assert fake_wandb.artifact("my_asset:latest").metadata["source_integration"]
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dagster_wandb_v2.testing.fake import FakeWandb


@pytest.fixture
def fake_wandb(tmp_path: Path) -> Iterator[FakeWandb]:
    """An empty in-memory W&B, discarded after the test."""
    fake = FakeWandb(storage_dir=tmp_path / "fake-wandb")
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def fake_wandb_resources(fake_wandb: FakeWandb, tmp_path: Path) -> dict[str, Any]:
    """Resources for ``materialize``/``Definitions`` using ``fake_wandb``."""
    return fake_wandb.resources(base_dir=str(tmp_path / "dagster-storage"))
