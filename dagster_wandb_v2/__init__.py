"""Dagster <-> Weights & Biases integration on Dagster's Pythonic API.

Example::

    from dagster import Definitions, EnvVar
    from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource

    wandb = WandbResource(api_key=EnvVar("WANDB_API_KEY"), entity="me", project="demo")
    defs = Definitions(
        assets=[...],
        resources={"wandb": wandb,
                   "wandb_artifacts_manager": WandbArtifactsIOManager(wandb=wandb)},
    )
"""

from dagster_wandb_v2._version import __version__
from dagster_wandb_v2.config import (
    PartitionReadConfiguration,
    SerializationModule,
    WandbArtifactConfiguration,
)
from dagster_wandb_v2.errors import (
    WandbArtifactNotFoundError,
    WandbArtifactsIOManagerError,
    WandbConfigurationError,
    WandbSerializationError,
)
from dagster_wandb_v2.io_manager import WandbArtifactsIOManager
from dagster_wandb_v2.resource import WandbResource
from dagster_wandb_v2.validation import validate_definitions

__all__ = [
    "PartitionReadConfiguration",
    "SerializationModule",
    "WandbArtifactConfiguration",
    "WandbArtifactNotFoundError",
    "WandbArtifactsIOManager",
    "WandbArtifactsIOManagerError",
    "WandbConfigurationError",
    "WandbResource",
    "WandbSerializationError",
    "__version__",
    "validate_definitions",
]
