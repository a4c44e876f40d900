"""``WandbComponent``: the W&B resource and IO manager declared in a dg project's YAML."""

from __future__ import annotations

import importlib.metadata
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import Definitions, EnvVar, job, materialize, op
from dagster.components.core.package_entry import discover_entry_point_package_objects
from dagster.components.testing import DefsFolderSandbox, create_defs_folder_sandbox
from dagster_shared.serdes.objects import EnvRegistryKey
from pydantic import ValidationError

import dagster_wandb_v2
from dagster_wandb_v2 import WandbArtifactsIOManager, WandbComponent, WandbResource
from dagster_wandb_v2.components import WandbIOManagerSettings
from dagster_wandb_v2.testing import FakeWandb

EXAMPLE_PROJECT = Path(__file__).parents[2] / "examples" / "components"
EXAMPLE_MODULE = "wandb_components_example"
TYPE = "dagster_wandb_v2.WandbComponent"


@pytest.fixture
def sandbox() -> Iterator[DefsFolderSandbox]:
    with create_defs_folder_sandbox() as sandbox:
        yield sandbox


def load_yaml(sandbox: DefsFolderSandbox, attributes: dict[str, Any]) -> Definitions:
    """``defs/wandb_resources/defs.yaml`` with these attributes, loaded as dg loads a project."""
    path = sandbox.scaffold_component(
        WandbComponent,
        defs_path="wandb_resources",
        defs_yaml_contents={"type": TYPE, "attributes": attributes},
    )
    with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
        assert isinstance(component, WandbComponent)
        return defs


def load_error(sandbox: DefsFolderSandbox, attributes: dict[str, Any]) -> str:
    """The validation error (with its YAML location) of a ``defs.yaml`` that must not load."""
    with pytest.raises(Exception) as raised:
        load_yaml(sandbox, attributes)
    cause = raised.value.__cause__
    assert isinstance(cause, ValidationError), raised.value
    return str(cause)


def resources_of(defs: Definitions) -> dict[str, Any]:
    return dict(defs.resources or {})


# --- loading ---------------------------------------------------------------------------------


def test_minimal_yaml_gives_both_resources_with_defaults(sandbox: DefsFolderSandbox) -> None:
    resources = resources_of(load_yaml(sandbox, {"project": "my_project"}))
    assert set(resources) == {"wandb", "wandb_artifacts_manager"}
    wandb = resources["wandb"]
    assert isinstance(wandb, WandbResource)
    assert isinstance(wandb.api_key, EnvVar)
    assert wandb.api_key.env_var_name == "WANDB_API_KEY"
    # unset entity and host are read from WANDB_ENTITY and WANDB_BASE_URL when used
    assert (wandb.project, wandb.entity, wandb.host) == ("my_project", None, None)
    io_manager = resources["wandb_artifacts_manager"]
    assert isinstance(io_manager, WandbArtifactsIOManager)
    assert io_manager.wandb == wandb
    assert io_manager == WandbArtifactsIOManager(wandb=wandb)  # the IO manager's defaults


EVERY_SETTING: dict[str, Any] = {
    "entity": "team",
    "project": "proj",
    "host": "https://wandb.example.com",
    "api_key_env_var": "TEAM_WANDB_KEY",
    "resource_key": "wb",
    "max_retries": 3,
    "retry_wait_max_seconds": 20,
    "request_timeout_seconds": 15,
    "io_manager": {
        "key": "artifacts",
        "base_dir": "/data/wandb",
        "cache_duration_in_minutes": 0,
        "run_id": "fixed-run",
        "run_name": "nightly",
        "run_tags": ["a", "b"],
        "run_per_step": True,
        "max_concurrent_reads": 2,
        "unpickle_while_receiving_from_bytes": 1048576,
        "signing_key_env_var": "TEAM_SIGNING_KEY",
    },
    "lifecycle": [
        {
            "name": "clean_up_model",
            "clean_up": {"asset": "model", "keep_last": 3, "dry_run": False},
            "deps": ["evaluation"],
            "group_name": "lifecycle",
            "cron_schedule": "0 3 * * *",
        }
    ],
}
"""A value for every attribute of the component (the test below checks that it is every)."""


def test_every_setting_reaches_the_resources(sandbox: DefsFolderSandbox) -> None:
    assert set(EVERY_SETTING) == set(WandbComponent.model_fields)
    assert set(EVERY_SETTING["io_manager"]) == set(WandbIOManagerSettings.model_fields)
    attributes = EVERY_SETTING
    resources = resources_of(load_yaml(sandbox, attributes))
    wandb = resources["wb"]
    assert wandb.api_key.env_var_name == "TEAM_WANDB_KEY"
    assert (wandb.entity, wandb.project, wandb.host) == (
        "team",
        "proj",
        "https://wandb.example.com",
    )
    assert (wandb.max_retries, wandb.retry_wait_max_seconds, wandb.request_timeout_seconds) == (
        3,
        20,
        15,
    )
    io_manager = resources["artifacts"]
    assert io_manager == WandbArtifactsIOManager(
        wandb=wandb,
        base_dir="/data/wandb",
        cache_duration_in_minutes=0,
        run_id="fixed-run",
        run_name="nightly",
        run_tags=["a", "b"],
        run_per_step=True,
        max_concurrent_reads=2,
        unpickle_while_receiving_from_bytes=1048576,
        signing_key=EnvVar("TEAM_SIGNING_KEY"),
    )
    assert io_manager.signing_key.env_var_name == "TEAM_SIGNING_KEY"


def test_io_manager_null_gives_the_resource_alone(sandbox: DefsFolderSandbox) -> None:
    resources = resources_of(load_yaml(sandbox, {"project": "p", "io_manager": None}))
    assert list(resources) == ["wandb"]


def test_templates_render_non_secret_settings(
    sandbox: DefsFolderSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_PROJECT", "from-env")
    resources = resources_of(load_yaml(sandbox, {"project": "{{ env.TEAM_PROJECT }}"}))
    assert resources["wandb"].project == "from-env"


def _templated(value: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``value`` with every scalar replaced by ``{{ env.<NAME> }}``, the variable set to it."""
    if isinstance(value, dict):
        return {key: _templated(item, f"{name}_{key}", monkeypatch) for key, item in value.items()}
    if isinstance(value, list):
        return [_templated(item, f"{name}_{i}", monkeypatch) for i, item in enumerate(value)]
    variable = name.upper()
    monkeypatch.setenv(variable, str(value))
    return f"{{{{ env.{variable} }}}}"


def test_every_setting_can_be_a_template(
    sandbox: DefsFolderSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Numbers included: constraints apply to the rendered value, not to the template."""
    literal = resources_of(load_yaml(sandbox, EVERY_SETTING))
    templated_attributes = _templated(EVERY_SETTING, "DWB_TEST", monkeypatch)
    assert templated_attributes["io_manager"]["cache_duration_in_minutes"] == (
        "{{ env.DWB_TEST_IO_MANAGER_CACHE_DURATION_IN_MINUTES }}"
    )
    with create_defs_folder_sandbox() as other:
        templated = resources_of(load_yaml(other, templated_attributes))
    assert templated == literal
    assert templated["artifacts"].cache_duration_in_minutes == 0
    with create_defs_folder_sandbox() as third:
        steps = lifecycle_steps(load_yaml(third, templated_attributes))
    assert steps == lifecycle_steps(load_yaml(sandbox, EVERY_SETTING))
    assert {"asset": "model", "keep_last": 3, "dry_run": False}.items() <= steps[
        "clean_up_model"
    ].items()


def lifecycle_steps(defs: Any) -> dict[str, Any]:
    """``{lifecycle asset name: its step's run config defaults}``: what an entry became."""
    return {
        assets_def.key.to_user_string(): assets_def.op.config_schema.as_field().default_value
        for assets_def in defs.assets or []
    }


@pytest.mark.parametrize(
    ("attributes", "field", "reason"),
    [
        ({"max_retries": "{{ env.DWB_TEST_VALUE }}"}, "max_retries", "valid integer"),
        (
            {"request_timeout_seconds": "{{ env.DWB_TEST_VALUE }}"},
            "request_timeout_seconds",
            "valid integer",
        ),
        (
            {"io_manager": {"cache_duration_in_minutes": "{{ env.DWB_TEST_NEGATIVE }}"}},
            "cache_duration_in_minutes",
            "greater than or equal to 0",
        ),
        (
            {"io_manager": {"max_concurrent_reads": "{{ env.DWB_TEST_ZERO }}"}},
            "max_concurrent_reads",
            "greater than 0",
        ),
        ({"retry_wait_max_seconds": "{{ env.DWB_TEST_ZERO }}"}, "retry_wait_max_seconds", "0"),
    ],
)
def test_a_template_rendering_a_bad_value_names_the_field(
    sandbox: DefsFolderSandbox,
    monkeypatch: pytest.MonkeyPatch,
    attributes: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    monkeypatch.setenv("DWB_TEST_VALUE", "sixty")
    monkeypatch.setenv("DWB_TEST_NEGATIVE", "-5")
    monkeypatch.setenv("DWB_TEST_ZERO", "0")
    with pytest.raises(Exception) as raised:
        load_yaml(sandbox, {"project": "p", **attributes})
    message = str(raised.value.__cause__)
    assert f"{field}\n  Input should be" in message, message
    assert reason in message, message


def test_the_io_manager_block_is_not_a_template(
    sandbox: DefsFolderSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWB_TEST_BLOCK", "cache_duration_in_minutes: 5")
    with pytest.raises(Exception) as raised:
        load_yaml(sandbox, {"project": "p", "io_manager": "{{ env.DWB_TEST_BLOCK }}"})
    message = str(raised.value.__cause__)
    assert "io_manager: expected a block of settings (or null), got a string" in message
    assert "cache_duration_in_minutes: 5" not in message  # the rendered text is not echoed


def test_the_key_is_read_when_a_run_starts(
    sandbox: DefsFolderSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEAM_WANDB_KEY", raising=False)
    attributes = {"project": "p", "api_key_env_var": "TEAM_WANDB_KEY", "io_manager": None}
    resources = resources_of(load_yaml(sandbox, attributes))  # loads without the variable

    @op
    def key_length(wandb: WandbResource) -> int:
        return len(wandb.api_key)

    @job(resource_defs=resources)
    def uses_wandb() -> None:
        key_length()

    monkeypatch.setenv("TEAM_WANDB_KEY", "s" * 40)
    assert uses_wandb.execute_in_process().output_for_node("key_length") == 40


# --- validation (what `dg check yaml` reports) -----------------------------------------------


def test_unknown_keys_are_rejected_with_their_name(sandbox: DefsFolderSandbox) -> None:
    message = load_error(sandbox, {"project": "p", "entitty": "e"})
    assert "entitty" in message
    assert "Extra inputs are not permitted" in message
    assert "defs.yaml" in message  # with its location in the file

    nested = load_error(sandbox, {"project": "p", "io_manager": {"cache_duration": 5}})
    assert "io_manager" in nested
    assert "cache_duration" in nested


@pytest.mark.parametrize(
    "attributes",
    [
        {"project": "p", "api_key_env_var": "{{ env.THE_SECRET }}"},
        {"project": "p", "io_manager": {"signing_key_env_var": "{{ env.THE_SECRET }}"}},
    ],
)
def test_an_inlined_key_is_refused_without_echoing_it(
    sandbox: DefsFolderSandbox, monkeypatch: pytest.MonkeyPatch, attributes: dict[str, Any]
) -> None:
    """``{{ env.X }}`` renders the key into the definitions: refused, and never printed."""
    key = "0a1b2c3d4e5f0a1b2c3d4e5f0a1b2c3d4e5f0a1b"
    monkeypatch.setenv("THE_SECRET", key)
    with pytest.raises(Exception) as raised:
        load_yaml(sandbox, attributes)
    text = "".join(traceback.format_exception(raised.value))
    assert "must be the NAME of an environment variable" in text
    assert key not in text


def test_a_key_that_looks_like_a_name_is_refused() -> None:
    letters = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"
    with pytest.raises(ValidationError) as refused:
        WandbComponent(project="p", api_key_env_var=letters)
    assert "looks like the API key itself" in str(refused.value)
    assert letters not in str(refused.value)


def test_no_field_holds_the_key_itself(sandbox: DefsFolderSandbox) -> None:
    message = load_error(sandbox, {"project": "p", "api_key": "{{ env.X }}"})
    assert "api_key" in message
    assert "Extra inputs are not permitted" in message


def test_other_invalid_values(sandbox: DefsFolderSandbox) -> None:
    # no project: WANDB_PROJECT is read when a run starts
    assert resources_of(load_yaml(sandbox, {"entity": "e"}))["wandb"].project is None
    assert "project" in load_error(sandbox, {"project": ""})
    assert "cache_duration_in_minutes" in load_error(
        sandbox, {"project": "p", "io_manager": {"cache_duration_in_minutes": -1}}
    )
    with pytest.raises(ValidationError, match="give them different names"):
        WandbComponent(project="p", resource_key="w", io_manager=WandbIOManagerSettings(key="w"))


def dg_check_yaml(attributes: dict[str, Any]) -> list[str]:
    """What ``dg check yaml`` reports: the attributes against the component type's JSON
    schema (as published in the registry snapshot), with a Draft 2020-12 validator."""
    from dagster.components.core.snapshot import get_package_entry_snap
    from jsonschema import Draft202012Validator

    key = EnvRegistryKey(name="WandbComponent", namespace="dagster_wandb_v2")
    validator = Draft202012Validator(get_package_entry_snap(key, WandbComponent).component_schema)
    return [error.message for error in validator.iter_errors(attributes)]


def test_dg_check_yaml_catches_typos() -> None:
    assert dg_check_yaml({"project": "p", "io_manager": {"run_tags": ["a"]}}) == []
    assert dg_check_yaml({"project": "{{ env.TEAM_PROJECT }}"}) == []
    numbers = {"max_retries": "{{ env.N }}", "io_manager": {"max_concurrent_reads": "{{ env.M }}"}}
    assert dg_check_yaml({"project": "p", **numbers}) == []
    assert dg_check_yaml({"project": "p", "max_retries": -1}) != []
    (error,) = dg_check_yaml({"project": "p", "entitty": "e"})
    assert "'entitty' was unexpected" in error
    # nested blocks also accept a template string, so dg reports the block as a whole
    (nested,) = dg_check_yaml({"project": "p", "io_manager": {"cache_duration": 5}})
    assert "is not valid under any of the given schemas" in nested
    assert dg_check_yaml({"entity": "e"}) == []  # the project may come from WANDB_PROJECT


def test_yaml_schema_forbids_unknown_keys() -> None:
    """The JSON schema ``dg`` validates ``defs.yaml`` against (``dg check yaml``)."""
    schema = WandbComponent.model().model_json_schema()
    assert schema["additionalProperties"] is False
    assert "required" not in schema  # project, entity, host: WANDB_* variables by default
    for settings in schema["$defs"].values():  # the io_manager and lifecycle blocks
        assert settings["additionalProperties"] is False
    for name, field in schema["properties"].items():
        assert field.get("description"), f"{name} has no description for dg docs"


# --- registration, scaffolding, example ---------------------------------------------------


def test_registered_for_dg() -> None:
    entry_points = importlib.metadata.entry_points(group="dagster_dg_cli.registry_modules")
    assert "dagster_wandb_v2" in {ep.value for ep in entry_points}
    objects = discover_entry_point_package_objects()
    key = EnvRegistryKey(name="WandbComponent", namespace="dagster_wandb_v2")
    assert objects[key] is WandbComponent
    assert dagster_wandb_v2.WandbComponent is WandbComponent
    assert "WandbComponent" in dagster_wandb_v2.__all__


def test_scaffolded_yaml_loads(sandbox: DefsFolderSandbox) -> None:
    path = sandbox.scaffold_component(WandbComponent, defs_path="wandb_resources")
    scaffolded = yaml.safe_load((path / "defs.yaml").read_text())
    assert scaffolded["attributes"]["api_key_env_var"] == "WANDB_API_KEY"
    with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
        assert resources_of(defs)["wandb"].project == "my_project"


def test_io_manager_settings_cover_the_io_manager_config() -> None:
    """A new WandbArtifactsIOManager setting needs a field in the component's io_manager
    (secrets as ``<name>_env_var``, the NAME of their environment variable)."""
    io_manager_fields = set(WandbArtifactsIOManager.model_fields) - {"wandb"}
    settings = {name.removesuffix("_env_var") for name in WandbIOManagerSettings.model_fields}
    missing = io_manager_fields - settings
    assert not missing, f"add {sorted(missing)} to WandbIOManagerSettings (components.py)"
    assert settings - {"key"} == io_manager_fields


def test_component_covers_the_resource_settings() -> None:
    """A new WandbResource setting needs a field in WandbComponent (and build_resource)."""
    resource_fields = set(WandbResource.model_fields)
    component = {name.removesuffix("_env_var") for name in WandbComponent.model_fields}
    missing = resource_fields - component
    assert not missing, f"add {sorted(missing)} to WandbComponent.build_resource (components.py)"
    assert component - {"resource_key", "io_manager", "lifecycle"} == resource_fields


@pytest.fixture
def example_defs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Definitions]:
    monkeypatch.syspath_prepend(str(EXAMPLE_PROJECT / "src"))
    try:
        module = importlib.import_module(f"{EXAMPLE_MODULE}.definitions")
        yield module.defs()
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == EXAMPLE_MODULE]:
            del sys.modules[name]


def test_example_project(
    example_defs: Definitions, fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    resources = resources_of(example_defs)
    assert resources["wandb"].entity == "my_entity"
    assert resources["wandb"].project == "my_project"
    assert resources["wandb"].api_key.env_var_name == "WANDB_API_KEY"
    assert resources["wandb_artifacts_manager"].cache_duration_in_minutes == 60
    assert resources["wandb_artifacts_manager"].run_tags == ["components-example"]

    # the project's assets use the keys the component declares; run them on the fake W&B
    assets = list(example_defs.assets or [])
    result = materialize(assets, resources=fake_wandb_resources)
    assert result.output_for_node("training_size") == 4
    assert fake_wandb.collections() == ["training_data"]
