"""Assets that log their own metrics to W&B beside the IO manager's artifacts, in each form
the integration guide's best practice 7 shows, for either executor.

Rebuilt in each step process from the environment: ``SHARED_RUN_PROJECT`` (W&B project),
``SHARED_RUN_STORAGE`` (Dagster storage), ``SHARED_RUN_FORM`` (one of :data:`FORMS`),
``SHARED_RUN_ID`` (a custom W&B run id given to the IO manager and to ``wandb.init``; empty:
the Dagster run id), ``SHARED_RUN_PER_STEP`` (``1``: the IO manager's ``run_per_step``),
``WANDB_BASE_URL``/``WANDB_API_KEY``.

- ``first`` opens its run before the IO manager did anything in the step (no W&B input);
- ``train`` opens it after the IO manager loaded its input (the step's run is open);
- ``after`` only writes, after ``train`` (a finished step run must not break it).
"""

import os
from typing import Any

import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    Definitions,
    JobDefinition,
    asset,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource, step_run

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}
FORMS = ("init", "init_wandb_log", "with", "finish", "step_run", "resource_init_run")
METRICS = {"first": "first_loss", "train": "train_loss"}
"""The metric each asset logs (``<asset>_loss``: 0.5, then 0.25)."""


def _log_metrics(
    context: AssetExecutionContext, wandb_resource: WandbResource, metric: str
) -> None:
    form = os.environ["SHARED_RUN_FORM"]
    run_id = os.environ.get("SHARED_RUN_ID") or context.run.run_id
    arguments: dict[str, Any] = {
        "id": run_id,
        "resume": "allow",
        "project": os.environ["SHARED_RUN_PROJECT"],
    }
    if form == "init":
        run = wandb.init(**arguments)
        run.log({metric: 0.5})
        run.log({metric: 0.25})
    elif form == "init_wandb_log":
        wandb.init(**arguments)
        wandb.log({metric: 0.5})
        wandb.log({metric: 0.25})
    elif form == "with":
        with wandb.init(**arguments) as run:
            run.log({metric: 0.5})
            run.log({metric: 0.25})
    elif form == "finish":
        run = wandb.init(**arguments)
        run.log({metric: 0.5})
        run.log({metric: 0.25})
        run.finish()
    elif form == "resource_init_run":  # the resource's init_run with the step's id
        run = wandb_resource.init_run(id=run_id, resume="allow")
        run.log({metric: 0.5})
        run.log({metric: 0.25})
    elif form == "step_run":
        run = step_run(context)
        run.log({metric: 0.5})
        run.log({metric: 0.25})
    else:
        raise ValueError(f"unknown form {form!r}")


@asset(metadata=CONFIG, io_manager_key=IO)
def first(context: AssetExecutionContext, wandb: WandbResource) -> list[int]:
    _log_metrics(context, wandb, METRICS["first"])
    return [1, 2, 3]


@asset(metadata=CONFIG, io_manager_key=IO, ins={"first": AssetIn(input_manager_key=IO)})
def train(context: AssetExecutionContext, wandb: WandbResource, first: list[int]) -> list[int]:
    _log_metrics(context, wandb, METRICS["train"])
    return [2 * value for value in first]


@asset(metadata=CONFIG, io_manager_key=IO, deps=[train])
def after() -> str:
    return "done"


ASSETS: list[AssetsDefinition] = [first, train, after]


def resources() -> dict[str, Any]:
    resource = WandbResource(
        api_key=os.environ["WANDB_API_KEY"],
        host=os.environ["WANDB_BASE_URL"],
        project=os.environ["SHARED_RUN_PROJECT"],
    )
    return {
        "wandb": resource,
        IO: WandbArtifactsIOManager(
            wandb=resource,
            base_dir=os.environ["SHARED_RUN_STORAGE"],
            run_id=os.environ.get("SHARED_RUN_ID") or None,
            run_per_step=os.environ.get("SHARED_RUN_PER_STEP") == "1",
        ),
    }


def _job(executor: Any) -> JobDefinition:
    defs = Definitions(
        assets=ASSETS,
        jobs=[define_asset_job("all", executor_def=executor)],
        resources=resources(),
    )
    return defs.resolve_job_def("all")


def in_process_job() -> JobDefinition:
    return _job(in_process_executor)


def multiprocess_job() -> JobDefinition:
    return _job(multiprocess_executor.configured({"max_concurrent": 2}))
