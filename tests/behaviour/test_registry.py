"""W&B Registry: linking a logged version to a registry collection (``link_artifact``), and
reading it back by registry path (``use_artifact``), from the client and from Dagster."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import wandb
from dagster import (
    AssetIn,
    AssetSpec,
    Definitions,
    In,
    StaticPartitionsDefinition,
    asset,
    job,
    materialize,
    op,
)

from dagster_wandb_v2 import WandbArtifactNotFoundError, validate_definitions
from dagster_wandb_v2.client import RunSpec, WandbRun
from tests.behaviour.backends import Backend, log

IO = "wandb_artifacts_manager"
COLORS = StaticPartitionsDefinition(["red", "blue"])


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


# --- reading a registry collection (``Run.use_artifact`` of a registry path) --------------


def _link_two_versions(backend: Backend, registry: str = "model") -> tuple[str, Any, Any]:
    """``ds`` v0 (``A``) linked as ``production``, v1 (``B``) linked last (``latest``)."""
    writer = backend.start_run(run_id="writer")
    first = log(writer, backend.draft("ds", "A"))
    second = log(writer, backend.draft("ds", "B"))
    collection = backend.unique("iris")
    writer.link_artifact(first, f"wandb-registry-{registry}/{collection}", ["production"])
    writer.link_artifact(second, f"wandb-registry-{registry}/{collection}", [])
    writer.finish()
    return collection, first, second


def test_a_registry_path_finds_the_linked_version(backend: Backend) -> None:
    """As the SDK answers: in the organization's entity and the registry's project, named
    as looked up, with the collection's version and aliases; the source version is used."""
    collection, first, second = _link_two_versions(backend)
    reader = backend.start_run(run_id="reader")
    production = reader.use_artifact(f"wandb-registry-model/{collection}:production")
    assert (production.name, production.version) == (f"{collection}:production", "v0")
    assert (production.entity, production.project) == (
        backend.registry_entity,
        "wandb-registry-model",
    )
    assert production.digest == first.digest
    assert sorted(production.aliases) == ["production"]
    entry = production.get_entry("data/train.csv")
    assert Path(entry.download(root=str(backend.tmp_path / "dl"))).read_text() == "A"
    latest = reader.use_artifact(f"{backend.registry_path('model', collection)}:latest")
    assert (latest.name, latest.version, latest.digest) == (
        f"{collection}:latest",
        "v1",
        second.digest,
    )
    assert sorted(latest.aliases) == ["latest"]
    reader.finish()
    assert backend.used_artifacts("reader") == ["ds:v0", "ds:v1"]


def test_a_registry_path_without_the_alias_is_not_found(backend: Backend) -> None:
    collection, _, _ = _link_two_versions(backend)
    reader = backend.start_run()
    with pytest.raises(WandbArtifactNotFoundError):
        reader.use_artifact(f"wandb-registry-model/{collection}:staging")
    with pytest.raises(WandbArtifactNotFoundError):
        reader.use_artifact(f"wandb-registry-model/{collection}:v2")
    reader.finish()


# --- through Dagster: an input's ``name`` as a registry path or another project's path ----


def _linked_asset(collection: str, value: list[int], aliases: list[str]) -> Any:
    """Asset ``iris`` returning ``value``, its version linked to ``collection``."""
    link = {"target_path": f"wandb-registry-model/{collection}", "aliases": aliases}

    @asset(
        name="iris",
        io_manager_key=IO,
        metadata={"wandb_artifact_configuration": {"type": "model", "link_to": [link]}},
    )
    def iris() -> list[int]:
        return value

    return iris


def test_assets_and_ops_read_a_registry_collection(backend: Backend) -> None:
    collection = backend.unique("iris")
    resources = backend.resources()
    materialize([_linked_asset(collection, [1, 2], ["production"])], resources=resources)
    latest_iris = _linked_asset(collection, [3], ["staging"])
    materialize([latest_iris], resources=resources)
    registry_path = f"wandb-registry-model/{collection}"

    @asset(
        ins={
            "iris": AssetIn(
                metadata={"wandb_artifact_configuration": {"name": f"{registry_path}:production"}}
            )
        }
    )
    def production_model(iris: list[int]) -> list[int]:
        return iris

    @asset(
        ins={
            "iris": AssetIn(
                metadata={
                    "wandb_artifact_configuration": {
                        "name": registry_path,
                        "get_path": "output.pickle",
                    }
                }
            )
        }
    )
    def latest_model_file(iris: str) -> bytes:
        return Path(iris).read_bytes()

    defs = Definitions(
        assets=[latest_iris, production_model, latest_model_file], resources=resources
    )
    validate_definitions(defs)
    result = materialize(
        [latest_iris, production_model, latest_model_file],
        resources=resources,
        selection=[production_model, latest_model_file],
    )
    assert result.output_for_node("production_model") == [1, 2]
    assert pickle.loads(result.output_for_node("latest_model_file")) == [3]
    assert backend.used_artifacts(result.run_id) == ["iris:v0", "iris:v1"]

    @op(
        ins={
            "model": In(
                input_manager_key=IO,
                metadata={
                    "wandb_artifact_configuration": {"name": registry_path, "alias": "staging"}
                },
            )
        }
    )
    def score(model: list[int]) -> int:
        return sum(model)

    # In a partitioned job an op's input reads its partition's artifact; a registry
    # collection holds versions, not partitions, so it is read as named.
    @job(resource_defs=resources, partitions_def=COLORS)
    def scoring() -> None:
        score()

    assert scoring.execute_in_process(partition_key="red").output_for_node("score") == 3


def test_a_registry_read_that_finds_nothing_says_what_to_check(backend: Backend) -> None:
    collection = backend.unique("iris")
    reads = {"name": f"wandb-registry-model/{collection}:production"}

    @asset(ins={"iris": AssetIn(metadata={"wandb_artifact_configuration": reads})})
    def model(iris: Any) -> Any:
        return iris

    iris = AssetSpec("iris").with_io_manager_key(IO)
    with pytest.raises(WandbArtifactNotFoundError) as raised:
        materialize([iris, model], resources=backend.resources(), selection=[model])
    message = str(raised.value)
    assert f"wandb-registry-model/{collection}:production" in message
    assert (
        f"a version was linked to the W&B Registry collection 'wandb-registry-model/{collection}'"
        in message
    )


def test_an_op_reads_another_projects_artifact(backend: Backend) -> None:
    other_project = f"{backend.project}-other"
    writer = backend.client.start_run(
        RunSpec(
            project=other_project,
            run_id="other-writer",
            name="other-writer",
            directory=str(backend.tmp_path),
        )
    )
    log(writer, backend.draft("scores", "x,y\n"))
    writer.finish()
    path = f"{backend.entity}/{other_project}/scores:v0"

    @op(
        ins={
            "scores": In(
                input_manager_key=IO,
                metadata={
                    "wandb_artifact_configuration": {"name": path, "get_path": "data/train.csv"}
                },
            )
        }
    )
    def read_scores(scores: str) -> str:
        return Path(scores).read_text()

    @job(resource_defs=backend.resources())
    def reading() -> None:
        read_scores()

    result = reading.execute_in_process()
    assert result.output_for_node("read_scores") == "x,y\n"
    assert backend.used_artifacts(result.run_id) == ["scores:v0"]


def test_a_partitioned_asset_reads_its_partitions_from_another_project(backend: Backend) -> None:
    other_project = f"{backend.project}-other"
    writer = backend.client.start_run(
        RunSpec(project=other_project, run_id="w", name="w", directory=str(backend.tmp_path))
    )
    for color in COLORS.get_partition_keys():
        log(writer, backend.draft(f"scores.{color}", color))
    writer.finish()
    config = {
        "name": f"{backend.entity}/{other_project}/scores",
        "partitions": {"*": {"get_path": "data/train.csv"}},
    }
    scores = AssetSpec("scores", partitions_def=COLORS).with_io_manager_key(IO)

    @asset(
        partitions_def=COLORS,
        ins={"scores": AssetIn(metadata={"wandb_artifact_configuration": config})},
    )
    def report(scores: str) -> str:
        return Path(scores).read_text()

    validate_definitions(Definitions(assets=[scores, report], resources=backend.resources()))
    result = materialize(
        [scores, report], resources=backend.resources(), selection=[report], partition_key="blue"
    )
    assert result.output_for_node("report") == "blue"
    assert backend.used_artifacts(result.run_id) == ["scores.blue:v0"]


def test_get_reads_a_wandb_object_of_a_registry_version(backend: Backend) -> None:
    writer = backend.start_run()
    draft = backend.draft("scores", "x")
    draft.add(wandb.Table(columns=["a"], data=[[7], [8]]), "tables/scores")
    stored = log(writer, draft)
    golden = backend.unique("golden")
    writer.link_artifact(stored, f"wandb-registry-dataset/{golden}", ["golden"])
    writer.finish()
    read = {"name": f"wandb-registry-dataset/{golden}:golden", "get": "tables/scores"}

    @op(ins={"table": In(input_manager_key=IO, metadata={"wandb_artifact_configuration": read})})
    def column(table: wandb.Table) -> list[int]:
        return list(table.get_column("a"))

    @job(resource_defs=backend.resources())
    def reading() -> None:
        column()

    result = reading.execute_in_process()
    assert result.output_for_node("column") == [7, 8]
    assert backend.used_artifacts(result.run_id) == ["scores:v0"]
