"""``WandbComponent``: declare the W&B resource and IO manager in a ``defs.yaml``.

For projects managed with ``dg`` (Dagster Components). The component builds
``Definitions(resources=...)`` holding a :class:`~dagster_wandb_v2.WandbResource` and a
:class:`~dagster_wandb_v2.WandbArtifactsIOManager`, under the resource keys the rest of
the project uses (``wandb`` and ``wandb_artifacts_manager`` by default).

Example ``defs/wandb_resources/defs.yaml``::

    type: dagster_wandb_v2.WandbComponent
    attributes:
      entity: my_entity
      project: my_project
      api_key_env_var: WANDB_API_KEY   # the NAME of the variable, never the key
      io_manager:
        cache_duration_in_minutes: 60
        run_tags: [nightly]

The API key is read from the environment when a run starts (``EnvVar``), so it never
appears in the definitions or in the UI. Do not write ``{{ env.WANDB_API_KEY }}`` in the
YAML: templates are rendered when the definitions load, which would put the key itself in
them. Unknown keys are rejected (``dg check yaml`` reports them).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from dagster import Definitions, EnvVar
from dagster.components import (
    Component,
    ComponentLoadContext,
    ComponentTypeSpec,
    Model,
    ResolutionContext,
    Resolvable,
    Resolver,
    Scaffolder,
    ScaffoldRequest,
    scaffold_component,
    scaffold_with,
)
from pydantic import (
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    field_validator,
    model_validator,
)

from dagster_wandb_v2._unknown_keys import unknown_field_problems
from dagster_wandb_v2.client import WANDB_CLOUD_HOST
from dagster_wandb_v2.io_manager import WandbArtifactsIOManager
from dagster_wandb_v2.lifecycle_component import WandbLifecycleStepSettings
from dagster_wandb_v2.resource import WandbResource

_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_var_name(value: str, holds: str) -> str:
    """``value`` if it names an environment variable; the message never echoes it."""
    if not _ENV_VAR_NAME.fullmatch(value):
        raise ValueError(
            "must be the NAME of an environment variable (letters, digits, '_'), e.g. WANDB_API_KEY"
        )
    if len(value) >= 32 and not value.isupper():
        raise ValueError(
            f"looks like the {holds} itself, not the NAME of the environment variable holding "
            "it; write the variable's name (and no '{{ env.X }}', which inlines the value)"
        )
    return value


def _known_keys_only(model: type[Model], data: Any) -> Any:
    """``data`` if every key is a field; else a ``ValueError`` with a did-you-mean per key
    (a ``ValueError``, so that ``dg`` reports it against the YAML)."""
    problems = unknown_field_problems(model.__name__, data, model.model_fields)
    if problems:
        raise ValueError("; ".join(problems))
    return data


def _doc(description: str) -> Resolver:
    """A field's description, as shown by ``dg`` (schema, docs, ``dg check yaml``)."""
    resolver: Resolver = Resolver.default(description=description)
    return resolver


# Bounds live in the field types (``NonNegativeInt``), never in ``Field(ge=...)``: Dagster
# copies a ``Field``'s constraints onto the YAML model, where every field also accepts a
# template string, and a number bound cannot apply to a template. In the type, the bound
# applies to a number in the YAML and to a template's rendered value.


class WandbIOManagerSettings(Model, Resolvable):
    """The ``io_manager`` block: settings of the W&B Artifacts IO manager.

    Unset settings keep :class:`~dagster_wandb_v2.WandbArtifactsIOManager`'s defaults.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        return _known_keys_only(cls, data)

    key: Annotated[
        str,
        _doc("Resource key of the IO manager (the io_manager_key of your assets)."),
    ] = Field(default="wandb_artifacts_manager", min_length=1)
    base_dir: Annotated[
        str | None,
        _doc("Local storage and cache directory; defaults to the Dagster storage dir."),
    ] = Field(default=None)
    cache_duration_in_minutes: Annotated[
        NonNegativeInt | None,
        _doc("How long unused cached artifacts are kept (default 30 days); 0: no cache."),
    ] = Field(default=None)
    run_id: Annotated[
        str | None,
        _doc("W&B run id; defaults to the Dagster run id (resumable)."),
    ] = Field(default=None)
    run_name: Annotated[
        str | None,
        _doc("W&B run name; defaults to dagster-run-<first 8 chars>."),
    ] = Field(default=None)
    run_tags: Annotated[
        list[str] | None,
        _doc("W&B run tags; 'dagster_wandb' is always added."),
    ] = Field(default=None)
    run_per_step: Annotated[
        bool | None,
        _doc(
            "One W&B run per step under the in-process executor too, so W&B's lineage "
            "mirrors Dagster's step by step (default false: one run per Dagster run)."
        ),
    ] = Field(default=None)
    max_concurrent_reads: Annotated[
        PositiveInt | None,
        _doc("How many partitions of one input are looked up and downloaded at once."),
    ] = Field(default=None)
    unpickle_while_receiving_from_bytes: Annotated[
        NonNegativeInt | None,
        _doc(
            "Unsigned pickle, dill and cloudpickle payloads of at least this many bytes are "
            "unpickled while they arrive, smaller ones once checked (default 32 MiB)."
        ),
    ] = Field(default=None)
    signing_key_env_var: Annotated[
        str | None,
        _doc(
            "NAME of the environment variable holding the key that signs serialized payloads "
            "(HMAC-SHA256); with it, unsigned or tampered payloads are refused on read."
        ),
    ] = Field(default=None)

    @field_validator("signing_key_env_var")
    @classmethod
    def _signing_key_env_var_name(cls, value: str | None) -> str | None:
        return None if value is None else _env_var_name(value, "signing key")

    def build(self, wandb: WandbResource) -> WandbArtifactsIOManager:
        """The IO manager these settings describe, using ``wandb``."""
        settings = {
            name: getattr(self, name)
            for name in (
                "base_dir",
                "cache_duration_in_minutes",
                "run_id",
                "run_name",
                "run_tags",
                "run_per_step",
                "max_concurrent_reads",
                "unpickle_while_receiving_from_bytes",
            )
            if getattr(self, name) is not None
        }
        if self.signing_key_env_var is not None:
            settings["signing_key"] = EnvVar(self.signing_key_env_var)
        return WandbArtifactsIOManager(wandb=wandb, **settings)


def _resolve_io_manager_block(
    context: ResolutionContext, block: Any
) -> WandbIOManagerSettings | None:
    """The ``io_manager`` block resolved; a template in place of the block is refused by name.

    Dagster accepts a template string for any attribute, but a template renders to a string
    and this block is a mapping: template the settings inside it instead.
    """
    if block is None:
        return None
    if isinstance(block, str):
        raise ValueError(
            "io_manager: expected a block of settings (or null), got a string (a template "
            "renders to text); template the settings inside the block instead, e.g. "
            "'io_manager: {cache_duration_in_minutes: \"{{ env.WANDB_CACHE_MINUTES }}\"}'"
        )
    settings: WandbIOManagerSettings = WandbIOManagerSettings.resolve_from_model(context, block)
    return settings


class WandbComponentScaffolder(Scaffolder[Any]):
    """``dg scaffold defs dagster_wandb_v2.WandbComponent <path>``: a ``defs.yaml`` to edit."""

    def scaffold(self, request: ScaffoldRequest[Any]) -> None:
        scaffold_component(
            request,
            {
                "entity": "my_entity",
                "project": "my_project",
                "api_key_env_var": "WANDB_API_KEY",
            },
        )


@scaffold_with(WandbComponentScaffolder)
class WandbComponent(Component, Resolvable, Model):
    """The W&B resource and the W&B Artifacts IO manager, declared in YAML.

    Builds ``Definitions(resources={resource_key: WandbResource(...),
    io_manager.key: WandbArtifactsIOManager(...)})``; set ``io_manager: null`` for the
    resource alone.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        return _known_keys_only(cls, data)

    project: Annotated[
        str | None,
        _doc(
            "W&B project receiving runs and artifacts; defaults to the WANDB_PROJECT "
            "environment variable when a run starts."
        ),
    ] = Field(default=None, min_length=1)
    entity: Annotated[
        str | None,
        _doc(
            "W&B entity (user or team); defaults to the WANDB_ENTITY environment variable, "
            "else the API key's default entity."
        ),
    ] = Field(default=None)
    host: Annotated[
        str | None,
        _doc(
            "W&B API host; defaults to the WANDB_BASE_URL environment variable, else "
            f"{WANDB_CLOUD_HOST}."
        ),
    ] = Field(default=None)
    api_key_env_var: Annotated[
        str,
        _doc(
            "NAME of the environment variable holding the W&B API key, read when a run "
            "starts. Never the key itself (and not '{{ env.X }}', which would inline it)."
        ),
    ] = Field(default="WANDB_API_KEY")
    max_retries: Annotated[
        NonNegativeInt | None,
        _doc("Retries of a failed W&B request before the step fails; default: the SDK's."),
    ] = Field(default=None)
    retry_wait_max_seconds: Annotated[
        PositiveInt | None,
        _doc("Longest wait between two retries; waits grow from 1 s up to it."),
    ] = Field(default=None)
    request_timeout_seconds: Annotated[
        PositiveInt | None,
        _doc("Timeout of one W&B request attempt; default: the SDK's."),
    ] = Field(default=None)
    resource_key: Annotated[
        str,
        _doc("Resource key of the WandbResource (the parameter name in your ops)."),
    ] = Field(default="wandb", min_length=1)
    io_manager: Annotated[
        WandbIOManagerSettings | None,
        Resolver(
            _resolve_io_manager_block,
            model_field_type=WandbIOManagerSettings.model() | None,
            description="W&B Artifacts IO manager settings; null for no IO manager.",
        ),
    ] = Field(default_factory=WandbIOManagerSettings)

    lifecycle: Annotated[
        list[WandbLifecycleStepSettings],
        _doc(
            "Version lifecycle steps (promote, update, link, clean_up), each an asset, "
            "optionally on a cron schedule; see docs/lifecycle.md."
        ),
    ] = Field(default_factory=list)

    @field_validator("api_key_env_var")
    @classmethod
    def _api_key_env_var_name(cls, value: str) -> str:
        return _env_var_name(value, "API key")

    @model_validator(mode="after")
    def _distinct_keys(self) -> WandbComponent:
        if self.io_manager is not None and self.io_manager.key == self.resource_key:
            raise ValueError(
                f"resource_key and io_manager.key are both '{self.resource_key}'; "
                "give them different names"
            )
        return self

    @classmethod
    def get_spec(cls) -> ComponentTypeSpec:
        return ComponentTypeSpec(
            description="W&B resource and W&B Artifacts IO manager for the project.",
            tags=["wandb"],
            produces=["resource"],
        )

    def build_resource(self) -> WandbResource:
        """The ``WandbResource``: API key from the environment variable, at run start."""
        settings: dict[str, Any] = {}
        for name in (
            "project",
            "entity",
            "host",
            "max_retries",
            "retry_wait_max_seconds",
            "request_timeout_seconds",
        ):
            if getattr(self, name) is not None:
                settings[name] = getattr(self, name)
        return WandbResource(api_key=EnvVar(self.api_key_env_var), **settings)

    def build_resources(self) -> dict[str, Any]:
        """Resource key -> resource, as put in the ``Definitions``."""
        wandb = self.build_resource()
        resources: dict[str, Any] = {self.resource_key: wandb}
        if self.io_manager is not None:
            resources[self.io_manager.key] = self.io_manager.build(wandb)
        return resources

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        built: dict[str, list[Any]] = {"assets": [], "jobs": [], "schedules": []}
        for step in self.lifecycle:
            for kind, definitions in step.build(self.resource_key).items():
                built[kind] += definitions
        return Definitions(
            resources=self.build_resources(),
            assets=built["assets"],
            jobs=built["jobs"],
            schedules=built["schedules"],
        )
