"""Typed run configuration of the Launch ops, checked against the wandb launch functions.

Every field maps to one keyword argument of ``wandb.sdk.launch.launch_add`` (queued jobs),
``wandb.sdk.launch.launch`` (local jobs) or one key of the agent configuration that
``wandb.sdk.launch.create_and_run_agent`` validates (``AgentConfig``). Entity, project, API
key and host never appear here: they come from the ``wandb`` resource
(:class:`~dagster_wandb_v2.WandbResource`).

A few keys of the legacy ``dagster-wandb`` ops are still accepted so that an old run
configuration gets a precise message instead of Dagster's generic "unexpected config
entry": ``uri``, ``parameters`` and ``cuda`` no longer exist in W&B Launch, and ``version``
is the legacy name of ``git_version``.

Example (run configuration)::

    ops:
      my_launched_job:
        config:
          job: my_entity/my_project/train:latest
          queue: my_dagster_queue
          entry_point: [python, train.py]
"""

from __future__ import annotations

import copy
from typing import Any

from dagster import Config, PermissiveConfig
from pydantic import Field, model_validator

from dagster_wandb_v2._unknown_keys import reject_unknown_fields

# --- agent ---------------------------------------------------------------------------


class LaunchAgentRegistryConfig(PermissiveConfig):
    """The agent's ``registry`` block (deprecated by W&B in favour of ``builder.destination``).

    Registry-specific keys (``repository``, ``image-name``, ``region``...) are passed as
    written.
    """

    type: str | None = Field(default=None, description="Registry type: ecr, acr or gcr.")
    uri: str | None = Field(default=None, description="Registry URI images are pushed to.")


class LaunchAgentEnvironmentConfig(PermissiveConfig):
    """The agent's ``environment`` block (the cloud the agent builds and runs in)."""

    type: str | None = Field(default=None, description="Environment type: aws, gcp or azure.")
    region: str | None = Field(default=None, description="Cloud region.")


class LaunchAgentBuilderConfig(PermissiveConfig):
    """The agent's ``builder`` block.

    Keys W&B spells with hyphens (``build-context-store``, ``build-job-name``,
    ``secret-name``, ``secret-key``, ``kaniko-image``, ``kaniko-config``) are passed as
    written, exactly as in W&B's ``launch-config.yaml``.
    """

    type: str | None = Field(default=None, description="Builder type: docker, kaniko or noop.")
    destination: str | None = Field(
        default=None, description="Registry URI built images are pushed to."
    )
    platform: str | None = Field(
        default=None, description="Target platform of built images: linux/amd64 or linux/arm64."
    )


class LaunchAgentConfig(Config):
    """Configuration of ``run_launch_agent``: W&B's launch agent configuration.

    Unset fields keep W&B's defaults. The entity is the ``wandb`` resource's (or, when the
    resource has none, the API key's default entity).
    """

    queues: list[str] | None = Field(
        default=None,
        description="Names of the launch queues to poll. Defaults to W&B's 'default' queue.",
    )
    max_jobs: int | None = Field(
        default=None,
        description=(
            "The maximum number of launch jobs this agent runs in parallel. Defaults to 1. "
            "Set to -1 for no upper limit."
        ),
    )
    max_schedulers: int | None = Field(
        default=None,
        description="The maximum number of sweep schedulers run in parallel. Defaults to 1.",
    )
    secure_mode: bool | None = Field(
        default=None,
        description="Reject runs that try to override the entry point or the image.",
    )
    verbosity: int | None = Field(
        default=None,
        description="0: default, 1: print status every 20 seconds, 2: also debug information.",
    )
    stopped_run_timeout: int | None = Field(
        default=None,
        description="Seconds to wait after a stop command before a run is cancelled by force.",
    )
    stop_after_jobs: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Dagster-side, not a W&B key: stop the agent (and end the op) once it has taken "
            "this many jobs from its queues and they have all ended. Unset: the agent runs "
            "until the Dagster run is terminated, as W&B's agent does."
        ),
    )
    registry: LaunchAgentRegistryConfig | None = Field(
        default=None, description="Container registry block of the agent configuration."
    )
    environment: LaunchAgentEnvironmentConfig | None = Field(
        default=None, description="Cloud environment block of the agent configuration."
    )
    builder: LaunchAgentBuilderConfig | None = Field(
        default=None, description="Image builder block of the agent configuration."
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        return reject_unknown_fields(cls, data)

    def agent_config(self, entity: str) -> dict[str, Any]:
        """The ``config`` argument of ``create_and_run_agent``: set keys only, plus ``entity``."""
        result: dict[str, Any] = {"entity": entity}
        for key in (
            "queues",
            "max_jobs",
            "max_schedulers",
            "secure_mode",
            "verbosity",
            "stopped_run_timeout",
        ):
            value = getattr(self, key)
            if value is not None:
                result[key] = copy.deepcopy(value)
        for key in ("registry", "environment", "builder"):
            block = getattr(self, key)
            if block is not None:
                result[key] = {k: v for k, v in block.model_dump().items() if v is not None}
        return result


# --- job -----------------------------------------------------------------------------

_QUEUE_ONLY = ("template_variables", "project_queue", "priority")


class LaunchJobConfig(Config):
    """Configuration of ``run_launch_job``.

    With ``queue``, the job is enqueued (``launch_add``) for an agent to run, and the op
    waits for the W&B run to finish when ``synchronous`` is true. Without ``queue``, the
    job runs here (``launch``, default resource ``local-container``). Give exactly one of
    ``job`` and ``docker_image``.
    """

    job: str | None = Field(
        default=None,
        description="The Launch job to run, e.g. 'my_entity/my_project/my-job:latest'.",
    )
    docker_image: str | None = Field(
        default=None,
        description="Run this Docker image ('name:tag') instead of a job.",
    )
    entry_point: list[str] | None = Field(
        default=None,
        description="Command to run instead of the job's entry point, e.g. ['python', 'train.py'].",
    )
    git_version: str | None = Field(
        default=None,
        description="For jobs built from a Git repository: a commit hash or a branch name.",
    )
    name: str | None = Field(
        default=None, description="Name of the launched W&B run. Defaults to a random name."
    )
    run_id: str | None = Field(
        default=None,
        description=(
            "W&B run id of the launched run. Defaults to a new id, so the run's URL is known "
            "as soon as it is queued."
        ),
    )
    resource: str | None = Field(
        default=None,
        description=(
            "Execution resource: local-container (default for local runs), local-process, "
            "kubernetes, sagemaker, vertex. For a queue, the queue's resource is used."
        ),
    )
    resource_args: dict[str, Any] | None = Field(
        default=None,
        description="Arguments for the execution resource; not used for local runs.",
    )
    config: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Base launch specification, e.g. {'overrides': {'run_config': {...}, 'args': [...]}}; "
            "may also hold 'resource_args'."
        ),
    )
    repository: str | None = Field(
        default=None, description="Remote repository that built images are pushed to."
    )
    queue: str | None = Field(
        default=None,
        description="Launch queue to enqueue the job to. Without a queue the job runs here.",
    )
    synchronous: bool = Field(
        default=True,
        description="Wait for the launched run to finish (and fail if the run failed).",
    )
    project_queue: str | None = Field(
        default=None,
        description="Project of the queue, for project-scoped queues (queue only).",
    )
    priority: int | None = Field(
        default=None, description="Priority in the queue, 1 being the highest (queue only)."
    )
    template_variables: dict[str, Any] | None = Field(
        default=None,
        description="Values of the queue's template variables, e.g. {'gpus': 2} (queue only).",
    )
    version: str | None = Field(
        default=None, description="Legacy name of git_version; prefer git_version."
    )
    uri: str | None = Field(
        default=None,
        description=(
            "Legacy: W&B Launch no longer runs Git or run URIs; create a job from them "
            "(`wandb job create git <uri> ...`) and set job."
        ),
    )
    parameters: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Legacy: not supported by W&B Launch anymore; use "
            "config: {overrides: {run_config: {...}}} or {overrides: {args: [...]}}."
        ),
    )
    cuda: bool | None = Field(
        default=None,
        description="Legacy: not supported by W&B Launch anymore; use a CUDA base image.",
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        return reject_unknown_fields(cls, data)

    def problems(self) -> list[str]:
        """Mistakes W&B would reject (or silently ignore), one line each, before any call."""
        problems: list[str] = []
        if self.uri is not None:
            problems.append(
                "uri: W&B Launch no longer runs Git or W&B run URIs (wandb ignores this "
                "option); make a job from the repository with `wandb job create git "
                f"{self.uri} --entry-point ...` and set job to its name"
            )
        if self.parameters is not None:
            problems.append(
                "parameters: not supported by W&B Launch anymore; put run config values "
                "under config: {overrides: {run_config: {...}}} or command-line arguments "
                "under config: {overrides: {args: [...]}}"
            )
        if self.cuda is not None:
            problems.append(
                "cuda: not supported by W&B Launch anymore; use a CUDA base image "
                "(docker_image, or the job's image)"
            )
        if self.version is not None and self.git_version is not None:
            problems.append("version: legacy name of git_version; set only git_version")
        if (self.job is None) == (self.docker_image is None):
            problems.append(
                "job, docker_image: give exactly one (the Launch job to run, or a Docker image)"
            )
        if self.queue is None:
            problems += [
                f"{key}: only used with a queue; set queue or remove {key}"
                for key in _QUEUE_ONLY
                if getattr(self, key) is not None
            ]
        return problems

    def launch_kwargs(self, *, entity: str | None, project: str, run_id: str) -> dict[str, Any]:
        """Keyword arguments shared by ``launch_add`` and ``launch`` (no queue, no api)."""
        return {
            "job": self.job,
            "docker_image": self.docker_image,
            "entry_point": list(self.entry_point) if self.entry_point is not None else None,
            "version": self.git_version if self.git_version is not None else self.version,
            "name": self.name,
            "run_id": run_id,
            "resource": self.resource,
            # wandb writes into these dicts; give it copies of the run configuration
            "resource_args": copy.deepcopy(self.resource_args),
            "config": copy.deepcopy(self.config),
            "repository": self.repository,
            "entity": entity,
            "project": project,
        }

    def launch_add_kwargs(self, *, entity: str | None, project: str, run_id: str) -> dict[str, Any]:
        """Keyword arguments of ``launch_add`` for this configuration (queue required)."""
        return {
            **self.launch_kwargs(entity=entity, project=project, run_id=run_id),
            "queue_name": self.queue,
            "project_queue": self.project_queue,
            "priority": self.priority,
            "template_variables": copy.deepcopy(self.template_variables),
        }
