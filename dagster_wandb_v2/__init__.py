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

from typing import TYPE_CHECKING, Any

from dagster_wandb_v2._version import __version__
from dagster_wandb_v2.checks import build_wandb_artifact_checks
from dagster_wandb_v2.config import (
    PartitionReadConfiguration,
    RegistryLink,
    SerializationModule,
    WandbArtifactConfiguration,
)
from dagster_wandb_v2.distributed_ops import (
    FinishDistributedArtifactConfig,
    finish_distributed_artifact_op,
)
from dagster_wandb_v2.errors import (
    WandbArtifactNotFoundError,
    WandbArtifactsIOManagerError,
    WandbAuthenticationError,
    WandbConfigurationError,
    WandbHostUnreachableError,
    WandbRunInUseError,
    WandbSerializationError,
)
from dagster_wandb_v2.io_manager import WandbArtifactsIOManager
from dagster_wandb_v2.lifecycle import (
    CleanUpVersions,
    LifecycleReport,
    LinkVersion,
    PromoteVersion,
    UpdateVersion,
    run_lifecycle_step,
)
from dagster_wandb_v2.lifecycle_definitions import (
    build_wandb_lifecycle_asset,
    build_wandb_lifecycle_op,
)
from dagster_wandb_v2.resource import WandbResource
from dagster_wandb_v2.runs import step_run
from dagster_wandb_v2.sensors import build_wandb_artifact_sensor
from dagster_wandb_v2.validation import validate_definitions

if TYPE_CHECKING:
    from dagster_wandb_v2.components import WandbComponent
    from dagster_wandb_v2.launch.ops import run_launch_agent, run_launch_job

# Imported on first use, so that ``import dagster_wandb_v2`` imports neither the Launch ops
# (nor, through them, anything of wandb.sdk.launch) nor the Dagster Components machinery.
_LAZY_EXPORTS = {
    "WandbComponent": "dagster_wandb_v2.components",
    "run_launch_agent": "dagster_wandb_v2.launch.ops",
    "run_launch_job": "dagster_wandb_v2.launch.ops",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_EXPORTS})


__all__ = [
    "CleanUpVersions",
    "FinishDistributedArtifactConfig",
    "LifecycleReport",
    "LinkVersion",
    "PartitionReadConfiguration",
    "PromoteVersion",
    "RegistryLink",
    "SerializationModule",
    "UpdateVersion",
    "WandbArtifactConfiguration",
    "WandbArtifactNotFoundError",
    "WandbArtifactsIOManager",
    "WandbArtifactsIOManagerError",
    "WandbAuthenticationError",
    "WandbComponent",
    "WandbConfigurationError",
    "WandbHostUnreachableError",
    "WandbResource",
    "WandbRunInUseError",
    "WandbSerializationError",
    "__version__",
    "build_wandb_artifact_checks",
    "build_wandb_artifact_sensor",
    "build_wandb_lifecycle_asset",
    "build_wandb_lifecycle_op",
    "finish_distributed_artifact_op",
    "run_launch_agent",
    "run_launch_job",
    "run_lifecycle_step",
    "step_run",
    "validate_definitions",
]
