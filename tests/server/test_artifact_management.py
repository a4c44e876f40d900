"""Managing artifacts through the real wandb SDK: ``latest`` as a stored alias, tags,
deletion, dedupe lineage, ordering and pagination, and collection-level operations."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import wandb
from wandb.errors import CommError
from wandb.sdk.lib.service.service_connection import WandbApiFailedError


def _log(project: str, entity: str, content: str, **kwargs: Any) -> wandb.Artifact:
    """Log one version of ``dataset`` holding ``content`` from a new run; return it."""
    with wandb.init(entity=entity, project=project) as run:
        art = wandb.Artifact("dataset", type="dataset")
        with art.new_file("data.txt") as f:
            f.write(content)
        run.log_artifact(art, **kwargs)
        art.wait()
    return art


def _aliases(api: Any, path: str) -> set[str]:
    return set(api.artifact(path).aliases)


# ---- latest is an alias the server moves ------------------------------------------------
def test_relog_of_existing_content_moves_latest_to_it(wandb_env: Any, project: str, api: Any):
    entity = wandb_env.entity
    _log(project, entity, "one")
    _log(project, entity, "two")
    again = _log(project, entity, "one", aliases=["again"])
    assert again.version == "v0"

    base = f"{entity}/{project}/dataset"
    assert api.artifact(f"{base}:latest").version == "v0"
    assert _aliases(api, f"{base}:v0") == {"latest", "again"}
    assert _aliases(api, f"{base}:v1") == set()


def test_latest_can_be_removed_and_aliases_replaced(wandb_env: Any, project: str, api: Any):
    entity = wandb_env.entity
    _log(project, entity, "one", aliases=["best"])
    base = f"{entity}/{project}/dataset"

    art = api.artifact(f"{base}:v0")
    art.aliases.remove("latest")
    art.save()
    assert _aliases(api, f"{base}:v0") == {"best"}
    with pytest.raises(CommError):
        api.artifact(f"{base}:latest")

    art = api.artifact(f"{base}:v0")
    art.aliases = ["prod", "staging"]
    art.save()
    assert _aliases(api, f"{base}:v0") == {"prod", "staging"}

    # The next version takes ``latest`` again, as on W&B.
    _log(project, entity, "two")
    assert api.artifact(f"{base}:latest").version == "v1"


# ---- tags -------------------------------------------------------------------------------
def test_artifact_tags_are_stored_updated_and_filterable(
    wandb_env: Any, project: str, api: Any
) -> None:
    entity = wandb_env.entity
    _log(project, entity, "one", tags=["raw", "daily data"])
    _log(project, entity, "two")
    base = f"{entity}/{project}/dataset"
    assert sorted(api.artifact(f"{base}:v0").tags) == ["daily data", "raw"]
    assert api.artifact(f"{base}:v1").tags == []

    art = api.artifact(f"{base}:v1")
    art.tags = ["clean"]
    art.save()
    assert api.artifact(f"{base}:v1").tags == ["clean"]

    art = api.artifact(f"{base}:v0")
    art.tags.remove("raw")
    art.save()
    assert api.artifact(f"{base}:v0").tags == ["daily data"]

    tagged = api.artifacts("dataset", f"{entity}/{project}/dataset", tags="clean")
    assert [a.version for a in tagged] == ["v1"]


def test_invalid_tag_is_refused_by_the_server(wandb_env: Any, project: str, gql: Any) -> None:
    art = _log(project, wandb_env.entity, "one")
    status, body = gql(
        "mutation($input: UpdateArtifactInput!) { updateArtifact(input: $input) "
        "{ artifact { id } } }",
        {"input": {"artifactID": art.id, "tagsToAdd": [{"tagName": "no/slashes"}]}},
    )
    assert status == 200
    assert "no/slashes" in body["errors"][0]["message"]


# ---- deleting a version -----------------------------------------------------------------
def test_delete_of_a_version_with_aliases_needs_delete_aliases(
    wandb_env: Any, project: str, api: Any
) -> None:
    entity = wandb_env.entity
    _log(project, entity, "one")
    path = f"{entity}/{project}/dataset:v0"
    art = api.artifact(path)
    with pytest.raises(CommError, match="aliases"):
        art.delete()
    assert api.artifact_exists(path)
    art.delete(delete_aliases=True)
    assert not api.artifact_exists(path)


# ---- dedupe lineage ---------------------------------------------------------------------
def test_deduplicated_log_records_the_run_as_a_logger(
    wandb_env: Any, project: str, api: Any
) -> None:
    entity = wandb_env.entity
    with wandb.init(entity=entity, project=project) as first:
        art = wandb.Artifact("dataset", type="dataset")
        with art.new_file("data.txt") as f:
            f.write("same")
        first.log_artifact(art).wait()
    with wandb.init(entity=entity, project=project) as second:
        art = wandb.Artifact("dataset", type="dataset")
        with art.new_file("data.txt") as f:
            f.write("same")
        second.log_artifact(art).wait()

    logged = api.run(f"{entity}/{project}/{second.id}").logged_artifacts()
    assert [a.version for a in logged] == ["v0"]
    assert [a.version for a in api.run(f"{entity}/{project}/{first.id}").logged_artifacts()] == [
        "v0"
    ]


# ---- order and pagination ---------------------------------------------------------------
def test_versions_order_and_pagination(wandb_env: Any, project: str, api: Any) -> None:
    entity = wandb_env.entity
    for content in ("one", "two", "three"):
        _log(project, entity, content)
    name = f"{entity}/{project}/dataset"

    def versions(**kwargs: Any) -> list[str]:
        return [a.version for a in api.artifacts("dataset", name, **kwargs)]

    assert versions(order="+version_index") == ["v0", "v1", "v2"]
    assert versions(order="-version_index") == ["v2", "v1", "v0"]
    assert versions(order="+version_index", per_page=1) == ["v0", "v1", "v2"]

    # ``start`` resumes after the page a previous paginator fetched (its ``cursor``).
    pages = api.artifacts("dataset", name, per_page=2, order="+version_index")
    assert [next(pages).version, next(pages).version] == ["v0", "v1"]
    rest = api.artifacts("dataset", name, per_page=2, order="+version_index", start=pages.cursor)
    assert [a.version for a in rest] == ["v2"]

    # An order the server does not know is refused, never ignored.
    with pytest.raises(WandbApiFailedError, match="nonsense"):
        versions(order="nonsense")


def test_files_types_and_collections_pages(
    wandb_env: Any, project: str, api: Any, gql: Any
) -> None:
    entity = wandb_env.entity
    with wandb.init(entity=entity, project=project) as run:
        for name, kind in (("first", "dataset"), ("second", "model"), ("third", "model")):
            art = wandb.Artifact(name, type=kind)
            for i in range(3):
                with art.new_file(f"file-{i}.txt") as f:
                    f.write(f"{name} {i}")
            run.log_artifact(art).wait()

    art = api.artifact(f"{entity}/{project}/first:v0")
    assert sorted(f.name for f in art.files(per_page=1)) == [
        "file-0.txt",
        "file-1.txt",
        "file-2.txt",
    ]
    query = (
        "query($e: String!, $p: String!, $after: String) { project(entityName: $e, name: $p) "
        "{ artifactTypes(first: 1, after: $after) { edges { node { name } } "
        "pageInfo { endCursor hasNextPage } } } }"
    )
    names, after, more = [], None, True
    while more:
        _, body = gql(query, {"e": entity, "p": project, "after": after})
        conn = body["data"]["project"]["artifactTypes"]
        assert len(conn["edges"]) == 1
        names.append(conn["edges"][0]["node"]["name"])
        after, more = conn["pageInfo"]["endCursor"], conn["pageInfo"]["hasNextPage"]
    assert sorted(names) == ["dataset", "model"]
    collections = api.artifact_collections(f"{entity}/{project}", "model", per_page=1)
    assert sorted(c.name for c in collections) == ["second", "third"]


# ---- collection-level operations --------------------------------------------------------
def test_collection_description_tags_type_and_delete(
    wandb_env: Any, project: str, api: Any
) -> None:
    entity = wandb_env.entity
    _log(project, entity, "one")
    proj = f"{entity}/{project}"

    coll = api.artifact_collection("dataset", f"{proj}/dataset")
    coll.description = "all the data"
    coll.tags = ["team-a"]
    coll.save()
    again = api.artifact_collection("dataset", f"{proj}/dataset")
    assert again.description == "all the data"
    assert again.tags == ["team-a"]

    again.tags = []
    again.type = "model"
    again.save()
    moved = api.artifact_collection("model", f"{proj}/dataset")
    assert moved.tags == []
    assert api.artifact(f"{proj}/dataset:v0").type == "model"

    moved.delete()
    assert not api.artifact_exists(f"{proj}/dataset:v0")
    assert not api.artifact_collection_exists(f"{proj}/dataset", "model")


def test_unknown_storage_region_is_refused(wandb_env: Any, project: str) -> None:
    with wandb.init(entity=wandb_env.entity, project=project) as run:
        art = wandb.Artifact("dataset", type="dataset", storage_region="nowhere-1")
        with art.new_file("data.txt") as f:
            f.write("x")
        with pytest.raises(ValueError, match="nowhere-1"):
            run.log_artifact(art)
            art.wait()


# ---- where files are served -------------------------------------------------------------
def test_files_are_served_under_w_and_b_storage_prefix(
    wandb_env: Any, project: str, api: Any, tmp_path: Any
) -> None:
    """W&B's object store keeps artifact files under ``wandb_artifacts/``; the SDK's
    multipart download fetches them from the file's ``directUrl``."""
    _log(project, wandb_env.entity, "payload")
    art = api.artifact(f"{wandb_env.entity}/{project}/dataset:v0")
    files = list(art.files())
    assert [f.storage_path.split("/")[0] for f in files] == ["wandb_artifacts"]
    assert [urlsplit(f.direct_url).path.split("/")[1] for f in files] == ["wandb_artifacts"]
    root = art.download(root=str(tmp_path / "out"), multipart=True)
    assert (tmp_path / "out" / "data.txt").read_text() == "payload"
    assert root == str(tmp_path / "out")
