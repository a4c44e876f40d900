"""Version lifecycle: promote, update, link and clean up versions W&B already holds.

Each operation is described by a typed Dagster ``Config`` naming its target (an asset, or
an artifact by name) and acts through W&B's public API (``wandb.Api().artifact(...)``, then
``save()``, ``link()`` or ``delete()``), as the W&B Artifacts guide does by hand:

- :class:`PromoteVersion`: add aliases (``production``) to a version; W&B moves an alias
  another version of the collection holds;
- :class:`UpdateVersion`: set the description, merge keys into the metadata;
- :class:`LinkVersion`: link a version to a W&B Registry collection (after an evaluation);
- :class:`CleanUpVersions`: delete the versions no alias protects (``latest``, user aliases
  and Registry links protect; the IO manager's ``dagster-run-<8>`` aliases do not), dry run
  by default.

:func:`run_lifecycle_step` runs any of them with a :class:`~dagster_wandb_v2.WandbResource`
and returns a :class:`LifecycleReport` whose ``metadata`` goes into a ``MaterializeResult``
or an ``Output``. Every problem is a :class:`~dagster_wandb_v2.WandbConfigurationError` (bad
configuration, raised when the config is built) or a
:class:`~dagster_wandb_v2.WandbArtifactNotFoundError` naming the step, the asset and the key;
nothing is changed in W&B when one is raised.

Example (inside an asset, after an evaluation)::

    from dagster import MaterializeResult, asset
    from dagster_wandb_v2 import PromoteVersion, WandbResource, run_lifecycle_step

    @asset(deps=["evaluation"])
    def promoted_model(wandb: WandbResource) -> MaterializeResult:
        report = run_lifecycle_step(wandb, PromoteVersion(asset="model", aliases=["production"]))
        return MaterializeResult(metadata=report.metadata)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dagster import AssetKey, Config, MetadataValue, MultiPartitionKey
from pydantic import Field, model_validator

from dagster_wandb_v2._unknown_keys import reject_unknown_fields
from dagster_wandb_v2.client import ArtifactVersion, WandbArtifactsApi
from dagster_wandb_v2.errors import WandbArtifactNotFoundError, WandbConfigurationError
from dagster_wandb_v2.naming import asset_artifact_name, partition_artifact_name
from dagster_wandb_v2.resource import WandbResource
from dagster_wandb_v2.wandb_rules import (
    VERSION,
    alias_problem,
    artifact_name_problem,
    case_clashes,
    registry_problem,
)

RUN_ALIAS_PREFIX = "dagster-run-"
"""The IO manager's alias on every version it logs (``dagster-run-<8 chars of the run id>``):
it records which Dagster run wrote the version and protects nothing."""

LATEST = "latest"
_REGISTRY_PATH = re.compile(
    r"^(?:(?P<org>[A-Za-z0-9_.-]+)/)?wandb-registry-(?P<registry>[A-Za-z0-9_.-]+)/"
    r"(?P<collection>[A-Za-z0-9_.-]+)$"
)


class VersionTarget(Config):
    """The W&B collection a lifecycle step acts on: an asset's artifact, or one by name."""

    asset: str | None = Field(
        default=None,
        description="Asset key ('model', or 'team/model') whose W&B artifact is the target.",
    )
    artifact: str | None = Field(
        default=None,
        description="W&B artifact (collection) name, for op outputs and external artifacts.",
    )
    partition: str | None = Field(
        default=None,
        description="Partition key of a partitioned asset ('a|b' for multi-dimensional keys).",
    )
    entity: str | None = Field(default=None, description="W&B entity; default: the resource's.")
    project: str | None = Field(default=None, description="W&B project; default: the resource's.")

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        return reject_unknown_fields(cls, data)

    @model_validator(mode="after")
    def _check(self) -> VersionTarget:
        problems = self.problems()
        if problems:
            raise WandbConfigurationError([f"{self.describe()}: {p}" for p in problems])
        return self

    @property
    def kind(self) -> str:
        """The step's name in messages and metadata (``promote``, ``clean_up``...)."""
        return "lifecycle"

    def describe(self) -> str:
        """``promote of asset 'model'``: what messages start with."""
        if self.asset is not None:
            partition = f", partition '{self.partition}'" if self.partition else ""
            return f"{self.kind} of asset '{self.asset}'{partition}"
        return f"{self.kind} of W&B artifact '{self.artifact}'"

    def problems(self) -> list[str]:
        """What is wrong with this configuration, one line per key (empty when valid)."""
        if (self.asset is None) == (self.artifact is None):
            return ["asset, artifact: give exactly one of them"]
        if self.artifact is not None:
            reason = artifact_name_problem(self.artifact)
            return [f"artifact: {reason}"] if reason else []
        return []

    def asset_key(self) -> AssetKey | None:
        return None if self.asset is None else AssetKey.from_user_string(self.asset)

    def collection_name(self, partition_key: str | None = None) -> str:
        """The W&B collection: the asset's artifact name (the IO manager's naming, partition
        included) or ``artifact``. ``partition_key`` (a ``MultiPartitionKey`` too) wins over
        ``partition``."""
        key = self.asset_key()
        base = asset_artifact_name(key) if key is not None else str(self.artifact)
        partition = partition_key if partition_key is not None else self.partition
        if partition is None:
            return base
        if not isinstance(partition, MultiPartitionKey) and "|" in partition:
            # Dagster writes the dimensions of a multi-dimensional key in name order.
            parts = partition.split("|")
            partition = MultiPartitionKey({f"{i:02d}": part for i, part in enumerate(parts)})
        return partition_artifact_name(base, partition)


def _alias_list_problems(key: str, aliases: list[str], *, reserve_latest: bool) -> list[str]:
    problems = []
    for index, alias in enumerate(aliases):
        where = f"{key}.{index}"
        if reserve_latest and alias == LATEST:
            problems.append(
                f"{where}: 'latest' is reserved: W&B moves it to the newest version itself"
            )
        elif alias.startswith(RUN_ALIAS_PREFIX):
            problems.append(
                f"{where}: '{alias}' is reserved: the IO manager gives '{RUN_ALIAS_PREFIX}<8>' "
                "aliases to record the Dagster run"
            )
        elif (reason := alias_problem(alias)) is not None:
            problems.append(f"{where}: {reason}")
    for first, second in case_clashes(aliases):
        problems.append(f"{key}: '{first}' and '{second}' differ only in letter case")
    return problems


def _version_problems(version: str) -> list[str]:
    if not version or "/" in version or ":" in version:
        return [f"version: '{version}' is not an alias or a version (e.g. 'latest', 'v3')"]
    return []


class PromoteVersion(VersionTarget):
    """Add ``aliases`` to the version ``version`` names; W&B moves each alias from the
    version of the collection that holds it (``artifact.aliases.append(...); save()``)."""

    version: str = Field(default=LATEST, description="The version to promote: an alias or 'v<N>'.")
    aliases: list[str] = Field(
        default_factory=list, description="Aliases to add, e.g. ['production']."
    )

    @property
    def kind(self) -> str:
        return "promote"

    def problems(self) -> list[str]:
        problems = super().problems() + _version_problems(self.version)
        if not self.aliases:
            problems.append("aliases: give at least one alias to add, e.g. ['production']")
        return problems + _alias_list_problems("aliases", self.aliases, reserve_latest=True)


class UpdateVersion(VersionTarget):
    """Set the description of a version and merge keys into its metadata (W&B's
    ``artifact.description = ...; artifact.metadata[key] = value; save()``)."""

    version: str = Field(default=LATEST, description="The version to update: an alias or 'v<N>'.")
    description: str | None = Field(default=None, description="New description (markdown).")
    metadata: dict[str, Any] | None = Field(
        default=None, description="Keys to set in the version's metadata (others are kept)."
    )

    @property
    def kind(self) -> str:
        return "update"

    def problems(self) -> list[str]:
        problems = super().problems() + _version_problems(self.version)
        if self.description is None and not self.metadata:
            problems.append("description, metadata: give at least one of them")
        return problems


class LinkVersion(VersionTarget):
    """Link a version to a W&B Registry collection (``artifact.link(target_path, aliases)``)."""

    version: str = Field(default=LATEST, description="The version to link: an alias or 'v<N>'.")
    target_path: str = Field(
        default="",
        description="'wandb-registry-<registry>/<collection>', optionally prefixed by '<org>/'.",
    )
    aliases: list[str] = Field(
        default_factory=list, description="Aliases of the linked version in the registry."
    )

    @property
    def kind(self) -> str:
        return "link"

    def problems(self) -> list[str]:
        problems = super().problems() + _version_problems(self.version)
        match = _REGISTRY_PATH.match(self.target_path)
        if match is None:
            problems.append(
                f"target_path: '{self.target_path}' is not a registry path; expected "
                "'wandb-registry-<registry>/<collection>' (e.g. 'wandb-registry-model/my_model')"
            )
        else:
            if (reason := registry_problem(match["registry"])) is not None:
                problems.append(f"target_path: {reason}")
            if (reason := artifact_name_problem(match["collection"])) is not None:
                problems.append(f"target_path: registry collection: {reason}")
        return problems + _alias_list_problems("aliases", self.aliases, reserve_latest=True)


class CleanUpVersions(VersionTarget):
    """Delete the versions of a collection that no alias protects.

    ``latest``, every user alias and every W&B Registry link protect a version; the IO
    manager's ``dagster-run-<8>`` aliases do not. The ``keep_last`` newest versions are kept
    anyway. ``versions`` restricts the deletion to those versions, and it is an error (nothing
    deleted) when one of them is protected. A dry run (the default) deletes nothing and
    reports what it would delete.
    """

    dry_run: bool = Field(default=True, description="Report only; set false to delete.")
    keep_last: int = Field(
        default=0, ge=0, description="How many of the newest versions to keep regardless."
    )
    versions: list[str] | None = Field(
        default=None, description="Delete only these versions ('v<N>'); default: every one."
    )

    @property
    def kind(self) -> str:
        return "clean_up"

    def problems(self) -> list[str]:
        problems = super().problems()
        for index, version in enumerate(self.versions or []):
            if not VERSION.match(version):
                problems.append(f"versions.{index}: '{version}' is not a version like 'v3'")
        return problems


LifecycleStep = PromoteVersion | UpdateVersion | LinkVersion | CleanUpVersions
"""Any of the lifecycle operations."""

STEP_KINDS: dict[str, type[VersionTarget]] = {
    "promote": PromoteVersion,
    "update": UpdateVersion,
    "link": LinkVersion,
    "clean_up": CleanUpVersions,
}


@dataclass
class LifecycleReport:
    """What a lifecycle step did (or, in a dry run, would do), for Dagster metadata."""

    kind: str
    collection: str
    """``entity/project/collection``."""
    version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, MetadataValue]:
        """``MaterializeResult``/``Output`` metadata: ``wandb_lifecycle_step``,
        ``wandb_artifact`` and, per step, what changed (JSON values are lists or maps)."""
        metadata: dict[str, MetadataValue] = {
            "wandb_lifecycle_step": MetadataValue.text(self.kind),
            "wandb_artifact": MetadataValue.text(self.collection),
        }
        if self.version is not None:
            metadata["wandb_artifact_version"] = MetadataValue.text(self.version)
        for key, value in self.details.items():
            if isinstance(value, bool):
                metadata[key] = MetadataValue.bool(value)
            elif isinstance(value, int):
                metadata[key] = MetadataValue.int(value)
            elif isinstance(value, str) and value.startswith(("http://", "https://")):
                metadata[key] = MetadataValue.url(value)
            elif isinstance(value, str):
                metadata[key] = MetadataValue.text(value)
            else:
                metadata[key] = MetadataValue.json(value)
        return metadata


def run_lifecycle_step(
    wandb: WandbResource,
    step: LifecycleStep,
    *,
    partition_key: str | None = None,
    step_name: str | None = None,
) -> LifecycleReport:
    """Run ``step`` against the W&B of ``wandb``; see :func:`apply_lifecycle_step`."""
    api = wandb.get_client().artifacts_api()
    entity = step.entity or wandb.resolved_entity or api.default_entity
    project = step.project or wandb.resolved_project
    return apply_lifecycle_step(
        api, step, entity, project, partition_key=partition_key, step_name=step_name
    )


def apply_lifecycle_step(
    api: WandbArtifactsApi,
    step: LifecycleStep,
    entity: str,
    project: str,
    *,
    partition_key: str | None = None,
    step_name: str | None = None,
) -> LifecycleReport:
    """Run ``step`` on the collection it names in ``entity/project``.

    ``partition_key`` (e.g. ``context.partition_key``) picks the partition of a partitioned
    asset when the step has none. ``step_name`` (the op or asset running it) prefixes errors.

    Raises:
        WandbArtifactNotFoundError: the version to act on does not exist (nothing changed).
        WandbConfigurationError: a cleanup asked to delete a protected version (nothing
            deleted).
    """
    collection = f"{entity}/{project}/{step.collection_name(partition_key)}"
    where = f"{step_name}: {step.describe()}" if step_name else step.describe()
    if isinstance(step, CleanUpVersions):
        return _clean_up(api, step, collection, where)
    version = _look_up(api, collection, step.version, where)
    if isinstance(step, PromoteVersion):
        return _promote(api, step, collection, version)
    if isinstance(step, UpdateVersion):
        return _update(step, collection, version)
    return _link(step, collection, version)


def _look_up(
    api: WandbArtifactsApi, collection: str, qualifier: str, where: str
) -> ArtifactVersion:
    try:
        return api.artifact(f"{collection}:{qualifier}")
    except WandbArtifactNotFoundError:
        kind = "version" if VERSION.match(qualifier) else "alias"
        raise WandbArtifactNotFoundError(
            f"{collection}:{qualifier}",
            f"version: the collection has no {kind} '{qualifier}' (nothing was changed); "
            "check that the asset was materialized to W&B and that the alias or version exists",
            where,
        ) from None


def _promote(
    api: WandbArtifactsApi, step: PromoteVersion, collection: str, version: ArtifactVersion
) -> LifecycleReport:
    holders = {
        alias: other.version
        for other in api.versions(collection)
        for alias in other.aliases
        if alias in step.aliases and other.version != version.version
    }
    added = [alias for alias in step.aliases if alias not in version.aliases]
    if added:
        version.aliases = [*version.aliases, *added]
        version.save()
    return LifecycleReport(
        "promote",
        collection,
        version.version,
        {
            "wandb_aliases_added": added,
            "wandb_aliases_moved_from": holders,
            "wandb_aliases": sorted(version.aliases),
        },
    )


def _update(step: UpdateVersion, collection: str, version: ArtifactVersion) -> LifecycleReport:
    details: dict[str, Any] = {}
    if step.description is not None:
        version.description = step.description
        details["wandb_description"] = step.description
    if step.metadata:
        version.metadata = {**version.metadata, **step.metadata}
        details["wandb_metadata_keys_set"] = sorted(step.metadata)
    version.save()
    return LifecycleReport("update", collection, version.version, details)


def _link(step: LinkVersion, collection: str, version: ArtifactVersion) -> LifecycleReport:
    linked = version.link(step.target_path, aliases=list(step.aliases))
    details: dict[str, Any] = {
        "wandb_registry_path": str(getattr(linked, "qualified_name", step.target_path)),
        "wandb_registry_aliases": list(step.aliases),
    }
    url = getattr(linked, "url", None)
    if url:
        details["wandb_registry_url"] = str(url)
    return LifecycleReport("link", collection, version.version, details)


def protecting_aliases(version: ArtifactVersion) -> list[str]:
    """The aliases of ``version`` that keep a cleanup from deleting it: every alias but the
    IO manager's ``dagster-run-<8>`` ones (and W&B's own ``v<N>``)."""
    return sorted(
        alias
        for alias in version.aliases
        if not alias.startswith(RUN_ALIAS_PREFIX) and not VERSION.match(alias)
    )


def _protection(version: ArtifactVersion) -> str | None:
    """Why ``version`` may not be deleted (``None``: it may)."""
    aliases = protecting_aliases(version)
    if aliases:
        return f"aliases {aliases}"
    links = [str(getattr(link, "qualified_name", link)) for link in version.linked_artifacts]
    if links:
        return f"linked to the W&B Registry ({', '.join(links)})"
    return None


def _clean_up(
    api: WandbArtifactsApi, step: CleanUpVersions, collection: str, where: str
) -> LifecycleReport:
    versions = api.versions(collection)
    kept: dict[str, str] = {}
    candidates: list[ArtifactVersion] = []
    newest = {v.version for v in versions[len(versions) - step.keep_last :]}
    if not step.keep_last:
        newest = set()
    for version in versions:
        reason = _protection(version)
        if reason is None and version.version in newest:
            reason = f"one of the {step.keep_last} newest (keep_last)"
        if reason is not None:
            kept[version.version] = reason
        elif step.versions is None or version.version in step.versions:
            candidates.append(version)
    if step.versions is not None:
        existing = {v.version for v in versions}
        problems = [
            f"{where}: versions: {name} is protected by {kept[name]}; a cleanup never deletes "
            "it (remove it from 'versions', or remove its aliases first)"
            for name in step.versions
            if name in kept
        ] + [
            f"{where}: versions: W&B artifact '{collection}' has no version {name}"
            for name in step.versions
            if name not in existing
        ]
        if problems:
            raise WandbConfigurationError([*problems, "nothing was deleted"])
    deleted: list[str] = []
    if not step.dry_run:
        for version in candidates:
            # Aliases may have changed since the listing: look again just before deleting.
            try:
                current = api.artifact(f"{collection}:{version.version}")
            except WandbArtifactNotFoundError:  # deleted meanwhile, by someone else
                kept[version.version] = "already deleted (since the listing)"
                continue
            reason = _protection(current)
            if reason is not None:
                kept[version.version] = f"{reason} (since the listing)"
                continue
            current.delete(delete_aliases=True)  # only dagster-run-* aliases are left
            deleted.append(version.version)
    planned = [version.version for version in candidates]
    details: dict[str, Any] = {
        "dry_run": step.dry_run,
        "wandb_versions_before": len(versions),
        ("wandb_would_delete_versions" if step.dry_run else "wandb_deleted_versions"): (
            planned if step.dry_run else deleted
        ),
        ("wandb_would_delete_count" if step.dry_run else "wandb_deleted_count"): len(
            planned if step.dry_run else deleted
        ),
        "wandb_kept_versions": kept,
    }
    return LifecycleReport("clean_up", collection, None, details)


__all__ = [
    "CleanUpVersions",
    "LifecycleReport",
    "LifecycleStep",
    "LinkVersion",
    "PromoteVersion",
    "UpdateVersion",
    "VersionTarget",
    "apply_lifecycle_step",
    "protecting_aliases",
    "run_lifecycle_step",
]
