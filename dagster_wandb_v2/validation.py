"""Validate every W&B-managed output and input of a ``Definitions`` before any run starts.

Example (at the bottom of your ``definitions.py``, or in a test)::

    from dagster_wandb_v2 import validate_definitions

    defs = Definitions(assets=[...], resources={...})
    validate_definitions(defs)  # raises WandbConfigurationError listing every problem
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dagster import (
    AssetKey,
    Definitions,
    MultiPartitionsDefinition,
    OpDefinition,
    StaticPartitionsDefinition,
)

from dagster_wandb_v2._contexts import LEGACY_CONFIG_KEY, raw_config
from dagster_wandb_v2._location import Location
from dagster_wandb_v2.config import CONFIG_KEY, parse_read_config, parse_write_config
from dagster_wandb_v2.distributed import distributed_asset_keys, distributed_problems
from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.io_manager import WandbArtifactsIOManager
from dagster_wandb_v2.naming import asset_artifact_name, partition_artifact_name


def validate_definitions(defs: Definitions) -> None:
    """Raise :class:`WandbConfigurationError` if any W&B configuration in ``defs`` is invalid."""
    problems = definition_problems(defs)
    if problems:
        raise WandbConfigurationError(problems)


def definition_problems(defs: Definitions) -> list[str]:
    """Every problem of every W&B-managed output and input of ``defs`` (empty if none)."""
    repository = defs.get_repository_def()
    wandb_keys = _wandb_io_manager_keys(defs.resources or {})
    for job in repository.get_all_jobs():
        wandb_keys |= _wandb_io_manager_keys(job.resource_defs)
    if not wandb_keys:
        return []
    assets_defs = {id(a): a for a in repository.assets_defs_by_key.values()}.values()
    io_manager_of = {
        key: assets_def.get_io_manager_key_for_asset_key(key)
        for key, assets_def in repository.assets_defs_by_key.items()
    }
    partitions_def_of = {
        key: assets_def.partitions_def for key, assets_def in repository.assets_defs_by_key.items()
    }
    # Deprecated SourceAssets (external artifacts) are not in assets_defs_by_key.
    for key, source_asset in repository.source_assets_by_key.items():
        io_manager_of.setdefault(key, source_asset.get_io_manager_key())
        partitions_def_of.setdefault(key, source_asset.partitions_def)
    partitioned: dict[AssetKey, bool | None] = {
        key: value is not None for key, value in partitions_def_of.items()
    }
    partitioned.update(dict.fromkeys(distributed_asset_keys(repository), None))
    problems: list[str] = []
    asset_node_names: set[str] = set()
    asset_of_artifact: dict[str, AssetKey] = {}
    for assets_def in assets_defs:
        node_def = assets_def.node_def if assets_def.is_executable else None
        if not isinstance(node_def, OpDefinition):
            continue
        asset_node_names.add(node_def.name)
        for output_def in node_def.output_defs:
            if output_def.io_manager_key not in wandb_keys:
                continue
            asset_key = assets_def.keys_by_output_name.get(output_def.name)
            location = _location("output", node_def.name, output_def.name, asset_key)
            problems += _check(
                lambda raw, location=location, asset_key=asset_key: parse_write_config(
                    raw, location, names_artifact_from_asset_key=asset_key is not None
                ),
                output_def.metadata,
                location,
            )
            if asset_key is not None:
                problems += _shared_name_problems(location, asset_key, assets_def.partitions_def)
                artifact = asset_artifact_name(asset_key)
                other = asset_of_artifact.setdefault(artifact, asset_key)
                if other != asset_key:
                    problems.append(
                        f"{location}: assets '{other.to_user_string()}' and "
                        f"'{asset_key.to_user_string()}' would both be written to the W&B "
                        f"artifact '{artifact}'; rename one of the assets"
                    )
        for input_def in node_def.input_defs:
            upstream = assets_def.keys_by_input_name.get(input_def.name)
            managed = input_def.input_manager_key in wandb_keys or (
                input_def.input_manager_key is None
                and upstream is not None
                and io_manager_of.get(upstream) in wandb_keys
            )
            if not managed:
                continue
            consumer = _single_key(assets_def.keys)
            location = _location("input", node_def.name, input_def.name, consumer)
            problems += _check(
                lambda raw, location=location, upstream=upstream: parse_read_config(
                    raw,
                    location,
                    names_artifact_from_asset_key=upstream is not None,
                    partitioned=partitioned.get(upstream) if upstream is not None else None,
                ),
                input_def.metadata,
                location,
            )
            if upstream is not None:
                problems += _unknown_partition_problems(
                    input_def.metadata, location, upstream, partitions_def_of.get(upstream)
                )
    for job in repository.get_all_jobs():
        for op_def in _op_defs(job.graph.iterate_node_defs()):
            if op_def.name in asset_node_names:
                continue
            for output_def in op_def.output_defs:
                if output_def.io_manager_key in wandb_keys:
                    location = Location("op", op_def.name, "output", output_def.name)
                    returns_artifact = _returns_wandb_artifact(output_def)
                    problems += _check(
                        lambda raw, location=location, returns_artifact=returns_artifact: (
                            parse_write_config(
                                raw,
                                location,
                                names_artifact_from_asset_key=False,
                                value_is_artifact=returns_artifact,
                            )
                        ),
                        output_def.metadata,
                        location,
                    )
            for input_def in op_def.input_defs:
                if input_def.input_manager_key in wandb_keys or CONFIG_KEY in input_def.metadata:
                    location = Location("op", op_def.name, "input", input_def.name)
                    problems += _check(
                        lambda raw, location=location: parse_read_config(
                            raw, location, names_artifact_from_asset_key=False
                        ),
                        input_def.metadata,
                        location,
                    )
    problems += distributed_problems(repository, wandb_keys)
    return list(dict.fromkeys(problems))


def _returns_wandb_artifact(output_def: Any) -> bool:
    """Whether an output is annotated as a ``wandb.Artifact`` (which names itself)."""
    import wandb

    typing_type = getattr(output_def.dagster_type, "typing_type", None)
    return isinstance(typing_type, type) and issubclass(typing_type, wandb.Artifact)


def _wandb_io_manager_keys(resources: Mapping[str, Any]) -> set[str]:
    return {key for key, value in resources.items() if isinstance(value, WandbArtifactsIOManager)}


def _op_defs(node_defs: Iterable[Any]) -> Iterable[OpDefinition]:
    return (node_def for node_def in node_defs if isinstance(node_def, OpDefinition))


def _single_key(keys: Iterable[AssetKey]) -> AssetKey | None:
    keys = list(keys)
    return keys[0] if len(keys) == 1 else None


def _location(side: Any, node_name: str, name: str, asset_key: AssetKey | None) -> Location:
    if asset_key is not None:
        return Location("asset", asset_key.to_user_string(), side, name)
    return Location("op", node_name, side, name)


class _Quiet:
    """A logger for :func:`raw_config` that keeps load-time validation silent."""

    def warning(self, message: str) -> None:
        del message


def _check(parse: Any, metadata: Mapping[str, Any], location: Location) -> list[str]:
    try:
        parse(raw_config(metadata, location, _Quiet()))  # both metadata keys: an error
    except WandbConfigurationError as error:
        return error.problems
    return []


def _unknown_partition_problems(
    metadata: Mapping[str, Any], location: Location, upstream: AssetKey, partitions_def: Any
) -> list[str]:
    """Keys under ``partitions`` that a static upstream does not have (a typo would
    otherwise silently fall back to ``"*"``)."""
    raw = metadata.get(CONFIG_KEY, metadata.get(LEGACY_CONFIG_KEY))
    configured = raw.get("partitions") if isinstance(raw, Mapping) else None
    if not isinstance(partitions_def, StaticPartitionsDefinition) or not isinstance(
        configured, Mapping
    ):
        return []
    known = partitions_def.get_partition_keys()
    listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    return [
        f"{location}: {CONFIG_KEY}.partitions.{key}: asset '{upstream.to_user_string()}' "
        f"has no partition '{key}' (its partitions: {listed})"
        for key in configured
        if key != "*" and key not in known
    ]


def _shared_name_problems(
    location: Location, asset_key: AssetKey, partitions_def: Any
) -> list[str]:
    """Static partitions whose artifact names coincide (one would overwrite the other).

    Names keep valid keys unchanged and give other keys a hashed name, so a key spelled like
    another key's hashed name (``a-b-7dbde9`` next to ``a b``) shares its artifact. Static
    keys are known at load time; dynamic ones are not.
    """
    static = isinstance(partitions_def, StaticPartitionsDefinition) or (
        isinstance(partitions_def, MultiPartitionsDefinition)
        and all(
            isinstance(dimension.partitions_def, StaticPartitionsDefinition)
            for dimension in partitions_def.partitions_defs
        )
    )
    if not static:
        return []
    base_name = asset_artifact_name(asset_key)
    first_key_of: dict[str, str] = {}
    problems = []
    for key in partitions_def.get_partition_keys():
        name = partition_artifact_name(base_name, key)
        first = first_key_of.setdefault(name, str(key))
        if first != str(key):
            problems.append(
                f"{location}: partitions '{first}' and '{key}' would both be written to the W&B "
                f"artifact '{name}'; rename one of the partition keys"
            )
    return problems
