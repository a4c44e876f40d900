"""Every resource and configuration class the package exports rejects unknown keyword
arguments with a did-you-mean, instead of pydantic's silent default (extra keys ignored).

The classes are found, not listed: a class added later is checked too.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from dagster import PermissiveConfig
from pydantic import BaseModel, ValidationError

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbConfigurationError, WandbResource

PUBLIC_MODULES = (
    "dagster_wandb_v2",
    "dagster_wandb_v2.launch",
    "dagster_wandb_v2.components",
    "dagster_wandb_v2.testing",
)


def _exported_models() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [n for n in vars(module) if n[0].isupper()]
        for name in names:
            value = getattr(module, name)
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__.startswith("dagster_wandb_v2")
                # registry-, environment- and builder-specific keys pass through on purpose
                and not issubclass(value, PermissiveConfig)
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[key] for key in sorted(found)]


MODELS = _exported_models()


def test_the_exported_models_are_found() -> None:
    names = {model.__name__ for model in MODELS}
    assert {
        "WandbResource",
        "WandbArtifactsIOManager",
        "LaunchAgentConfig",
        "LaunchJobConfig",
        "WandbComponent",
        "WandbIOManagerSettings",
        "FakeWandbResource",
    } <= names


def _misspelled(model: type[BaseModel]) -> tuple[str, str]:
    """A public field of ``model`` and a one-letter typo of it."""
    field = next(name for name in sorted(model.model_fields) if len(name) > 3)
    return field, field + field[-1]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_a_misspelled_keyword_is_rejected_with_a_did_you_mean(model: type[BaseModel]) -> None:
    field, typo = _misspelled(model)
    with pytest.raises((WandbConfigurationError, ValidationError)) as raised:
        model(**{typo: "x"})
    assert f"{model.__name__}: unknown field '{typo}' (did you mean '{field}'?)" in str(
        raised.value
    )


def test_the_guide_run_id_key_and_a_typo_of_entity() -> None:
    with pytest.raises(WandbConfigurationError) as raised:
        WandbResource(api_key="k" * 40, project="p", entityy="me")
    assert raised.value.problems == [
        "WandbResource: unknown field 'entityy' (did you mean 'entity'?)"
    ]
    resource = WandbResource(api_key="k" * 40, project="p")
    with pytest.raises(WandbConfigurationError) as raised:
        WandbArtifactsIOManager(wandb=resource, wandb_run_id="my_resumable_run_id")
    assert raised.value.problems == [
        "WandbArtifactsIOManager: unknown field 'wandb_run_id' (did you mean 'run_id'?)"
    ]


def test_a_key_far_from_every_field_lists_the_known_ones() -> None:
    with pytest.raises(WandbConfigurationError) as raised:
        WandbResource(api_key="k" * 40, project="p", zzz=1)
    (problem,) = raised.value.problems
    assert problem.startswith("WandbResource: unknown field 'zzz' (known keys: api_key, entity,")


def test_the_api_key_is_not_echoed() -> None:
    secret = "0123456789abcdef" * 2 + "deadbeef"
    with pytest.raises(WandbConfigurationError) as raised:
        WandbResource(api_key=secret, project="p", hosst="http://127.0.0.1:1")
    assert secret not in str(raised.value)


def test_known_fields_still_construct() -> None:
    values: dict[str, Any] = {"api_key": "k" * 40, "project": "p", "host": "http://h"}
    resource = WandbResource(**values)
    assert WandbArtifactsIOManager(wandb=resource, run_id="r").run_id == "r"
