"""Which W&B artifact each asset (and ``@op`` output named in configuration) writes, and
which of them would write the same one.

Derived names are valid (:mod:`dagster_wandb_v2.naming`) but not always distinct: asset keys
``["team", "scores"]`` and ``"team__scores"`` both give ``team__scores``; asset ``"x.a"``
and partition ``a`` of asset ``x`` both give ``x.a``. Two writers of one artifact overwrite
each other's ``latest`` and readers get the wrong value, so an asset's artifact must be
written by that asset only. This module lists the writers of a set of assets and ops and
reports every artifact (in one W&B project) that more than one of them writes:

- assets of every kind (``@asset``, ``@multi_asset``, graph-backed), by their derived name;
- their partitions: every key of static and time-window partitions (up to
  :data:`MAX_ENUMERATED_PARTITIONS`), and for dynamic partitions any name that a future key
  could take (``<asset>.<anything>``);
- ``@op`` outputs named in configuration (``name``), plus the job's partitions. Two ops
  naming one artifact on purpose are allowed; an op writing an asset's artifact is not.

Example::

    >>> from dagster import AssetKey
    >>> clashes([AssetWriter(AssetKey(["team", "scores"]), None, "p"),
    ...          AssetWriter(AssetKey(["team__scores"]), None, "p")])[0][1][:48]
    "assets 'team/scores' and 'team__scores' would bo"
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import AssetKey, DynamicPartitionsDefinition, MultiPartitionsDefinition

from dagster_wandb_v2.naming import asset_artifact_name, partition_artifact_name

MAX_ENUMERATED_PARTITIONS = 100_000
"""Partition sets up to this size are named key by key; larger ones are treated like
dynamic partitions (any ``<asset>.<suffix>`` name)."""


@dataclass(frozen=True)
class AssetWriter:
    """An asset written by a W&B IO manager; ``target`` identifies its W&B project."""

    key: AssetKey
    partitions_def: Any
    target: Hashable

    @property
    def base_name(self) -> str:
        return asset_artifact_name(self.key)

    @property
    def owner(self) -> str:
        return f"asset '{self.key.to_user_string()}'"


@dataclass(frozen=True)
class OpWriter:
    """An ``@op`` output that names its artifact in configuration."""

    op_name: str
    output_name: str
    name: str
    partitions_def: Any
    target: Hashable

    @property
    def base_name(self) -> str:
        return self.name

    @property
    def owner(self) -> str:
        return f"op '{self.op_name}' output '{self.output_name}'"


Writer = AssetWriter | OpWriter


@dataclass(frozen=True)
class _Claim:
    """One artifact name (or, with ``open_prefix``, every name ``<name>.<suffix>``)."""

    name: str
    writer: Writer
    partition: str | None = None
    open_prefix: bool = False

    def describe(self) -> str:
        if self.open_prefix:
            return f"the dynamic partitions of {self.writer.owner}"
        if self.partition is not None:
            return f"partition '{self.partition}' of {self.writer.owner}"
        return self.writer.owner


Clash = tuple[Writer, str]
"""A writer that shares an artifact, and what it shares with whom."""


def clashes(writers: Iterable[Writer]) -> list[Clash]:
    """Every artifact that two writers with the same ``target`` would write (or two
    partitions of one writer), reported on the later writer."""
    by_target: dict[Hashable, list[_Claim]] = {}
    for writer in dict.fromkeys(writers):
        by_target.setdefault(writer.target, []).extend(_claims(writer))
    found: list[Clash] = []
    for claims in by_target.values():
        found += _exact_clashes(claims) + _prefix_clashes(claims)
    return list(dict.fromkeys(found))


def clashes_of(writer: Writer, others: Iterable[Writer]) -> list[str]:
    """What ``writer`` shares with ``others`` (or between its own partitions)."""
    found = clashes([writer, *others])
    return [text for reported, text in found if reported == writer or writer.owner in text]


def _claims(writer: Writer) -> Iterator[_Claim]:
    partitions_def = writer.partitions_def
    if partitions_def is None:
        yield _Claim(writer.base_name, writer)
        return
    keys = _enumerable_keys(partitions_def)
    if keys is None:
        yield _Claim(writer.base_name, writer, open_prefix=True)
        return
    for key in keys:
        yield _Claim(partition_artifact_name(writer.base_name, key), writer, str(key))


def _enumerable_keys(partitions_def: Any) -> Sequence[str] | None:
    """Every partition key, or ``None`` when they are not known at load time (dynamic
    partitions) or too many to name one by one."""
    dimensions = (
        [dimension.partitions_def for dimension in partitions_def.partitions_defs]
        if isinstance(partitions_def, MultiPartitionsDefinition)
        else [partitions_def]
    )
    if any(isinstance(dimension, DynamicPartitionsDefinition) for dimension in dimensions):
        return None
    try:
        if partitions_def.get_num_partitions() > MAX_ENUMERATED_PARTITIONS:
            return None
        return list(partitions_def.get_partition_keys())
    except Exception:  # partitions that need an instance or a clock we do not have
        return None


def _exact_clashes(claims: list[_Claim]) -> list[Clash]:
    first_of: dict[str, _Claim] = {}
    problems = []
    for claim in claims:
        if claim.open_prefix:
            continue
        first = first_of.setdefault(claim.name, claim)
        if first is claim or not _clash(first.writer, claim.writer):
            continue
        problems.append(_message(first, claim, f"the W&B artifact '{claim.name}'"))
    return problems


def _prefix_clashes(claims: list[_Claim]) -> list[Clash]:
    problems = []
    for open_claim in (claim for claim in claims if claim.open_prefix):
        for claim in claims:
            if claim.writer == open_claim.writer or not _clash(open_claim.writer, claim.writer):
                continue
            if claim.open_prefix:
                if not claim.name.startswith(f"{open_claim.name}."):
                    continue
                shared = f"W&B artifacts named '{claim.name}.<key>'"
            elif claim.name.startswith(f"{open_claim.name}."):
                suffix = claim.name[len(open_claim.name) + 1 :]
                shared = f"the W&B artifact '{claim.name}' (a partition keyed '{suffix}')"
            else:
                continue
            problems.append(_message(open_claim, claim, shared))
    return problems


def _clash(first: Writer, second: Writer) -> bool:
    """Two ops naming one artifact is allowed (on purpose); anything involving an asset,
    or one asset's own partitions, is not."""
    if isinstance(first, OpWriter) and isinstance(second, OpWriter):
        return first == second
    return True


def _message(first: _Claim, second: _Claim, shared: str) -> Clash:
    if first.writer == second.writer:
        return second.writer, (
            f"partitions '{first.partition}' and '{second.partition}' would both be written "
            f"to {shared}; rename one of the partition keys"
        )
    one, other = first.writer, second.writer
    if (
        isinstance(one, AssetWriter)
        and isinstance(other, AssetWriter)
        and first.partition is None
        and second.partition is None
        and not first.open_prefix
    ):
        return other, (
            f"assets '{one.key.to_user_string()}' and '{other.key.to_user_string()}' would "
            f"both be written to {shared}; rename one of the assets"
        )
    return second.writer, (
        f"{first.describe()} and {second.describe()} would both be written to {shared}; "
        "an asset's artifact is written by that asset only: rename one of them"
    )


def claimants(name: str, writers: Iterable[Writer]) -> list[str]:
    """Which of ``writers`` write the artifact ``name`` (by themselves or a partition).

    >>> from dagster import AssetKey
    >>> claimants("team__scores", [AssetWriter(AssetKey(["team", "scores"]), None, "p")])
    ["asset 'team/scores'"]
    """
    found = []
    for writer in writers:
        base, partitions_def = writer.base_name, writer.partitions_def
        if partitions_def is None:
            found += [writer.owner] if name == base else []
        elif name.startswith(f"{base}."):
            keys = _enumerable_keys(partitions_def)
            if keys is None:
                found.append(f"the dynamic partitions of {writer.owner}")
                continue
            found += [
                f"partition '{key}' of {writer.owner}"
                for key in keys
                if partition_artifact_name(base, key) == name
            ]
    return found


def other_writers_in_run(context: Any) -> list[Writer]:
    """The other assets of this output's run written by the same IO manager.

    ``context`` is Dagster's ``OutputContext``. Only the run's assets are known here
    (:func:`dagster_wandb_v2.validate_definitions` sees the whole ``Definitions``).
    """
    try:
        asset_graph = context.step_context.job_def.asset_layer.asset_graph
        if context.has_asset_key:
            io_manager_key = asset_graph.get(context.asset_key).io_manager_key
        else:
            io_manager_key = context.op_def.output_def_named(context.name).io_manager_key
        nodes = [asset_graph.get(key) for key in asset_graph.get_all_asset_keys()]
    except Exception:  # a context built outside a run (build_output_context)
        return []
    own_key = context.asset_key if context.has_asset_key else None
    return [
        AssetWriter(node.key, node.partitions_def, io_manager_key)
        for node in nodes
        if node.key != own_key and node.is_executable and node.io_manager_key == io_manager_key
    ]
