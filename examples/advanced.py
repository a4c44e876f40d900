"""The guide's advanced write configuration: description, aliases, extra files, dirs and
references, and a read pinned to an alias."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetIn, asset

from dagster_wandb_v2 import WandbArtifactConfiguration

DATA = Path(__file__).parent / "data"

advanced_config: WandbArtifactConfiguration = {
    "type": "dataset",
    "description": "My *Markdown* description",
    "aliases": ["my_first_alias", "my_second_alias"],
    "add_dirs": [{"name": "My directory", "local_path": str(DATA / "directory")}],
    "add_files": [
        {"name": "validation_dataset", "local_path": str(DATA / "data.json")},
    ],
    "add_references": [
        # Recorded, not fetched (checksum=False): no network needed to log it.
        {
            "uri": "https://picsum.photos/200/300",
            "name": "External HTTP reference to an image",
            "checksum": False,
        },
    ],
}


@asset(
    name="my_advanced_artifact",
    metadata={"wandb_artifact_configuration": advanced_config},
    io_manager_key="wandb_artifacts_manager",
)
def create_advanced_artifact() -> list[int]:
    return [1, 2, 3]


@asset(
    ins={
        "artifact": AssetIn(
            key="my_advanced_artifact",
            metadata={"wandb_artifact_configuration": {"alias": "my_first_alias"}},
            input_manager_key="wandb_artifacts_manager",
        )
    }
)
def read_advanced_artifact(artifact: list[int]) -> int:
    """Reads the version holding the alias ``my_first_alias``."""
    return len(artifact)


assets = [create_advanced_artifact, read_advanced_artifact]
