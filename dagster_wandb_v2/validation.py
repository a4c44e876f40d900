"""Validate every W&B-managed output and input of a ``Definitions`` before any run starts.

Example (at the bottom of your ``definitions.py``, or in a test)::

    from dagster_wandb_v2 import validate_definitions

    defs = Definitions(assets=[...], resources={...})
    validate_definitions(defs)  # raises WandbConfigurationError listing every problem
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from dagster import (
    AssetKey,
    Definitions,
    EnvVar,
    GraphDefinition,
    OpDefinition,
    StaticPartitionsDefinition,
)

from dagster_wandb_v2._contexts import LEGACY_CONFIG_KEY, raw_config
from dagster_wandb_v2._location import Location
from dagster_wandb_v2._session import INTEGRATION_TAG
from dagster_wandb_v2.artifact_writers import AssetWriter, OpWriter, Writer, clashes
from dagster_wandb_v2.config import CONFIG_KEY, parse_read_config, parse_write_config
from dagster_wandb_v2.distributed import distributed_asset_keys, distributed_problems
from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.io_manager import WandbArtifactsIOManager
from dagster_wandb_v2.resource import ENV_BASE_URL, ENV_PROJECT, WandbResource
from dagster_wandb_v2.return_types import annotation_text, returned_kind, type_rule_problems
from dagster_wandb_v2.wandb_rules import run_setting_problem


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
    problems: list[str] = _resource_problems(defs.resources or {})
    if not wandb_keys:
        return problems
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
    asset_node_names: set[str] = set()
    writers = _asset_writers(repository, io_manager_of, wandb_keys, defs.resources or {})
    graph_asset_outputs = _graph_asset_outputs(assets_defs)
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
            ) or _type_rule_problems(output_def, location, assets_def.partitions_def)
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
                    graph_asset = graph_asset_outputs.get((op_def.name, output_def.name))
                    if graph_asset is not None:  # the output of a graph-backed asset
                        location = _location("output", op_def.name, output_def.name, graph_asset)
                        problems += _check(
                            lambda raw, location=location: parse_write_config(
                                raw, location, names_artifact_from_asset_key=True
                            ),
                            output_def.metadata,
                            location,
                        ) or _type_rule_problems(output_def, location, None)
                        continue
                    named = _configured_name(output_def.metadata)
                    if named is not None:
                        target = _target(defs.resources or {}, output_def.io_manager_key)
                        op_writer = OpWriter(
                            op_def.name, output_def.name, named, job.partitions_def, target
                        )
                        writers.setdefault(op_writer, location)
                    kind = returned_kind(output_def, partitioned=job.partitions_def is not None)
                    returns_artifact = kind == "artifact"
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
                    ) or _type_rule_problems(output_def, location, job.partitions_def)
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
    problems += _lifecycle_problems(repository, wandb_keys, io_manager_of, partitions_def_of)
    shared = [(str(writers[writer]), text) for writer, text in clashes(writers)]
    return list(dict.fromkeys(_next_to_their_location(problems, shared)))


def _next_to_their_location(problems: list[str], extra: list[tuple[str, str]]) -> list[str]:
    """``problems`` with each ``(location, text)`` of ``extra`` placed after the last
    problem of the same location (at the end when that location has none)."""
    merged = list(problems)
    for location, text in extra:
        line = f"{location}: {text}"
        same = [index for index, problem in enumerate(merged) if problem.startswith(location)]
        merged.insert(same[-1] + 1 if same else len(merged), line)
    return merged


def _lifecycle_problems(
    repository: Any,
    wandb_keys: set[str],
    io_manager_of: Mapping[AssetKey, Any],
    partitions_def_of: Mapping[AssetKey, Any],
) -> list[str]:
    """Problems of the version lifecycle steps (promote, update, link, clean up)."""
    from dagster_wandb_v2.lifecycle_definitions import lifecycle_problems

    op_defs: dict[str, OpDefinition] = {}
    own_partitions: dict[str, Any] = {}
    for assets_def in repository.assets_defs_by_key.values():
        if assets_def.is_executable and isinstance(assets_def.node_def, OpDefinition):
            op_defs[assets_def.node_def.name] = assets_def.node_def
            own_partitions[assets_def.node_def.name] = assets_def.partitions_def
    for job in repository.get_all_jobs():
        for op_def in _op_defs(job.graph.iterate_node_defs()):
            op_defs.setdefault(op_def.name, op_def)
    return lifecycle_problems(
        op_defs.values(), wandb_keys, io_manager_of, partitions_def_of, own_partitions
    )


def _asset_writers(
    repository: Any,
    io_manager_of: Mapping[AssetKey, str],
    wandb_keys: set[str],
    resources: Mapping[str, Any],
) -> dict[Writer, Location]:
    """Every asset a W&B IO manager writes (``@asset``, multi-asset, graph-backed), with
    the location its problems are reported at."""
    writers: dict[Writer, Location] = {}
    by_key = repository.assets_defs_by_key
    for key, assets_def in sorted(by_key.items(), key=lambda item: item[0].to_user_string()):
        io_manager_key = io_manager_of.get(key)
        if not assets_def.is_executable or io_manager_key not in wandb_keys:
            continue
        try:
            output_name = assets_def.get_output_name_for_asset_key(key)
        except Exception:
            output_name = "result"
        location = Location("asset", key.to_user_string(), "output", output_name)
        target = _target(resources, io_manager_key)
        writers[AssetWriter(key, assets_def.partitions_def, target)] = location
    return writers


def _resource_problems(resources: Mapping[str, Any]) -> list[str]:
    """The ``wandb.init`` settings of every W&B resource and IO manager, checked with the
    wandb SDK's validators (a run refuses them otherwise). Values from environment variables
    are checked when the variable is set at load time."""
    problems = []
    for key, resource in resources.items():
        settings: list[tuple[str, str, object]] = []
        if isinstance(resource, WandbArtifactsIOManager):
            settings += _wandb_resource_settings(resource.wandb, "wandb.")
            if (run_id := _value(resource.run_id)) is not None:
                settings.append(("run_id", "run_id", run_id))
            tags = [*map(_value, resource.run_tags), INTEGRATION_TAG]
            settings.append(("run_tags", "run_tags", tags))
        elif isinstance(resource, WandbResource):
            settings += _wandb_resource_settings(resource, "")
        for setting, field, value in settings:
            if (problem := run_setting_problem(setting, value)) is not None:
                problems.append(f"resource '{key}': {field}: {problem} (wandb.init refuses it)")
    return problems


def _wandb_resource_settings(resource: WandbResource, prefix: str) -> list[tuple[str, str, object]]:
    """``(wandb setting, where it comes from, value)`` of a resource, as a run resolves them."""
    found: list[tuple[str, str, object]] = []
    for setting, field, variable in (
        ("base_url", "host", ENV_BASE_URL),
        ("project", "project", ENV_PROJECT),
        ("api_key", "api_key", None),
    ):
        configured = getattr(resource, field)
        value = _value(configured)
        where = f"{prefix}{field}"
        if isinstance(configured, EnvVar):
            where += f" (environment variable {configured.env_var_name})"
        if configured is None and variable is not None:
            value, where = os.environ.get(variable) or None, f"environment variable {variable}"
        if value is not None:
            found.append((setting, where, value))
    return found


def _value(configured: str | None) -> str | None:
    """A configured value; an ``EnvVar``'s value when the variable is set, else ``None``."""
    return configured.get_value() if isinstance(configured, EnvVar) else configured


def _graph_asset_outputs(assets_defs: Iterable[Any]) -> dict[tuple[str, str], AssetKey]:
    """``(op name, output name)`` of the ops whose output is a graph-backed asset's."""
    found = {}
    for assets_def in assets_defs:
        graph_def = assets_def.node_def if assets_def.is_executable else None
        if not isinstance(graph_def, GraphDefinition):
            continue
        for output_name, key in assets_def.keys_by_output_name.items():
            try:
                output_def, handle = graph_def.resolve_output_to_origin(output_name, None)
            except Exception:
                continue
            if handle is not None:
                found[(graph_def.get_node(handle).definition.name, output_def.name)] = key
    return found


def _target(resources: Mapping[str, Any], io_manager_key: str | None) -> Hashable:
    """Which W&B project an IO manager writes to: its resource's host, entity and project
    as configured (an ``EnvVar`` by its name), or its key when that is unknown."""
    io_manager = resources.get(io_manager_key) if io_manager_key is not None else None
    if not isinstance(io_manager, WandbArtifactsIOManager):
        return ("io_manager_key", io_manager_key)
    resource = io_manager.wandb
    return tuple(
        (type(value).__name__, value)
        for value in (resource.host, resource.entity, resource.project)
    )


def _configured_name(metadata: Mapping[str, Any]) -> str | None:
    raw = metadata.get(CONFIG_KEY, metadata.get(LEGACY_CONFIG_KEY))
    name = raw.get("name") if isinstance(raw, Mapping) else None
    return name if isinstance(name, str) else None


def _type_rule_problems(output_def: Any, location: Location, partitions_def: Any) -> list[str]:
    """``type`` required or refused, as the output's return annotation says."""
    kind = returned_kind(output_def, partitioned=partitions_def is not None)
    raw = output_def.metadata.get(CONFIG_KEY, output_def.metadata.get(LEGACY_CONFIG_KEY))
    return type_rule_problems(raw, kind, location, annotation_text(output_def))


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
