"""One W&B run per step process, opened lazily, finished (failed when a step failed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetIn,
    Definitions,
    RetryPolicy,
    asset,
    build_input_context,
    materialize,
)

from dagster_wandb_v2 import WandbArtifactNotFoundError
from dagster_wandb_v2._session import StepSession
from dagster_wandb_v2.cache import ArtifactCache
from dagster_wandb_v2.testing import FakeWandb

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}


@asset(metadata=CONFIG, io_manager_key=IO)
def first() -> int:
    return 1


@asset(metadata=CONFIG, io_manager_key=IO, ins={"first": AssetIn(input_manager_key=IO)})
def second(first: int) -> int:
    return first + 1


@asset(metadata=CONFIG, io_manager_key=IO, ins={"second": AssetIn(input_manager_key=IO)})
def third(second: int) -> int:
    return second + 1


def test_one_run_for_every_read_and_write_of_an_in_process_run(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    result = materialize([first, second, third], resources=fake_wandb_resources)
    assert result.success
    assert len(fake_wandb.runs) == 1
    run = fake_wandb.runs[0]
    assert run.id == result.run_id  # resumable: wandb.init(id=context.run_id, resume="allow")
    assert run.name == f"dagster-run-{result.run_id[:8]}"
    assert run.spec.tags == ("dagster_wandb",)
    assert run.spec.group == result.run_id
    assert [artifact.name for artifact in run.logged] == ["first:v0", "second:v0", "third:v0"]
    assert [artifact.source_name for artifact in run.used] == ["first:v0", "second:v0"]
    assert run.state == "finished"


def test_configured_run_id_name_and_tags(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    resources = fake_wandb.resources(
        base_dir=str(tmp_path),
        run_id="my-run",
        run_name="nightly",
        run_tags=["prod", "dagster_wandb"],
    )
    assert materialize([first], resources=resources).success
    run = fake_wandb.runs[0]
    assert (run.id, run.name, run.spec.tags) == ("my-run", "nightly", ("prod", "dagster_wandb"))


def test_failing_step_marks_the_run_failed(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    @asset(ins={"first": AssetIn(input_manager_key=IO)})
    def broken(first: int) -> int:
        raise RuntimeError(f"boom {first}")

    result = materialize(
        [first, broken],
        resources=fake_wandb.resources(base_dir=str(tmp_path)),
        raise_on_error=False,
    )
    assert not result.success
    assert len(fake_wandb.runs) == 1
    assert fake_wandb.runs[0].state == "failed"


def test_failing_log_artifact_marks_the_run_failed(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    @asset(metadata=CONFIG, io_manager_key=IO)
    def doomed() -> int:
        return 1

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("server unavailable")

    fake_wandb.store = refuse  # type: ignore[method-assign]
    result = materialize(
        [doomed], resources=fake_wandb.resources(base_dir=str(tmp_path)), raise_on_error=False
    )
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    message = failure.step_failure_data.error.cause.message  # type: ignore[union-attr]
    assert (
        "asset 'doomed', output 'result': could not log W&B artifact 'doomed' (log_artifact)"
        in message
    )
    assert fake_wandb.runs[0].state == "failed"


def test_a_retry_that_succeeds_leaves_the_run_finished(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    store = fake_wandb.store
    refusals = iter([ConnectionError("server unavailable")])

    def refuse_once(*args: Any, **kwargs: Any) -> Any:
        for error in refusals:
            raise error
        return store(*args, **kwargs)

    @asset(metadata=CONFIG, io_manager_key=IO, retry_policy=RetryPolicy(max_retries=1))
    def flaky() -> int:
        return 1

    fake_wandb.store = refuse_once  # type: ignore[method-assign]
    result = materialize([flaky], resources=fake_wandb.resources(base_dir=str(tmp_path)))
    assert result.success
    assert [e.event_type_value for e in result.all_events].count("STEP_UP_FOR_RETRY") == 1
    assert [artifact.name for artifact in fake_wandb.runs[0].logged] == ["flaky:v0"]
    assert fake_wandb.runs[0].state == "finished"


def test_no_wandb_run_without_wandb_work(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    @asset
    def plain() -> int:
        return 1

    resources = fake_wandb.resources(base_dir=str(tmp_path))
    assert materialize([plain], resources=resources).success
    assert fake_wandb.runs == []


def test_per_step_runs_are_grouped_by_the_dagster_run(tmp_path: Path) -> None:
    fake = FakeWandb(storage_dir=tmp_path / "fake")
    session = StepSession(
        client=fake.client(),
        entity=None,
        project="p",
        dagster_run_id="0123456789abcdef",
        run_id=None,
        run_name=None,
        run_tags=(),
        cache=ArtifactCache(tmp_path / "cache", 60),
    )
    shared = session.run_spec(None)
    step_a, step_b = session.run_spec("a"), session.run_spec("b")
    assert shared.run_id == "0123456789abcdef"
    assert step_a.run_id.startswith("0123456789abcdef-") and step_a.run_id != step_b.run_id
    assert step_a.run_id == session.run_spec("a").run_id  # deterministic
    assert (step_a.group, step_a.name) == ("0123456789abcdef", "dagster-run-01234567-a")


def test_a_step_run_finished_by_asset_code_is_resumed(fake_wandb: FakeWandb) -> None:
    from dagster_wandb_v2 import step_run

    @asset(metadata=CONFIG, io_manager_key=IO, ins={"first": AssetIn(input_manager_key=IO)})
    def finishing(context, first: int) -> int:  # type: ignore[no-untyped-def]
        run = step_run(context)
        run.log({"loss": 0.5})
        run.finish()  # what the end of a `with wandb.init(...)` block does
        return first

    result = materialize([first, finishing], resources=fake_wandb.resources())
    assert result.success
    (run,) = fake_wandb.runs
    assert run.resumed == 1 and run.state == "finished"
    assert run.history == [{"loss": 0.5}]
    assert [artifact.name for artifact in run.logged] == ["first:v0", "finishing:v0"]


def test_io_managers_on_two_projects_get_two_runs(fake_wandb: FakeWandb) -> None:
    resource = fake_wandb.resource(project="data")
    models = fake_wandb.resource(project="models")
    from dagster_wandb_v2 import WandbArtifactsIOManager

    @asset(
        metadata=CONFIG,
        io_manager_key="models_manager",
        ins={"first": AssetIn(input_manager_key=IO)},
    )
    def model(first: int) -> int:
        return first

    resources = {
        IO: WandbArtifactsIOManager(wandb=resource),
        "models_manager": WandbArtifactsIOManager(wandb=models),
        "same_project_manager": WandbArtifactsIOManager(
            wandb=resource, cache_duration_in_minutes=0
        ),
    }
    result = materialize([first, model], resources=resources)
    data_run, model_run = fake_wandb.runs
    assert data_run.id == result.run_id and data_run.project == "data"
    assert model_run.id.startswith(f"{result.run_id}-") and model_run.project == "models"
    assert fake_wandb.artifact("fake-entity/models/model:latest").logged_by_run == model_run.path


def test_step_run_in_an_op_and_without_the_io_manager(fake_wandb: FakeWandb) -> None:
    import pytest
    from dagster import Out, job, op

    from dagster_wandb_v2 import WandbArtifactsIOManagerError, step_run

    @op(
        out=Out(
            io_manager_key=IO,
            metadata={"wandb_artifact_configuration": {"name": "m", "type": "model"}},
        )
    )
    def train(context) -> int:  # type: ignore[no-untyped-def]
        step_run(context).log({"loss": 0.1})
        return 1

    @op
    def unrelated(context) -> None:  # type: ignore[no-untyped-def]
        step_run(context)

    @job(resource_defs=fake_wandb.resources())
    def training() -> None:
        train()

    assert training.execute_in_process().success
    (run,) = fake_wandb.runs
    assert run.history == [{"loss": 0.1}] and [a.name for a in run.logged] == ["m:v0"]

    @job(resource_defs=fake_wandb.resources())
    def no_io_manager() -> None:
        unrelated()

    with pytest.raises(
        WandbArtifactsIOManagerError,
        match="no WandbArtifactsIOManager under resource key 'wandb_artifacts_manager'",
    ):
        no_io_manager.execute_in_process()


def test_a_run_finished_by_asset_code_is_marked_failed_when_the_step_fails(
    fake_wandb: FakeWandb,
) -> None:
    from dagster_wandb_v2 import step_run

    @asset(metadata=CONFIG, io_manager_key=IO, ins={"first": AssetIn(input_manager_key=IO)})
    def failing(context, first: int) -> int:  # type: ignore[no-untyped-def]
        step_run(context).finish()  # the end of a `with` block, then the step fails
        raise RuntimeError("training diverged")

    result = materialize([first, failing], resources=fake_wandb.resources(), raise_on_error=False)
    assert not result.success
    (run,) = fake_wandb.runs
    assert run.state == "failed" and run.resumed == 1


def test_load_asset_value_reads_without_a_run(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    resources = fake_wandb.resources(base_dir=str(tmp_path))
    assert materialize([first], resources=resources).success
    (run,) = fake_wandb.runs
    defs = Definitions(assets=[first], resources=resources)
    assert defs.load_asset_value("first") == 1
    assert fake_wandb.runs == [run]  # no W&B run for a value no step consumed
    assert fake_wandb.artifact("fake-entity/fake-project/first:latest").used_by_runs == []


def test_op_input_loaded_with_build_input_context(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    resources = fake_wandb.resources(base_dir=str(tmp_path))
    assert materialize([first], resources=resources).success
    manager = resources[IO]
    by_name = {"wandb_artifact_configuration": {"name": "first"}}
    assert manager.load_input(build_input_context(name="x", definition_metadata=by_name)) == 1
    missing = {"wandb_artifact_configuration": {"name": "absent"}}
    with pytest.raises(WandbArtifactNotFoundError, match=r"op '<op>', input 'x'"):
        manager.load_input(build_input_context(name="x", definition_metadata=missing))
    assert len(fake_wandb.runs) == 1  # the materialization's only


def test_run_per_step_gives_each_in_process_step_its_own_run(fake_wandb: FakeWandb) -> None:
    result = materialize([first, second, third], resources=fake_wandb.resources(run_per_step=True))
    assert result.success
    runs = {run.name.rsplit("-", 1)[-1]: run for run in fake_wandb.runs}
    assert sorted(runs) == ["first", "second", "third"]
    for step, run in runs.items():
        assert run.id.startswith(f"{result.run_id}-") and run.spec.group == result.run_id
        assert run.name == f"dagster-run-{result.run_id[:8]}-{step}"
        assert run.state == "finished"
    assert [a.name for a in runs["second"].logged] == ["second:v0"]
    assert [a.source_name for a in runs["second"].used] == ["first:v0"]
    assert [a.source_name for a in runs["first"].used] == []


def test_run_per_step_fails_only_the_failed_steps_run(fake_wandb: FakeWandb) -> None:
    @asset(metadata=CONFIG, io_manager_key=IO, ins={"second": AssetIn(input_manager_key=IO)})
    def broken(second: int) -> int:
        raise RuntimeError(f"boom {second}")

    result = materialize(
        [first, second, broken],
        resources=fake_wandb.resources(run_per_step=True),
        raise_on_error=False,
    )
    assert not result.success
    states = {run.name.rsplit("-", 1)[-1]: run.state for run in fake_wandb.runs}
    assert states == {"first": "finished", "second": "finished", "broken": "failed"}


def test_run_per_step_hands_asset_code_its_own_steps_run(fake_wandb: FakeWandb) -> None:
    from dagster_wandb_v2 import step_run

    seen: dict[str, str] = {}

    @asset(metadata=CONFIG, io_manager_key=IO, ins={"first": AssetIn(input_manager_key=IO)})
    def logging_step(context, first: int) -> int:  # type: ignore[no-untyped-def]
        run = step_run(context)
        run.log({"value": first})
        seen["logging_step"] = run.id
        return first

    result = materialize([first, logging_step], resources=fake_wandb.resources(run_per_step=True))
    assert result.success
    runs = {run.name.rsplit("-", 1)[-1]: run for run in fake_wandb.runs}
    assert seen["logging_step"] == runs["logging_step"].id
    assert runs["logging_step"].history == [{"value": 1}]
    assert runs["first"].history == []


def test_run_per_step_a_retried_step_resumes_and_finishes_its_run(
    fake_wandb: FakeWandb,
) -> None:
    store = fake_wandb.store
    refusals = iter([ConnectionError("server unavailable")])

    def refuse_flaky_once(artifact: Any, *args: Any, **kwargs: Any) -> Any:
        if artifact.name == "flaky":
            for error in refusals:
                raise error
        return store(artifact, *args, **kwargs)

    @asset(metadata=CONFIG, io_manager_key=IO, retry_policy=RetryPolicy(max_retries=1))
    def flaky() -> int:
        return 1

    @asset(metadata=CONFIG, io_manager_key=IO)
    def later() -> int:
        return 2

    fake_wandb.store = refuse_flaky_once  # type: ignore[method-assign]
    result = materialize([flaky, later], resources=fake_wandb.resources(run_per_step=True))
    assert result.success
    steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    assert steps == ["flaky", "later", "flaky"], steps  # `later` ran between the attempts
    runs = {run.name.rsplit("-", 1)[-1]: run for run in fake_wandb.runs}
    assert {name: run.state for name, run in runs.items()} == {
        "flaky": "finished",
        "later": "finished",
    }
    assert runs["flaky"].resumed >= 1  # finished (failed) when `later` started, then resumed
    assert [artifact.name for artifact in runs["flaky"].logged] == ["flaky:v0"]
