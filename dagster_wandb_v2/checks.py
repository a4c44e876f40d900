"""An asset check verifying a W&B-backed asset's latest materialization against W&B.

For each asset, the check reads the latest materialization's W&B metadata (written by the
IO manager or by :func:`~dagster_wandb_v2.build_wandb_artifact_sensor`) and asks W&B whether:

1. the version it names (``wandb_entity/wandb_project/wandb_artifact_name:wandb_artifact_version``)
   still exists;
2. its digest is the ``wandb_artifact_digest`` Dagster recorded (content unchanged);
3. its files are present: every manifest entry stored by W&B is listed with its size, and,
   with ``download=True``, downloads and matches its checksum (references are not fetched).

Results use Dagster's severities: ``ERROR`` when W&B contradicts Dagster (version gone,
digest changed, files missing), ``WARN`` when it cannot be verified (no materialization, no
W&B metadata, W&B not answering).

Example::

    from dagster import AssetSpec, Definitions
    from dagster_wandb_v2 import build_wandb_artifact_checks

    classifier = AssetSpec("classifier").with_io_manager_key("wandb_artifacts_manager")
    defs = Definitions(
        assets=[classifier],
        asset_checks=[build_wandb_artifact_checks([classifier])],
        resources={"wandb": ..., "wandb_artifacts_manager": ...},
    )
"""

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MetadataValue,
    multi_asset_check,
)

from dagster_wandb_v2.resource import WandbResource
from dagster_wandb_v2.watch import DIGEST_KEY, ArtifactLookupError, look_up

CHECK_NAME = "wandb_artifact_matches_wandb"
"""The name of the check on each asset."""

_LOCATION_KEYS = ("wandb_entity", "wandb_project", "wandb_artifact_name", "wandb_artifact_version")


@dataclass
class Verdict:
    """What W&B says about one materialization."""

    passed: bool
    severity: AssetCheckSeverity
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def build_wandb_artifact_checks(
    assets: Sequence[AssetSpec | AssetsDefinition | AssetKey | str],
    *,
    wandb_resource_key: str = "wandb",
    download: bool = False,
    name: str = CHECK_NAME,
) -> AssetChecksDefinition:
    """One check per asset (named ``name``), verifying its latest materialization in W&B.

    Args:
        assets: the W&B-backed assets (``AssetSpec``, ``@asset`` definitions or keys).
        wandb_resource_key: the key of the :class:`WandbResource` in ``Definitions``.
        download: also download every stored file and match its checksum (costs the
            artifact's size in transfer; without it, one file listing per artifact).
        name: the check's name on each asset.

    Costs two W&B requests per asset (lookup and file listing), plus the downloads.
    """
    keys: list[AssetKey] = []
    for asset in assets:
        if isinstance(asset, AssetsDefinition):
            keys.extend(asset.keys)
        elif isinstance(asset, AssetSpec):
            keys.append(asset.key)
        else:
            keys.append(AssetKey.from_coercible(asset))
    specs = [
        AssetCheckSpec(
            name,
            asset=key,
            description="The latest materialization's W&B artifact version exists, its digest "
            "matches the one Dagster recorded, and its files are stored in W&B.",
        )
        for key in keys
    ]

    @multi_asset_check(
        specs=specs,
        name=f"{name}__{'_'.join(key.to_python_identifier() for key in keys)}"[:200],
        can_subset=True,
        required_resource_keys={wandb_resource_key},
    )
    def _wandb_artifact_checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        resource: WandbResource = getattr(context.resources, wandb_resource_key)
        api: Any = None
        for check_key in sorted(context.selected_asset_check_keys, key=str):
            asset_key = check_key.asset_key
            entry = context.instance.get_latest_materialization_event(asset_key)
            materialization = entry.asset_materialization if entry is not None else None
            if materialization is None:
                verdict = Verdict(False, AssetCheckSeverity.WARN, "no materialization recorded")
            else:
                recorded = {k: v.value for k, v in materialization.metadata.items()}
                if api is None:
                    api = resource.get_api()
                verdict = verify(api, recorded, download=download)
            context.log.info(f"{asset_key.to_user_string()}: {verdict.description}")
            yield AssetCheckResult(
                asset_key=asset_key,
                check_name=check_key.name,
                passed=verdict.passed,
                severity=verdict.severity,
                description=verdict.description,
                metadata=verdict.metadata,
            )

    return _wandb_artifact_checks


def verify(api: Any, recorded: dict[str, Any], *, download: bool = False) -> Verdict:
    """Compare a materialization's W&B metadata (``{key: value}``) with what W&B holds now."""
    missing = [key for key in _LOCATION_KEYS if not recorded.get(key)]
    if missing:
        return Verdict(
            False,
            AssetCheckSeverity.WARN,
            f"the latest materialization has no W&B metadata ({', '.join(missing)} missing): "
            "not written by the W&B IO manager or the W&B artifact sensor",
        )
    path = "{}/{}/{}:{}".format(*(recorded[key] for key in _LOCATION_KEYS))
    metadata: dict[str, Any] = {"wandb_artifact_path": MetadataValue.text(path)}
    try:
        state = look_up(api, path)
    except ArtifactLookupError as error:
        if error.reachable:
            return Verdict(False, AssetCheckSeverity.ERROR, f"{error} (deleted?)", metadata)
        return Verdict(False, AssetCheckSeverity.WARN, f"could not verify: {error}", metadata)
    metadata["wandb_artifact_digest"] = MetadataValue.text(state.digest)
    expected = recorded.get(DIGEST_KEY)
    if expected is not None and expected != state.digest:
        return Verdict(
            False,
            AssetCheckSeverity.ERROR,
            f"W&B artifact '{path}' has digest {state.digest}, Dagster recorded {expected}",
            metadata,
        )
    problems = _file_problems(state.artifact, download=download)
    metadata["wandb_files_checked"] = MetadataValue.int(len(state.artifact.manifest.entries))
    if problems:
        metadata["wandb_file_problems"] = MetadataValue.json(problems)
        return Verdict(
            False,
            AssetCheckSeverity.ERROR,
            f"W&B artifact '{path}': {len(problems)} file(s) missing or damaged: "
            + "; ".join(problems[:5]),
            metadata,
        )
    digest_note = "digest matches" if expected is not None else "no digest recorded to compare"
    how = "downloaded and verified" if download else "present"
    return Verdict(
        True,
        AssetCheckSeverity.ERROR,
        f"W&B artifact '{path}' exists, {digest_note}, files {how}",
        metadata,
    )


def _file_problems(artifact: Any, *, download: bool) -> list[str]:
    """Manifest entries W&B does not store (by listing, then by download if asked)."""
    entries = {path: entry for path, entry in artifact.manifest.entries.items() if not entry.ref}
    files = {str(f.name): f for f in artifact.files(per_page=1000)}
    listed = {name: int(f.size) for name, f in files.items()}
    problems = []
    for path, entry in sorted(entries.items()):
        if path not in listed:
            problems.append(f"'{path}' is not stored")
        elif entry.size is not None and listed[path] != int(entry.size):
            problems.append(f"'{path}' is {listed[path]} bytes, the manifest says {entry.size}")
    if download and not problems:
        with tempfile.TemporaryDirectory(prefix="wandb-check-") as root:
            for path in sorted(entries):
                # W&B's public ``File.download`` fetches from W&B itself, never from the
                # SDK's file cache. (An entry's ``download(skip_cache=True)`` would, but the
                # SDK keeps that destination for every later download of the process.)
                try:
                    files[path].download(root=root, replace=True).close()
                except Exception as error:  # the SDK raises several kinds for a failed fetch
                    problems.append(f"'{path}' could not be downloaded: {error!r}")
            if not problems:
                try:
                    artifact.verify(root=root)
                except ValueError as error:
                    problems.append(str(error))
    return problems
