"""A step reading what an earlier step of the same Dagster run logged in this process uses
that version without looking it up by name (``Run.use_artifact`` with the logged
``wandb.Artifact``): one request fewer per input, the same lineage in W&B."""

import itertools

from dagster import AssetIn, asset, materialize

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}
_RUNS = itertools.count(1)


@asset(metadata=CONFIG, io_manager_key=IO)
def numbers() -> list[int]:
    return [1, 2, next(_RUNS)]  # new content, so a new version, every run


@asset(metadata=CONFIG, io_manager_key=IO, ins={"numbers": AssetIn(input_manager_key=IO)})
def doubled(numbers: list[int]) -> list[int]:
    return [2 * n for n in numbers]


@asset(
    io_manager_key=IO,
    metadata=CONFIG,
    ins={
        "numbers": AssetIn(
            input_manager_key=IO,
            metadata={"wandb_artifact_configuration": {"alias": "dagster-run-missing"}},
        )
    },
)
def by_alias(numbers: list[int]) -> int:  # pragma: no cover - the read fails first
    return len(numbers)


def _operations(server: LocalWandbServer, since: int) -> list[str | None]:
    return [record.operation for record in server.requests_since(since)]


def test_reads_of_versions_logged_here_skip_the_lookup_and_keep_lineage(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer
) -> None:
    materialize([numbers], resources=local_wandb.resources())  # numbers:v0, elsewhere
    since = local_wandb_server.request_count
    result = materialize([numbers, doubled], resources=local_wandb.resources())
    assert result.success
    assert result.output_for_node("doubled") == [2 * n for n in result.output_for_node("numbers")]
    operations = _operations(local_wandb_server, since)
    assert operations.count("UseArtifact") == 1
    assert "ArtifactMembershipByName" not in operations  # no lookup by name
    api = local_wandb.api()
    assert [run.id for run in api.artifact(local_wandb.path("numbers:v0")).used_by()] == []
    (user,) = api.artifact(local_wandb.path("numbers:v1")).used_by()
    assert user.id == result.run_id  # the version this run wrote, recorded as used


def test_a_read_by_another_alias_is_looked_up(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer
) -> None:
    since = local_wandb_server.request_count
    result = materialize(
        [numbers, by_alias], resources=local_wandb.resources(), raise_on_error=False
    )
    assert not result.success  # no version holds that alias: W&B was asked
    assert "ArtifactMembershipByName" in _operations(local_wandb_server, since)
