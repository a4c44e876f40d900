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

The guide launched a Git ``uri``; current W&B Launch runs jobs instead. Make the job once
from the guide's repository::

    wandb job create --entity my_entity --project my_project --name train \\
        --entry-point "python train.py" \\
        git https://github.com/wandb/example-dagster-integration-with-launch

Serve with ``dagster dev -m examples.launch`` (needs ``WANDB_API_KEY``, and W&B Launch
queues in your entity). ``tests/unit/test_launch.py`` runs both jobs against a stand-in
for the wandb launch functions.
"""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar, job

from dagster_wandb_v2 import WandbResource, run_launch_agent, run_launch_job

ENTITY = os.environ.get("WANDB_ENTITY", "my_entity")
PROJECT = os.environ.get("WANDB_PROJECT", "my_project")

AGENT_RUN_CONFIG = {
    "ops": {
        "run_launch_agent": {
            "config": {"max_jobs": -1, "queues": ["my_dagster_queue"]},
        }
    }
}

LAUNCH_JOB_RUN_CONFIG = {
    "ops": {
        "my_launched_job": {
            "config": {
                "job": f"{ENTITY}/{PROJECT}/train:latest",
                "entry_point": ["python", "train.py"],
                "queue": "my_dagster_queue",
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


jobs = [run_launch_agent_example, run_launch_job_example]

resources = {
    "wandb": WandbResource(
        api_key=EnvVar("WANDB_API_KEY"),  # host: WANDB_BASE_URL when set
        entity=ENTITY,
        project=PROJECT,
    )
}

defs = Definitions(jobs=jobs, resources=resources)
