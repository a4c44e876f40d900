"""Changing logged versions outside of a run (``wandb.Api().artifact``): aliases, description
and metadata saved with ``save()``, ``delete`` and ``link``; fake and SDK + server agree."""

from __future__ import annotations

import pytest

from dagster_wandb_v2.errors import WandbArtifactNotFoundError
from tests.behaviour.backends import Backend, log


def _three_versions(backend: Backend) -> None:
    run = backend.start_run()
    for index in range(3):
        log(run, backend.draft("ds", f"content {index}"), [f"dagster-run-{index}"])
    run.finish()


def test_an_added_alias_moves_from_the_version_holding_it(backend: Backend) -> None:
    _three_versions(backend)
    api = backend.client.artifacts_api()
    first = api.artifact(backend.path("ds:v0"))
    first.aliases = [*first.aliases, "production"]
    first.save()
    second = api.artifact(backend.path("ds:v1"))
    second.aliases.append("production")
    second.save()
    assert backend.aliases("ds") == {
        "v0": ["dagster-run-0"],
        "v1": ["dagster-run-1", "production"],
        "v2": ["dagster-run-2", "latest"],
    }


def test_changes_are_kept_only_after_save(backend: Backend) -> None:
    _three_versions(backend)
    api = backend.client.artifacts_api()
    version = api.artifact(backend.path("ds:v1"))
    version.description = "unsaved"
    version.aliases.append("unsaved")
    assert api.artifact(backend.path("ds:v1")).description is None
    assert backend.aliases("ds")["v1"] == ["dagster-run-1"]
    version.metadata = {**version.metadata, "accuracy": 0.9}
    version.save()
    again = api.artifact(backend.path("ds:v1"))
    assert (again.description, again.metadata["accuracy"]) == ("unsaved", 0.9)
    assert sorted(again.aliases) == ["dagster-run-1", "unsaved"]


def test_a_version_looked_up_by_alias_is_changed_itself(backend: Backend) -> None:
    _three_versions(backend)
    api = backend.client.artifacts_api()
    latest = api.artifact(backend.path("ds:latest"))
    assert (latest.name, latest.version) == ("ds:latest", "v2")
    latest.description = "the newest"
    latest.metadata = {"accuracy": 0.5}
    latest.aliases.append("best")
    latest.save()
    stored = api.artifact(backend.path("ds:v2"))
    assert (stored.description, stored.metadata) == ("the newest", {"accuracy": 0.5})
    assert sorted(stored.aliases) == ["best", "dagster-run-2", "latest"]


def test_a_version_with_aliases_is_deleted_only_with_them(backend: Backend) -> None:
    _three_versions(backend)
    api = backend.client.artifacts_api()
    version = api.artifact(backend.path("ds:v0"))
    with pytest.raises(Exception, match="alias"):
        version.delete()
    assert "v0" in backend.aliases("ds")
    version.delete(delete_aliases=True)
    assert sorted(backend.aliases("ds")) == ["v1", "v2"]
    with pytest.raises(WandbArtifactNotFoundError):
        api.artifact(backend.path("ds:v0"))
    assert [v.version for v in api.versions(backend.path("ds"))] == ["v1", "v2"]


def test_content_of_a_deleted_version_makes_a_new_version(backend: Backend) -> None:
    _three_versions(backend)
    backend.client.artifacts_api().artifact(backend.path("ds:v0")).delete(delete_aliases=True)
    run = backend.start_run()
    relogged = log(run, backend.draft("ds", "content 0"))
    run.finish()
    assert relogged.version == "v3"


def test_the_number_of_a_deleted_highest_version_is_not_given_again(backend: Backend) -> None:
    """W&B numbers versions without reuse: v2 deleted, the next version is v3
    (wandb/wandb#2828), so ``v2`` never names two different contents."""
    _three_versions(backend)
    api = backend.client.artifacts_api()
    api.artifact(backend.path("ds:v2")).delete(delete_aliases=True)
    run = backend.start_run()
    relogged = log(run, backend.draft("ds", "content 3"))
    run.finish()
    assert relogged.version == "v3"
    assert sorted(backend.aliases("ds")) == ["v0", "v1", "v3"]
    with pytest.raises(WandbArtifactNotFoundError):
        api.artifact(backend.path("ds:v2"))


def test_versions_are_listed_oldest_first_and_missing_ones_raise(backend: Backend) -> None:
    _three_versions(backend)
    api = backend.client.artifacts_api()
    assert [v.version for v in api.versions(backend.path("ds"))] == ["v0", "v1", "v2"]
    assert api.versions(backend.path("no_such_collection")) == []
    with pytest.raises(WandbArtifactNotFoundError):
        api.artifact(backend.path("ds:no-such-alias"))


def test_a_linked_version_lists_its_registry_link(backend: Backend) -> None:
    _three_versions(backend)
    api = backend.client.artifacts_api()
    collection = backend.unique("models")
    version = api.artifact(backend.path("ds:v1"))
    assert version.linked_artifacts == []
    version.link(f"wandb-registry-model/{collection}", aliases=["staging"])
    (linked,) = api.artifact(backend.path("ds:v1")).linked_artifacts
    assert linked.qualified_name == backend.registry_path("model", f"{collection}:v0")
    assert sorted(linked.aliases) == ["latest", "staging", "v0"]
    assert api.artifact(backend.path("ds:v2")).linked_artifacts == []
