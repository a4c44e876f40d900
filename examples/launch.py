"""The guide's W&B Launch examples: a Launch agent, and a Launch job run by an alias.

The W&B entity, project and API key come from the ``wandb`` resource; the ops' options
from run configuration (the guide's ``config.yaml``, also editable in the Launchpad):

.. code-block:: yaml

    ops:
      run_launch_agent:
        config:
          max_jobs: -1
          queues: [my_dagster_queue]

.. code-block:: yaml

    ops:
      my_launched_job:
        config:
          job: my_entity/my_project/train:latest
          entry_point: [python, train.py]
          queue: my_dagster_queue

The guide launched a Git ``uri``; current W&B Launch runs jobs instead. Make the job once,
from the guide's repository or from ``examples/launch_job`` here::

    wandb job create --entity my_entity --project my_project --name train \\
        --entry-point "python train.py" code examples/launch_job

Serve with ``dagster dev -m examples.launch`` (needs ``WANDB_API_KEY``, and W&B Launch
queues in your entity). :func:`run_example` runs it all on this machine: it makes the
queue (``local-process`` resource) and the job, runs both Dagster jobs (the agent bounded
by ``stop_after_jobs``) and reads the model the launched run logged through the IO
manager; ``python -m examples`` calls it against the embedded local W&B server.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import (
    AssetIn,
    AssetSpec,
    DagsterInstance,
    Definitions,
    EnvVar,
    asset,
    job,
    materialize,
)

from dagster_wandb_v2 import WandbResource, run_launch_agent, run_launch_job

ENTITY = os.environ.get("WANDB_ENTITY", "my_entity")
PROJECT = os.environ.get("WANDB_PROJECT", "my_project")
QUEUE = "my_dagster_queue"
JOB_SOURCE = Path(__file__).parent / "launch_job"

AGENT_RUN_CONFIG = {
    "ops": {
        "run_launch_agent": {
            "config": {"max_jobs": -1, "queues": [QUEUE]},
        }
    }
}

LAUNCH_JOB_RUN_CONFIG = {
    "ops": {
        "my_launched_job": {
            "config": {
                "job": f"{ENTITY}/{PROJECT}/train:latest",
                "entry_point": ["python", "train.py"],
                "queue": QUEUE,
            }
        }
    }
}


@job(config=AGENT_RUN_CONFIG)
def run_launch_agent_example() -> None:
    """Runs a Launch agent polling ``my_dagster_queue`` until the run is terminated."""
    run_launch_agent()


@job(config=LAUNCH_JOB_RUN_CONFIG)
def run_launch_job_example() -> None:
    """Enqueues the training job and waits for its W&B run to finish."""
    run_launch_job.alias("my_launched_job")()  # the alias names the op in run config


# The model the launched run logged, read through the IO manager like any W&B artifact.
trained_model = AssetSpec("trained_model").with_io_manager_key("wandb_artifacts_manager")


@asset(ins={"trained_model": AssetIn()})
def trained_weight(trained_model: dict[str, Any]) -> float:
    """The weight the launched training run learned."""
    return float(trained_model["weight"])


jobs = [run_launch_agent_example, run_launch_job_example]

resources = {
    "wandb": WandbResource(
        api_key=EnvVar("WANDB_API_KEY"),  # host: WANDB_BASE_URL when set
        entity=ENTITY,
        project=PROJECT,
    )
}

defs = Definitions(jobs=jobs, resources=resources)


# --- running it all on this machine ------------------------------------------------------


def prepare_queue_and_job(wandb_resource: WandbResource) -> str:
    """Make ``my_dagster_queue`` (``local-process``) unless it exists, and the ``train``
    job from ``examples/launch_job``; returns the job's name (``entity/project/train:latest``).
    """
    from wandb.sdk.launch.create_job import create_job

    from dagster_wandb_v2.launch import make_launch_api

    api = make_launch_api(str(wandb_resource.get_api().api_key), wandb_resource.resolved_host)
    entity = wandb_resource.resolved_entity or api.default_entity
    project = wandb_resource.resolved_project
    try:
        queues = [queue["name"] for queue in api.get_project_run_queues(entity, "model-registry")]
    except Exception:  # the entity has no queues yet (no model-registry project)
        queues = []
    if QUEUE not in queues:
        api.create_run_queue(QUEUE, "local-process", entity=entity)
    made = create_job(
        str(JOB_SOURCE),
        "code",
        entity=entity,
        project=project,
        name="train",
        entrypoint="python train.py",
    )
    if made is None:
        raise RuntimeError("wandb could not create the Launch job from examples/launch_job")
    return f"{entity}/{project}/train:latest"


@contextmanager
def python_on_path() -> Iterator[None]:
    """The job's entry point runs ``python``: make that this interpreter (it has wandb)."""
    previous = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{previous}"
    try:
        yield
    finally:
        os.environ["PATH"] = previous


def run_example(instance: DagsterInstance, example_resources: dict[str, Any]) -> dict[str, Any]:
    """Enqueue the job, run an agent for that one job, then read what the run logged.

    ``example_resources`` holds ``wandb`` and ``wandb_artifacts_manager``. Returns the
    launched W&B run's URL and state, and the weight the downstream asset read.
    """
    job_name = prepare_queue_and_job(example_resources["wandb"])
    job_config = {**LAUNCH_JOB_RUN_CONFIG["ops"]["my_launched_job"]["config"], "job": job_name}
    agent_config = {**AGENT_RUN_CONFIG["ops"]["run_launch_agent"]["config"], "stop_after_jobs": 1}
    launched: dict[str, Any] = {}

    def enqueue_and_wait() -> None:
        # Its own instance, without compute log capture: two runs capturing the console
        # at once in one process (file descriptors 1 and 2) lose all later output. In
        # production the two jobs run in separate processes.
        launched["result"] = run_launch_job_example.execute_in_process(
            run_config={"ops": {"my_launched_job": {"config": job_config}}},
            resources=example_resources,
            instance=DagsterInstance.ephemeral(),
        )

    with python_on_path():
        waiter = threading.Thread(target=enqueue_and_wait, daemon=True)
        waiter.start()
        run_launch_agent_example.execute_in_process(
            run_config={"ops": {"run_launch_agent": {"config": agent_config}}},
            resources=example_resources,
            instance=instance,
        )
        waiter.join()
    if "result" not in launched:
        raise RuntimeError("the Launch job did not finish (see the log above)")
    (output,) = [e for e in launched["result"].all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
    read = materialize(
        [trained_model, trained_weight], resources=example_resources, instance=instance
    )
    return {
        "run_url": metadata["wandb_run_url"].value,
        "run_state": metadata["wandb_run_state"].value,
        "weight": read.output_for_node("trained_weight"),
    }
