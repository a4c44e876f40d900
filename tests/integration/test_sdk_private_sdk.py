"""The wandb SDK's private attributes the package uses (``dagster_wandb_v2._sdk_private``),
checked against the installed SDK and the local server: an SDK upgrade that renames or
changes one fails here, not in a user's pipeline."""

from pathlib import Path

import pytest
import wandb

from dagster_wandb_v2._sdk_private import (
    WandbSdkChangedError,
    draft_version_id,
    execute_graphql,
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
    ):
        with pytest.raises(WandbSdkChangedError, match=rf"wandb {wandb.__version__} has no .*"):
            call()
        with pytest.raises(WandbSdkChangedError, match=attribute):
            call()
