"""The ``lifecycle`` section of :class:`~dagster_wandb_v2.WandbComponent`: version lifecycle
steps declared in YAML.

Each entry names one step (``promote``, ``update``, ``link`` or ``clean_up``, with the keys
of :class:`~dagster_wandb_v2.PromoteVersion`, :class:`~dagster_wandb_v2.UpdateVersion`,
:class:`~dagster_wandb_v2.LinkVersion` or :class:`~dagster_wandb_v2.CleanUpVersions`) and
becomes an asset (:func:`~dagster_wandb_v2.build_wandb_lifecycle_asset`) downstream of
``deps``; with ``cron_schedule``, also a job materializing it and its schedule.

Example ``defs.yaml``::

    type: dagster_wandb_v2.WandbComponent
    attributes:
      project: my_project
      lifecycle:
        - name: production_model
          promote: {asset: model, aliases: [production]}
          deps: [evaluation]
        - name: clean_up_model
          clean_up: {asset: model, keep_last: 3, dry_run: false}
          cron_schedule: "0 3 * * *"
"""

from typing import Annotated, Any

from dagster import AssetsDefinition, ScheduleDefinition, define_asset_job
from dagster.components import Model, Resolvable, Resolver
from pydantic import ConfigDict, Field, model_validator

from dagster_wandb_v2._unknown_keys import unknown_field_problems
from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.lifecycle import STEP_KINDS, LifecycleStep
from dagster_wandb_v2.lifecycle_definitions import build_wandb_lifecycle_asset


def _doc(description: str) -> Resolver:
    resolver: Resolver = Resolver.default(description=description)
    return resolver


class WandbLifecycleStepSettings(Model, Resolvable):
    """One entry of ``lifecycle``: a step, the asset it runs as, and its schedule."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: Annotated[str, _doc("Name of the lifecycle asset (and op).")] = Field(min_length=1)
    promote: Annotated[
        dict[str, Any] | None, _doc("Add aliases to a version: asset, version, aliases.")
    ] = None
    update: Annotated[
        dict[str, Any] | None,
        _doc("Set a version's description, merge metadata: asset, version, description, metadata."),
    ] = None
    link: Annotated[
        dict[str, Any] | None,
        _doc("Link a version to a W&B Registry collection: asset, version, target_path, aliases."),
    ] = None
    clean_up: Annotated[
        dict[str, Any] | None,
        _doc("Delete unprotected versions: asset, dry_run (default true), keep_last, versions."),
    ] = None
    deps: Annotated[list[str], _doc("Asset keys the step runs after (e.g. the evaluation).")] = (
        Field(default_factory=list)
    )
    group_name: Annotated[str | None, _doc("Asset group of the lifecycle asset.")] = None
    cron_schedule: Annotated[
        str | None, _doc("Run the step on this cron schedule (a job and a schedule).")
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        """A ``ValueError`` with a did-you-mean per unknown key (``dg`` reports it)."""
        problems = unknown_field_problems(cls.__name__, data, cls.model_fields)
        if problems:
            raise ValueError("; ".join(problems))
        return data

    @model_validator(mode="after")
    def _one_valid_step(self) -> "WandbLifecycleStepSettings":
        self.step()
        return self

    def step(self) -> LifecycleStep:
        """The step this entry describes.

        Raises ``ValueError`` (what ``dg`` reports against the YAML) naming the entry and key.
        """
        given = {kind: getattr(self, kind) for kind in STEP_KINDS if getattr(self, kind)}
        if len(given) != 1:
            raise ValueError(
                f"lifecycle '{self.name}': give exactly one of {', '.join(STEP_KINDS)} "
                f"(got {', '.join(given) or 'none'})"
            )
        ((kind, values),) = given.items()
        try:
            step: LifecycleStep = STEP_KINDS[kind](**values)  # type: ignore[assignment]
        except WandbConfigurationError as error:
            raise ValueError(
                "; ".join(f"lifecycle '{self.name}': {kind}: {p}" for p in error.problems)
            ) from None
        return step

    def build(self, wandb_resource_key: str) -> dict[str, list[Any]]:
        """``{"assets": [...], "jobs": [...], "schedules": [...]}`` for ``Definitions``."""
        lifecycle_asset: AssetsDefinition = build_wandb_lifecycle_asset(
            self.step(),
            name=self.name,
            deps=list(self.deps),
            group_name=self.group_name,
            wandb_resource_key=wandb_resource_key,
        )
        built: dict[str, list[Any]] = {"assets": [lifecycle_asset], "jobs": [], "schedules": []}
        if self.cron_schedule is not None:
            lifecycle_job = define_asset_job(f"{self.name}_job", selection=[lifecycle_asset.key])
            built["jobs"].append(lifecycle_job)
            built["schedules"].append(
                ScheduleDefinition(job=lifecycle_job, cron_schedule=self.cron_schedule)
            )
        return built


__all__ = ["WandbLifecycleStepSettings"]
