"""Artifact TTL (``Artifact.ttl``): set when logging, read back from W&B."""

from __future__ import annotations

from datetime import timedelta

from wandb.sdk.artifacts.artifact_ttl import ArtifactTTL

from dagster_wandb_v2.client import WandbRun
from tests.behaviour.backends import Backend, log


def test_ttl_set_when_logging_is_kept(backend: Backend, run: WandbRun) -> None:
    draft = backend.draft("ds", "A")
    draft.ttl = timedelta(days=1, hours=12)
    log(run, draft)
    assert backend.ttl_seconds("ds:v0") == 129600


def test_inherited_or_unset_ttl_reads_as_none(backend: Backend, run: WandbRun) -> None:
    """Without a team default TTL, an inherited TTL and no TTL both read as ``None``."""
    inherited = backend.draft("ds", "A")
    inherited.ttl = ArtifactTTL.INHERIT
    log(run, inherited)
    log(run, backend.draft("ds", "B"))
    none = backend.draft("ds", "C")
    none.ttl = None
    log(run, none)
    assert [backend.ttl_seconds(f"ds:v{index}") for index in range(3)] == [None, None, None]


def test_each_version_keeps_its_own_ttl(backend: Backend, run: WandbRun) -> None:
    short = backend.draft("ds", "A")
    short.ttl = timedelta(hours=1)
    log(run, short)
    log(run, backend.draft("ds", "B"))
    assert (backend.ttl_seconds("ds:v0"), backend.ttl_seconds("ds:v1")) == (3600, None)
