"""W&B Registry links (``link_to``) and artifact TTL (``ttl``), through the fake."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import AssetKey, asset, materialize

from dagster_wandb_v2 import WandbConfigurationError
from dagster_wandb_v2._location import Location
from dagster_wandb_v2.config import parse_write_config
from dagster_wandb_v2.testing import FakeWandb

IO = "wandb_artifacts_manager"
HERE = Location("asset", "model", "output", "result")


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def test_link_to_links_the_logged_version_and_records_the_registry_url(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(
        metadata=_config(
            type="model",
            link_to=[
                {"target_path": "wandb-registry-model/classifier", "aliases": ["production"]},
                {"target_path": "my-org/wandb-registry-staging/classifier"},
            ],
        ),
        io_manager_key=IO,
    )
    def model() -> dict[str, float]:
        return {"weights": 0.5}

    result = materialize([model], resources=fake_wandb_resources)
    stored = fake_wandb.artifact("model:latest")
    assert fake_wandb.linked("wandb-registry-model/classifier:production") == stored
    assert fake_wandb.linked("wandb-registry-staging/classifier:latest") == stored
    metadata = next(
        event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key == AssetKey("model")
    )
    assert metadata["wandb_registry_url"].value == (
        "https://fake.wandb.test/orgs/fake-org/registry/model"
        "?selectionPath=fake-org%2Fwandb-registry-model%2Fclassifier&view=membership&version=v0"
    )
    assert set(metadata["wandb_registry_links"].value) == {
        "wandb-registry-model/classifier",
        "my-org/wandb-registry-staging/classifier",
    }


@pytest.mark.parametrize(
    ("ttl", "seconds", "inherited"),
    [
        ("30d", 30 * 86400, False),
        ("1d12h", 129600, False),
        (90, 90, False),
        ("inherit", None, True),
    ],
)
def test_ttl_is_applied_to_the_artifact(
    fake_wandb: FakeWandb,
    fake_wandb_resources: dict[str, Any],
    ttl: Any,
    seconds: int | None,
    inherited: bool,
) -> None:
    @asset(metadata=_config(type="dataset", ttl=ttl), io_manager_key=IO)
    def short_lived() -> int:
        return 1

    assert materialize([short_lived], resources=fake_wandb_resources).success
    stored = fake_wandb.artifact("short_lived:latest")
    assert (stored.ttl_seconds, stored.ttl_inherited) == (seconds, inherited)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"link_to": [{"target_path": "model-registry/classifier"}]},
            "wandb_artifact_configuration.link_to.0.target_path: 'model-registry/classifier' is "
            "not a registry path; expected 'wandb-registry-<registry>/<collection>'",
        ),
        (
            {"link_to": [{"target_path": "wandb-registry-model/a/b"}]},
            "wandb_artifact_configuration.link_to.0.target_path: 'wandb-registry-model/a/b' is "
            "not a registry path",
        ),
        (
            {"link_to": [{"target_path": "wandb-registry-model/c", "aliases": ["a:b"]}]},
            "wandb_artifact_configuration.link_to.0.aliases: invalid alias 'a:b'",
        ),
        (
            {"link_to": [{"target": "wandb-registry-model/c"}]},
            "wandb_artifact_configuration.link_to.0.target: unknown key (did you mean "
            "'target_path'?)",
        ),
        ({"ttl": "30 days"}, "wandb_artifact_configuration.ttl: '30 days' is not a duration"),
        ({"ttl": 0}, "wandb_artifact_configuration.ttl: must be a positive duration, got 0"),
        ({"ttl": "0h"}, "wandb_artifact_configuration.ttl: must be a positive duration, got '0h'"),
    ],
)
def test_malformed_registry_and_ttl_config(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(WandbConfigurationError) as error:
        parse_write_config({"type": "model", **config}, HERE, names_artifact_from_asset_key=True)
    assert f"asset 'model', output 'result': {expected}" in str(error.value)
