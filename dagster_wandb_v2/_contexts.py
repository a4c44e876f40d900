"""What the IO manager needs from Dagster's Output/Input/InitResource contexts.

Kept in one place so the IO manager reads as the flow it is, and so the few places that
look at Dagster internals (execution plan, event log) are easy to find and guard.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterInvariantViolationError,
    InitResourceContext,
    InputContext,
    MetadataValue,
    MultiPartitionsDefinition,
    OpExecutionContext,
    OutputContext,
)

from dagster_wandb_v2._location import Location
from dagster_wandb_v2.config import CONFIG_KEY
from dagster_wandb_v2.errors import WandbArtifactsIOManagerError, WandbConfigurationError
from dagster_wandb_v2.naming import partition_artifact_name

LEGACY_CONFIG_KEY = "wandb_artifact_arguments"
"""Spelling used in some examples of the published guide; accepted with a warning."""


def output_location(context: OutputContext) -> Location:
    if context.has_asset_key:
        return Location("asset", context.asset_key.to_user_string(), "output", context.name)
    return Location("op", _op_name(context), "output", context.name)


OUTSIDE_A_STEP = "(loaded outside a run)"
"""The input name in messages about a value loaded outside a step (``load_asset_value``)."""


def input_location(context: InputContext) -> Location:
    """Where an input is: the reading asset or op, or the upstream asset when loaded
    outside a step (``Definitions.load_asset_value``, ``build_input_context``)."""
    name = context.name if context.has_input_name else OUTSIDE_A_STEP
    step_context = step_context_of(context)
    if step_context is None:
        if context.has_asset_key:
            return Location("asset", context.asset_key.to_user_string(), "input", name)
        return Location("op", _op_name(context), "input", name)
    kind: Any = "op"
    node_name = _op_name(context)
    try:
        if step_context.is_sda_step:
            kind = "asset"
            assets_def = step_context.assets_def
            if assets_def is not None and len(assets_def.keys) == 1:
                node_name = next(iter(assets_def.keys)).to_user_string()
    except Exception:
        pass
    return Location(kind, node_name, "input", name)


def _op_name(context: OutputContext | InputContext) -> str:
    """The op's name; ``"<op>"`` for a context built without one (``build_*_context``)."""
    try:
        return str(context.op_def.name)
    except DagsterInvariantViolationError:
        return "<op>"


def log_of(context: OutputContext | InputContext) -> logging.Logger | Any:
    """The context's Dagster log, else this module's logger (a context built by hand)."""
    try:
        return context.log
    except DagsterInvariantViolationError:
        return logging.getLogger("dagster_wandb_v2")


def raw_config(
    metadata: Mapping[str, Any] | None, location: Location, log: logging.Logger | Any
) -> object:
    """The user's configuration dict (``None`` when absent)."""
    metadata = metadata or {}
    if LEGACY_CONFIG_KEY in metadata:
        if CONFIG_KEY in metadata:
            raise WandbConfigurationError(
                [
                    f"{location}: both '{CONFIG_KEY}' and '{LEGACY_CONFIG_KEY}' are set in "
                    f"metadata; keep only '{CONFIG_KEY}'"
                ]
            )
        log.warning(f"{location}: metadata key '{LEGACY_CONFIG_KEY}' is read as '{CONFIG_KEY}'")
        return metadata[LEGACY_CONFIG_KEY]
    return metadata.get(CONFIG_KEY)


def _typed_partition_key(partitions_def: Any, key: str) -> str:
    if isinstance(partitions_def, MultiPartitionsDefinition):
        return partitions_def.get_partition_key_from_str(str(key))
    return key


def write_targets(
    context: OutputContext, value: Any, base_name: str, location: Location
) -> list[tuple[str, Any, str | None]]:
    """``(artifact name, value, partition key)`` for each artifact this output writes.

    Several partitions in one run (e.g. a single-run backfill) need a dict keyed by
    partition key; each value becomes its own artifact.
    """
    if context.has_asset_partitions:
        partitions_def = context.asset_partitions_def
        keys = [_typed_partition_key(partitions_def, key) for key in context.asset_partition_keys]
        if len(keys) == 1:
            return [(partition_artifact_name(base_name, keys[0]), value, keys[0])]
        if not isinstance(value, Mapping):
            raise WandbArtifactsIOManagerError(
                f"{location}: this run materializes {len(keys)} partitions, so the output must "
                f"be a dict keyed by partition key; got {type(value).__name__}"
            )
        missing = [key for key in keys if key not in value]
        extra = sorted(str(key) for key in value if key not in set(keys))
        if missing or extra:
            raise WandbArtifactsIOManagerError(
                f"{location}: the output dict must have exactly the partition keys of this run; "
                f"missing: {[str(key) for key in missing]}, unexpected: {extra}"
            )
        return [(partition_artifact_name(base_name, key), value[key], key) for key in keys]
    if context.has_partition_key:
        key = context.partition_key
        return [(partition_artifact_name(base_name, key), value, key)]
    return [(base_name, value, None)]


def ordered_partition_keys(context: InputContext) -> list[str]:
    """The partition keys an input reads, in partition order (Dagster gives no order).

    A context built without the partitions definition (``build_input_context``) keeps
    the keys as given, sorted.
    """
    try:
        partitions_def = context.asset_partitions_def
    except DagsterInvariantViolationError:
        return sorted(context.asset_partition_keys, key=str)
    keys = [_typed_partition_key(partitions_def, key) for key in context.asset_partition_keys]
    try:
        instance = context.instance
    except DagsterInvariantViolationError:  # built without one: static partitions still order
        instance = None
    try:
        all_keys = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
        order = {str(key): index for index, key in enumerate(all_keys)}
        return sorted(keys, key=lambda key: (order.get(str(key), len(order)), str(key)))
    except Exception:
        return sorted(keys, key=str)


_SHARED_METADATA_PREFIXES = ("dagster_run", "wandb_run", "wandb_entity", "wandb_project")


def output_metadata(
    summary: Sequence[tuple[str | None, Mapping[str, MetadataValue]]],
) -> dict[str, Any]:
    """The output metadata: the artifact's own, or a per-partition table for several."""
    if len(summary) == 1:
        return dict(summary[0][1])
    first = summary[0][1]
    shared: dict[str, Any] = {
        key: first[key] for key in first if key.startswith(_SHARED_METADATA_PREFIXES)
    }
    rows = "\n".join(
        f"| {key} | {meta['wandb_artifact_version'].value} | {meta['wandb_artifact_url'].value} |"
        for key, meta in summary
    )
    shared["wandb_artifacts"] = MetadataValue.md(
        f"| partition | version | url |\n|---|---|---|\n{rows}"
    )
    shared["wandb_artifact_urls"] = MetadataValue.json(
        {str(key): meta["wandb_artifact_url"].value for key, meta in summary}
    )
    return shared


StepContext = Any
"""Dagster's ``StepExecutionContext`` (internal, so not imported)."""


def step_context_of(context: Any) -> StepContext:
    """The step execution context behind an Output/Input context or an asset/op context."""
    try:
        if isinstance(context, (OutputContext, InputContext)):
            return context.step_context
        if hasattr(context, "get_step_execution_context"):  # Asset/OpExecutionContext
            return context.get_step_execution_context()
    except Exception:
        return None
    return context  # already a step execution context


def step_key(step_context: StepContext) -> str | None:
    try:
        return str(step_context.step.key)
    except Exception:
        return None


def outputs_for_io_manager(context: OutputContext) -> set[str] | None:
    """The outputs this step hands to the IO manager handling ``context``'s output (those
    with its ``io_manager_key``, among the step's outputs), ``None`` when unknown."""
    try:
        op_def = context.op_def
        key = op_def.output_def_named(context.name).io_manager_key
        names = [str(output.name) for output in context.step_context.step.step_outputs]
        return {name for name in names if op_def.output_def_named(name).io_manager_key == key}
    except Exception:
        return None


def current_step_key() -> str | None:
    """The key of the step whose code is running in this thread, ``None`` outside a step.

    From Dagster's current execution context (``OpExecutionContext.get()``), set while
    an asset's or op's compute function runs.
    """
    try:
        return step_key(OpExecutionContext.get().get_step_execution_context())
    except DagsterInvariantViolationError:
        return None


def single_step_scope(step_context: StepContext) -> str | None:
    """The step key when this process runs one step of a multi-step run, else ``None``.

    That is the multiprocess executor's case: parallel steps in separate processes, each
    needing its own W&B run. With the in-process executor every step shares one run.
    """
    try:
        plan = step_context.execution_plan
        in_this_process = list(plan.step_keys_to_execute)
        run_keys = step_context.dagster_run.step_keys_to_execute
        steps_in_run = len(run_keys) if run_keys else len(plan.step_dict)
    except Exception:
        return None
    if len(in_this_process) == 1 and steps_in_run > 1:
        return str(in_this_process[0])
    return None


_STEP_OUTCOMES = {
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_UP_FOR_RETRY,
}
_FAILED_OUTCOMES = {DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY}


def steps_failed(context: InitResourceContext, step_keys: Collection[str] | None) -> bool | None:
    """Whether any of ``step_keys`` (``None``: any step) of this run ended failed.

    A step's outcome is its latest: a step retried by Dagster (``RetryPolicy``,
    ``RetryRequested``) whose retry succeeded did not fail; one up for retry when this
    process ends (the multiprocess executor runs the retry in a new process, which decides
    again) did. ``None`` when the run's event log cannot be read (no instance or run, as
    with ``build_output_context``).
    """
    if context.instance is None or context.run is None:
        return None
    return steps_failed_in(context.instance, context.run.run_id, step_keys)


def steps_failed_in(
    instance: DagsterInstance, run_id: str, step_keys: Collection[str] | None
) -> bool | None:
    """:func:`steps_failed` for the run ``run_id`` of ``instance``, so far."""
    try:
        records = instance.get_records_for_run(run_id, of_type=_STEP_OUTCOMES).records
    except Exception:
        return None
    latest: dict[str | None, DagsterEventType | None] = {}
    for record in records:  # oldest first
        entry = record.event_log_entry
        latest[entry.step_key] = entry.dagster_event_type
    return any(
        outcome in _FAILED_OUTCOMES
        for key, outcome in latest.items()
        if step_keys is None or key in step_keys
    )
