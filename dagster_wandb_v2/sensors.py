"""A Dagster sensor reporting new W&B artifact versions as materializations of external assets.

When a watched alias (``my_model:production``, a Registry collection's
``wandb-registry-model/classifier:production``) points to new content, the sensor reports an
``AssetMaterialization`` of the matching ``AssetSpec`` with the W&B metadata the IO manager
writes, and the artifact digest as the asset's data version (Dagster's
``dagster/data_version`` tag). Downstream assets then become stale in Dagster, and
``AutomationCondition.eager()`` materializes them; a job or asset selection can also be run.

Example::

    from dagster import AssetSpec, AutomationCondition, Definitions, asset
    from dagster_wandb_v2 import build_wandb_artifact_sensor

    classifier = AssetSpec("classifier").with_io_manager_key("wandb_artifacts_manager")

    @asset(deps=[classifier], automation_condition=AutomationCondition.eager())
    def evaluation() -> None: ...

    defs = Definitions(
        assets=[classifier, evaluation],
        sensors=[build_wandb_artifact_sensor({"classifier:production": classifier})],
        resources={"wandb": ..., "wandb_artifacts_manager": ...},
    )

Delivery: the cursor keeps the digest last reported per watched artifact. A tick that
fails, or an artifact W&B could not be asked about, leaves its entry unchanged, so the next
tick reports the change (never lost); a digest already recorded as the asset's latest data
version is not reported again (never duplicated, even with a reset cursor). Polling sees the
alias's state at each tick: an alias moved twice between two ticks reports the last version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    DagsterInvariantViolationError,
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._core.definitions.asset_selection import CoercibleToAssetSelection
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.resource import WandbResource
from dagster_wandb_v2.watch import ArtifactLookupError, ArtifactState, WatchedArtifact, look_up

_CURSOR_VERSION = 1
RUN_TAG = "dagster_wandb/artifacts"
"""Tag of the runs the sensor requests: the watched paths that changed, comma separated."""


def build_wandb_artifact_sensor(
    artifacts: Mapping[str, AssetSpec | AssetKey | str | Sequence[str]],
    *,
    name: str = "wandb_artifact_sensor",
    wandb_resource_key: str = "wandb",
    job: JobDefinition | UnresolvedAssetJobDefinition | None = None,
    asset_selection: CoercibleToAssetSelection | None = None,
    minimum_interval_seconds: int = 60,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    description: str | None = None,
) -> SensorDefinition:
    """A sensor watching W&B artifact aliases and reporting their new versions to Dagster.

    Args:
        artifacts: ``{"[entity/][project/]name:alias": asset}``; the asset is an ``AssetSpec``
            (usually ``AssetSpec(key).with_io_manager_key("wandb_artifacts_manager")``), an
            ``AssetKey`` or a key string. Missing entity/project come from the resource.
        name: the sensor's name.
        wandb_resource_key: the key of the :class:`WandbResource` in ``Definitions``.
        job: a job to run once per tick in which something changed (or ``asset_selection``).
        asset_selection: assets to materialize once per tick in which something changed.
        minimum_interval_seconds: seconds between two ticks (Dagster's sensor interval).
        default_status: whether the sensor starts running (Dagster's ``DefaultSensorStatus``).
        description: shown in the Dagster UI.

    Each tick costs one W&B lookup per watched artifact, plus about four requests (URL,
    producing run) per artifact whose content changed; it stops asking at the first
    artifact W&B does not answer for (one SDK timeout at most) and leaves the rest for the
    next tick. Run requests carry a run key made of the changed digests, so a retried tick
    launches nothing twice.

    Raises:
        WandbConfigurationError: at definition time, for a malformed ``name:alias``, an
            artifact watched twice, or both ``job`` and ``asset_selection``.
    """
    problems: list[str] = []
    watched: dict[str, tuple[WatchedArtifact, AssetKey]] = {}
    for path, asset in artifacts.items():
        try:
            watched[path] = (WatchedArtifact.parse(path), _asset_key(asset))
        except WandbConfigurationError as error:
            problems += error.problems
    if job is not None and asset_selection is not None:
        problems.append(f"sensor '{name}': give either job or asset_selection, not both")
    if not watched and not problems:
        problems.append(f"sensor '{name}': no W&B artifact to watch")
    if problems:
        raise WandbConfigurationError(problems)
    requests_runs = job is not None or asset_selection is not None

    @sensor(
        name=name,
        job=job,
        asset_selection=asset_selection,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=description
        or f"Reports new versions of W&B artifacts: {', '.join(sorted(watched))}",
        required_resource_keys={wandb_resource_key},
    )
    def _wandb_artifact_sensor(context: SensorEvaluationContext, **resources: Any) -> SensorResult:
        # Dagster passes the required resources as keyword arguments when the sensor is
        # called directly (tests), and through the context in the daemon.
        resource: WandbResource = resources.get(wandb_resource_key) or getattr(
            context.resources, wandb_resource_key
        )
        seen = _read_cursor(context)
        events: list[AssetMaterialization] = []
        changed: list[str] = []
        problems: list[str] = []
        try:
            api = resource.get_api()  # verifies the key with W&B: one request
        except WandbConfigurationError:
            raise
        except Exception as error:  # the SDK's errors have no common base class
            reason = f"W&B at {resource.host} could not be reached or refused the key: {error}"
            context.log.error(f"{reason}; nothing checked, the next tick retries")
            return SensorResult(cursor=context.cursor, skip_reason=reason)
        for position, (path, (spec, asset_key)) in enumerate(sorted(watched.items())):
            try:
                state = look_up(api, spec.path)
            except ArtifactLookupError as error:
                problems.append(str(error))
                context.log.warning(f"{error}; asset {asset_key.to_user_string()} not updated")
                if not error.reachable:
                    rest = [other for other, _ in sorted(watched.items())[position + 1 :]]
                    if rest:
                        problems.append(f"not checked this tick: {', '.join(rest)}")
                    break
                continue
            if seen.get(path, {}).get("digest") == state.digest:
                continue
            if not _already_reported(context, asset_key, state):
                try:
                    events.append(_materialization(asset_key, spec, state))
                except Exception as error:  # the SDK's errors have no common base class
                    problems.append(f"W&B artifact '{path}': run or URL lookup failed: {error}")
                    context.log.warning(f"{problems[-1]}; reported on a later tick")
                    break
                changed.append(f"{path}@{state.digest}")
                context.log.info(
                    f"W&B artifact '{path}' now points to {state.name}:{state.version} "
                    f"(digest {state.digest}); reporting asset {asset_key.to_user_string()}"
                )
            seen[path] = {"digest": state.digest, "version": state.version, "id": state.id}
        cursor = json.dumps({"version": _CURSOR_VERSION, "seen": seen}, sort_keys=True)
        run_requests = []
        if changed and requests_runs:
            run_key = hashlib.sha256("\n".join(sorted(changed)).encode()).hexdigest()[:32]
            tags = {RUN_TAG: ",".join(sorted(item.split("@")[0] for item in changed))[:255]}
            run_requests.append(RunRequest(run_key=run_key, tags=tags))
        skip_reason = None
        if not run_requests and not events:
            skip_reason = "; ".join(problems) or "no watched W&B artifact changed"
        return SensorResult(
            asset_events=events,
            run_requests=run_requests,
            cursor=cursor,
            skip_reason=skip_reason,
        )

    return _wandb_artifact_sensor


def _asset_key(asset: AssetSpec | AssetKey | str | Sequence[str]) -> AssetKey:
    if isinstance(asset, AssetSpec):
        return asset.key
    return AssetKey.from_coercible(asset)


def _read_cursor(context: SensorEvaluationContext) -> dict[str, dict[str, str]]:
    """The digests already reported; an unreadable cursor is logged and read as empty."""
    if not context.cursor:
        return {}
    try:
        parsed = json.loads(context.cursor)
        seen = parsed["seen"] if parsed.get("version") == _CURSOR_VERSION else None
        if isinstance(seen, dict):
            return {str(key): dict(value) for key, value in seen.items()}
    except (ValueError, TypeError, AttributeError, KeyError):
        pass
    context.log.warning(
        "unreadable cursor, starting afresh (already reported versions are not reported again)"
    )
    return {}


def _already_reported(
    context: SensorEvaluationContext, asset_key: AssetKey, state: ArtifactState
) -> bool:
    """Whether the asset's latest materialization already has this digest as data version.

    Covers a cursor lost or reset, and a tick whose events were stored but whose cursor was
    not (Dagster stores a tick's events before its cursor).
    """
    try:
        instance = context.instance
    except DagsterInvariantViolationError:  # a test context built without an instance
        return False
    entry = instance.get_latest_materialization_event(asset_key)
    materialization = entry.asset_materialization if entry is not None else None
    tags = (materialization.tags if materialization is not None else None) or {}
    return tags.get(DATA_VERSION_TAG) == state.digest


def _materialization(
    asset_key: AssetKey, watched: WatchedArtifact, state: ArtifactState
) -> AssetMaterialization:
    return AssetMaterialization(
        asset_key=asset_key,
        description=f"W&B artifact {state.name}:{state.version} ('{watched.path}')",
        metadata=state.materialization_metadata(watched),
        tags={DATA_VERSION_TAG: state.digest},
    )
