"""Distributed artifacts: every partition of an asset in ONE W&B artifact version.

With ``"distributed": True`` in an asset's ``wandb_artifact_configuration``, each partition's
value is added (W&B ``run.upsert_artifact``) to one draft version of the artifact named
after the asset (no partition suffix), under its own folder ``partitions/<key>/``
(one folder level per dimension of a multi-dimensional key). W&B Tables are also gathered
by one ``wandb.data_types.PartitionedTable`` entry named after the asset, so ``get`` of that
name reads every row (W&B Artifacts guide, "parallel runs").

Which runs build one version (the W&B *distributed id*):

- runs tagged ``dagster_wandb/distributed_id``: the tag's value (e.g. set by a schedule to
  gather a month of daily partitions); committed only explicitly;
- the runs of one Dagster backfill (tag ``dagster/backfill``): the backfill id;
- any other run: its own run id (a single-run backfill writes all its partitions at once).

When it is committed: the writer that finds, after its own upsert, that the draft holds a
folder for every partition the backfill (or run) targets commits it (W&B
``CommitArtifact`` of the draft's id). Committing one draft twice is harmless, and a draft
is only committed once complete, so parallel writers need no lock: whoever sees it complete
commits it, and no incomplete version is ever ``latest``. A partition retried before the
commit replaces its own folder; a write after the commit starts the next draft. A write
that joined the draft as another writer committed it (W&B refuses its manifest) is
recognised as written where the version holds its partitions with the same content; its
other partitions go to the next draft.
:func:`finish_distributed_artifact` commits a draft explicitly (a backfill that cannot
complete, or runs sharing a ``dagster_wandb/distributed_id`` tag).

Example::

    @asset(partitions_def=StaticPartitionsDefinition(["a", "b"]),
           metadata={"wandb_artifact_configuration": {"type": "dataset", "distributed": True}},
           io_manager_key="wandb_artifacts_manager")
    def shards(context) -> list[int]:
        return [1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from dagster import (
    AssetKey,
    DagsterInstance,
    InputContext,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    OutputContext,
)

from dagster_wandb_v2._location import Location
from dagster_wandb_v2.cache import ArtifactCache
from dagster_wandb_v2.client import ArtifactReader, StoredArtifact, WandbRun
from dagster_wandb_v2.config import CONFIG_KEY, ReadSpec, WriteSpec
from dagster_wandb_v2.errors import WandbArtifactsIOManagerError, WandbConfigurationError
from dagster_wandb_v2.naming import partition_segments, sanitize_segment
from dagster_wandb_v2.serialization import MODULES, get_module

if TYPE_CHECKING:
    import wandb

DISTRIBUTED_KEY = "distributed"
BACKFILL_TAG = "dagster/backfill"
DISTRIBUTED_ID_TAG = "dagster_wandb/distributed_id"
"""A run tag choosing the distributed id; such drafts are committed explicitly only."""
DISTRIBUTED_ID_METADATA_KEY = "source_distributed_id"
"""The W&B metadata key of a distributed version: the distributed id that built it."""
PARTITIONS_FOLDER = "partitions"
"""The folder of the artifact that holds one folder per partition."""

PER_PARTITION_WRITE_KEYS = ("add_files", "add_dirs", "add_references", "link_to")
"""Write keys that act on a whole version: with ``distributed`` every partition would
repeat them on the one version (same paths overwritten, a link before the version exists)."""
PER_PARTITION_READ_KEYS = ("legacy_partition_names",)
"""Read keys about per-partition artifacts, which a distributed asset does not have."""


class DistributedRun(Protocol):
    """What a W&B run offers for distributed artifacts (the SDK's run and the fake's)."""

    def upsert_artifact(
        self, artifact: wandb.Artifact, aliases: Sequence[str], distributed_id: str
    ) -> str: ...
    def draft_entries(self, draft_id: str) -> list[str]: ...
    def commit_draft(self, draft_id: str) -> StoredArtifact: ...
    def latest_version(self, name: str) -> StoredArtifact | None: ...


def partition_folder(partition_key: str) -> str:
    """The folder of one partition: ``partitions/<key>``, one level per dimension.

    >>> partition_folder("2024-01-01")
    'partitions/2024-01-01'
    >>> partition_folder(MultiPartitionKey({"color": "blue", "date": "2024-01-01"}))
    'partitions/blue/2024-01-01'
    """
    dots_allowed = not isinstance(partition_key, MultiPartitionKey)
    segments = [
        sanitize_segment(segment, dots_allowed=dots_allowed)
        for segment in partition_segments(partition_key)
    ]
    return "/".join([PARTITIONS_FOLDER, *segments])


def is_distributed(metadata: Mapping[str, Any] | None) -> bool:
    """Whether output metadata asks for a distributed artifact."""
    return raw_requests_distributed((metadata or {}).get(CONFIG_KEY))


def raw_requests_distributed(raw: object) -> bool:
    """Whether a raw ``wandb_artifact_configuration`` sets ``distributed``."""
    return isinstance(raw, Mapping) and bool(raw.get(DISTRIBUTED_KEY))


# --- bad input -------------------------------------------------------------------------


def distributed_write_problems(
    raw: object, location: Location, *, partitioned: bool, has_asset_key: bool
) -> list[str]:
    """Problems of ``distributed`` on an output (empty when unused or valid)."""
    if not isinstance(raw, Mapping) or not raw.get(DISTRIBUTED_KEY):
        return []
    prefix = f"{location}: {CONFIG_KEY}.{DISTRIBUTED_KEY}"
    if not has_asset_key:
        return [f"{prefix}: only for assets (the artifact is named after the asset key)"]
    if not partitioned:
        return [
            f"{prefix}: the asset is not partitioned; a distributed artifact gathers the "
            "partitions of a partitioned asset into one version (remove 'distributed')"
        ]
    return [
        f"{location}: {CONFIG_KEY}.{key}: not allowed with 'distributed' (every partition "
        "writes into the same version; add it to the partition's value instead, or remove "
        f"'{key}')"
        for key in PER_PARTITION_WRITE_KEYS
        if key in raw
    ]


def distributed_read_problems(raw: object, location: Location, upstream: str) -> list[str]:
    """Problems of an input reading the distributed asset ``upstream``."""
    if not isinstance(raw, Mapping):
        return []
    problems = [
        f"{location}: {CONFIG_KEY}.{key}: asset '{upstream}' is distributed (one artifact "
        f"for every partition); remove '{key}'"
        for key in PER_PARTITION_READ_KEYS
        if key in raw
    ]
    partitions = raw.get("partitions")
    if isinstance(partitions, Mapping):
        for key, config in partitions.items():
            for selector in ("version", "alias"):
                if isinstance(config, Mapping) and selector in config:
                    problems.append(
                        f"{location}: {CONFIG_KEY}.partitions.{key}.{selector}: asset "
                        f"'{upstream}' is distributed: its partitions share one version; set "
                        f"'{selector}' at the top level"
                    )
    return problems


def _distributed_outputs(repository: Any) -> Iterator[tuple[Any, Any, AssetKey | None]]:
    """``(assets definition, output definition, asset key)`` of every output that sets
    ``distributed``."""
    seen = set()
    for assets_def in repository.assets_defs_by_key.values():
        if id(assets_def) in seen or not assets_def.is_executable:
            continue
        seen.add(id(assets_def))
        for output_def in assets_def.node_def.output_defs:
            if is_distributed(output_def.metadata):
                yield assets_def, output_def, assets_def.keys_by_output_name.get(output_def.name)


def distributed_asset_keys(repository: Any) -> set[AssetKey]:
    """The assets of a repository definition written as distributed artifacts."""
    return {key for _, _, key in _distributed_outputs(repository) if key is not None}


def distributed_problems(repository: Any, wandb_io_manager_keys: set[str]) -> list[str]:
    """Every problem of ``distributed`` in a repository (``validate_definitions`` calls it):
    on an output that is not a partitioned asset or with a key acting on a whole version,
    and on inputs reading a distributed asset with per-partition keys."""
    problems: list[str] = []
    distributed = set()
    for assets_def, output_def, asset_key in _distributed_outputs(repository):
        if output_def.io_manager_key not in wandb_io_manager_keys:
            continue
        name = asset_key.to_user_string() if asset_key else assets_def.node_def.name
        location = Location("asset" if asset_key else "op", name, "output", output_def.name)
        problems += distributed_write_problems(
            output_def.metadata.get(CONFIG_KEY),
            location,
            partitioned=assets_def.partitions_def is not None,
            has_asset_key=asset_key is not None,
        )
        if asset_key is not None:
            distributed.add(asset_key)
    seen = set()
    for assets_def in repository.assets_defs_by_key.values():
        if id(assets_def) in seen or not assets_def.is_executable:
            continue
        seen.add(id(assets_def))
        keys = list(assets_def.keys)
        for input_def in assets_def.node_def.input_defs:
            upstream = assets_def.keys_by_input_name.get(input_def.name)
            if upstream not in distributed:
                continue
            node = keys[0].to_user_string() if len(keys) == 1 else assets_def.node_def.name
            location = Location("asset" if len(keys) == 1 else "op", node, "input", input_def.name)
            problems += distributed_read_problems(
                input_def.metadata.get(CONFIG_KEY), location, upstream.to_user_string()
            )
    return problems


# --- writing ---------------------------------------------------------------------------


@dataclass
class DistributedWrite:
    """What one write added: the draft, the partitions still missing, the version if
    this write completed it."""

    name: str
    distributed_id: str
    draft_id: str
    written: list[str]
    missing: list[str] | None
    """Targeted partitions not in the draft yet (``None``: the target is unknown)."""
    committed: StoredArtifact | None = None
    warnings: list[str] = field(default_factory=list)


def distributed_id_and_target(context: OutputContext) -> tuple[str, list[str] | None]:
    """The distributed id of this write, and every partition key it must gather.

    A run tagged ``dagster_wandb/distributed_id``: the tag's value, and no target (only
    :func:`finish_distributed_artifact` commits). A run of a backfill: the backfill id and
    the backfill's partitions of this asset (``None`` if Dagster cannot tell them, then
    only :func:`finish_distributed_artifact` commits). Any other run: the run id and the
    run's partitions.
    """
    step = context.step_context
    run = step.dagster_run
    chosen = run.tags.get(DISTRIBUTED_ID_TAG)
    if chosen:
        return chosen, None
    backfill_id = run.tags.get(BACKFILL_TAG)
    if not backfill_id:
        keys: Sequence[str] | None = list(context.asset_partition_keys)
    else:
        keys = _backfill_partitions(step, backfill_id, context.asset_key)
    distributed_id = backfill_id or run.run_id
    if keys is None:
        return distributed_id, None
    partitions_def = context.asset_partitions_def
    if isinstance(partitions_def, MultiPartitionsDefinition):  # "a|b" -> MultiPartitionKey
        keys = [partitions_def.get_partition_key_from_str(str(key)) for key in keys]
    return distributed_id, list(keys)


def _backfill_partitions(step: Any, backfill_id: str, asset_key: AssetKey) -> list[str] | None:
    try:
        backfill = step.instance.get_backfill(backfill_id)
        if backfill is None:
            return None
        if backfill.is_asset_backfill:
            asset_graph = step.job_def.asset_layer.asset_graph
            data = backfill.get_asset_backfill_data(asset_graph)
            subset = data.get_target_partitions_subset(asset_key)
            return [str(key) for key in subset.get_partition_keys()]
        if backfill.partition_names:
            return [str(key) for key in backfill.partition_names]
    except Exception:
        return None
    return None


def write_distributed(
    run: WandbRun,
    *,
    name: str,
    values: Mapping[str, Any],
    spec: WriteSpec,
    location: Location,
    source_metadata: Mapping[str, Any],
    staging_dir: Path,
    distributed_id: str,
    target: Sequence[str] | None,
) -> DistributedWrite:
    """Upsert ``values`` (partition key -> value) into the draft ``distributed_id`` builds,
    and commit the draft if it now holds every partition of ``target``."""
    import wandb

    artifact_type = spec.type or next(
        (value.type for value in values.values() if isinstance(value, wandb.Artifact)), None
    )
    if not artifact_type:
        raise WandbConfigurationError(
            [
                f"{location}: {CONFIG_KEY}.type: required for a distributed artifact unless "
                "the output is a wandb.Artifact (e.g. 'dataset' or 'model')"
            ]
        )
    draft = wandb.Artifact(
        name,
        type=artifact_type,
        description=spec.description,
        metadata={**source_metadata, DISTRIBUTED_ID_METADATA_KEY: distributed_id},
    )
    warnings: list[str] = []
    has_table = False
    written = []
    for key, value in values.items():
        folder = partition_folder(key)
        if value is None:
            warnings.append(f"{location}: partition '{key}' is None, nothing was written")
            continue
        has_table |= _add_partition(draft, folder, value, spec, staging_dir, location)
        written.append(str(key))
    if not written:
        return DistributedWrite(name, distributed_id, "", [], None, warnings=warnings)
    if has_table:
        draft.add(_partitioned_table(), name)
    ttl = timedelta(seconds=spec.ttl_seconds) if spec.ttl_seconds is not None else None
    if ttl is not None:
        draft.ttl = ttl
    distributed = cast(DistributedRun, run)
    aliases = list(dict.fromkeys([*spec.aliases, "latest"]))
    try:
        try:
            draft_id = distributed.upsert_artifact(draft, aliases, distributed_id)
        except Exception as error:
            raced = _after_a_commit_raced(
                distributed, draft, name, distributed_id, written, has_table, ttl
            )
            if raced is None:
                raise
            version, already, rest, retry = raced
            warnings.append(
                f"{location}: the draft of '{name}' (distributed id '{distributed_id}') was "
                f"committed as {version.version} while this write was adding to it ({error})"
            )
            if retry is None:  # every partition of this write is in that version already
                warnings.append(
                    f"{location}: partitions {', '.join(already)} are in {version.version} "
                    "with this content already"
                )
                return DistributedWrite(
                    name, distributed_id, "", written, [], committed=version, warnings=warnings
                )
            warnings.append(
                f"{location}: partitions {', '.join(rest)} went to the next draft of "
                f"'{name}' (distributed id '{distributed_id}')"
                + (f"; {', '.join(already)} are in {version.version} already" if already else "")
            )
            draft_id = distributed.upsert_artifact(retry, aliases, distributed_id)
        present = _partition_folders(distributed.draft_entries(draft_id))
    except Exception as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: could not add partitions {', '.join(written)} to the distributed W&B "
            f"artifact '{name}' (upsert_artifact, distributed id '{distributed_id}'): {error}"
        ) from error
    result = DistributedWrite(name, distributed_id, draft_id, written, None, warnings=warnings)
    if target is None:
        return result
    result.missing = [key for key in target if partition_folder(key) not in present]
    if not result.missing:
        result.committed = _commit(distributed, draft_id, name, location)
    return result


def _after_a_commit_raced(
    run: DistributedRun,
    draft: wandb.Artifact,
    name: str,
    distributed_id: str,
    written: list[str],
    has_table: bool,
    ttl: timedelta | None,
) -> tuple[StoredArtifact, list[str], list[str], wandb.Artifact | None] | None:
    """After a failed upsert: whether another writer's commit of the draft explains it.

    An upsert that joined the draft just before another writer committed it fails (W&B
    refuses a manifest for a committed version). Returns ``None`` when the ``latest``
    version was not built by ``distributed_id`` (then the failure stands), else
    ``(version, partitions already in it with this content, the other partitions, the
    artifact of those for the next draft or None)``: nothing this write holds is lost,
    and it never completes a version alone.
    """
    version = run.latest_version(name)
    if version is None or version.metadata.get(DISTRIBUTED_ID_METADATA_KEY) != distributed_id:
        return None
    committed = {str(path): entry.digest for path, entry in version.manifest.entries.items()}
    mine = {str(path): entry for path, entry in draft.manifest.entries.items()}
    already: list[str] = []
    rest: list[str] = []
    for key in written:
        folder = f"{partition_folder(key)}/"
        own = {path: entry.digest for path, entry in mine.items() if path.startswith(folder)}
        theirs = {path: digest for path, digest in committed.items() if path.startswith(folder)}
        (already if own == theirs else rest).append(key)
    if not rest:
        return version, already, rest, None
    import wandb

    retry = wandb.Artifact(
        name, type=draft.type, description=draft.description, metadata=dict(draft.metadata)
    )
    if ttl is not None:
        retry.ttl = ttl
    folders = tuple(f"{partition_folder(key)}/" for key in rest)
    for path, entry in mine.items():
        if not path.startswith(folders):
            continue
        if entry.ref is not None:
            retry.add_reference(entry.ref, name=path, checksum=False)
        elif entry.local_path is not None:
            retry.add_file(str(entry.local_path), name=path)
    if has_table:
        retry.add(_partitioned_table(), name)
    return version, already, rest, retry


def _commit(run: DistributedRun, draft_id: str, name: str, location: Location) -> StoredArtifact:
    try:
        return run.commit_draft(draft_id)
    except Exception as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: could not commit the distributed W&B artifact '{name}' (CommitArtifact "
            f"of draft {draft_id}): {error}"
        ) from error


def _partition_folders(paths: Sequence[str]) -> set[str]:
    """Every folder (and parent folder) under ``partitions/`` that holds an entry."""
    folders = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for end in range(2, len(parts) + 1):
            if parts[0] == PARTITIONS_FOLDER:
                folders.add("/".join(parts[:end]))
    return folders


def _add_partition(
    draft: wandb.Artifact,
    folder: str,
    value: Any,
    spec: WriteSpec,
    staging_dir: Path,
    location: Location,
) -> bool:
    """Add one partition's value under ``folder``; True if it is a ``wandb.Table``."""
    import wandb
    from wandb.sdk.data_types.base_types.wb_value import WBValue

    if isinstance(value, wandb.Artifact):  # its files, under the partition's folder
        for path, entry in value.manifest.entries.items():
            if entry.ref is not None:
                draft.add_reference(entry.ref, name=f"{folder}/{path}", checksum=False)
            elif entry.local_path is not None:
                draft.add_file(str(entry.local_path), name=f"{folder}/{path}")
        return False
    if isinstance(value, WBValue):
        draft.add(value, f"{folder}/{type(value).__name__}")
        return isinstance(value, wandb.Table)
    module = get_module(spec.serialization.module)
    payload = staging_dir / folder / module.file_name
    payload.parent.mkdir(parents=True, exist_ok=True)
    try:
        used = module.dump(value, payload, spec.serialization.parameters)
    except WandbArtifactsIOManagerError as error:
        raise type(error)(f"{location}: {error}") from error.__cause__
    draft.metadata = {**draft.metadata, **used}
    draft.add_file(str(payload), name=f"{folder}/{module.file_name}", policy="immutable")
    return False


DRAFT_ID_METADATA_KEY = "wandb_draft_id"
"""The materialization metadata key of a distributed write's draft version id."""


def recorded_draft_id(
    instance: DagsterInstance, asset_key: AssetKey, distributed_id: str, project: str
) -> str | None:
    """The draft ``distributed_id`` builds of ``asset_key`` in W&B project ``project``,
    as the latest materialization of the asset that wrote to it recorded it (metadata
    ``wandb_distributed_id`` and ``wandb_draft_id``); ``None`` if none did.

    W&B has no query for a draft by distributed id, and asking W&B for it with an empty
    ``upsert_artifact`` would create the draft; the Dagster instance's event log knows
    every write.
    """
    cursor = None
    while True:
        page = instance.fetch_materializations(asset_key, limit=200, cursor=cursor)
        for record in page.records:
            materialization = record.asset_materialization
            metadata = materialization.metadata if materialization is not None else {}
            values = {key: getattr(value, "value", None) for key, value in metadata.items()}
            if (
                values.get("wandb_distributed_id") == distributed_id
                and values.get("wandb_project") == project
                and values.get(DRAFT_ID_METADATA_KEY)
            ):
                return str(values[DRAFT_ID_METADATA_KEY])
        if not page.has_more:
            return None
        cursor = page.cursor


def finish_distributed_artifact(
    run: WandbRun, name: str, draft_id: str, distributed_id: str, location: Location
) -> StoredArtifact:
    """Commit the draft version ``draft_id`` of artifact ``name``, complete or not
    (again: the version it became).

    Raises :class:`WandbArtifactsIOManagerError` if no partition was written to it.
    """
    distributed = cast(DistributedRun, run)
    try:
        entries = distributed.draft_entries(draft_id)
    except Exception as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: could not read the draft {draft_id} of the distributed W&B artifact "
            f"'{name}' (distributed id '{distributed_id}'): {error}"
        ) from error
    if not _partition_folders(entries):
        raise WandbArtifactsIOManagerError(
            f"{location}: no partition was written to the distributed W&B artifact '{name}' "
            f"with distributed id '{distributed_id}'; nothing to finish"
        )
    return _commit(distributed, draft_id, name, location)


# --- reading ---------------------------------------------------------------------------


def read_distributed(
    run: ArtifactReader,
    cache: ArtifactCache,
    qualified_name: str,
    keys: Sequence[str],
    spec: ReadSpec,
    location: Location,
    max_workers: int,
) -> dict[str, Any]:
    """``{partition key: value}`` of ``keys`` from one version: one lookup, one manifest."""
    from dagster_wandb_v2.read import _cached_entry, _get_object, _manifest_entries

    try:
        artifact = run.use_artifact(qualified_name)
    except WandbArtifactsIOManagerError:
        raise
    except Exception as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: could not read W&B artifact '{qualified_name}' (use_artifact): {error}"
        ) from error
    entries = _manifest_entries(artifact, location)
    by_folder: dict[str, list[str]] = {}
    for path in entries:
        folder, _, file_name = str(path).rpartition("/")
        by_folder.setdefault(folder, []).append(file_name)
    present = _partition_folders(list(entries))
    missing = [key for key in keys if partition_folder(key) not in present]
    if missing:
        raise WandbArtifactsIOManagerError(
            f"{location}: the distributed W&B artifact '{qualified_name}' has no partition "
            f"{', '.join(map(str, missing))} (it has "
            f"{', '.join(sorted(by_folder.keys() & present)) or 'none'})"
        )

    def one(key: str) -> Any:
        folder = partition_folder(key)
        own = spec.for_partition(key)
        if own.get is not None:
            return _get_object(artifact, f"{folder}/{own.get}", location, cache)
        if own.get_path is not None:
            entry = artifact.get_entry(f"{folder}/{own.get_path}")
            return str(_cached_entry(artifact, cache, entry, location))
        files = by_folder.get(folder, [])
        module = next((m for m in MODULES.values() if m.file_name in files), None)
        if module is not None:
            entry = artifact.get_entry(f"{folder}/{module.file_name}")
            return module.load(_cached_entry(artifact, cache, entry, location))
        names = [f for f in files if "." in f]
        if len(names) == 1:  # one W&B object, e.g. Table.table.json
            return _get_object(artifact, f"{folder}/{names[0].split('.')[0]}", location, cache)
        inside = [str(path) for path in entries if str(path).startswith(f"{folder}/")]
        held = sorted(path[len(folder) + 1 :] for path in inside)
        raise WandbArtifactsIOManagerError(
            f"{location}: partition '{key}' of '{qualified_name}' holds {', '.join(held)}; "
            "choose one with 'get' or 'get_path' under 'partitions'"
        )

    workers = max(1, min(max_workers, len(keys)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wandb-read") as pool:
        values = list(pool.map(one, keys))
    return dict(zip(keys, values, strict=True))


def upstream_is_distributed(context: InputContext) -> bool:
    """Whether the input reads an asset written with ``distributed``."""
    try:
        upstream = context.upstream_output
        return upstream is not None and is_distributed(upstream.definition_metadata)
    except Exception:
        return False


def _partitioned_table() -> Any:
    """W&B's ``PartitionedTable`` over every Table under ``partitions/``."""
    from wandb.data_types import PartitionedTable

    return cast(Any, PartitionedTable)(PARTITIONS_FOLDER)
