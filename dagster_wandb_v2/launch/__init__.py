"""W&B Launch from Dagster: the ``run_launch_agent`` and ``run_launch_job`` ops.

Importing this package does not import ``wandb.sdk.launch``; the ops import it when they
run.

Example::

    from dagster import Definitions, EnvVar, job
    from dagster_wandb_v2 import WandbResource
    from dagster_wandb_v2.launch import run_launch_agent

    @job
    def run_launch_agent_example() -> None:
        run_launch_agent()

    defs = Definitions(
        jobs=[run_launch_agent_example],
        resources={"wandb": WandbResource(api_key=EnvVar("WANDB_API_KEY"),
                                          entity="my_entity", project="my_project")},
    )
"""

from dagster_wandb_v2.launch._tracking import JobOutcome, QueuedJob, wait_for_queued_run
from dagster_wandb_v2.launch.config import (
    LaunchAgentBuilderConfig,
    LaunchAgentConfig,
    LaunchAgentEnvironmentConfig,
    LaunchAgentRegistryConfig,
    LaunchJobConfig,
)
from dagster_wandb_v2.launch.ops import (
    LaunchBackend,
    current_launch_backend,
    make_launch_api,
    run_launch_agent,
    run_launch_job,
    use_launch_backend,
    wandb_credentials,
)

__all__ = [
    "JobOutcome",
    "LaunchAgentBuilderConfig",
    "LaunchAgentConfig",
    "LaunchAgentEnvironmentConfig",
    "LaunchAgentRegistryConfig",
    "LaunchBackend",
    "LaunchJobConfig",
    "QueuedJob",
    "current_launch_backend",
    "make_launch_api",
    "run_launch_agent",
    "run_launch_job",
    "use_launch_backend",
    "wait_for_queued_run",
    "wandb_credentials",
]
