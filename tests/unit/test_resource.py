"""``WandbResource``: the API key stays secret, clients point at the right host."""

from __future__ import annotations

import pytest
from dagster import DagsterInvalidConfigError, Definitions, EnvVar, asset, materialize

from dagster_wandb_v2 import WandbResource
from dagster_wandb_v2.client import SdkWandbClient, app_url_for_host
from dagster_wandb_v2.errors import WandbConfigurationError

SECRET = "secret-key-123"


@pytest.fixture(autouse=True)
def _no_wandb_location_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset host, entity and project fall back to these; a developer may have them set."""
    for name in ("WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)


def test_repr_and_str_do_not_show_the_api_key() -> None:
    resource = WandbResource(api_key=SECRET, project="p", entity="team")
    assert SECRET not in repr(resource)
    assert SECRET not in str(resource)
    assert repr(resource) == "WandbResource(host=None, entity='team', project='p')"


def test_defaults() -> None:
    resource = WandbResource(api_key=SECRET, project="p")
    assert (resource.host, resource.entity, resource.project) == (None, None, "p")
    assert resource.resolved_host == "https://api.wandb.ai"
    assert resource.resolved_entity is None
    assert resource.resolved_project == "p"


def test_get_client_returns_an_sdk_client_without_the_key_in_its_repr() -> None:
    client = WandbResource(api_key=SECRET, project="p").get_client()
    assert isinstance(client, SdkWandbClient)
    assert SECRET not in repr(client)
    assert repr(client) == "SdkWandbClient(host='https://api.wandb.ai')"
    assert client.app_url == "https://wandb.ai"


@pytest.mark.parametrize(
    ("host", "app_url"),
    [
        ("https://api.wandb.ai", "https://wandb.ai"),
        ("https://api.wandb.ai/", "https://wandb.ai"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://wandb.example.com", "https://wandb.example.com"),
        ("https://api.example.com", "https://example.com"),
    ],
)
def test_client_app_url_for_host(host: str, app_url: str) -> None:
    client = WandbResource(api_key=SECRET, project="p", host=host).get_client()
    assert client.app_url == app_url
    assert app_url_for_host(host) == app_url


@pytest.mark.parametrize("api_key", ["", "   "])
def test_empty_api_key_is_a_configuration_error(api_key: str) -> None:
    resource = WandbResource(api_key=api_key, project="p")
    with pytest.raises(WandbConfigurationError) as info:
        resource.get_client()
    assert info.value.problems == [
        "WandbResource.api_key: empty; give it as EnvVar('WANDB_API_KEY') and export that variable"
    ]
    with pytest.raises(WandbConfigurationError):
        resource.get_api()


def test_unset_env_var_fails_at_run_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SOME_UNSET_VAR", raising=False)
    calls: list[str] = []

    @asset
    def needs_wandb(wandb: WandbResource) -> int:
        calls.append(wandb.project)  # never reached: the resource cannot be configured
        return 1

    resource = WandbResource(api_key=EnvVar("SOME_UNSET_VAR"), project="p")
    # Loading definitions does not read the variable.
    Definitions(assets=[needs_wandb], resources={"wandb": resource}).get_repository_def()

    with pytest.raises(DagsterInvalidConfigError) as info:
        materialize([needs_wandb], resources={"wandb": resource})
    assert 'environment variable "SOME_UNSET_VAR" which is not set' in str(info.value)
    assert "resources:wandb:config:api_key" in str(info.value)
    assert calls == []


def test_env_var_is_read_at_run_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SET_VAR", SECRET)
    seen: list[tuple[str, str]] = []

    @asset
    def needs_wandb(wandb: WandbResource) -> int:
        client = wandb.get_client()
        seen.append((repr(wandb), repr(client)))
        return 1

    resource = WandbResource(api_key=EnvVar("SOME_SET_VAR"), project="p")
    result = materialize([needs_wandb], resources={"wandb": resource})
    assert result.success
    [(resource_repr, client_repr)] = seen
    assert SECRET not in resource_repr
    assert SECRET not in client_repr


def test_unset_env_var_used_outside_a_run_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SOME_UNSET_VAR", raising=False)
    resource = WandbResource(api_key=EnvVar("SOME_UNSET_VAR"), project="p")
    with pytest.raises(WandbConfigurationError) as info:
        resource.get_client()
    assert info.value.problems == [
        "WandbResource.api_key: environment variable SOME_UNSET_VAR is not set; "
        "export SOME_UNSET_VAR with your W&B API key"
    ]


def test_env_var_used_outside_a_run_is_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SET_VAR", SECRET)
    monkeypatch.setenv("SOME_HOST_VAR", "http://127.0.0.1:9999/")
    resource = WandbResource(
        api_key=EnvVar("SOME_SET_VAR"), host=EnvVar("SOME_HOST_VAR"), project="p"
    )
    client = resource.get_client()
    assert isinstance(client, SdkWandbClient)
    assert client._api_key == SECRET  # the value, not the variable's name
    assert client.app_url == "http://127.0.0.1:9999"
    assert SECRET not in repr(client)
    assert SECRET not in repr(resource)
