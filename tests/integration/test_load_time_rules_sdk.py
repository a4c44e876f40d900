"""What a run rejects is found at load time (``validate_definitions``), and the load-time
verdict is the run's: each case is validated, then run through the real wandb SDK against
the local server."""

from typing import Any

import pytest
import wandb
from dagster import Definitions, asset, materialize

from dagster_wandb_v2 import (
    WandbArtifactsIOManager,
    WandbConfigurationError,
    WandbResource,
    validate_definitions,
)
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

IO = "wandb_artifacts_manager"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


@asset(metadata=_config(type="dataset"), io_manager_key=IO)
def typed() -> list[int]:
    return [1, 2]


@asset(io_manager_key=IO)
def untyped() -> list[int]:
    return [1, 2]


@asset(metadata=_config(type="model"), io_manager_key=IO)
def typed_artifact() -> wandb.Artifact:
    return wandb.Artifact("typed_artifact", type="dataset")


def _resources(project: LocalWandbProject, *, wandb_project: str = "", **config: Any) -> Any:
    resource = WandbResource(
        api_key=project.api_key,
        host=project.base_url,
        entity=project.entity,
        project=wandb_project or project.project,
    )
    return {
        IO: WandbArtifactsIOManager(wandb=resource, base_dir=str(project.storage_dir), **config)
    }


CASES = {
    "type_missing": (
        untyped,
        {},
        "asset 'untyped', output 'result': wandb_artifact_configuration.type: required when "
        "the output is not a wandb.Artifact (it is annotated as 'list[int]'); give e.g. "
        "'dataset' or 'model'",
        "type: required when the output is not a wandb.Artifact",
    ),
    "type_for_an_artifact": (
        typed_artifact,
        {},
        "asset 'typed_artifact', output 'result': wandb_artifact_configuration.type: not "
        "allowed when the output is a wandb.Artifact (annotated as returning one, which has "
        "its own type); remove 'type'",
        "type: not allowed when the output is a wandb.Artifact",
    ),
    "long_run_tag": (
        typed,
        {"run_tags": ["t" * 65]},
        f"resource '{IO}': run_tags: Tag 'tttttttttttttttttttt...tttttttttttttttttttt' is 65 "
        "characters. Tags must be between 1 and 64 characters (wandb.init refuses it)",
        "Tags must be between 1 and 64 characters",
    ),
    "project_with_a_slash": (
        typed,
        {"wandb_project": "team/project"},
        f"resource '{IO}': wandb.project: Invalid project name 'team/project': cannot contain "
        "characters '/,\\\\,#,?,%,:', found '/' (wandb.init refuses it)",
        "Invalid project name 'team/project'",
    ),
    "run_id_with_a_colon": (
        typed,
        {"run_id": "nightly:1"},
        f"resource '{IO}': run_id: Run ID cannot contain the characters: :;,#?/' "
        "(wandb.init refuses it)",
        "Run ID cannot contain the characters",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_what_the_run_rejects_is_reported_at_load_time(
    local_wandb: LocalWandbProject, name: str
) -> None:
    asset_def, config, problem, run_says = CASES[name]
    resources = _resources(local_wandb, **config)

    with pytest.raises(WandbConfigurationError) as raised:
        validate_definitions(Definitions(assets=[asset_def], resources=resources))
    assert raised.value.problems == [problem]
    result = materialize([asset_def], resources=resources, raise_on_error=False)
    (failure,) = result.get_step_failure_events()  # the run, through the SDK, agrees
    error, messages = failure.step_failure_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    assert run_says in "\n".join(messages)


def test_a_valid_configuration_passes_both(local_wandb: LocalWandbProject) -> None:
    resources = _resources(local_wandb, run_tags=["t" * 64], run_id="nightly-1")
    validate_definitions(Definitions(assets=[typed], resources=resources))
    assert materialize([typed], resources=resources).success
