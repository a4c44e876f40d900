"""The W&B artifact sensor, staleness and declarative automation, through the real wandb SDK
against the local server: artifacts are logged and aliases moved outside Dagster."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import (
    AssetIn,
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    AutomationCondition,
    DagsterInstance,
    Definitions,
    SensorResult,
    asset,
    build_sensor_context,
    define_asset_job,
    evaluate_automation_conditions,
    materialize,
)
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import (
    DATA_VERSION_TAG,
    CachingStaleStatusResolver,
    StaleCauseCategory,
    StaleStatus,
)
from dagster._time import get_current_datetime

from dagster_wandb_v2 import WandbConfigurationError, build_wandb_artifact_sensor
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer

IO = "wandb_artifacts_manager"


def log_version(
    project: LocalWandbProject,
    tmp_path: Path,
    name: str,
    content: str,
    aliases: list[str],
    link_to: str | None = None,
) -> wandb.Artifact:
    """Log ``name`` holding ``content`` from a W&B run outside Dagster (and link it)."""
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    (folder / "weights.txt").write_text(content)
    with wandb.init(entity=project.entity, project=project.project, job_type="train") as run:
        artifact = wandb.Artifact(name, "model")
        artifact.add_file(str(folder / "weights.txt"))
        logged = run.log_artifact(artifact, aliases=aliases)
        logged.wait()
        if link_to is not None:
            run.link_artifact(logged, link_to, aliases=aliases)
    return logged


def tick(sensor: Any, project: LocalWandbProject, instance: DagsterInstance, cursor: str | None):
    """One sensor evaluation, its events stored as Dagster's sensor daemon stores them."""
    resources = {"wandb": project.resources()["wandb"]}
    with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = sensor(context)
    assert isinstance(result, SensorResult)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return result


def _materializations(result: SensorResult) -> dict[AssetKey, AssetMaterialization]:
    events = [e for e in result.asset_events if isinstance(e, AssetMaterialization)]
    return {event.asset_key: event for event in events}


def test_reports_new_versions_once_with_metadata_and_data_version(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    registry_path = f"wandb-registry-model/clf-{uuid.uuid4().hex[:8]}"
    first = log_version(local_wandb, tmp_path, "classifier", "v0", ["production"], registry_path)
    classifier = AssetSpec("classifier").with_io_manager_key(IO)
    registered = AssetSpec("registered_classifier").with_io_manager_key(IO)
    sensor = build_wandb_artifact_sensor(
        {
            "classifier:production": classifier,
            f"{registry_path}:production": registered,
        }
    )
    instance = DagsterInstance.ephemeral()

    result = tick(sensor, local_wandb, instance, None)
    reported = _materializations(result)
    assert set(reported) == {classifier.key, registered.key}
    for materialization in reported.values():
        assert materialization.tags[DATA_VERSION_TAG] == first.digest
        metadata = materialization.metadata
        assert metadata["wandb_artifact_version"].value == "v0"
        assert metadata["wandb_artifact_digest"].value == first.digest
        assert metadata["wandb_run_id"].value == first.logged_by().id  # type: ignore[union-attr]
        assert str(metadata["wandb_run_url"].value).startswith(local_wandb.base_url)
        assert str(metadata["wandb_artifact_url"].value).startswith(local_wandb.base_url)
    assert reported[registered.key].metadata["wandb_project"].value == "wandb-registry-model"
    assert reported[classifier.key].metadata["wandb_artifact_url"].value == first.url
    resolver = stale_status(
        instance, Definitions(assets=[classifier], resources=local_wandb.resources())
    )
    assert resolver.get_current_data_version(classifier.key).value == first.digest

    again = tick(sensor, local_wandb, instance, result.cursor)
    assert again.asset_events == [] and again.skip_reason is not None

    second = log_version(local_wandb, tmp_path, "classifier", "v1", ["production"])
    moved = tick(sensor, local_wandb, instance, again.cursor)
    assert list(_materializations(moved)) == [classifier.key]
    assert _materializations(moved)[classifier.key].tags[DATA_VERSION_TAG] == second.digest
    assert _materializations(moved)[classifier.key].metadata["wandb_artifact_version"].value == (
        "v1"
    )

    # A lost or reset cursor does not report what the instance already records.
    reset = tick(sensor, local_wandb, instance, None)
    assert reset.asset_events == []
    assert json.loads(reset.cursor or "")["seen"]["classifier:production"]["digest"] == (
        second.digest
    )


def stale_status(instance: DagsterInstance, defs: Definitions) -> CachingStaleStatusResolver:
    """Dagster's staleness of ``defs``'s assets, as the UI computes it."""
    asset_graph = defs.resolve_asset_graph()
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=asset_graph,
    )
    return CachingStaleStatusResolver(
        instance=instance, asset_graph=asset_graph, loading_context=view
    )


def test_unreachable_server_and_missing_artifacts_lose_nothing(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANDB_HTTP_TIMEOUT", "2")  # the SDK's per-request timeout, seconds
    log_version(local_wandb, tmp_path, "a_model", "a0", ["production"])
    log_version(local_wandb, tmp_path, "b_model", "b0", ["production"])
    sensor = build_wandb_artifact_sensor(
        {"a_model:production": "a", "b_model:production": "b", "nothing_here:production": "c"}
    )
    instance = DagsterInstance.ephemeral()
    first = tick(sensor, local_wandb, instance, None)
    assert set(_materializations(first)) == {AssetKey("a"), AssetKey("b")}

    moved = log_version(local_wandb, tmp_path, "b_model", "b1", ["production"])
    local_wandb_server.faults.fail_next("graphql", times=1000, status=503)
    try:
        failed = tick(sensor, local_wandb, instance, first.cursor)
    finally:
        local_wandb_server.faults.clear()
    assert failed.asset_events == []
    assert failed.skip_reason is not None
    assert "could not be reached" in (failed.skip_reason.skip_message or "")
    assert failed.cursor == first.cursor

    # W&B stops answering after the sensor opened its connection: the first artifact
    # that gets no answer ends the tick; those not checked keep their cursor entries.
    local_wandb_server.faults.fail_next("ArtifactMembershipByName", times=1000, status=503)
    try:
        partial = tick(sensor, local_wandb, instance, first.cursor)
    finally:
        local_wandb_server.faults.clear()
    message = partial.skip_reason.skip_message if partial.skip_reason else ""
    assert partial.asset_events == []
    assert "W&B artifact 'a_model:production': W&B did not answer" in (message or "")
    assert "not checked this tick: b_model:production, nothing_here:production" in (message or "")
    assert partial.cursor == first.cursor

    recovered = tick(sensor, local_wandb, instance, partial.cursor)
    assert list(_materializations(recovered)) == [AssetKey("b")]
    assert _materializations(recovered)[AssetKey("b")].tags[DATA_VERSION_TAG] == moved.digest
    assert "nothing_here:production" not in json.loads(recovered.cursor or "")["seen"]


def test_a_missing_artifact_is_named_and_others_still_reported(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    log_version(local_wandb, tmp_path, "present", "p0", ["production"])
    sensor = build_wandb_artifact_sensor(
        {"absent:production": "absent", "present:staging": "staging", "present:production": "p"}
    )
    result = tick(sensor, local_wandb, DagsterInstance.ephemeral(), None)
    assert list(_materializations(result)) == [AssetKey("p")]
    seen = json.loads(result.cursor or "")["seen"]
    assert set(seen) == {"present:production"}

    nothing = tick(sensor, local_wandb, DagsterInstance.ephemeral(), result.cursor)
    message = nothing.skip_reason.skip_message if nothing.skip_reason else ""
    assert "W&B artifact 'absent:production'" in (message or "")
    assert "W&B artifact 'present:staging'" in (message or "")
    assert "not found" in (message or "")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("no_alias", "expected '[entity/][project/]name:alias'"),
        ("a/b/c/d:latest", "at most 'entity/project/'"),
        ("bad name:latest", "bad name"),
        ("model:pro/d", "pro/d"),
        ("model:", "alias"),
        ("wandb-registry-/classifier:production", "Registry name cannot be empty"),
        ("team/my#project/model:production", "'my#project', cannot contain characters: '#'"),
    ],
)
def test_malformed_paths_are_refused_at_definition_time(path: str, expected: str) -> None:
    with pytest.raises(WandbConfigurationError) as raised:
        build_wandb_artifact_sensor({path: "asset"})
    assert f"watched W&B artifact '{path}'" in str(raised.value)
    assert expected in str(raised.value)


def test_one_lookup_per_watched_artifact_per_tick(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    watched = {}
    for index in range(6):
        log_version(local_wandb, tmp_path, f"m{index}", str(index), ["production"])
        watched[f"m{index}:production"] = f"m{index}"
    sensor = build_wandb_artifact_sensor(watched)
    instance = DagsterInstance.ephemeral()
    first = tick(sensor, local_wandb, instance, None)
    assert len(first.asset_events) == 6

    before = local_wandb_server.request_count
    quiet = tick(sensor, local_wandb, instance, first.cursor)
    graphql = [r for r in local_wandb_server.requests_since(before) if r.route == "graphql"]
    assert quiet.asset_events == []
    # One artifact lookup each, plus what opening a wandb.Api costs (login, server features).
    lookups = [r for r in graphql if r.operation == "ArtifactMembershipByName"]
    assert len(lookups) == 6
    assert len(graphql) <= 6 + 3, [r.operation for r in graphql]


def test_changes_request_one_run_with_a_stable_run_key(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    log_version(local_wandb, tmp_path, "classifier", "c0", ["production"])
    classifier = AssetSpec("classifier").with_io_manager_key(IO)

    @asset(deps=[classifier])
    def evaluation() -> None: ...

    sensor = build_wandb_artifact_sensor(
        {"classifier:production": classifier}, asset_selection=[evaluation]
    )
    first = tick(sensor, local_wandb, DagsterInstance.ephemeral(), None)
    retried = tick(sensor, local_wandb, DagsterInstance.ephemeral(), None)
    assert len(first.run_requests or []) == 1
    request = (first.run_requests or [])[0]
    assert request.run_key == (retried.run_requests or [])[0].run_key
    assert request.tags["dagster_wandb/artifacts"] == "classifier:production"
    quiet = tick(sensor, local_wandb, DagsterInstance.ephemeral(), first.cursor)
    assert not quiet.run_requests


def test_a_job_can_be_run_and_targets_are_exclusive(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    log_version(local_wandb, tmp_path, "classifier", "c0", ["production"])
    classifier = AssetSpec("classifier").with_io_manager_key(IO)

    @asset(deps=[classifier])
    def evaluation() -> None: ...

    job = define_asset_job("evaluate", selection=[evaluation])
    sensor = build_wandb_artifact_sensor({"classifier:production": classifier}, job=job)
    assert sensor.job_name == "evaluate"
    result = tick(sensor, local_wandb, DagsterInstance.ephemeral(), None)
    assert len(result.run_requests or []) == 1

    with pytest.raises(WandbConfigurationError, match="either job or asset_selection"):
        build_wandb_artifact_sensor({"a:b": "a"}, job=job, asset_selection=[evaluation])
    with pytest.raises(WandbConfigurationError, match="no W&B artifact to watch"):
        build_wandb_artifact_sensor({})


def test_downstream_becomes_stale_and_eager_automation_runs_it(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    log_version(local_wandb, tmp_path, "classifier", "c0", ["production"])
    classifier = AssetSpec("classifier").with_io_manager_key(IO)

    @asset(
        ins={
            "model": AssetIn(
                key="classifier",
                metadata={"wandb_artifact_configuration": {"alias": "production"}},
            )
        },
        automation_condition=AutomationCondition.eager(),
    )
    def evaluation(model: wandb.Artifact) -> str:
        return (Path(model.download()) / "weights.txt").read_text()

    defs = Definitions(assets=[classifier, evaluation], resources=local_wandb.resources())
    sensor = build_wandb_artifact_sensor({"classifier:production": classifier})
    instance = DagsterInstance.ephemeral()
    automation = evaluate_automation_conditions(defs, instance)
    assert automation.total_requested == 0  # the W&B artifact is not known to Dagster yet

    reported = tick(sensor, local_wandb, instance, None)
    automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    assert automation.get_requested_partitions(evaluation.key) == {None}
    result = materialize(
        [classifier, evaluation],
        selection=[evaluation],
        instance=instance,
        resources=local_wandb.resources(),
    )
    assert result.output_for_node("evaluation") == "c0"
    stale = stale_status(instance, defs)
    assert stale.get_status(evaluation.key) == StaleStatus.FRESH
    automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    assert automation.total_requested == 0

    log_version(local_wandb, tmp_path, "classifier", "c1", ["production"])
    tick(sensor, local_wandb, instance, reported.cursor)
    stale = stale_status(instance, defs)
    assert stale.get_status(evaluation.key) == StaleStatus.STALE
    causes = stale.get_stale_causes(evaluation.key)
    assert [(c.category, c.dependency and c.dependency.asset_key) for c in causes] == [
        (StaleCauseCategory.DATA, classifier.key)
    ]
    assert causes[0].reason == "has a new dependency data version"
    automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    assert automation.get_requested_partitions(evaluation.key) == {None}
