"""Nothing an asset returns is cut or dropped by the wandb SDK while the IO manager builds
its artifact: each SDK limit that would silently keep less is an error naming the asset and
the limit (real wandb SDK against the local W&B-compatible server)."""

from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import AssetIn, ExecuteInProcessResult, asset, materialize

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

IO = "wandb_artifacts_manager"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _error_of(result: ExecuteInProcessResult) -> str:
    """The message of the IO manager's error behind the failed step."""
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    while not error.message.startswith("dagster_wandb_v2.errors.") and error.cause is not None:
        error = error.cause
    return error.message


def _versions(project: LocalWandbProject, name: str) -> list[str]:
    api = project.api()
    if not api.artifact_collection_exists(project.path(name), "dataset"):
        return []
    return [version.version for version in api.artifacts("dataset", project.path(name))]


@pytest.fixture
def small_table_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """W&B's row limit of tables in artifacts, lowered so that tests stay small (the SDK
    reads the class attribute when a table is added, as for the default 200,000)."""
    monkeypatch.setattr(wandb.Table, "MAX_ARTIFACT_ROWS", 5)
    return 5


def _table(rows: int) -> wandb.Table:
    return wandb.Table(columns=["x"], data=[[index] for index in range(rows)])


def test_a_table_over_the_row_limit_fails_instead_of_being_truncated(
    local_wandb: LocalWandbProject, small_table_limit: int
) -> None:
    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def scores() -> wandb.Table:
        return _table(small_table_limit + 1)

    result = materialize([scores], resources=local_wandb.resources(), raise_on_error=False)

    assert not result.success
    message = _error_of(result)
    assert "asset 'scores', output 'result'" in message
    assert f"has {small_table_limit + 1} rows" in message
    assert "wandb.Table.MAX_ARTIFACT_ROWS" in message
    assert _versions(local_wandb, "scores") == []


def test_a_table_at_the_row_limit_is_stored_whole(
    local_wandb: LocalWandbProject, small_table_limit: int
) -> None:
    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def scores() -> wandb.Table:
        return _table(small_table_limit)

    @asset(ins={"scores": AssetIn(metadata=_config(get="Table"), input_manager_key=IO)})
    def rows(scores: wandb.Table) -> int:
        return len(scores.data)

    result = materialize([scores, rows], resources=local_wandb.resources())
    assert result.output_for_node("rows") == small_table_limit


def test_tables_of_a_joined_table_and_of_a_returned_artifact_are_checked(
    local_wandb: LocalWandbProject, small_table_limit: int
) -> None:
    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def joined() -> wandb.JoinedTable:
        return wandb.JoinedTable(_table(small_table_limit + 2), _table(1), "x")

    @asset(io_manager_key=IO)
    def built() -> wandb.Artifact:
        artifact = wandb.Artifact("built", type="dataset")
        artifact.add(_table(small_table_limit + 3), "big")  # the SDK cuts it here
        return artifact

    resources = local_wandb.resources()
    joined_result = materialize([joined], resources=resources, raise_on_error=False)
    assert f"table 1 of the returned JoinedTable has {small_table_limit + 2} rows" in (
        _error_of(joined_result)
    )
    built_result = materialize([built], resources=resources, raise_on_error=False)
    message = _error_of(built_result)
    assert "asset 'built'" in message
    assert f"entry 'big.table.json' has {small_table_limit + 3} rows" in message
    assert _versions(local_wandb, "joined") == _versions(local_wandb, "built") == []


def test_metadata_over_w_and_b_key_limit_names_the_asset_and_the_added_keys(
    local_wandb: LocalWandbProject,
) -> None:
    @asset(io_manager_key=IO)
    def described() -> wandb.Artifact:
        return wandb.Artifact(
            "described", type="dataset", metadata={f"k{index}": index for index in range(99)}
        )

    result = materialize([described], resources=local_wandb.resources(), raise_on_error=False)

    message = _error_of(result)
    assert "asset 'described', output 'result'" in message
    assert "99 of the returned artifact" in message
    assert "source_dagster_run_id" in message
    assert "at most 100" in message


def test_an_added_file_cannot_replace_the_serialized_output(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    other = tmp_path / "other.pickle"
    other.write_bytes(b"not the output")

    @asset(
        metadata=_config(
            type="dataset",
            add_files=[{"local_path": str(other), "name": "output.pickle", "overwrite": True}],
        ),
        io_manager_key=IO,
    )
    def numbers() -> list[int]:
        return [1, 2, 3]

    result = materialize([numbers], resources=local_wandb.resources(), raise_on_error=False)

    message = _error_of(result)
    assert "wandb_artifact_configuration.add_files.0" in message
    assert "replaces the artifact entry 'output.pickle' that holds the output itself" in message
    assert _versions(local_wandb, "numbers") == []


def test_a_reference_with_more_objects_than_max_objects_names_the_limit(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    for index in range(4):
        (folder / f"{index}.txt").write_text(str(index))

    def referencing(max_objects: int) -> Any:
        @asset(
            name="shards",
            metadata=_config(
                type="dataset",
                add_references=[
                    {"uri": folder.as_uri(), "name": "shards", "max_objects": max_objects}
                ],
            ),
            io_manager_key=IO,
        )
        def shards() -> list[int]:
            return [4]

        return shards

    resources = local_wandb.resources()
    cut = materialize([referencing(3)], resources=resources, raise_on_error=False)
    assert "holds more than max_objects=3 objects" in _error_of(cut)
    whole = materialize([referencing(4)], resources=resources)
    assert whole.success
    stored = local_wandb.api().artifact(local_wandb.path("shards:latest"))
    assert sorted(stored.manifest.entries) == [
        "output.pickle",
        *(f"shards/{index}.txt" for index in range(4)),
    ]


def test_a_table_read_changed_and_returned_keeps_its_new_rows(
    local_wandb: LocalWandbProject,
) -> None:
    """The SDK stores an object read from an artifact as a reference to it: the row added
    here was lost (the downstream artifact pointed at the upstream's two rows)."""
    get_table = _config(get="Table")

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def raw() -> wandb.Table:
        return _table(2)

    @asset(
        ins={"raw": AssetIn(metadata=get_table, input_manager_key=IO)},
        metadata=_config(type="dataset"),
        io_manager_key=IO,
    )
    def extended(raw: wandb.Table) -> wandb.Table:
        raw.add_data(2)
        return raw

    @asset(
        ins={"raw": AssetIn(metadata=get_table, input_manager_key=IO)},
        metadata=_config(type="dataset"),
        io_manager_key=IO,
    )
    def unchanged(raw: wandb.Table) -> wandb.Table:
        return raw

    @asset(ins={"extended": AssetIn(metadata=get_table, input_manager_key=IO)})
    def rows(extended: wandb.Table) -> list[list[int]]:
        return [list(row) for row in extended.data]

    resources = local_wandb.resources()
    materialize([raw], resources=resources)
    materialize([raw.to_source_asset(), extended, unchanged], resources=resources)
    result = materialize([extended.to_source_asset(), rows], resources=resources)

    assert result.output_for_node("rows") == [[0], [1], [2]]
    api = local_wandb.api()
    (kept,) = api.artifact(local_wandb.path("unchanged:latest")).manifest.entries.values()
    assert kept.ref is not None and kept.ref.startswith("wandb-artifact://")  # still a reference
