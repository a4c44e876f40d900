"""The W&B API key and the signing key never show: not in reprs, logs, Dagster events or
storage, W&B artifacts and runs, files on disk, or error messages.

The keys come from environment variables (``EnvVar``), as documented. The runs go through
the real wandb SDK against a private local W&B server whose API key is the secret.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import (
    AssetIn,
    DagsterInstance,
    EnvVar,
    ExecuteInProcessResult,
    asset,
    materialize,
)
from dagster._serdes import serialize_value

from dagster_wandb_v2 import (
    WandbArtifactsIOManager,
    WandbResource,
    WandbSerializationError,
)
from dagster_wandb_v2.testing import FakeWandb
from dagster_wandb_v2.testing.server import (
    DIRECTORY_VARIABLES,
    LocalWandbServer,
    sdk_environment,
)

IO = "wandb_artifacts_manager"
API_KEY = "local-" + "api-key-" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
SIGNING_KEY = "signing-key-" + uuid.uuid4().hex
SECRETS = {"API key": API_KEY, "signing key": SIGNING_KEY}
API_KEY_VAR = "DAGSTER_WANDB_V2_SECRET_TEST_API_KEY"
SIGNING_KEY_VAR = "DAGSTER_WANDB_V2_SECRET_TEST_SIGNING_KEY"


def _leaks(text: str | bytes, secrets: dict[str, str] = SECRETS) -> list[str]:
    """Which secrets appear in ``text`` (whole, or their first 16 characters)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return [name for name, secret in secrets.items() if secret[:16] in text or secret in text]


@asset(metadata={"wandb_artifact_configuration": {"type": "model"}}, io_manager_key=IO)
def model() -> dict[str, float]:
    return {"weight": 0.5}


@asset(ins={"model": AssetIn(input_manager_key=IO)})
def deployed(model: dict[str, float]) -> float:
    return model["weight"]


@pytest.fixture
def private_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWandbServer]:
    """A W&B server whose API key is the secret; the SDK gets it only from our resource."""
    server = LocalWandbServer(data_dir=tmp_path / "server", api_key=API_KEY).start()
    environment = sdk_environment(server.base_url, server.api_key, tmp_path / "sdk")
    del environment["WANDB_API_KEY"]
    for key in [key for key in os.environ if key.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    for key in DIRECTORY_VARIABLES:
        Path(environment[key]).mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv(API_KEY_VAR, API_KEY)
    monkeypatch.setenv(SIGNING_KEY_VAR, SIGNING_KEY)
    wandb.teardown()
    try:
        yield server
    finally:
        wandb.teardown()
        server.stop()


def _resources(server: LocalWandbServer, base_dir: Path, **resource: Any) -> dict[str, Any]:
    wandb_resource = WandbResource(
        api_key=EnvVar(API_KEY_VAR),
        host=server.base_url,
        project="secrets",
        max_retries=1,
        retry_wait_max_seconds=1,
        **resource,
    )
    return {
        "wandb": wandb_resource,
        IO: WandbArtifactsIOManager(
            wandb=wandb_resource, base_dir=str(base_dir), signing_key=EnvVar(SIGNING_KEY_VAR)
        ),
    }


def _error_texts(result: ExecuteInProcessResult) -> list[str]:
    return [
        event.step_failure_data.error.to_string()
        for event in result.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]


def _files_with_secrets(root: Path, secrets: dict[str, str] = SECRETS) -> list[str]:
    return [
        f"{path.relative_to(root)}: {leaks}"
        for path in sorted(root.rglob("*"))
        if path.is_file() and (leaks := _leaks(path.read_bytes(), secrets))
    ]


# --- reprs ----------------------------------------------------------------------------------


def test_reprs_hide_the_keys() -> None:
    literal = WandbResource(api_key=API_KEY, project="p", max_retries=2)
    from_env = WandbResource(api_key=EnvVar(API_KEY_VAR), project="p")
    io_manager = WandbArtifactsIOManager(wandb=literal, signing_key=SIGNING_KEY)
    client = literal.get_client()
    for shown in (literal, from_env, io_manager, client, literal.retry_policy):
        assert _leaks(repr(shown)) == []
        assert _leaks(str(shown)) == []
    assert repr(client) == "SdkWandbClient(host='https://api.wandb.ai')"


# --- a run through the SDK ----------------------------------------------------------------


def test_a_run_through_the_sdk_records_no_key_anywhere(
    private_server: LocalWandbServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "instance").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        result = materialize(
            [model, deployed],
            resources=_resources(private_server, tmp_path / "storage"),
            instance=instance,
        )
        assert result.output_for_node("deployed") == 0.5
        # Dagster: every event of the run (user messages, materialization metadata,
        # outputs), the run record and the job snapshot (EnvVar: only variable names).
        events = instance.all_logs(result.run_id)
        assert len(events) > 10
        assert [_leaks(serialize_value(event)) for event in events] == [[]] * len(events)
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        assert _leaks(serialize_value(run)) == []
        assert _leaks(serialize_value(instance.get_job_snapshot(run.job_snapshot_id))) == []
    metadata = next(
        event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key.path == ["model"]
    )
    assert "wandb_artifact_url" in metadata
    assert _leaks(repr(metadata)) == []
    # Python logging of this process (Dagster's, wandb's and ours).
    assert [record.name for record in caplog.records if _leaks(record.getMessage())] == []

    # W&B: artifact metadata (the payload's HMAC, never the key), the run's config and
    # summary, and everything the server stored.
    api = wandb.Api(api_key=API_KEY, overrides={"base_url": private_server.base_url})
    artifact = api.artifact(f"{private_server.entity}/secrets/model:latest")
    assert len(artifact.metadata["source_payload_hmac_sha256"]) == 64
    assert _leaks(repr(artifact.metadata)) == []
    wandb_run = api.run(f"{private_server.entity}/secrets/{result.run_id}")
    assert _leaks(repr(dict(wandb_run.config))) == []
    assert _leaks(repr(dict(wandb_run.summary))) == []
    # Every file written anywhere: the server's data, the Dagster instance, the cache and
    # the W&B run directories with the SDK's debug logs.
    assert _files_with_secrets(tmp_path) == []


def test_a_wrong_api_key_fails_the_run_without_showing_either_key(
    private_server: LocalWandbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_key = "local-" + "wrong-key-" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
    monkeypatch.setenv(API_KEY_VAR, wrong_key)
    secrets = {**SECRETS, "wrong API key": wrong_key}
    (tmp_path / "instance").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        result = materialize(
            [model],
            resources=_resources(private_server, tmp_path / "storage"),
            instance=instance,
            raise_on_error=False,
        )
        assert not result.success
        (error,) = _error_texts(result)
        assert (
            "dagster_wandb_v2.errors.WandbAuthenticationError: the W&B host "
            f"{private_server.base_url} rejected the API key from environment variable "
            f"{API_KEY_VAR} (HTTP 401)"
        ) in error
        assert _leaks(error, secrets) == []
        events = instance.all_logs(result.run_id)
        assert [_leaks(serialize_value(event), secrets) for event in events] == [[]] * len(events)
    assert _files_with_secrets(tmp_path, secrets) == []


# --- errors about signatures ----------------------------------------------------------------


def test_signature_errors_do_not_show_the_keys(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    writer = fake_wandb.resources(base_dir=str(tmp_path / "writer"), signing_key=SIGNING_KEY)
    assert materialize([model], resources=writer).success
    other_key = "another-signing-key-" + uuid.uuid4().hex
    reader = fake_wandb.resources(base_dir=str(tmp_path / "reader"), signing_key=other_key)
    with pytest.raises(WandbSerializationError) as error:
        materialize([model, deployed], resources=reader, selection=["deployed"])
    assert str(error.value) == (
        "asset 'deployed', input 'model': refusing to unpickle artifact 'model:latest': payload "
        "signature mismatch (the payload was changed after signing, or signed with another key)"
    )
    assert _leaks(repr(error.value), {**SECRETS, "other key": other_key}) == []


# --- why EnvVar -------------------------------------------------------------------------------


def test_only_env_vars_keep_the_keys_out_of_the_dagster_job_snapshot(
    fake_wandb: FakeWandb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster stores resource settings in the job snapshot (the UI shows it): a literal key
    would be stored there, an EnvVar only as the variable's name."""
    monkeypatch.setenv(SIGNING_KEY_VAR, SIGNING_KEY)
    snapshots = {}
    for kind, signing_key in (("literal", SIGNING_KEY), ("env", EnvVar(SIGNING_KEY_VAR))):
        resources = fake_wandb.resources(base_dir=str(tmp_path / kind), signing_key=signing_key)
        (tmp_path / f"instance-{kind}").mkdir()
        with DagsterInstance.local_temp(str(tmp_path / f"instance-{kind}")) as instance:
            result = materialize([model], resources=resources, instance=instance)
            run = instance.get_run_by_id(result.run_id)
            assert run is not None
            snapshots[kind] = serialize_value(instance.get_job_snapshot(run.job_snapshot_id))
    assert _leaks(snapshots["literal"]) == ["signing key"]
    assert _leaks(snapshots["env"]) == []
    assert SIGNING_KEY_VAR in snapshots["env"]
