"""Lifecycle steps as Dagster definitions: ops for jobs and schedules, assets for the graph.

:func:`build_wandb_lifecycle_op` and :func:`build_wandb_lifecycle_asset` turn a step
(:class:`~dagster_wandb_v2.PromoteVersion`, :class:`~dagster_wandb_v2.UpdateVersion`,
:class:`~dagster_wandb_v2.LinkVersion`, :class:`~dagster_wandb_v2.CleanUpVersions`) into an op
or an asset whose typed run config is the step's class with the step's values as defaults
(the launchpad shows them; a run may override any, e.g. ``dry_run: false``). What the step
did is the op's output metadata or the asset's materialization metadata.
:func:`~dagster_wandb_v2.validate_definitions` checks each step against the definitions: the
asset exists, is written by a W&B IO manager, and the partition is given and known.

Example (a nightly cleanup, dry run off)::

    from dagster import Definitions, ScheduleDefinition, job
    from dagster_wandb_v2 import CleanUpVersions, build_wandb_lifecycle_op

    clean_up = build_wandb_lifecycle_op(
        CleanUpVersions(asset="model", dry_run=False), name="clean_up_model"
    )

    @job
    def nightly_clean_up() -> None:
        clean_up()

    defs = Definitions(
        jobs=[nightly_clean_up],
        schedules=[ScheduleDefinition(job=nightly_clean_up, cron_schedule="0 3 * * *")],
        resources={"wandb": ...},
    )
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    In,
    MaterializeResult,
    MultiPartitionsDefinition,
    Nothing,
    OpDefinition,
    OpExecutionContext,
    Out,
    Output,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
    op,
)
from pydantic import Field, create_model

from dagster_wandb_v2._unknown_keys import did_you_mean
from dagster_wandb_v2.lifecycle import (
    STEP_KINDS,
    LifecycleReport,
    LifecycleStep,
    VersionTarget,
    run_lifecycle_step,
)
from dagster_wandb_v2.resource import WandbResource

LIFECYCLE_TAG = "dagster_wandb_v2/lifecycle"
"""Op tag naming the step's kind (``promote``, ``update``, ``link``, ``clean_up``)."""

AFTER_INPUT = "after"
"""The ``Nothing`` input of a lifecycle op: wire an upstream op to run it after that one."""


def _config_class(step: LifecycleStep, name: str) -> type[VersionTarget]:
    """``type(step)`` with ``step``'s values as the defaults of its fields."""
    step_class = type(step)
    fields: dict[str, Any] = {
        field_name: (
            info.annotation,
            Field(default=getattr(step, field_name), description=info.description),
        )
        for field_name, info in step_class.model_fields.items()
    }
    model: type[VersionTarget] = create_model(
        f"{step_class.__name__}_{name}",
        __base__=step_class,
        __module__=step_class.__module__,
        **fields,
    )
    return model


def _report(context: Any, report: LifecycleReport, dry_run: bool) -> None:
    details = ", ".join(f"{key}={value!r}" for key, value in report.details.items())
    prefix = "dry run, nothing deleted: " if dry_run else ""
    context.log.info(f"{prefix}{report.kind} {report.collection} {report.version or ''}: {details}")


def build_wandb_lifecycle_op(
    step: LifecycleStep,
    *,
    name: str,
    wandb_resource_key: str = "wandb",
    description: str | None = None,
) -> OpDefinition:
    """An op running ``step`` (its run config: ``step``'s class, ``step``'s values as defaults).

    The op has a ``Nothing`` input ``after`` (run it after another op: ``promote(after=
    evaluate())``) and a ``Nothing`` output whose metadata says what was done (run it before
    another op). It needs a :class:`~dagster_wandb_v2.WandbResource` under
    ``wandb_resource_key``. Raises what :func:`~dagster_wandb_v2.run_lifecycle_step` raises.
    """
    config_class = _config_class(step, name)

    @op(
        name=name,
        description=description or (type(step).__doc__ or "").split("\n\n")[0],
        ins={AFTER_INPUT: In(Nothing)},
        out=Out(Nothing),
        required_resource_keys={wandb_resource_key},
        tags={LIFECYCLE_TAG: step.kind},
    )
    def _lifecycle_op(context: OpExecutionContext, config: config_class) -> Output[None]:  # type: ignore[valid-type]
        resource: WandbResource = getattr(context.resources, wandb_resource_key)
        report = run_lifecycle_step(resource, config, step_name=f"op '{name}'")
        _report(context, report, bool(getattr(config, "dry_run", False)))
        return Output(None, metadata=report.metadata)

    return _lifecycle_op


def build_wandb_lifecycle_asset(
    step: LifecycleStep,
    *,
    name: str,
    deps: Sequence[Any] = (),
    group_name: str | None = None,
    partitions_def: PartitionsDefinition[Any] | None = None,
    wandb_resource_key: str = "wandb",
    description: str | None = None,
    **asset_kwargs: Any,
) -> AssetsDefinition:
    """An asset running ``step``, downstream of ``deps`` (e.g. the evaluation asset).

    Its materialization metadata says what was done. With ``partitions_def`` (the target
    asset's), each partition's run acts on that partition's version. Other keyword arguments
    go to ``@asset`` (``automation_condition``, ``tags``, ...).
    """
    config_class = _config_class(step, name)

    decorator: Any = asset(
        name=name,
        deps=list(deps),
        group_name=group_name,
        partitions_def=partitions_def,
        description=description or (type(step).__doc__ or "").split("\n\n")[0],
        required_resource_keys={wandb_resource_key},
        op_tags={LIFECYCLE_TAG: step.kind},
        kinds={"wandb"},
        **asset_kwargs,
    )

    def _lifecycle_asset(context: AssetExecutionContext, config: config_class) -> MaterializeResult:  # type: ignore[valid-type,type-arg]
        resource: WandbResource = getattr(context.resources, wandb_resource_key)
        partition_key = context.partition_key if context.has_partition_key else None
        report = run_lifecycle_step(
            resource,
            config,
            partition_key=partition_key,
            step_name=f"asset '{name}'",
        )
        _report(context, report, bool(getattr(config, "dry_run", False)))
        return MaterializeResult(metadata=report.metadata)

    return cast(AssetsDefinition, decorator(_lifecycle_asset))


def lifecycle_steps(op_defs: Iterable[OpDefinition]) -> list[tuple[OpDefinition, LifecycleStep]]:
    """The lifecycle ops among ``op_defs``, with the step their defaults describe."""
    found = []
    for op_def in op_defs:
        kind = op_def.tags.get(LIFECYCLE_TAG)
        if kind not in STEP_KINDS or op_def.config_schema is None:
            continue
        defaults = op_def.config_schema.as_field().default_value
        step = cast(LifecycleStep, STEP_KINDS[kind].model_validate(defaults))
        found.append((op_def, step))
    return found


def lifecycle_problems(
    op_defs: Iterable[OpDefinition],
    wandb_keys: set[str],
    io_manager_of: Mapping[AssetKey, str | None],
    partitions_def_of: Mapping[AssetKey, Any],
    own_partitions_def_of: Mapping[str, Any],
) -> list[str]:
    """What is wrong with the lifecycle steps of a ``Definitions``, one line per problem.

    ``io_manager_of`` and ``partitions_def_of`` describe its assets;
    ``own_partitions_def_of`` maps a lifecycle asset's op name to its partitions.
    """
    problems = []
    known = {key.to_user_string(): key for key in io_manager_of}
    for op_def, step in lifecycle_steps(op_defs):
        key = step.asset_key()
        if key is None:
            continue
        where = f"op '{op_def.name}': {step.describe()}"
        if key not in io_manager_of:
            problems.append(
                f"{where}: asset: '{step.asset}' is not an asset of these definitions"
                + did_you_mean(str(step.asset), known)
            )
            continue
        if io_manager_of[key] not in wandb_keys:
            problems.append(
                f"{where}: asset: '{step.asset}' is not written by a W&B IO manager (its IO "
                f"manager is '{io_manager_of[key]}'), so W&B holds no versions of it"
            )
        problems += _partition_problems(
            where, step, partitions_def_of.get(key), own_partitions_def_of.get(op_def.name)
        )
    return problems


def _partition_problems(
    where: str, step: VersionTarget, partitions_def: Any, own_partitions_def: Any
) -> list[str]:
    if partitions_def is None:
        if step.partition is not None:
            return [f"{where}: partition: asset '{step.asset}' is not partitioned"]
        return []
    if step.partition is None:
        if own_partitions_def is not None:
            return []  # each run acts on its own partition
        return [
            f"{where}: partition: asset '{step.asset}' is partitioned (one W&B artifact per "
            "partition); give the partition, or partitions_def to the lifecycle asset"
        ]
    static = isinstance(partitions_def, StaticPartitionsDefinition) or (
        isinstance(partitions_def, MultiPartitionsDefinition)
        and all(
            isinstance(d.partitions_def, StaticPartitionsDefinition)
            for d in partitions_def.partitions_defs
        )
    )
    if static and step.partition not in partitions_def.get_partition_keys():
        return [f"{where}: partition: asset '{step.asset}' has no partition '{step.partition}'"]
    return []


__all__ = [
    "LIFECYCLE_TAG",
    "build_wandb_lifecycle_asset",
    "build_wandb_lifecycle_op",
    "lifecycle_problems",
    "lifecycle_steps",
]
