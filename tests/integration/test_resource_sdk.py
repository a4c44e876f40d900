"""``WandbResource`` as users set it up, through the real wandb SDK and the local server.

- unset host, entity and project come from ``WANDB_BASE_URL``, ``WANDB_ENTITY`` and
  ``WANDB_PROJECT``, as in the wandb SDK: nothing goes to the public cloud;
- a key the host rejects fails with an error naming the host and the variable (never
  the key);
- an unreachable host is retried with a warning per wait, and the final error names the
  retry settings;
- materializing twice in one process does not make the SDK warn about changed session
  credentials.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from dagster import (
    AssetIn,
    DagsterInstance,
    EnvVar,
    ExecuteInProcessResult,
    asset,
    materialize,
)

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource
from dagster_wandb_v2.errors import (
    WandbAuthenticationError,
    WandbConfigurationError,
    WandbHostUnreachableError,
)
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer

IO = "wandb_artifacts_manager"
BOUNDED = {"max_retries": 2, "retry_wait_max_seconds": 1, "request_timeout_seconds": 2}
"""Three attempts one second apart: an unreachable host fails a step in seconds."""


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like: not the network
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: resolving it would already be a DNS query


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any connection (or name lookup) this process makes beyond 127.0.0.1, and
    point the SDK's Go core at a dead proxy for anything not on loopback.

    Yields the refused destinations, so that a test can show nothing was attempted.
    """
    refused: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else None  # None: an AF_UNIX path
        if host is not None and not _is_loopback(host):
            refused.append(str(host))
            raise ConnectionRefusedError(f"test guard: no connection to {host}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(
            host.decode() if isinstance(host, bytes) else host
        ):
            refused.append(str(host))
            raise socket.gaierror(f"test guard: no name lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()  # nothing listens there: a proxied request fails at once
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    yield refused


def _closed_loopback_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def _error_of(result: ExecuteInProcessResult) -> str:
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def _io_manager(resource: WandbResource, project: LocalWandbProject) -> WandbArtifactsIOManager:
    return WandbArtifactsIOManager(wandb=resource, base_dir=str(project.storage_dir))


def _writer_and_reader() -> list[Any]:
    @asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key=IO)
    def numbers() -> list[int]:
        return [1, 2, 3]

    @asset(ins={"numbers": AssetIn(input_manager_key=IO)})
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    return [numbers, total]


# --- the SDK's environment ------------------------------------------------------------


def test_unset_host_entity_and_project_come_from_the_sdk_environment(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    loopback_only: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README set-up on a dedicated server: only ``WANDB_*`` variables exported."""
    monkeypatch.setenv("WANDB_ENTITY", local_wandb.entity)
    monkeypatch.setenv("WANDB_PROJECT", local_wandb.project)
    resource = WandbResource(api_key=EnvVar("WANDB_API_KEY"))
    seen: dict[str, Any] = {}

    @asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key=IO)
    def numbers(wandb: WandbResource) -> list[int]:
        with wandb.init_run(job_type="prepare") as run:
            run.log({"rows": 3})
            seen["init_run"] = (run.entity, run.project, run.url)
        api = wandb.get_api()
        seen["get_api"] = (
            api.settings["base_url"],
            api.settings["entity"],
            api.settings["project"],
        )
        return [1, 2, 3]

    since = local_wandb_server.request_count
    result = materialize(
        [numbers],
        resources={
            "wandb": resource,
            IO: WandbArtifactsIOManager(wandb=resource, base_dir=str(local_wandb.storage_dir)),
        },
    )

    assert result.success
    assert loopback_only == []  # nothing tried to leave the machine
    base_url = local_wandb_server.base_url
    entity, project, run_url = seen["init_run"]
    assert (entity, project) == (local_wandb.entity, local_wandb.project)
    assert run_url.startswith(f"{base_url}/{local_wandb.entity}/{local_wandb.project}/runs/")
    assert seen["get_api"] == (base_url, local_wandb.entity, local_wandb.project)
    metadata = result.asset_materializations_for_node("numbers")[0].metadata
    assert metadata["wandb_project"].value == local_wandb.project
    assert metadata["wandb_artifact_url"].value.startswith(base_url)
    operations = {r.operation for r in local_wandb_server.requests_since(since) if r.operation}
    assert {"UpsertBucket", "CreateArtifact", "CommitArtifact", "Viewer"} <= operations
    stored = local_wandb.api().artifact(local_wandb.path("numbers:latest"))
    assert stored.version == "v0"


def test_explicit_values_win_over_the_environment(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    loopback_only: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{_closed_loopback_port()}")
    monkeypatch.setenv("WANDB_PROJECT", "not-this-project")
    resource = WandbResource(
        api_key=EnvVar("WANDB_API_KEY"),
        host=local_wandb_server.base_url,
        entity=local_wandb.entity,
        project=local_wandb.project,
    )
    assert materialize(
        _writer_and_reader(),
        resources={
            IO: WandbArtifactsIOManager(wandb=resource, base_dir=str(local_wandb.storage_dir))
        },
    ).success
    assert local_wandb.api().artifact(local_wandb.path("numbers:latest")).version == "v0"
    assert resource.get_api().settings["base_url"] == local_wandb_server.base_url
    assert loopback_only == []


def test_no_project_anywhere_is_a_configuration_error(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    resource = WandbResource(api_key=EnvVar("WANDB_API_KEY"))
    with pytest.raises(Exception) as raised:  # the IO manager's set-up fails
        materialize(
            _writer_and_reader()[:1],
            resources={IO: _io_manager(resource, local_wandb)},
        )
    causes = [raised.value]
    while causes[-1].__cause__ is not None:
        causes.append(causes[-1].__cause__)
    (error,) = [cause for cause in causes if isinstance(cause, WandbConfigurationError)]
    assert error.problems == [
        "WandbResource.project: not set; give WandbResource(project=...) or set the "
        "WANDB_PROJECT environment variable"
    ]


# --- a key the host rejects -------------------------------------------------------------


def test_rejected_key_names_the_host_and_the_variable_never_the_key(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong_key = "0123456789abcdef" * 2 + "deadbeef"  # 40 characters, as a real key
    monkeypatch.setenv("MY_TEAM_WANDB_KEY", wrong_key)
    resource = WandbResource(
        api_key=EnvVar("MY_TEAM_WANDB_KEY"),
        host=local_wandb_server.base_url,
        entity=local_wandb.entity,
        project=local_wandb.project,
        **BOUNDED,
    )
    expected = (
        f"the W&B host {local_wandb_server.base_url} rejected the API key from environment "
        "variable MY_TEAM_WANDB_KEY (HTTP 401)"
    )

    result = materialize(
        _writer_and_reader()[:1],
        resources={
            IO: WandbArtifactsIOManager(wandb=resource, base_dir=str(local_wandb.storage_dir))
        },
        raise_on_error=False,
    )
    assert not result.success
    message = _error_of(result)
    assert expected in message
    assert wrong_key not in message

    for use in (resource.get_api, resource.init_run):
        with pytest.raises(WandbAuthenticationError) as raised:
            use()
        assert expected in str(raised.value)
        assert wrong_key not in str(raised.value)


def test_a_key_too_short_to_be_a_wandb_key_names_the_variable(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SHORT_WANDB_KEY", "abc")
    resource = WandbResource(
        api_key=EnvVar("MY_SHORT_WANDB_KEY"),
        host=local_wandb_server.base_url,
        entity=local_wandb.entity,
        project=local_wandb.project,
        **BOUNDED,
    )
    result = materialize(
        _writer_and_reader()[:1],
        resources={
            IO: WandbArtifactsIOManager(wandb=resource, base_dir=str(local_wandb.storage_dir))
        },
        raise_on_error=False,
    )
    assert not result.success
    message = _error_of(result)
    assert "WandbAuthenticationError: the API key from environment variable " in message
    assert "MY_SHORT_WANDB_KEY is not a W&B API key (API key must have 40+ characters" in message


@pytest.mark.parametrize(
    ("configure", "source"),
    [("resource", "WandbResource.host"), ("environment", "WANDB_BASE_URL")],
)
def test_a_host_without_a_scheme_is_a_configuration_error_naming_its_source(
    monkeypatch: pytest.MonkeyPatch, configure: str, source: str
) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", "127.0.0.1:18080")
    expected = (
        f"{source}: '127.0.0.1:18080' is not a W&B host URL; give the scheme, e.g. "
        "'https://127.0.0.1:18080' or 'http://127.0.0.1:18080'"
    )
    with pytest.raises(WandbConfigurationError) as raised:
        if configure == "resource":
            WandbResource(api_key="x" * 40, host="127.0.0.1:18080")
        else:
            WandbResource(api_key="x" * 40).get_api()
    assert expected in str(raised.value)


# --- an unreachable host --------------------------------------------------------------


def test_unreachable_host_logs_each_retry_and_names_the_retry_settings(
    local_wandb: LocalWandbProject,
) -> None:
    host = f"http://127.0.0.1:{_closed_loopback_port()}"
    resource = WandbResource(
        api_key=EnvVar("WANDB_API_KEY"), host=host, project=local_wandb.project, **BOUNDED
    )
    settings = "WandbResource.max_retries=2, retry_wait_max_seconds=1, request_timeout_seconds=2"

    instance = DagsterInstance.ephemeral()
    result = materialize(
        _writer_and_reader()[:1],
        resources={
            IO: WandbArtifactsIOManager(wandb=resource, base_dir=str(local_wandb.storage_dir))
        },
        instance=instance,
        raise_on_error=False,
    )

    assert not result.success
    warnings = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.level == logging.WARNING
    ]
    retries = [line for line in warnings if f"W&B host {host} is not reachable" in line]
    assert len(retries) == 2, warnings
    assert "retry 1 of 2 in 1 s" in retries[0]
    assert "retry 2 of 2 in 1 s" in retries[1]
    message = _error_of(result)
    assert f"W&B host {host} is not reachable after 3 attempt(s)" in message
    assert settings in message

    with pytest.raises(WandbHostUnreachableError, match="request_timeout_seconds=2"):
        resource.get_api()
    with pytest.raises(WandbHostUnreachableError, match="retry_wait_max_seconds=1"):
        resource.init_run()


# --- the SDK's session credentials ----------------------------------------------------


def test_two_materializations_do_not_change_session_credentials(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("WANDB_SILENT")  # the SDK prints its warnings, as for users
    resources = local_wandb.resources()

    @asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key=IO)
    def numbers(wandb: WandbResource) -> str:
        with wandb.init_run(job_type="prepare", id=f"user-{uuid.uuid4().hex[:8]}") as run:
            run.log({"rows": 3})
        return uuid.uuid4().hex  # new content: a new version each time

    for _ in range(2):
        assert materialize([numbers], resources=resources).success

    printed = capfd.readouterr().err
    assert "Using explicit session credentials" in printed  # the SDK did print to stderr
    assert "Changing session credentials" not in printed
    assert local_wandb.api().artifact(local_wandb.path("numbers:latest")).version == "v1"

    # A different key in the same process is still used, not the session's.
    wrong = WandbResource(
        api_key="f" * 40,
        host=local_wandb_server.base_url,
        entity=local_wandb.entity,
        project=local_wandb.project,
        **BOUNDED,
    )
    with pytest.raises(WandbAuthenticationError):
        wrong.init_run()
