"""The wandb SDK's private attributes the package uses (``dagster_wandb_v2._sdk_private``),
checked against the installed SDK and the local server: an SDK upgrade that renames or
changes one fails here, not in a user's pipeline."""

import sys
import threading
from pathlib import Path

import pytest
import wandb

from dagster_wandb_v2._sdk_private import (
    WandbSdkChangedError,
    added_objects,
    artifact_links,
    detached,
    draft_version_id,
    execute_graphql,
    joined_tables,
    make_artifact_caches_thread_safe,
    rename_artifact,
    run_is_finished,
)
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

COMMIT = """
mutation Commit($id: ID!) {
  commitArtifact(input: {artifactID: $id}) { artifact { id state versionIndex } }
}
"""


def test_a_draft_id_is_the_id_its_committed_version_gets(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    payload = tmp_path / "part.txt"
    payload.write_text("a")
    with wandb.init(project=local_wandb.project, entity=local_wandb.entity) as run:
        assert not run_is_finished(run)
        draft = wandb.Artifact("shards", type="dataset")
        draft.add_file(str(payload), name="partitions/a/part.txt")
        upserted = run.upsert_artifact(draft, distributed_id="one")
        upserted.wait()
        assert upserted.id is None, "the SDK made a draft's id public: use Artifact.id"
        draft_id = draft_version_id(upserted)
        committed = execute_graphql(local_wandb.api(), COMMIT, {"id": draft_id})
    assert run_is_finished(run)
    assert committed["commitArtifact"]["artifact"]["state"] == "COMMITTED"
    version = local_wandb.api().artifact(local_wandb.path("shards:v0"))
    assert version.id == draft_id
    assert list(version.manifest.entries) == ["partitions/a/part.txt"]


def test_a_missing_private_attribute_names_itself_and_the_sdk_version() -> None:
    class Changed:
        pass

    for call, attribute in (
        (lambda: draft_version_id(Changed()), "Artifact._id"),
        (lambda: execute_graphql(Changed(), "{ viewer { id } }", {}), "_service_api"),
        (lambda: run_is_finished(Changed()), "Run._is_finished"),
        (lambda: rename_artifact(Changed(), "x"), "Artifact._name"),
        (lambda: joined_tables(Changed()), "JoinedTable._table1"),
        (lambda: added_objects(Changed()), "Artifact._added_objs"),
    ):
        with pytest.raises(WandbSdkChangedError, match=rf"wandb {wandb.__version__} has no .*"):
            call()
        with pytest.raises(WandbSdkChangedError, match=attribute):
            call()


def test_renamed_artifacts_added_objects_and_links_to_artifacts(
    local_wandb: LocalWandbProject,
) -> None:
    table = wandb.Table(columns=["k"], data=[[1]])
    other = wandb.Table(columns=["k"], data=[[2]])
    assert joined_tables(wandb.JoinedTable(table, other, "k")) == (table, other)

    artifact = wandb.Artifact("chosen_by_user", type="dataset")
    artifact.add(table, "rows")
    [(added, entry)] = added_objects(artifact)
    assert added is table and entry.path == "rows.table.json"
    assert artifact_links(table)[1] is not None, "added to an artifact: a target"
    rename_artifact(artifact, "asset_name")
    assert artifact.name == "asset_name"
    with wandb.init(project=local_wandb.project, entity=local_wandb.entity) as run:
        run.log_artifact(artifact).wait()

    logged = local_wandb.api().artifact(local_wandb.path("asset_name:v0"))
    read = logged.get("rows")
    source, _ = artifact_links(read)
    assert source is not None and source.name == "rows" and source.artifact.id == logged.id
    assert artifact_links(detached(read)) == (None, None)
    assert artifact_links(read)[0] is source, "the original keeps its link"
    assert artifact_links(object()) == (None, None)


def test_artifacts_created_by_many_threads_at_once_do_not_break_the_sdk_cache() -> None:
    """The SDK keeps every ``wandb.Artifact`` in a capped process-wide dict; concurrent
    reads (``max_concurrent_reads``) create them from several threads at once, and once
    the dict is full, two threads pruning it at once deleted the same key (``KeyError``,
    ``use_artifact`` raising ``CommError``). Threads switch every microsecond here, so
    that the prunes interleave."""
    import wandb

    make_artifact_caches_thread_safe()
    errors: list[BaseException] = []

    def create() -> None:
        try:
            for _ in range(300):
                wandb.Artifact("concurrent", "dataset")
        except BaseException as error:
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=create) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
