"""A job whose first step fails to log its artifact once, then is retried by Dagster.

Rebuilt in each step process from the environment: ``RETRY_PROJECT`` (W&B project),
``RETRY_STORAGE`` (Dagster storage), ``RETRY_RUN_ID`` (the IO manager's ``run_id``; empty:
the Dagster run id), ``RETRY_HEALS`` (``1``: a retry clears the server's injected faults, so
it succeeds; else every attempt meets them), ``WANDB_BASE_URL``/``WANDB_API_KEY``.

- ``flaky`` has a Dagster ``RetryPolicy``; the test makes the server refuse
  ``CreateArtifact``, so its first attempt fails in ``handle_output`` (``log_artifact``);
- ``steady`` reads ``flaky`` and writes its own artifact: a second step of the same run.
"""

import os
import urllib.request
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetIn,
    Definitions,
    JobDefinition,
    RetryPolicy,
    asset,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}


@asset(metadata=CONFIG, io_manager_key=IO, retry_policy=RetryPolicy(max_retries=1))
def flaky(context: AssetExecutionContext) -> list[int]:
    if context.retry_number > 0 and os.environ.get("RETRY_HEALS") == "1":
        request = urllib.request.Request(
            f"{os.environ['WANDB_BASE_URL']}/_local/faults",
            method="DELETE",
            headers={"Authorization": f"Bearer {os.environ['WANDB_API_KEY']}"},
        )
        urllib.request.urlopen(request, timeout=10).close()
    return [1, 2, 3]


@asset(metadata=CONFIG, io_manager_key=IO, ins={"flaky": AssetIn(input_manager_key=IO)})
def steady(flaky: list[int]) -> list[int]:
    return [2 * value for value in flaky]


def resources() -> dict[str, Any]:
    wandb = WandbResource(
        api_key=os.environ["WANDB_API_KEY"],
        host=os.environ["WANDB_BASE_URL"],
        project=os.environ["RETRY_PROJECT"],
        max_retries=1,
        retry_wait_max_seconds=1,
    )
    manager = WandbArtifactsIOManager(
        wandb=wandb,
        base_dir=os.environ["RETRY_STORAGE"],
        run_id=os.environ.get("RETRY_RUN_ID") or None,
    )
    return {IO: manager}


def _job(executor: Any) -> JobDefinition:
    defs = Definitions(
        assets=[flaky, steady],
        jobs=[define_asset_job("all", executor_def=executor)],
        resources=resources(),
    )
    return defs.resolve_job_def("all")


def in_process_job() -> JobDefinition:
    return _job(in_process_executor)


def multiprocess_job() -> JobDefinition:
    return _job(multiprocess_executor.configured({"max_concurrent": 2}))
