"""Aliases: ``latest`` follows the last logged version, an alias is unique per collection."""

from __future__ import annotations

import pytest

from dagster_wandb_v2.client import WandbRun
from tests.behaviour.backends import Backend, log


def test_latest_moves_to_each_new_version(backend: Backend, run: WandbRun) -> None:
    log(run, backend.draft("ds", "A"))
    log(run, backend.draft("ds", "B"))
    assert backend.aliases("ds") == {"v0": [], "v1": ["latest"]}
    assert backend.lookup("ds:latest").version == "v1"


def test_relogging_identical_content_moves_latest_to_that_version(
    backend: Backend, run: WandbRun
) -> None:
    """W&B: ``log_artifact`` adds ``latest`` to the logged version, a deduplicated one too."""
    log(run, backend.draft("ds", "A"))
    log(run, backend.draft("ds", "B"))
    log(run, backend.draft("ds", "A"))
    assert backend.aliases("ds") == {"v0": ["latest"], "v1": []}
    assert backend.lookup("ds:latest").version == "v0"


def test_latest_is_added_when_not_asked_for(backend: Backend, run: WandbRun) -> None:
    run.log_artifact(backend.draft("ds", "A"), ["best"])
    assert backend.aliases("ds") == {"v0": ["best", "latest"]}


def test_an_alias_moves_to_the_version_logged_with_it(backend: Backend, run: WandbRun) -> None:
    log(run, backend.draft("ds", "A"), ["best", "keep"])
    log(run, backend.draft("ds", "B"), ["best"])
    assert backend.aliases("ds") == {"v0": ["keep"], "v1": ["best", "latest"]}
    assert backend.lookup("ds:best").version == "v1"
    assert backend.lookup("ds:keep").version == "v0"


def test_aliases_of_one_collection_leave_another_alone(backend: Backend, run: WandbRun) -> None:
    log(run, backend.draft("first", "A"), ["best"])
    log(run, backend.draft("second", "A"), ["best"])
    assert backend.aliases("first") == {"v0": ["best", "latest"]}
    assert backend.aliases("second") == {"v0": ["best", "latest"]}


def test_used_version_is_named_as_it_was_asked_for(backend: Backend, run: WandbRun) -> None:
    """The SDK names a fetched artifact by the alias or version it was fetched with."""
    log(run, backend.draft("ds", "A"), ["best"])
    log(run, backend.draft("ds", "B"))
    by_alias = run.use_artifact(backend.path("ds:best"))
    assert (by_alias.name, by_alias.version) == ("ds:best", "v0")
    by_version = run.use_artifact(backend.path("ds:v1"))
    assert (by_version.name, by_version.version) == ("ds:v1", "v1")
    assert (backend.lookup("ds:latest").name, backend.lookup("ds:latest").version) == (
        "ds:latest",
        "v1",
    )


@pytest.mark.parametrize("alias", ["a:b", "a/b"])
def test_alias_with_a_separator_is_refused(backend: Backend, run: WandbRun, alias: str) -> None:
    with pytest.raises(ValueError, match=r"^Aliases must not contain any of the following char"):
        log(run, backend.draft("ds", "A"), [alias])


def test_alias_longer_than_128_characters_is_refused(backend: Backend, run: WandbRun) -> None:
    """W&B: an alias is 1 to 128 characters long."""
    log(run, backend.draft("ds", "A"), ["a" * 128])
    with pytest.raises(ValueError):
        log(run, backend.draft("ds", "B"), ["a" * 129])
    assert backend.aliases("ds") == {"v0": ["a" * 128, "latest"]}


def test_alias_shaped_like_a_version_is_ignored(backend: Backend, run: WandbRun) -> None:
    """W&B manages ``v<number>`` aliases itself and ignores one given when logging."""
    log(run, backend.draft("ds", "A"))
    stored = log(run, backend.draft("ds", "B"), ["v0", "best"])
    assert stored.version == "v1"
    assert backend.aliases("ds") == {"v0": [], "v1": ["best", "latest"]}
    assert backend.lookup("ds:v0").digest != stored.digest
