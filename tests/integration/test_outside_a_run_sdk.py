"""Reading W&B-backed assets outside a step of a Dagster run, through the real wandb SDK.

``Definitions.load_asset_value`` (notebooks, scripts) and ``build_input_context`` with
``load_input`` (users' tests) read the same artifacts a step reads, partitions included.
No Dagster step consumes the value, so no W&B run is opened (none to leak, no lineage
naming a run that did not exist): the artifact is looked up through W&B's public API.
"""

from typing import Any

import pytest
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Definitions,
    PartitionKeyRange,
    StaticPartitionsDefinition,
    asset,
    build_input_context,
    build_resources,
    materialize,
)

from dagster_wandb_v2 import WandbArtifactNotFoundError
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}
COLOURS = StaticPartitionsDefinition(["red", "blue"])


@asset(metadata=CONFIG, io_manager_key=IO)
def scores() -> dict[str, float]:
    return {"accuracy": 0.9}


@asset(metadata=CONFIG, io_manager_key=IO, partitions_def=COLOURS)
def paint(context: AssetExecutionContext) -> str:
    return f"{context.partition_key} paint"


def _runs(project: LocalWandbProject) -> list[str]:
    return [str(run.id) for run in project.api().runs(f"{project.entity}/{project.project}")]


@pytest.fixture
def stored(local_wandb: LocalWandbProject) -> LocalWandbProject:
    resources = local_wandb.resources()
    assert materialize([scores], resources=resources).success
    for colour in COLOURS.get_partition_keys():
        assert materialize([paint], resources=resources, partition_key=colour).success
    return local_wandb


def test_load_asset_value_reads_the_artifact_without_opening_a_wandb_run(
    stored: LocalWandbProject,
) -> None:
    runs_before = _runs(stored)
    defs = Definitions(assets=[scores, paint], resources=stored.resources())
    assert defs.load_asset_value("scores") == {"accuracy": 0.9}
    assert defs.load_asset_value("paint", partition_key="blue") == "blue paint"
    assert defs.load_asset_value("paint", partition_key="red") == "red paint"
    assert _runs(stored) == runs_before  # no W&B run opened, none left running
    # The artifacts' users are still only the runs of the steps that read them: none.
    artifact = stored.api().artifact(stored.path("scores:latest"))
    assert list(artifact.used_by()) == []


def test_load_asset_value_takes_the_input_configuration(stored: LocalWandbProject) -> None:
    resources = stored.resources()
    materialize([scores], resources=resources)  # same content: still v0
    defs = Definitions(assets=[scores], resources=resources)
    value = defs.load_asset_value(
        "scores",
        metadata={"wandb_artifact_configuration": {"version": "v0"}},
    )
    assert value == {"accuracy": 0.9}
    path = defs.load_asset_value(
        "scores",
        metadata={"wandb_artifact_configuration": {"get_path": "output.pickle"}},
    )
    assert str(path).endswith("output.pickle")


def test_load_asset_value_of_a_missing_artifact_names_it(stored: LocalWandbProject) -> None:
    @asset(metadata=CONFIG, io_manager_key=IO)
    def never_materialized() -> int:
        return 1

    runs_before = _runs(stored)
    defs = Definitions(assets=[never_materialized], resources=stored.resources())
    with pytest.raises(WandbArtifactNotFoundError, match="never_materialized:latest"):
        defs.load_asset_value("never_materialized")
    assert _runs(stored) == runs_before


@pytest.mark.parametrize("set_up", [True, False], ids=["build_resources", "bare"])
def test_build_input_context_reads_the_artifact(stored: LocalWandbProject, set_up: bool) -> None:
    manager = stored.resources()[IO]
    runs_before = _runs(stored)

    def load(io_manager: Any) -> list[Any]:
        return [
            io_manager.load_input(build_input_context(asset_key=AssetKey("scores"))),
            io_manager.load_input(
                build_input_context(
                    asset_key=AssetKey("paint"), partition_key="red", asset_partitions_def=COLOURS
                )
            ),
            io_manager.load_input(
                build_input_context(
                    name="paint",
                    asset_key=AssetKey("paint"),
                    asset_partitions_def=COLOURS,
                    asset_partition_key_range=PartitionKeyRange("red", "blue"),
                )
            ),
        ]

    if set_up:
        with build_resources({IO: manager}) as resources:
            values = load(getattr(resources, IO))
    else:
        values = load(manager)
    assert values == [{"accuracy": 0.9}, "red paint", {"red": "red paint", "blue": "blue paint"}]
    assert _runs(stored) == runs_before
