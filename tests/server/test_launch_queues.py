"""W&B Launch on the local server, through the wandb SDK's own Launch API calls.

Queues are entity-scoped (project ``model-registry``), so each test names its own queue.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest


def _queue_name() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def launch_api(wandb_env: Any) -> Any:
    from wandb.sdk.launch.api import LaunchApi

    return LaunchApi(
        api_key=wandb_env.api_key,
        overrides={"base_url": wandb_env.base_url, "entity": wandb_env.entity},
    )


def _spec(entity: str, project: str, **extra: Any) -> dict[str, Any]:
    return {"entity": entity, "project": project, "job": f"{entity}/{project}/j:latest", **extra}


def test_queue_push_pop_ack_with_the_queues_resource_and_template_variables(
    api: Any, launch_api: Any, wandb_env: Any, project: str
) -> None:
    entity = wandb_env.entity
    name = _queue_name()
    api.create_run_queue(
        name,
        "local-process",
        entity=entity,
        config={"env": {"GPUS": "{{gpus}}"}, "labels": ["{{team}}"]},
        template_variables={
            "gpus": {"schema": {"type": "integer", "minimum": 1, "default": 1}},
            "team": {"schema": {"type": "string", "enum": ["a", "b"]}},
        },
    )
    queue = api.run_queue(entity, name)
    assert (queue.type, queue.access) == ("local-process", "PROJECT")
    assert queue.default_resource_config == {
        "resource_args": {"local-process": {"env": {"GPUS": "{{gpus}}"}, "labels": ["{{team}}"]}}
    }
    assert [v["name"] for v in queue.template_variables] == ["gpus", "team"]
    pushed = launch_api.push_to_run_queue(
        name, _spec(entity, project), {"gpus": 2, "team": "b"}, "model-registry"
    )
    assert pushed["runSpec"]["resource"] == "local-process"
    assert pushed["runSpec"]["resource_args"] == {
        "local-process": {"env": {"GPUS": 2}, "labels": ["b"]}
    }

    agent = launch_api.create_launch_agent(entity, "model-registry", [name], {}, "test")
    popped = launch_api.pop_from_run_queue(
        name, entity=entity, project="model-registry", agent_id=agent["launchAgentId"]
    )
    assert popped["runQueueItemId"] == pushed["runQueueItemId"]
    assert popped["runSpec"]["job"] == f"{entity}/{project}/j:latest"  # an object, not text
    assert launch_api.pop_from_run_queue(name, entity=entity, project="model-registry") is None

    assert launch_api.ack_run_queue_item(popped["runQueueItemId"], "run1234")
    queued = api.queued_run(entity, project, name, popped["runQueueItemId"], "model-registry")
    assert queued.state == "claimed"
    assert queued._get_item()["associatedRunId"] == "run1234"
    with pytest.raises(Exception, match="already been acknowledged"):
        launch_api.ack_run_queue_item(popped["runQueueItemId"], "other")


def test_template_variables_are_checked_against_the_queues_schema(
    api: Any, wandb_env: Any, gql: Any, project: str
) -> None:
    name = _queue_name()
    api.create_run_queue(
        name,
        "local-process",
        entity=wandb_env.entity,
        config={"n": "{{n}}"},
        template_variables={"n": {"schema": {"type": "integer", "maximum": 4}}},
    )
    push = """mutation P($e: String!, $q: String!, $spec: JSONString!, $values: JSONString) {
      pushToRunQueueByName(input: {entityName: $e, projectName: "model-registry",
        queueName: $q, runSpec: $spec, templateVariableValues: $values}) { runQueueItemId }
    }"""
    spec = json.dumps(_spec(wandb_env.entity, project))
    for values, message in [
        (None, "template variable 'n' of the queue needs a value"),
        ({"n": "two"}, "template variable 'n' must be of type integer"),
        ({"n": 9}, "template variable 'n': maximum is 4"),
        ({"n": 1, "m": 2}, "template variables ['m'] are not defined by the queue"),
    ]:
        _, body = gql(
            push, {"e": wandb_env.entity, "q": name, "spec": spec, "values": json.dumps(values)}
        )
        assert message in body.get("errors", [{}])[0].get("message", ""), (values, body)


def test_priority_orders_pops_in_a_prioritized_queue(
    api: Any, launch_api: Any, wandb_env: Any, project: str
) -> None:
    entity = wandb_env.entity
    name = _queue_name()
    api.create_run_queue(name, "local-process", entity=entity, prioritization_mode="V0")
    low = launch_api.push_to_run_queue(name, _spec(entity, project), None, "model-registry", 3)
    high = launch_api.push_to_run_queue(name, _spec(entity, project), None, "model-registry", 0)
    order = [
        launch_api.pop_from_run_queue(name, entity=entity, project="model-registry")
        for _ in range(2)
    ]
    assert [item["runQueueItemId"] for item in order] == [
        high["runQueueItemId"],
        low["runQueueItemId"],
    ]


def test_a_failed_item_keeps_the_agents_message_and_stage(
    api: Any, launch_api: Any, wandb_env: Any, gql: Any, project: str
) -> None:
    entity = wandb_env.entity
    name = _queue_name()
    api.create_run_queue(name, "local-process", entity=entity)
    pushed = launch_api.push_to_run_queue(name, _spec(entity, project), None, "model-registry")
    launch_api.pop_from_run_queue(name, entity=entity, project="model-registry")
    assert launch_api.fail_run_queue_item(pushed["runQueueItemId"], "boom", "run", ["e.log"])
    assert launch_api.update_run_queue_item_warning(pushed["runQueueItemId"], "slow", "agent")
    _, body = gql(
        """query I($e: String!, $q: String!, $id: ID!) {
          project(entityName: $e, name: "model-registry") { runQueue(name: $q) {
            runQueueItem(id: $id) {
              state error { message stage filePaths } warnings { message } } } } }""",
        {"e": entity, "q": name, "id": pushed["runQueueItemId"]},
    )
    item = body["data"]["project"]["runQueue"]["runQueueItem"]
    assert item["state"] == "FAILED"
    assert item["error"] == {"message": "boom", "stage": "run", "filePaths": ["e.log"]}
    assert item["warnings"] == [{"message": "slow"}]


def test_agent_registration_status_and_stop_polling(
    api: Any, launch_api: Any, wandb_env: Any, gql: Any
) -> None:
    entity = wandb_env.entity
    name = _queue_name()
    api.create_run_queue(name, "local-process", entity=entity)
    created = launch_api.create_launch_agent(
        entity, "model-registry", [name], {"max_jobs": 1}, "wandb@0.31.0"
    )
    agent = launch_api.get_launch_agent(created["launchAgentId"])
    assert agent["name"].startswith("launch-agent-")
    assert (agent["agentStatus"], agent["stopPolling"]) == ("POLLING", False)
    assert launch_api.update_launch_agent_status(created["launchAgentId"], "RUNNING")["success"]
    _, body = gql(
        "mutation S($id: ID!) { updateLaunchAgent(input: {launchAgentId: $id, stopPolling: true})"
        " { success } }",
        {"id": created["launchAgentId"]},
    )
    assert body["data"]["updateLaunchAgent"]["success"], body
    agent = launch_api.get_launch_agent(created["launchAgentId"])
    assert (agent["agentStatus"], agent["stopPolling"]) == ("RUNNING", True)

    with pytest.raises(Exception, match="Not all of requested queues"):
        launch_api.create_launch_agent(entity, "model-registry", [name, "nope"], {}, "v")


def test_unknown_queues_and_entities_are_named_in_the_error(
    launch_api: Any, wandb_env: Any
) -> None:
    with pytest.raises(Exception, match=r"run queue 'missing' not found in .*model-registry"):
        launch_api.pop_from_run_queue("missing", entity=wandb_env.entity, project="model-registry")
    with pytest.raises(Exception, match="Error fetching run queues for nobody-here"):
        launch_api.create_launch_agent("nobody-here", "model-registry", ["q"], {}, "v")


def test_stop_run_is_seen_by_the_agents_check(
    launch_api: Any, wandb_env: Any, project: str
) -> None:
    import wandb

    with wandb.init(entity=wandb_env.entity, project=project) as run:
        assert not launch_api.check_stop_requested(project, wandb_env.entity, run.id)
        launch_api.stop_run(wandb.Api().run(f"{wandb_env.entity}/{project}/{run.id}").storage_id)
        assert launch_api.check_stop_requested(project, wandb_env.entity, run.id)


def test_code_job_made_by_wandb_job_create_runs_from_its_committed_code_artifact(
    launch_api: Any, wandb_env: Any, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``wandb job create code``: creates the code artifact, logs it under the same client
    id, then deletes its helper run; the job points at the code artifact by id."""
    import wandb
    from wandb.sdk.artifacts import artifact as artifact_module
    from wandb.sdk.artifacts import artifact_instance_cache
    from wandb.sdk.launch.create_job import _create_job

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("print('hi')\n")
    (tmp_path / "code" / "requirements.txt").write_text("wandb\n")
    job, _, _ = _create_job(
        launch_api,
        "code",
        str(tmp_path / "code"),
        entity=wandb_env.entity,
        project=project,
        name="train",
        entrypoint="python train.py",
    )
    assert job is not None
    public = wandb.Api()
    stored = public.artifact(f"{wandb_env.entity}/{project}/train:latest", type="job")
    source = json.loads(
        Path(stored.download(str(tmp_path / "job"))).joinpath("wandb-job.json").read_text()
    )["source"]
    code_id = source["artifact"].rsplit("/", 1)[-1]
    # wandb caches artifacts by id per process; ids of another server's artifacts
    # (another test session's) are the same numbers
    monkeypatch.setattr(artifact_instance_cache, "artifact_instance_cache", {})
    monkeypatch.setattr(artifact_module, "artifact_instance_cache", {})
    code = public._artifact_from_id(code_id)
    assert code is not None and code.type == "code" and code.state == "COMMITTED"
    assert (Path(code.download(str(tmp_path / "c"))) / "train.py").read_text() == "print('hi')\n"
    assert not [r for r in public.runs(f"{wandb_env.entity}/{project}")]  # helper run gone


def test_image_job_is_a_job_artifact_naming_the_image(
    launch_api: Any, wandb_env: Any, project: str, tmp_path: Path
) -> None:
    import wandb
    from wandb.sdk.launch.create_job import _create_job

    job, _, _ = _create_job(
        launch_api,
        "image",
        "python:3.11-slim",
        entity=wandb_env.entity,
        project=project,
        name="image-job",
    )
    assert job is not None
    stored = wandb.Api().artifact(f"{wandb_env.entity}/{project}/image-job:latest", type="job")
    info = json.loads((Path(stored.download(str(tmp_path))) / "wandb-job.json").read_text())
    assert info["source_type"] == "image"
    assert info["source"]["image"] == "python:3.11-slim"


def test_upsert_run_queue_then_delete_items_and_the_queue(
    api: Any, launch_api: Any, wandb_env: Any, project: str
) -> None:
    """The SDK's own ``test_upsert_run_queue`` steps, then ``QueuedRun.delete`` and
    ``RunQueue.delete``."""
    entity = wandb_env.entity
    name = _queue_name()
    queue = api.upsert_run_queue(
        name,
        resource_config={"cpu": "{{cpu}}"},
        resource_type="local-container",
        entity=entity,
        template_variables={"cpu": {"schema": {"type": "integer", "minimum": 1, "maximum": 4}}},
        external_links={"google": "https://google.com"},
    )
    assert queue.type == "local-container"
    assert queue.default_resource_config == {
        "resource_args": {"local-container": {"cpu": "{{cpu}}"}}
    }
    assert queue.template_variables == [
        {"name": "cpu", "schema": '{"type":"integer","minimum":1,"maximum":4}'}
    ]
    assert queue.external_links == {"links": [{"label": "google", "url": "https://google.com"}]}
    queue = api.upsert_run_queue(
        name,
        resource_config={"cpu": 2},
        resource_type="local-container",
        entity=entity,
        template_variables={},
    )
    assert queue.default_resource_config == {"resource_args": {"local-container": {"cpu": 2}}}
    assert queue.template_variables == []

    pushed = launch_api.push_to_run_queue(name, _spec(entity, project), None, "model-registry")
    assert pushed["runSpec"]["resource_args"] == {"local-container": {"cpu": 2}}
    queued = api.queued_run(entity, project, name, pushed["runQueueItemId"], "model-registry")
    queued.delete()
    assert api.run_queue(entity, name).items == []
    api.run_queue(entity, name).delete()
    names = [q["name"] for q in launch_api.get_project_run_queues(entity, "model-registry")]
    assert name not in names
