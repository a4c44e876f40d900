"""The W&B artifact check, through the real wandb SDK against the local server."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import wandb
from dagster import (
    AssetCheckSeverity,
    AssetIn,
    AssetKey,
    AssetSelection,
    AssetSpec,
    DagsterInstance,
    Definitions,
    asset,
    define_asset_job,
    materialize,
)

from dagster_wandb_v2 import build_wandb_artifact_checks, build_wandb_artifact_sensor
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer
from tests.integration.test_sensor_sdk import log_version, tick

IO = "wandb_artifacts_manager"


def _run_checks(
    defs_assets: list[Any],
    project: LocalWandbProject,
    instance: DagsterInstance,
    **check_options: Any,
) -> dict[AssetKey, Any]:
    keys = [a.key for a in defs_assets]
    checks = build_wandb_artifact_checks(defs_assets, **check_options)
    defs = Definitions(
        assets=defs_assets,
        asset_checks=[checks],
        jobs=[define_asset_job("checks", selection=AssetSelection.checks_for_assets(*keys))],
        resources=project.resources(),
    )
    result = defs.resolve_job_def("checks").execute_in_process(instance=instance)
    assert result.success
    return {e.asset_key: e for e in result.get_asset_check_evaluations()}


def test_io_manager_asset_passes_then_fails_when_its_version_is_deleted(
    local_wandb: LocalWandbProject,
) -> None:
    @asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key=IO)
    def table() -> dict[str, int]:
        return {"rows": 3}

    instance = DagsterInstance.ephemeral()
    checks = build_wandb_artifact_checks([table])
    written = materialize([table, checks], instance=instance, resources=local_wandb.resources())
    [evaluation] = written.get_asset_check_evaluations()
    assert evaluation.passed, evaluation.description
    assert "digest matches" in (evaluation.description or "")
    stored = local_wandb.api().artifact(local_wandb.path("table:v0"))
    assert evaluation.metadata["wandb_artifact_digest"].value == stored.digest

    stored.delete(delete_aliases=True)
    [after] = _run_checks([table], local_wandb, instance).values()
    assert not after.passed
    assert after.severity == AssetCheckSeverity.ERROR
    assert "table:v0" in (after.description or "")


def test_sensor_reported_asset_verified_and_damage_found(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    tmp_path: Path,
) -> None:
    logged = log_version(local_wandb, tmp_path, "classifier", "weights-1", ["production"])
    classifier = AssetSpec("classifier").with_io_manager_key(IO)
    never = AssetSpec("never_seen").with_io_manager_key(IO)
    instance = DagsterInstance.ephemeral()
    tick(
        build_wandb_artifact_sensor({"classifier:production": classifier}),
        local_wandb,
        instance,
        None,
    )

    evaluations = _run_checks([classifier, never], local_wandb, instance, download=True)
    assert evaluations[classifier.key].passed, evaluations[classifier.key].description
    assert "downloaded and verified" in (evaluations[classifier.key].description or "")
    assert not evaluations[never.key].passed
    assert evaluations[never.key].severity == AssetCheckSeverity.WARN

    # Damage the stored file on the server: same size, other bytes.
    md5 = logged.manifest.entries["weights.txt"].digest
    blob = _blob_file(local_wandb_server, md5)
    blob.write_bytes(b"weights-2")
    damaged = _run_checks([classifier], local_wandb, instance, download=True)[classifier.key]
    assert not damaged.passed
    assert damaged.severity == AssetCheckSeverity.ERROR
    assert "weights.txt" in (damaged.description or "")
    # Listing alone does not see damaged bytes (it only compares names and sizes).
    listed = _run_checks([classifier], local_wandb, instance)[classifier.key]
    assert listed.passed


def _blob_file(server: LocalWandbServer, md5_b64: str) -> Path:
    import base64

    md5_hex = base64.b64decode(md5_b64).hex()
    [path] = [p for p in server.data_dir.rglob(md5_hex) if p.is_file()]
    return path


def test_digest_mismatch_is_an_error(local_wandb: LocalWandbProject, tmp_path: Path) -> None:
    log_version(local_wandb, tmp_path, "classifier", "w", ["production"])
    classifier = AssetSpec("classifier").with_io_manager_key(IO)
    instance = DagsterInstance.ephemeral()
    from dagster import AssetMaterialization

    instance.report_runless_asset_event(
        AssetMaterialization(
            "classifier",
            metadata={
                "wandb_entity": local_wandb.entity,
                "wandb_project": local_wandb.project,
                "wandb_artifact_name": "classifier",
                "wandb_artifact_version": "v0",
                "wandb_artifact_digest": "0" * 32,
            },
        )
    )
    result = _run_checks([classifier], local_wandb, instance)[classifier.key]
    assert not result.passed and result.severity == AssetCheckSeverity.ERROR
    assert "Dagster recorded " + "0" * 32 in (result.description or "")


def test_a_watched_registry_collection_is_reported_checked_and_read(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    """The Registry flow: a sensor reports the version an alias of a registry collection
    points to, the check verifies it, and an asset reads it by its registry path."""
    registry_path = f"wandb-registry-model/clf-{uuid.uuid4().hex[:8]}"
    weights = f"weights-{uuid.uuid4().hex}"  # not a blob another test damages
    log_version(local_wandb, tmp_path, "classifier", weights, ["production"], registry_path)
    watched = f"{registry_path}:production"
    promoted = AssetSpec("promoted_classifier").with_io_manager_key(IO)
    instance = DagsterInstance.ephemeral()
    tick(build_wandb_artifact_sensor({watched: promoted}), local_wandb, instance, None)

    evaluation = _run_checks([promoted], local_wandb, instance, download=True)[promoted.key]
    assert evaluation.passed, evaluation.description

    read = {"name": watched, "get_path": "weights.txt"}

    @asset(ins={"promoted_classifier": AssetIn(metadata={"wandb_artifact_configuration": read})})
    def deployed(promoted_classifier: str) -> str:
        return Path(promoted_classifier).read_text()

    result = materialize(
        [promoted, deployed], resources=local_wandb.resources(), selection=[deployed]
    )
    assert result.output_for_node("deployed") == weights


def test_a_downloading_check_leaves_later_downloads_where_they_are_asked(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    """The check fetches from W&B itself; the SDK's ``skip_cache`` download it used before
    kept its temporary directory as the destination of every later download."""
    # Contents of their own: another test damages the server's blob of "weights-1".
    weights, other_weights = f"weights-{uuid.uuid4().hex}", f"other-{uuid.uuid4().hex}"
    log_version(local_wandb, tmp_path, "classifier", weights, ["production"])
    log_version(local_wandb, tmp_path, "other", other_weights, [])
    classifier = AssetSpec("classifier").with_io_manager_key(IO)
    instance = DagsterInstance.ephemeral()
    tick(
        build_wandb_artifact_sensor({"classifier:production": classifier}),
        local_wandb,
        instance,
        None,
    )
    [evaluation] = _run_checks([classifier], local_wandb, instance, download=True).values()
    assert evaluation.passed, evaluation.description

    other = local_wandb.api().artifact(local_wandb.path("other:latest"))
    md5_hex = base64.b64decode(other.manifest.entries["weights.txt"].digest).hex()
    cached = Path(wandb.env.get_cache_dir()) / "artifacts" / "obj" / "md5" / md5_hex[:2]
    (cached / md5_hex[2:]).unlink(missing_ok=True)  # logging cached it: fetch it again
    root = Path(other.download(root=str(tmp_path / "after")))
    assert (root / "weights.txt").read_text() == other_weights
    # The download went through the SDK's file cache (``<cache dir>/artifacts/obj/md5``),
    # not to a destination left over from the check: concurrent downloads of the process
    # would otherwise all write that one path and swap contents.
    assert (cached / md5_hex[2:]).read_text() == other_weights
