"""What is missing raises: artifact, alias, version (``WandbArtifactNotFoundError``), entry."""

from __future__ import annotations

import pytest

from dagster_wandb_v2 import WandbArtifactNotFoundError
from dagster_wandb_v2.client import WandbRun
from tests.behaviour.backends import Backend, log


@pytest.mark.parametrize("name", ["missing:latest", "ds:no-such-alias", "ds:v7"])
def test_use_of_a_missing_version_raises_not_found(
    backend: Backend, run: WandbRun, name: str
) -> None:
    log(run, backend.draft("ds", "A"))
    with pytest.raises(WandbArtifactNotFoundError) as error:
        run.use_artifact(backend.path(name))
    assert backend.path(name) in str(error.value)
    assert backend.used_by("ds:v0") == []


def test_missing_entry_raises_key_error(backend: Backend, run: WandbRun) -> None:
    log(run, backend.draft("ds", "A"))
    used = run.use_artifact(backend.path("ds:latest"))
    with pytest.raises(KeyError, match=r"other\.csv"):
        used.get_entry("other.csv")
    with pytest.raises(KeyError):
        used.get_entry("train.csv")  # the entry is data/train.csv


def test_missing_wandb_object_is_none(backend: Backend, run: WandbRun) -> None:
    log(run, backend.draft("ds", "A"))
    assert run.use_artifact(backend.path("ds:latest")).get("my_table") is None
