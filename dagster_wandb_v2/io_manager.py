"""``WandbArtifactsIOManager``: writes outputs as W&B artifacts and reads inputs from them.

The IO manager is thin: it turns Dagster's contexts into validated specs and artifact
names, and routes the value to a write or read strategy (``write.py``, ``read.py``). All
W&B traffic goes through one W&B run per step process (:class:`~._session.StepSession`).

Example::

    from dagster import Definitions, EnvVar, asset
    from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource

    wandb_resource = WandbResource(api_key=EnvVar("WANDB_API_KEY"), project="my_project")

    @asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}},
           io_manager_key="wandb_artifacts_manager")
    def my_dataset() -> list[int]:
        return [1, 2, 3]

    defs = Definitions(
        assets=[my_dataset],
        resources={
            "wandb_artifacts_manager": WandbArtifactsIOManager(
                wandb=wandb_resource, cache_duration_in_minutes=60
            ),
        },
    )
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from dagster import (
    AssetExecutionContext,
    AssetKey,
    ConfigurableIOManager,
    DagsterInstance,
    DagsterInvariantViolationError,
    InitResourceContext,
    InputContext,
    MetadataValue,
    OpExecutionContext,
    OutputContext,
)
from pydantic import Field, PrivateAttr, model_validator

from dagster_wandb_v2 import _contexts
from dagster_wandb_v2._location import Location
from dagster_wandb_v2._session import StepSession
from dagster_wandb_v2._unknown_keys import reject_unknown_fields
from dagster_wandb_v2.artifact_writers import claimants, other_writers_in_run
from dagster_wandb_v2.cache import ArtifactCache
from dagster_wandb_v2.client import ArtifactReader, StoredArtifact, WandbRun
from dagster_wandb_v2.config import (
    CONFIG_KEY,
    PartitionReadSpec,
    WriteSpec,
    parse_read_config,
    parse_write_config,
)
from dagster_wandb_v2.distributed import (
    DRAFT_ID_METADATA_KEY,
    distributed_id_and_target,
    distributed_read_problems,
    distributed_write_problems,
    finish_distributed_artifact,
    raw_requests_distributed,
    read_distributed,
    recorded_draft_id,
    upstream_is_distributed,
    write_distributed,
)
from dagster_wandb_v2.errors import (
    WandbArtifactNotFoundError,
    WandbArtifactsIOManagerError,
    WandbConfigurationError,
)
from dagster_wandb_v2.metadata import artifact_source_metadata, materialization_metadata
from dagster_wandb_v2.naming import (
    asset_artifact_name,
    legacy_partition_artifact_name,
    partition_artifact_name,
)
from dagster_wandb_v2.read import read_artifact
from dagster_wandb_v2.read_path import ReadPath
from dagster_wandb_v2.resource import WandbResource
from dagster_wandb_v2.streamed_read import UNPICKLE_WHILE_RECEIVING_MIN_BYTES
from dagster_wandb_v2.write import WriteRequest, build_artifact

DEFAULT_CACHE_DURATION_IN_MINUTES = 60 * 24 * 30
"""30 days, as in the legacy integration."""


class WandbArtifactsIOManager(ConfigurableIOManager):
    """Stores outputs as W&B artifacts and loads inputs from W&B artifacts.

    Configure each output or input with ``metadata={"wandb_artifact_configuration": ...}``
    (see :class:`~dagster_wandb_v2.WandbArtifactConfiguration`).
    """

    wandb: WandbResource
    base_dir: str | None = Field(
        default=None,
        description="Local storage and cache directory; defaults to the Dagster storage dir.",
    )
    cache_duration_in_minutes: int = Field(
        default=DEFAULT_CACHE_DURATION_IN_MINUTES,
        ge=0,
        description="How long unused cached artifacts are kept; 0 disables the cache.",
    )
    run_id: str | None = Field(
        default=None, description="W&B run id; defaults to the Dagster run id (resumable)."
    )
    run_name: str | None = Field(
        default=None, description="W&B run name; defaults to dagster-run-<first 8 chars>."
    )
    run_tags: list[str] = Field(
        default_factory=list, description="W&B run tags; 'dagster_wandb' is always added."
    )
    run_per_step: bool = Field(
        default=False,
        description=(
            "One W&B run per step under the in-process executor too (the multiprocess "
            "executor always gives each step its own run), so W&B's lineage graph mirrors "
            "Dagster's asset lineage step by step; costs a wandb.init and finish per step."
        ),
    )
    signing_key: str | None = Field(
        default=None,
        repr=False,
        description=(
            "Secret (use an EnvVar) to sign serialized payloads with HMAC-SHA256 on write; "
            "when set, unsigned or mismatching payloads are refused on read."
        ),
    )
    max_concurrent_reads: int = Field(
        default=8,
        ge=1,
        description="How many partitions of one input are looked up and downloaded at once.",
    )
    unpickle_while_receiving_from_bytes: int = Field(
        default=UNPICKLE_WHILE_RECEIVING_MIN_BYTES,
        ge=0,
        description=(
            "A serialized payload read from an artifact is received as one streamed request, "
            "written to the cache and hashed against W&B's MD5 as it arrives; an unsigned "
            "pickle, dill or cloudpickle payload of at least this many bytes is also "
            "unpickled from the same bytes (handed out once the MD5 matched), a smaller one "
            "from the cached file after the check."
        ),
    )

    _session: StepSession | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        return reject_unknown_fields(cls, data)

    # --- lifecycle -------------------------------------------------------------------

    def setup_for_execution(self, context: InitResourceContext) -> None:
        dagster_run = context.run
        dagster_run_id = dagster_run.run_id if dagster_run is not None else str(uuid.uuid4())
        client = self.wandb.get_client()
        if dagster_run is not None:  # reads outside a run go through W&B's API: any mode
            client.check_mode()
        self._session = StepSession(
            client=client,
            entity=self.wandb.resolved_entity,
            project=self.wandb.resolved_project,
            dagster_run_id=dagster_run_id,
            run_id=self.run_id,
            run_name=self.run_name,
            run_tags=tuple(self.run_tags),
            run_per_step=self.run_per_step,
            cache=ArtifactCache(
                self._storage_path(context.instance), self.cache_duration_in_minutes
            ),
        )

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close(lambda step_keys: _contexts.steps_failed(context, step_keys))

    def _storage_path(self, instance: DagsterInstance | None) -> Path:
        base_dir = self.base_dir
        if base_dir is None and instance is not None:
            base_dir = instance.storage_directory()
        if base_dir is None:
            base_dir = os.environ.get("DAGSTER_HOME") or tempfile.gettempdir()
        path = Path(base_dir)
        if path.name != "storage":
            path = path / "storage"
        return path / "wandb_artifacts_manager"

    def _active_session(self) -> StepSession:
        if self._session is None:
            raise WandbArtifactsIOManagerError(
                "WandbArtifactsIOManager used outside of a Dagster run (setup_for_execution "
                "was not called)"
            )
        return self._session

    def step_run(self, context: AssetExecutionContext | OpExecutionContext) -> Any:
        """The W&B run this IO manager logs the step's artifacts to (opened if needed).

        A ``wandb.Run`` (the fake's run with ``dagster_wandb_v2.testing``); see
        :func:`dagster_wandb_v2.step_run`, the usual way to get it.
        """
        return self._active_session().run_for(context).handle

    def finish_distributed_artifact(
        self,
        context: AssetExecutionContext | OpExecutionContext,
        asset_key: AssetKey | str,
        distributed_id: str,
        type: str,
    ) -> dict[str, MetadataValue]:
        """Commit the draft version of the distributed asset ``asset_key`` that
        ``distributed_id`` (a backfill id, or the run id of a run outside backfills) built,
        with whatever partitions it holds; returns the version's Dagster metadata.

        For sets that never complete on their own: a backfill with partitions that will
        not succeed, time partitions gathered by runs outside one backfill. ``type`` is
        the artifact's type (``dataset``...; the draft keeps its writers' type). The draft is
        found through this Dagster instance's event log: each distributed write records
        ``wandb_distributed_id`` and ``wandb_draft_id`` in its materialization metadata (W&B
        has no lookup of a draft by distributed id). Raises
        :class:`~dagster_wandb_v2.WandbArtifactsIOManagerError`, naming the asset and the
        id, if no write of the asset recorded that id (then nothing is created on W&B) or no
        partition was written to the draft.
        """
        key = AssetKey.from_user_string(asset_key) if isinstance(asset_key, str) else asset_key
        location = Location("op", str(context.op_def.name), "output", "result")  # the caller
        name = asset_artifact_name(key)
        project = self.wandb.resolved_project
        draft_id = recorded_draft_id(context.instance, key, distributed_id, project)
        if draft_id is None:
            raise WandbArtifactsIOManagerError(
                f"{location}: asset '{key.to_user_string()}' has no draft of its distributed "
                f"W&B artifact '{name}' with distributed id '{distributed_id}' in project "
                f"'{project}': no materialization in this Dagster instance wrote one (the id "
                "is the writers' dagster_wandb/distributed_id tag, else their backfill id, "
                "else their run id); nothing was created or committed"
            )
        session = self._active_session()
        run = session.run_for(context)
        stored = finish_distributed_artifact(run, name, draft_id, distributed_id, location)
        return materialization_metadata(session.dagster_run_id, session.client.app_url, run, stored)

    # --- writing ---------------------------------------------------------------------

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        location = _contexts.output_location(context)
        raw = _contexts.raw_config(context.definition_metadata, location, _contexts.log_of(context))
        spec = parse_write_config(
            raw,
            location,
            names_artifact_from_asset_key=context.has_asset_key,
            value_is_artifact=_is_wandb_artifact(obj),
        )
        if obj is None:
            context.log.warning(
                f"{location}: the output is None, nothing was written to W&B. If this was "
                "intended, ignore this warning."
            )
            return
        session = self._active_session()
        if spec.distributed or raw_requests_distributed(raw):
            self._handle_distributed(context, obj, raw, spec, location, session)
            session.output_handled(context)
            return
        if context.has_asset_key:
            base_name = asset_artifact_name(context.asset_key)
        else:  # parse_write_config guarantees a name unless the value is an Artifact
            base_name = spec.name or str(obj.name).split(":")[0]
        targets = _contexts.write_targets(context, obj, base_name, location)
        _refuse_shared_artifacts([name for name, _, _ in targets], context, location)
        run = session.run_for(context)
        summary = []
        for name, value, partition_key in targets:
            staging = session.cache.scratch_dir()
            try:
                built = build_artifact(
                    value,
                    WriteRequest(
                        name=name,
                        spec=spec,
                        location=location,
                        source_metadata=artifact_source_metadata(session.dagster_run_id),
                        staging_dir=staging,
                        renamed_from_asset_key=context.has_asset_key,
                        base_name=base_name,
                        signing_key=self.signing_key,
                    ),
                )
                for warning in built.warnings:
                    context.log.warning(warning)
                stored, links = session.log_artifact(run, built, spec, location)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            metadata = materialization_metadata(
                session.dagster_run_id, session.client.app_url, run, stored, links
            )
            summary.append((partition_key, metadata))
            context.log.info(
                f"{location}: logged W&B artifact {stored.name} "
                f"({metadata['wandb_artifact_url'].value})"
            )
        context.add_output_metadata(_contexts.output_metadata(summary))
        session.output_handled(context)

    def _handle_distributed(
        self,
        context: OutputContext,
        obj: Any,
        raw: object,
        spec: WriteSpec,
        location: Location,
        session: StepSession,
    ) -> None:
        """Every partition of the output into one W&B version (``distributed``)."""
        problems = distributed_write_problems(
            raw,
            location,
            partitioned=context.has_asset_partitions,
            has_asset_key=context.has_asset_key,
        )
        problems += self._signing_problems(location)
        if problems:
            raise WandbConfigurationError(problems)
        name = asset_artifact_name(context.asset_key)
        targets = _contexts.write_targets(context, obj, name, location)
        values = {cast(str, key): value for _, value, key in targets}
        distributed_id, target = distributed_id_and_target(context)
        run = session.run_for(context)
        staging = session.cache.scratch_dir()
        try:
            written = write_distributed(
                run,
                name=name,
                values=values,
                spec=spec,
                location=location,
                source_metadata=artifact_source_metadata(session.dagster_run_id),
                staging_dir=staging,
                distributed_id=distributed_id,
                target=target,
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for warning in written.warnings:
            context.log.warning(warning)
        metadata: dict[str, Any] = {
            "wandb_artifact_name": MetadataValue.text(name),
            "wandb_distributed_id": MetadataValue.text(distributed_id),
            DRAFT_ID_METADATA_KEY: MetadataValue.text(written.draft_id),
            "wandb_partitions_written": MetadataValue.int(len(written.written)),
            "wandb_entity": MetadataValue.text(run.entity),
            "wandb_project": MetadataValue.text(run.project),
            "wandb_run_id": MetadataValue.text(run.id),
            "wandb_run_url": MetadataValue.url(run.url),
        }
        if written.missing is not None:
            metadata["wandb_partitions_missing"] = MetadataValue.int(len(written.missing))
        if written.committed is not None:
            metadata.update(
                materialization_metadata(
                    session.dagster_run_id, session.client.app_url, run, written.committed
                )
            )
            context.log.info(
                f"{location}: committed the distributed W&B artifact {written.committed.name} "
                f"({metadata['wandb_artifact_url'].value})"
            )
        else:
            waiting = (
                f"{len(written.missing)} partition(s) still to write"
                if written.missing is not None
                else "finish it with finish_distributed_artifact"
            )
            context.log.info(
                f"{location}: added {len(written.written)} partition(s) to the draft of the "
                f"distributed W&B artifact '{name}' (distributed id '{distributed_id}'; "
                f"{waiting})"
            )
        context.add_output_metadata(metadata)

    def _signing_problems(self, location: Location) -> list[str]:
        """Distributed payloads are not signed: refused rather than read unverified."""
        if not self.signing_key:
            return []
        return [
            f"{location}: {CONFIG_KEY}.distributed: not supported with "
            "WandbArtifactsIOManager.signing_key yet (its payloads would be unsigned)"
        ]

    # --- reading ---------------------------------------------------------------------

    def load_input(self, context: InputContext) -> Any:
        location = _contexts.input_location(context)
        raw = _contexts.raw_config(context.definition_metadata, location, _contexts.log_of(context))
        partitioned = context.has_asset_partitions
        distributed = partitioned and upstream_is_distributed(context)
        spec = parse_read_config(
            raw,
            location,
            names_artifact_from_asset_key=context.has_asset_key,
            # A distributed upstream is one version: a top-level get reads it whole.
            partitioned=None if distributed else partitioned,
        )
        run, cache = self._reader_for(context)
        # parse_read_config guarantees a path for an op's input (its name is required)
        path = spec.path or ReadPath(asset_artifact_name(context.asset_key))
        base_name = path.name
        asset = context.asset_key.to_user_string() if context.has_asset_key else None

        def read(name: str, read_spec: PartitionReadSpec, partition_key: str | None) -> Any:
            where = path.artifact_path(run.entity, run.project, name)
            qualified_name = f"{where}:{read_spec.qualifier}"
            use_logged = self._use_logged(run, where, read_spec.qualifier)
            try:
                return read_artifact(
                    run,
                    cache,
                    qualified_name,
                    read_spec,
                    location,
                    self.signing_key,
                    use_logged,
                    unpickle_from_bytes=self.unpickle_while_receiving_from_bytes,
                )
            except WandbArtifactNotFoundError:
                detail = _missing_artifact_hint(asset, where, path, read_spec, partition_key)
                raise WandbArtifactNotFoundError(qualified_name, detail, location) from None

        if not partitioned:
            partition_key = None
            # An op's input in a partitioned job reads its partition's artifact; a registry
            # collection holds versions, not partitions, so it is read as named.
            if context.has_partition_key and not context.has_asset_key and not path.registry:
                partition_key = context.partition_key
                base_name = partition_artifact_name(base_name, partition_key)
            return read(base_name, spec, partition_key)
        keys = _contexts.ordered_partition_keys(context)
        if distributed:
            problems = distributed_read_problems(raw, location, str(asset))
            problems += self._signing_problems(location)
            if problems:
                raise WandbConfigurationError(problems)
            if spec.get is not None or spec.get_path is not None:  # e.g. the PartitionedTable
                return read(base_name, spec, None)
            gathered = read_distributed(
                run,
                cache,
                f"{path.artifact_path(run.entity, run.project, base_name)}:{spec.qualifier}",
                keys,
                spec,
                location,
                self.max_concurrent_reads,
            )
            return gathered[keys[0]] if len(keys) == 1 else gathered
        name_for = partition_artifact_name
        if spec.legacy_partition_names:
            name_for = legacy_partition_artifact_name

        def read_partition(key: str) -> Any:
            return read(name_for(base_name, key), spec.for_partition(key), key)

        if len(keys) == 1:
            return read_partition(keys[0])
        workers = min(self.max_concurrent_reads, len(keys))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wandb-read") as pool:
            values = list(pool.map(read_partition, keys))
        return dict(zip(keys, values, strict=True))

    def _use_logged(
        self, reader: ArtifactReader, path: str, qualifier: str
    ) -> Callable[[], StoredArtifact] | None:
        """How the step's run records its use of ``path:qualifier`` when this process
        logged that version in this Dagster run (no lookup by name); else ``None``."""
        session = self._session
        logged = session.logged_version(path, qualifier) if session is not None else None
        if logged is None or not hasattr(reader, "use_logged_artifact"):
            return None
        run = cast(WandbRun, reader)
        return lambda: run.use_logged_artifact(logged)

    def _reader_for(self, context: InputContext) -> tuple[ArtifactReader, ArtifactCache]:
        """What an input reads through: the step's W&B run (W&B records the step as a user
        of the artifact), or, outside a step (``Definitions.load_asset_value``,
        ``build_input_context``), W&B's public API: no Dagster step consumes the value, so
        no W&B run is opened and no lineage is recorded."""
        if self._session is not None and _contexts.step_context_of(context) is not None:
            return self._session.run_for(context), self._session.cache
        if self._session is not None:
            client, cache = self._session.client, self._session.cache
        else:  # load_input called without setup_for_execution, as in a user's unit test
            client = self.wandb.get_client()
            cache = ArtifactCache(
                self._storage_path(_instance_of(context)), self.cache_duration_in_minutes
            )
        reader = client.artifact_reader(self.wandb.resolved_entity, self.wandb.resolved_project)
        return reader, cache


def _instance_of(context: InputContext) -> DagsterInstance | None:
    try:
        return context.instance
    except DagsterInvariantViolationError:
        return None


def _refuse_shared_artifacts(names: list[str], context: OutputContext, location: Any) -> None:
    """Refuse to write an artifact another asset of this run writes too (each would
    overwrite the other's ``latest``)."""
    others = other_writers_in_run(context)
    problems = [
        f"{location}: {owner} is written to the W&B artifact '{name}' too; an asset's "
        "artifact is written by that asset only: rename one of them"
        for name in names
        for owner in claimants(name, others)
    ]
    if problems:
        raise WandbConfigurationError(problems)


def _missing_artifact_hint(
    asset: str | None,
    artifact_path: str,
    path: ReadPath,
    spec: PartitionReadSpec,
    partition_key: str | None,
) -> str:
    """What to check when the artifact at ``artifact_path`` (``entity/project/name``, or a
    registry path) is not in W&B.

    ``asset`` is the upstream asset (``None`` for an ``@op`` input named in configuration).
    """
    prefix, _, name = artifact_path.rpartition("/")
    if path.registry is not None:
        checks = [
            f"a version was linked to the W&B Registry collection '{artifact_path}' "
            "(link_to, or the W&B app)",
            "the API key's user is a member of the registry",
        ]
    elif path.elsewhere:
        checks = [f"an artifact named '{name}' was logged to W&B project '{prefix}'"]
    elif asset is None:
        checks = [f"an artifact named '{name}' ({CONFIG_KEY}.name) was logged to W&B"]
    else:
        partition = f"partition '{partition_key}' of " if partition_key is not None else ""
        checks = [
            f"{partition}asset '{asset}' was materialized to W&B (an asset made outside "
            f"Dagster: logged as '{name}')"
        ]
    if not path.elsewhere:
        checks.append(f"WandbResource's entity and project are the ones it went to ('{prefix}')")
    if spec.version is not None:
        checks.append(f"it has a version '{spec.version}'")
    elif spec.alias is not None:
        checks.append(f"one of its versions has the alias '{spec.alias}'")
    if len(checks) == 1:
        return f"Check that {checks[0]}"
    return f"Check that {', that '.join(checks[:-1])} and that {checks[-1]}"


def _is_wandb_artifact(value: object) -> bool:
    import wandb

    return isinstance(value, wandb.Artifact)


__all__ = ["CONFIG_KEY", "DEFAULT_CACHE_DURATION_IN_MINUTES", "WandbArtifactsIOManager"]
