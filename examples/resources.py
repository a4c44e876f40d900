"""The resources every example uses, configured from the environment.

``WANDB_API_KEY`` (and optionally ``WANDB_BASE_URL``, ``WANDB_ENTITY``, ``WANDB_PROJECT``)
select the W&B backend: ``python -m examples`` sets them for the embedded local server,
or export your own to run against W&B.
"""

from __future__ import annotations

import os
from typing import Any

from dagster import EnvVar

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource


def wandb_resources(cache_duration_in_minutes: int = 60) -> dict[str, Any]:
    """``{"wandb": ..., "wandb_artifacts_manager": ...}`` for ``Definitions``."""
    # host and entity: WANDB_BASE_URL and WANDB_ENTITY when set, as in the wandb SDK
    wandb = WandbResource(
        api_key=EnvVar("WANDB_API_KEY"),
        project=os.environ.get("WANDB_PROJECT", "dagster-wandb-v2-examples"),
    )
    return {
        "wandb": wandb,
        "wandb_artifacts_manager": WandbArtifactsIOManager(
            wandb=wandb, cache_duration_in_minutes=cache_duration_in_minutes
        ),
    }
