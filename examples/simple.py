"""The guide's three kinds of outputs, and the three ways to read them back.

- a Python object (pickled), a ``wandb.Table`` (stored as a W&B object), a ``wandb.Artifact``
  built by hand;
- reading: the whole value, a named object with ``get``, a file path with ``get_path``.
"""

from pathlib import Path

import wandb
from dagster import AssetExecutionContext, AssetIn, asset

from dagster_wandb_v2 import WandbArtifactConfiguration

IO_MANAGER = "wandb_artifacts_manager"

dataset_config: WandbArtifactConfiguration = {"type": "dataset"}


@asset(
    name="my_dataset",
    metadata={"wandb_artifact_configuration": dataset_config},
    io_manager_key=IO_MANAGER,
)
def create_dataset() -> list[int]:
    """Any picklable object: stored as ``output.pickle`` in the artifact ``my_dataset``."""
    return [1, 2, 3]


@asset(
    name="my_table",
    metadata={"wandb_artifact_configuration": {"type": "dataset"}},
    io_manager_key=IO_MANAGER,
)
def create_table() -> wandb.Table:
    """A W&B object: stored under its class name, ``Table``."""
    return wandb.Table(columns=["a", "b", "c"], data=[[1, 2, 3], [4, 5, 6]])


MY_ARTIFACT = "my_artifact"


@asset(name=MY_ARTIFACT, io_manager_key=IO_MANAGER)
def create_artifact() -> wandb.Artifact:
    """A hand-built artifact: logged as is, enriched with Dagster metadata."""
    artifact = wandb.Artifact(MY_ARTIFACT, "dataset")
    artifact.add(wandb.Table(columns=["a", "b", "c"], data=[[1, 2, 3]]), "my_table")
    with artifact.new_file("notes.txt") as file:
        file.write("built by hand")
    return artifact


@asset(ins={"my_dataset": AssetIn(input_manager_key=IO_MANAGER)})
def dataset_sum(context: AssetExecutionContext, my_dataset: list[int]) -> int:
    """Whole-artifact read: the unpickled object."""
    context.log.info(f"my_dataset = {my_dataset}")
    return sum(my_dataset)


@asset(
    ins={
        "table": AssetIn(
            key=MY_ARTIFACT,
            metadata={"wandb_artifact_configuration": {"get": "my_table"}},
            input_manager_key=IO_MANAGER,
        )
    }
)
def table_column(table: wandb.Table) -> list[int]:
    """``get``: a named W&B object inside the artifact."""
    return list(table.get_column("a"))


@asset(
    ins={
        "path": AssetIn(
            key=MY_ARTIFACT,
            metadata={"wandb_artifact_configuration": {"get_path": "notes.txt"}},
            input_manager_key=IO_MANAGER,
        )
    }
)
def notes(path: str) -> str:
    """``get_path``: one file of the artifact, downloaded, as a local path."""
    return Path(path).read_text()


@asset(ins={"table": AssetIn(key="my_table", input_manager_key=IO_MANAGER)})
def table_rows(table: wandb.Artifact) -> int:
    """Whole-artifact read of an artifact without a pickled object: the ``wandb.Artifact``."""
    return len(table.get("Table").data)


assets = [
    create_dataset,
    create_table,
    create_artifact,
    dataset_sum,
    table_column,
    notes,
    table_rows,
]
