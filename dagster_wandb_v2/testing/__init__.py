"""Test helpers for projects using dagster_wandb_v2.

- :class:`FakeWandb`: an in-memory W&B behind the IO manager's client protocol, for fast
  unit tests of your own pipelines (``fake.resources()`` gives ready resources);
- the pytest plugin (installed with the package) exposes it as the ``fake_wandb`` fixture.

Example::

    from dagster import materialize
    from dagster_wandb_v2.testing import FakeWandb

    def test_my_asset():
        fake = FakeWandb()
        assert materialize([my_asset], resources=fake.resources()).success
        assert fake.artifact("my_asset:latest").version == "v0"
"""

from dagster_wandb_v2.testing.fake import (
    FakeArtifact,
    FakeRun,
    FakeWandb,
    FakeWandbClient,
    FakeWandbResource,
)

__all__ = ["FakeArtifact", "FakeRun", "FakeWandb", "FakeWandbClient", "FakeWandbResource"]
