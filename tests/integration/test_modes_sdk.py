"""What the wandb SDK's modes mean for the IO manager, through the real SDK.

The IO manager's job is storing outputs in W&B and reading them back. In ``disabled`` mode
the SDK stores nothing; in ``offline`` mode it writes runs to disk for a later
``wandb sync`` and can neither give a version nor read one. Either way the IO manager
refuses to start, with an error naming where the mode came from, before any step runs;
nothing is silently lost. W&B's public API (``WandbResource.get_api``, sensors, Launch)
does not depend on the mode.
"""

import pytest
import wandb
from dagster import AssetExecutionContext, AssetIn, Definitions, asset, materialize

from dagster_wandb_v2 import WandbConfigurationError
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}
ran: list[str] = []


@asset(metadata=CONFIG, io_manager_key=IO)
def numbers() -> list[int]:
    ran.append("numbers")
    return [1, 2, 3]


@asset(ins={"numbers": AssetIn(input_manager_key=IO)})
def total(numbers: list[int]) -> int:
    return sum(numbers)


def _refusal(raised: pytest.ExceptionInfo[BaseException]) -> WandbConfigurationError:
    """Our error behind Dagster's ``DagsterResourceFunctionError`` (resource set-up)."""
    error: BaseException | None = raised.value
    while error is not None and not isinstance(error, WandbConfigurationError):
        error = error.__cause__
    assert error is not None, raised.value
    return error


def _runs(project: LocalWandbProject) -> list[str]:
    """The project's W&B runs; none when nothing created the project."""
    try:
        runs = project.api().runs(f"{project.entity}/{project.project}")
        return [str(run.id) for run in runs]
    except ValueError as error:
        assert f"Could not find project {project.project}" in str(error)
        return []


@pytest.mark.parametrize("mode", ["disabled", "offline", "dryrun"])
def test_wandb_mode_that_stores_nothing_is_refused_before_any_step_runs(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("WANDB_MODE", mode)
    ran.clear()
    with pytest.raises(Exception) as raised:
        materialize([numbers], resources=local_wandb.resources())
    assert str(_refusal(raised)).startswith(
        f"WandbArtifactsIOManager: the wandb SDK is in mode '{mode}' (from environment "
        f"variable WANDB_MODE={mode}), in which W&B "
    )
    assert ran == []  # nothing ran, so nothing was silently dropped
    assert _runs(local_wandb) == []


def test_mode_set_through_wandb_setup_is_refused(local_wandb: LocalWandbProject) -> None:
    wandb.setup(settings=wandb.Settings(mode="offline"))
    ran.clear()
    with pytest.raises(Exception) as raised:
        materialize([numbers], resources=local_wandb.resources())
    assert "the wandb SDK is in mode 'offline' (from the wandb settings" in str(_refusal(raised))
    assert ran == []


@pytest.mark.parametrize("mode", ["online", "shared"])
def test_modes_that_store_in_wandb_work(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("WANDB_MODE", mode)
    result = materialize([numbers, total], resources=local_wandb.resources())
    assert result.output_for_node("total") == 6
    assert local_wandb.api().artifact(local_wandb.path("numbers:latest")).version == "v0"


def test_public_api_reads_do_not_depend_on_the_mode(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = local_wandb.resources()
    assert materialize([numbers], resources=resources).success
    monkeypatch.setenv("WANDB_MODE", "disabled")
    wandb.teardown()
    api = resources["wandb"].get_api()
    assert api.artifact(local_wandb.path("numbers:latest")).version == "v0"
    # A read outside a run opens no W&B run, so it works in any mode.
    assert Definitions(assets=[numbers], resources=resources).load_asset_value("numbers") == [
        1,
        2,
        3,
    ]


def test_asset_code_opening_the_step_run_offline_is_a_clear_error(
    local_wandb: LocalWandbProject,
) -> None:
    @asset(metadata=CONFIG, io_manager_key=IO)
    def trained(context: AssetExecutionContext) -> list[int]:
        wandb.init(
            id=context.run.run_id, resume="allow", project=local_wandb.project, mode="offline"
        )
        return [1]

    result = materialize([trained], resources=local_wandb.resources(), raise_on_error=False)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    expected = (
        f"W&B run '{result.run_id}', opened by asset code): the wandb SDK is in mode 'offline'"
    )
    assert any(expected in message for message in messages), messages
    assert not local_wandb.api().artifact_exists(local_wandb.path("trained:latest"))


def test_asset_code_opening_a_disabled_run_keeps_its_metrics_out_and_the_artifacts_in(
    local_wandb: LocalWandbProject,
) -> None:
    @asset(metadata=CONFIG, io_manager_key=IO)
    def trained(context: AssetExecutionContext) -> list[int]:
        run = wandb.init(
            id=context.run.run_id, resume="allow", project=local_wandb.project, mode="disabled"
        )
        run.log({"loss": 0.5})  # disabled: goes nowhere, as asked
        return [1]

    result = materialize([trained], resources=local_wandb.resources())
    artifact = local_wandb.api().artifact(local_wandb.path("trained:latest"))
    run = artifact.logged_by()
    assert (run.id, run.state) == (result.run_id, "finished")
    assert list(run.history(keys=["loss"], pandas=False)) == []


def test_wandb_disabled_variable_is_not_read_by_the_sdk_and_changes_nothing(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_DISABLED", "true")
    result = materialize([numbers, total], resources=local_wandb.resources())
    assert result.output_for_node("total") == 6
    assert local_wandb.api().artifact(local_wandb.path("numbers:latest")).version == "v0"
