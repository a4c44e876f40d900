"""W&B Registry: linking a logged version to a registry collection (``link_artifact``)."""

from __future__ import annotations

from urllib.parse import quote

from dagster_wandb_v2.client import WandbRun
from tests.behaviour.backends import Backend, log


def _registry_url(backend: Backend, registry: str, collection: str, version: str) -> str:
    """The registry page of a linked version, as the SDK's ``Artifact.url`` builds it."""
    selection = quote(backend.registry_path(registry, collection), safe="")
    return (
        f"{backend.client.app_url}/orgs/{backend.organization}/registry/{registry}"
        f"?selectionPath={selection}&view=membership&version={version}"
    )


def test_link_returns_the_registry_url_of_the_linked_version(
    backend: Backend, run: WandbRun
) -> None:
    stored = log(run, backend.draft("ds", "A"))
    classifier = backend.unique("classifier")
    url = run.link_artifact(stored, f"wandb-registry-model/{classifier}", ["production"])
    assert url == _registry_url(backend, "model", classifier, "v0")
    assert backend.registry_versions("model", classifier) == {
        "v0": ("ds:v0", ["latest", "production"])
    }


def test_links_count_their_own_versions_and_move_aliases(backend: Backend, run: WandbRun) -> None:
    first = log(run, backend.draft("ds", "A"))
    second = log(run, backend.draft("ds", "B"))
    classifier = backend.unique("classifier")
    run.link_artifact(first, f"wandb-registry-model/{classifier}", ["production", "stable"])
    url = run.link_artifact(second, f"wandb-registry-model/{classifier}", ["production"])
    assert url == _registry_url(backend, "model", classifier, "v1")
    assert backend.registry_versions("model", classifier) == {
        "v0": ("ds:v0", ["stable"]),
        "v1": ("ds:v1", ["latest", "production"]),
    }
    assert backend.aliases("ds") == {"v0": [], "v1": ["latest"]}  # source aliases untouched


def test_a_used_version_can_be_linked(backend: Backend) -> None:
    writer = backend.start_run()
    log(writer, backend.draft("ds", "A"))
    writer.finish()
    linker = backend.start_run()
    used = linker.use_artifact(backend.path("ds:latest"))
    golden = backend.unique("golden")
    linker.link_artifact(used, f"wandb-registry-dataset/{golden}", [])
    linker.finish()
    assert backend.registry_versions("dataset", golden) == {"v0": ("ds:v0", ["latest"])}


def test_a_logged_version_can_be_linked_after_its_run_finished(backend: Backend) -> None:
    """Linking goes through ``Artifact.link``, which needs no open run."""
    run = backend.start_run()
    stored = log(run, backend.draft("ds", "A"))
    run.finish()
    golden = backend.unique("golden")
    run.link_artifact(stored, f"wandb-registry-dataset/{golden}", ["prod"])
    assert backend.registry_versions("dataset", golden) == {"v0": ("ds:v0", ["latest", "prod"])}
