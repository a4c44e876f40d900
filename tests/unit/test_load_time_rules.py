"""Rules a run enforces on configuration, checked at load time: the ``type`` rule from
return annotations and the ``wandb.init`` settings of resources (the SDK's validators)."""

from __future__ import annotations

from typing import Any, Optional

import pytest
import wandb
from dagster import Definitions, EnvVar, Output, asset

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource
from dagster_wandb_v2.return_types import returned_kind
from dagster_wandb_v2.validation import definition_problems
from dagster_wandb_v2.wandb_rules import run_setting_problem


def _kind(hint: Any, partitioned: bool = False) -> str:
    def compute() -> None:
        return None

    compute.__annotations__ = {"return": hint}
    output_def = asset(name="annotated")(compute).node_def.output_defs[0]
    return returned_kind(output_def, partitioned=partitioned)


@pytest.mark.parametrize(
    ("hint", "kind"),
    [
        (wandb.Artifact, "artifact"),
        (Optional[wandb.Artifact], "artifact"),  # noqa: UP045 - the spelling users write
        (wandb.Artifact | None, "artifact"),
        (Output[wandb.Artifact], "artifact"),
        (list[int], "other"),
        (wandb.Table, "other"),
        (int | None, "other"),
        (Any, "unknown"),
        (object, "unknown"),
    ],
)
def test_the_annotation_tells_what_an_output_returns(hint: Any, kind: str) -> None:
    assert _kind(hint) == kind


def test_a_partitioned_dict_of_artifacts_may_be_one_artifact_per_partition() -> None:
    assert _kind(dict[str, wandb.Artifact], partitioned=True) == "unknown"
    assert _kind(dict[str, int], partitioned=True) == "other"
    assert _kind(dict[str, wandb.Artifact], partitioned=False) == "other"


def test_run_settings_use_the_sdks_validators() -> None:
    assert run_setting_problem("project", "ok-project") is None
    assert "Invalid project name" in str(run_setting_problem("project", "a#b"))
    assert run_setting_problem("run_tags", ["x" * 64, "dagster_wandb"]) is None
    assert "is empty" in str(run_setting_problem("run_tags", [""]))
    assert "whitespace" in str(run_setting_problem("run_id", " id"))
    assert "not a valid server address" in str(run_setting_problem("base_url", "https://wandb.ai"))


@asset
def plain() -> int:
    return 1


def test_settings_from_the_environment_name_their_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "team/project")
    monkeypatch.setenv("MY_PROJECT", "a?b")
    resources = {
        "from_default": WandbResource(api_key="k" * 40),
        "from_env_var": WandbResource(api_key="k" * 40, project=EnvVar("MY_PROJECT")),
        "unset_env_var": WandbResource(api_key="k" * 40, project=EnvVar("UNSET_PROJECT_VAR")),
    }
    problems = definition_problems(Definitions(assets=[plain], resources=resources))
    assert [problem.split(": Invalid")[0] for problem in problems] == [
        "resource 'from_default': environment variable WANDB_PROJECT",
        "resource 'from_env_var': project (environment variable MY_PROJECT)",
    ]


def test_an_io_manager_reports_its_resource_and_its_own_settings() -> None:
    resource = WandbResource(api_key=" key-with-a-space", host="http://api.wandb.ai", project="p")
    manager = WandbArtifactsIOManager(wandb=resource, run_tags=["fine", "x" * 70], run_id="a/b")
    problems = definition_problems(Definitions(assets=[plain], resources={"io": manager}))
    assert [problem.split(":")[0:2] for problem in problems] == [
        ["resource 'io'", " wandb.host"],
        ["resource 'io'", " wandb.api_key"],
        ["resource 'io'", " run_id"],
        ["resource 'io'", " run_tags"],
    ]
    assert "key-with-a-space" not in "\n".join(problems)
