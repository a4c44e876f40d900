"""The ``lifecycle`` section of ``WandbComponent``: lifecycle steps declared in YAML."""

from typing import Any

import pytest
from dagster import AssetKey, materialize

from dagster_wandb_v2.testing import FakeWandb
from tests.unit.test_components import dg_check_yaml, load_yaml, sandbox
from tests.unit.test_lifecycle import model

__all__ = ["sandbox"]  # the fixture, used by name


def test_steps_become_assets_jobs_and_schedules(sandbox: Any, fake_wandb: FakeWandb) -> None:
    defs = load_yaml(
        sandbox,
        {
            "project": "fake-project",
            "lifecycle": [
                {
                    "name": "production_model",
                    "promote": {"asset": "model", "aliases": ["production"]},
                    "deps": ["evaluation"],
                },
                {
                    "name": "clean_up_model",
                    "clean_up": {"asset": "model", "keep_last": 1, "dry_run": False},
                    "cron_schedule": "0 3 * * *",
                },
            ],
        },
    )
    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey("production_model")).parent_keys == {AssetKey("evaluation")}
    assert defs.resolve_job_def("clean_up_model_job") is not None
    (schedule,) = defs.schedules or []
    assert schedule.cron_schedule == "0 3 * * *"

    resources = fake_wandb.resources()
    for weights in range(3):
        config = {"ops": {"model": {"config": {"weights": weights}}}}
        assert materialize([model], resources=resources, run_config=config).success
    steps = [a for a in defs.assets or [] if a.key != AssetKey("evaluation")]  # type: ignore[union-attr]
    result = materialize(
        [model, *steps], resources=resources, selection=[AssetKey("clean_up_model")]
    )
    assert result.success
    assert [v.version for v in fake_wandb.versions("model")] == ["v2"]


def load_error(sandbox: Any, attributes: dict[str, Any]) -> str:
    """The error (with its YAML location) of a ``defs.yaml`` that must not load."""
    with pytest.raises(Exception) as raised:
        load_yaml(sandbox, attributes)
    return str(raised.value.__cause__)


def test_a_bad_step_is_reported_against_the_yaml(sandbox: Any) -> None:
    message = load_error(
        sandbox,
        {
            "project": "p",
            "lifecycle": [{"name": "promote", "promote": {"asset": "m", "aliases": ["latest"]}}],
        },
    )
    assert "defs.yaml:2 - attributes.lifecycle" in message
    expected = "lifecycle 'promote': promote: promote of asset 'm': aliases.0: 'latest' is reserved"
    assert expected in message
    message = load_error(sandbox, {"project": "p", "lifecycle": [{"name": "nothing"}]})
    assert "lifecycle 'nothing': give exactly one of promote, update, link, clean_up" in message


def test_dg_check_yaml_knows_the_lifecycle_keys() -> None:
    assert dg_check_yaml({"lifecycle": [{"name": "x", "promote": {"asset": "m"}}]}) == []
    assert dg_check_yaml({"lifecycle": [{"name": "x", "promot": {}}]}) != []
