"""The IO manager's W&B runs through the real wandb SDK against the local server.

- every value the materialization metadata reads from the SDK's run and artifact objects
  is what ``wandb.Api()`` returns for them (``wandb.Run.path`` is a ``str``, the public
  API's a list);
- metrics asset code logs (each form of the guide's best practice 7, and ``step_run``)
  land in the W&B run holding the artifacts of that step, with either executor;
- IO managers on several projects, or several IO managers on one, in one Dagster run.
"""

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    DagsterInstance,
    asset,
    execute_job,
    materialize,
    reconstructable,
)

from dagster_wandb_v2 import (
    WandbArtifactsIOManager,
    WandbResource,
    WandbRunInUseError,
    step_run,
)
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from tests.integration import shared_run_pipeline
from tests.integration.shared_run_pipeline import FORMS, METRICS

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}
MATERIALIZATION_KEYS = {
    "dagster_run_id",
    "wandb_artifact_digest",
    "wandb_artifact_id",
    "wandb_artifact_name",
    "wandb_artifact_type",
    "wandb_artifact_version",
    "wandb_artifact_size",
    "wandb_artifact_url",
    "wandb_entity",
    "wandb_project",
    "wandb_run_id",
    "wandb_run_name",
    "wandb_run_path",
    "wandb_run_url",
}
"""DESIGN.md section 1: the Dagster materialization metadata of a logged artifact."""


def _materialization(result: Any, asset_name: str) -> dict[str, Any]:
    (event,) = [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key.path == [asset_name]
    ]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def test_materialization_metadata_is_what_the_wandb_api_returns(
    local_wandb: LocalWandbProject,
) -> None:
    @asset(metadata=CONFIG, io_manager_key=IO)
    def numbers() -> list[int]:
        return list(range(100))

    materialize([numbers], resources=local_wandb.resources())  # v0, so the next is v1
    assert materialize([numbers], resources=local_wandb.resources()).success  # same content
    values = iter([[1], [2]])

    @asset(name="numbers", metadata=CONFIG, io_manager_key=IO)
    def changed() -> list[int]:
        return next(values)

    result = materialize([changed], resources=local_wandb.resources(run_name="metadata-check"))
    metadata = _materialization(result, "numbers")
    assert set(metadata) == MATERIALIZATION_KEYS
    api = local_wandb.api()

    run = api.run(metadata["wandb_run_path"])  # the path opens the run
    assert "/".join(run.path) == metadata["wandb_run_path"]
    assert run.id == metadata["wandb_run_id"] == result.run_id
    assert run.name == metadata["wandb_run_name"] == "metadata-check"
    assert run.entity == metadata["wandb_entity"] == local_wandb.entity
    assert run.project == metadata["wandb_project"] == local_wandb.project
    assert metadata["wandb_run_url"] == run.url
    run_url = urlparse(metadata["wandb_run_url"])
    server = urlparse(local_wandb.base_url)
    assert run_url.netloc == server.netloc
    assert run_url.path == f"/{run.entity}/{run.project}/runs/{run.id}"
    assert metadata["dagster_run_id"] == result.run_id

    artifact = api.artifact(local_wandb.path(f"numbers:{metadata['wandb_artifact_version']}"))
    assert artifact.id == metadata["wandb_artifact_id"]
    assert api.artifact(local_wandb.path("numbers:latest")).id == metadata["wandb_artifact_id"]
    assert artifact.version == metadata["wandb_artifact_version"] == "v1"
    assert artifact.name == "numbers:v1" and metadata["wandb_artifact_name"] == "numbers"
    assert artifact.type == metadata["wandb_artifact_type"] == "dataset"
    assert artifact.size == metadata["wandb_artifact_size"] > 0
    assert artifact.digest == metadata["wandb_artifact_digest"]
    assert [logged.id for logged in run.logged_artifacts()] == [artifact.id]
    artifact_url = urlparse(metadata["wandb_artifact_url"])
    assert artifact_url.netloc == server.netloc
    assert (
        artifact_url.path
        == urlparse(artifact.url).path
        == (f"/{artifact.entity}/{artifact.project}/artifacts/dataset/numbers/v1")
    )


def _run_of(api: wandb.Api, project: LocalWandbProject, artifact: str) -> Any:
    """The W&B run that logged ``artifact`` (``entity/project/name:alias``)."""
    return api.artifact(project.path(artifact)).logged_by()


def _execute(executor: str, tmp_path: Path) -> str:
    """Run the pipeline's job; a multiprocess job is rebuilt in each step process."""
    (tmp_path / "instance").mkdir(exist_ok=True)
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        if executor == "multiprocess":
            result = execute_job(
                reconstructable(shared_run_pipeline.multiprocess_job), instance=instance
            )
        else:  # built here: a reconstructed job is cached with this test's environment
            result = shared_run_pipeline.in_process_job().execute_in_process(
                instance=instance, raise_on_error=False
            )
        assert result.success, [
            event.event_specific_data.error.message
            for event in result.all_events
            if event.is_step_failure
        ]
        return result.run_id


@pytest.mark.parametrize("custom_id", [False, True], ids=["dagster-run-id", "custom-id"])
@pytest.mark.parametrize("executor", ["in_process", "in_process_per_step", "multiprocess"])
@pytest.mark.parametrize("form", FORMS)
def test_metrics_of_asset_code_land_in_the_run_of_the_artifacts(
    local_wandb: LocalWandbProject,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    form: str,
    executor: str,
    custom_id: bool,
) -> None:
    monkeypatch.setenv("SHARED_RUN_PROJECT", local_wandb.project)
    monkeypatch.setenv("SHARED_RUN_STORAGE", str(tmp_path / "storage"))
    monkeypatch.setenv("SHARED_RUN_FORM", form)
    custom = f"my-resumable-run-{uuid.uuid4().hex[:8]}" if custom_id else ""
    monkeypatch.setenv("SHARED_RUN_ID", custom)
    monkeypatch.setenv("SHARED_RUN_PER_STEP", "1" if executor.endswith("per_step") else "0")
    run_id = _execute(executor, tmp_path)

    api = local_wandb.api()
    runs = {run.id: run for run in api.runs(f"{local_wandb.entity}/{local_wandb.project}")}
    for asset_name, metric in METRICS.items():
        run = _run_of(api, local_wandb, f"{asset_name}:latest")
        history = [row[metric] for row in run.history(keys=[metric], pandas=False)]
        assert history == [0.5, 0.25], (asset_name, run.id, sorted(runs))
        logged = {artifact.name.split(":")[0] for artifact in run.logged_artifacts()}
        assert asset_name in logged
    assert all(run.state == "finished" for run in runs.values())
    if executor == "in_process":  # one W&B run for the whole Dagster run
        assert list(runs) == [custom or run_id]
        logged = {artifact.name for artifact in runs[custom or run_id].logged_artifacts()}
        assert logged == {"first:v0", "train:v0", "after:v0"}
    else:  # a run per step, and none beyond the steps' own
        assert len(runs) <= 3
        for asset_name in ("first", "train", "after"):
            run = _run_of(api, local_wandb, f"{asset_name}:latest")
            assert [artifact.name for artifact in run.logged_artifacts()] == [f"{asset_name}:v0"]


def test_asset_code_opening_the_run_id_in_another_project_is_a_clear_error(
    local_wandb: LocalWandbProject,
) -> None:
    @asset(metadata=CONFIG, io_manager_key=IO)
    def trained(context: AssetExecutionContext) -> int:
        wandb.init(id=context.run.run_id, resume="allow", project=f"{local_wandb.project}-x")
        return 1

    with pytest.raises(WandbRunInUseError) as error:
        materialize([trained], resources=local_wandb.resources())
    assert f'project="{local_wandb.project}"' in str(error.value)
    assert "step_run(context)" in str(error.value)
    wandb.finish()


def test_asset_code_finishing_the_run_id_in_another_project_is_warned_of(
    local_wandb: LocalWandbProject,
) -> None:
    """The guide's ``with`` form without ``project=`` logs to another project and ends
    before the IO manager opens the step's run: nothing fails, so it must be said."""
    other = f"{local_wandb.project}-elsewhere"

    @asset(metadata=CONFIG, io_manager_key=IO)
    def trained(context: AssetExecutionContext) -> int:
        with wandb.init(id=context.run.run_id, resume="allow", project=other) as run:
            run.log({"loss": 0.5})
        return 1

    with pytest.warns(UserWarning, match="the metrics and the artifacts are in two runs") as w:
        materialize([trained], resources=local_wandb.resources())
    (message,) = [str(item.message) for item in w if "two runs" in str(item.message)]
    assert f"'{local_wandb.entity}/{other}'" in message
    assert f'project="{local_wandb.project}"' in message


def test_step_run_is_the_run_of_the_artifacts(local_wandb: LocalWandbProject) -> None:
    @asset(metadata=CONFIG, io_manager_key=IO)
    def model(context: AssetExecutionContext) -> dict[str, float]:
        run = step_run(context)
        run.log({"accuracy": 0.9})
        run.config.update({"learning_rate": 0.01})
        return {"weights": 1.0}

    result = materialize([model], resources=local_wandb.resources())
    run = local_wandb.api().run(_materialization(result, "model")["wandb_run_path"])
    assert [row["accuracy"] for row in run.history(keys=["accuracy"], pandas=False)] == [0.9]
    assert run.config["learning_rate"] == 0.01
    assert [artifact.name for artifact in run.logged_artifacts()] == ["model:v0"]
    assert run.state == "finished"


def _two_projects(local: LocalWandbProject, second_project: str) -> dict[str, Any]:
    def manager(project: str, storage: str) -> WandbArtifactsIOManager:
        resource = WandbResource(
            api_key=local.api_key, host=local.base_url, entity=local.entity, project=project
        )
        return WandbArtifactsIOManager(wandb=resource, base_dir=str(local.storage_dir / storage))

    return {
        "data_manager": manager(local.project, "data"),
        "model_manager": manager(second_project, "models"),
    }


@pytest.mark.parametrize("same_project", [False, True], ids=["two-projects", "one-project"])
def test_two_io_managers_in_one_dagster_run(
    local_wandb: LocalWandbProject, same_project: bool
) -> None:
    models_project = local_wandb.project if same_project else f"{local_wandb.project}-models"

    @asset(metadata=CONFIG, io_manager_key="data_manager")
    def dataset() -> list[int]:
        return [1, 2]

    @asset(
        metadata={"wandb_artifact_configuration": {"type": "model"}},
        io_manager_key="model_manager",
        ins={"dataset": AssetIn(input_manager_key="data_manager")},
    )
    def model(context: AssetExecutionContext, dataset: list[int]) -> int:
        step_run(context, io_manager_key="model_manager").log({"size": len(dataset)})
        return sum(dataset)

    @asset(ins={"model": AssetIn(input_manager_key="model_manager")})
    def report(model: int) -> int:
        return model

    result = materialize(
        [dataset, model, report], resources=_two_projects(local_wandb, models_project)
    )
    assert result.output_for_node("report") == 3
    api = local_wandb.api()
    data_run = api.artifact(local_wandb.path("dataset:latest")).logged_by()
    model_artifact = api.artifact(f"{local_wandb.entity}/{models_project}/model:latest")
    model_run = model_artifact.logged_by()
    assert data_run.id == result.run_id  # the default case keeps the Dagster run id
    assert [row["size"] for row in model_run.history(keys=["size"], pandas=False)] == [2]
    assert data_run.state == model_run.state == "finished"
    if same_project:  # one W&B run: the same id on the same project
        assert model_run.id == result.run_id
    else:
        assert model_run.id.startswith(f"{result.run_id}-")
        assert _materialization(result, "model")["wandb_run_id"] == model_run.id
    # Each input is read through its IO manager's run (lineage in the right project).
    used = {
        name
        for run in {data_run.id: data_run, model_run.id: model_run}.values()
        for name in (artifact.name for artifact in run.used_artifacts())
    }
    assert used == {"dataset:v0", "model:v0"}
    assert "dataset:v0" in {artifact.name for artifact in data_run.used_artifacts()}


def _draft(directory: Path) -> wandb.Artifact:
    artifact = wandb.Artifact("values", "dataset", metadata={"rows": 3, "nested": {"a": [1]}})
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (directory / "data" / "train.csv").write_text("a,b\n1,2\n")
    artifact.add_file(str(directory / "data" / "train.csv"), name="data/train.csv")
    return artifact


def test_every_value_the_client_reads_from_the_sdk_matches_the_api_and_the_fake(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    """The client protocol's run and artifact attributes: the SDK wrapper's values are what
    ``wandb.Api()`` returns, and the fake's have the same types."""
    from dagster_wandb_v2.client import RunSpec, SdkWandbClient
    from dagster_wandb_v2.testing import FakeWandb

    spec = RunSpec(project=local_wandb.project, run_id=uuid.uuid4().hex[:12], name="values")
    sdk_run = SdkWandbClient(api_key=local_wandb.api_key, host=local_wandb.base_url).start_run(spec)
    draft = _draft(tmp_path / "sdk")
    draft_digest = draft.manifest.digest()
    stored = sdk_run.log_artifact(draft, ["latest", "best"])
    fake = FakeWandb(storage_dir=tmp_path / "fake")
    fake_run = fake.client().start_run(spec)
    fake_stored = fake_run.log_artifact(_draft(tmp_path / "fake-src"), ["latest", "best"])
    sdk_values = {
        "run.id": sdk_run.id,
        "run.name": sdk_run.name,
        "run.entity": sdk_run.entity,
        "run.project": sdk_run.project,
        "run.path": sdk_run.path,
        "run.url": sdk_run.url,
        "run.finished": sdk_run.finished,
        "artifact.id": stored.id,
        "artifact.name": stored.name,
        "artifact.type": stored.type,
        "artifact.version": stored.version,
        "artifact.digest": stored.digest,
        "artifact.size": stored.size,
        "artifact.metadata": stored.metadata,
        "artifact.entries": sorted(stored.manifest.entries),
    }
    fake_values = {
        "run.id": fake_run.id,
        "run.name": fake_run.name,
        "run.entity": fake_run.entity,
        "run.project": fake_run.project,
        "run.path": fake_run.path,
        "run.url": fake_run.url,
        "run.finished": fake_run.finished,
        "artifact.id": fake_stored.id,
        "artifact.name": fake_stored.name,
        "artifact.type": fake_stored.type,
        "artifact.version": fake_stored.version,
        "artifact.digest": fake_stored.digest,
        "artifact.size": fake_stored.size,
        "artifact.metadata": fake_stored.metadata,
        "artifact.entries": sorted(fake_stored.manifest.entries),
    }
    assert {key: type(value) for key, value in fake_values.items()} == {
        key: type(value) for key, value in sdk_values.items()
    }
    assert fake_values["artifact.metadata"] == sdk_values["artifact.metadata"]
    assert fake_values["artifact.entries"] == sdk_values["artifact.entries"]
    assert fake_values["artifact.size"] == sdk_values["artifact.size"]
    assert fake_values["artifact.digest"] == sdk_values["artifact.digest"] == draft_digest
    sdk_run.finish()
    assert sdk_run.finished

    api = local_wandb.api()
    run = api.run(sdk_values["run.path"])
    assert (run.id, run.name, run.entity, run.project, run.url) == (
        sdk_values["run.id"],
        sdk_values["run.name"],
        sdk_values["run.entity"],
        sdk_values["run.project"],
        sdk_values["run.url"],
    )
    artifact = api.artifact(local_wandb.path("values:v0"))
    assert api.artifact(local_wandb.path("values:best")).id == artifact.id
    assert (
        artifact.id,
        artifact.name,
        artifact.type,
        artifact.version,
        artifact.digest,
        artifact.size,
        artifact.metadata,
        sorted(artifact.manifest.entries),
    ) == tuple(value for key, value in sdk_values.items() if key.startswith("artifact."))
    fake.close()


def test_two_io_managers_on_two_projects_under_the_multiprocess_executor(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.integration import two_projects_pipeline

    models_project = f"{local_wandb.project}-models"
    monkeypatch.setenv("TWO_PROJECTS_DATA", local_wandb.project)
    monkeypatch.setenv("TWO_PROJECTS_MODELS", models_project)
    monkeypatch.setenv("TWO_PROJECTS_STORAGE", str(tmp_path / "storage"))
    (tmp_path / "instance").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        result = execute_job(reconstructable(two_projects_pipeline.multiprocess_job), instance)
        assert result.success
    api = local_wandb.api()
    model_artifact = api.artifact(f"{local_wandb.entity}/{models_project}/model:latest")
    model_run = model_artifact.logged_by()
    assert [row["size"] for row in model_run.history(keys=["size"], pandas=False)] == [2]
    # The model step used both IO managers: its data read and its model write are two runs.
    data_runs = api.runs(f"{local_wandb.entity}/{local_wandb.project}")
    model_step_data_run = next(
        run for run in data_runs if "dataset:v0" in {a.name for a in run.used_artifacts()}
    )
    assert model_step_data_run.id.startswith(result.run_id)
    assert model_run.id != model_step_data_run.id
    assert {run.state for run in data_runs} == {"finished"} and model_run.state == "finished"
    # The report step reads from the models project and writes to the data project.
    report_reader = next(
        run
        for run in api.runs(f"{local_wandb.entity}/{models_project}")
        if "model:v0" in {a.name for a in run.used_artifacts()}
    )
    report_writer = api.artifact(local_wandb.path("report:latest")).logged_by()
    assert report_writer.id == f"{report_reader.id}-" + report_writer.id.rsplit("-", 1)[1]
    assert report_reader.state == report_writer.state == "finished"


def test_run_per_step_a_step_without_wandb_inputs_never_logs_to_the_previous_steps_run(
    local_wandb: LocalWandbProject,
) -> None:
    """``run_per_step``, in-process: a step's run is finished once its last output is
    handled, so the next step's asset code does not find it open. ``step_run`` opens the
    step's own run; a bare ``wandb.log`` fails loudly instead of landing in another run."""

    @asset(metadata=CONFIG, io_manager_key=IO)
    def root_one(context: AssetExecutionContext) -> int:
        step_run(context).log({"root_one_metric": 1})
        return 1

    @asset(metadata=CONFIG, io_manager_key=IO)
    def root_two(context: AssetExecutionContext) -> int:
        step_run(context).log({"root_two_metric": 2})
        return 2

    @asset(metadata=CONFIG, io_manager_key=IO)
    def root_three() -> int:
        wandb.log({"root_three_metric": 3})  # no run of its own is open yet
        return 3

    resources = local_wandb.resources(run_per_step=True)
    result = materialize(
        [root_one, root_two, root_three], resources=resources, raise_on_error=False
    )
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "root_three"
    assert "wandb.init()" in str(failure.step_failure_data.error)
    api = local_wandb.api()
    for name, metric in (("root_one", "root_one_metric"), ("root_two", "root_two_metric")):
        run = _run_of(api, local_wandb, f"{name}:latest")
        assert set(run.summary.keys()) & {
            "root_one_metric",
            "root_two_metric",
            "root_three_metric",
        } == {metric}
        assert run.state == "finished"
