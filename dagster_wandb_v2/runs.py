"""The step's W&B run, for asset and op code: metrics and artifacts in one W&B run.

The IO manager logs a step's artifacts to one W&B run (see ``README.md``, "W&B runs").
:func:`step_run` hands that run to the asset, so what the asset logs (metrics, tables,
config) lands next to the artifacts, whatever the executor and whatever the run's id.

Example::

    from dagster import AssetExecutionContext, asset
    from dagster_wandb_v2 import step_run

    @asset(io_manager_key="wandb_artifacts_manager",
           metadata={"wandb_artifact_configuration": {"type": "model"}})
    def model(context: AssetExecutionContext) -> dict[str, float]:
        run = step_run(context)
        for epoch in range(3):
            run.log({"loss": 1 / (epoch + 1)})
        return {"weights": 0.5}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from dagster import AssetExecutionContext, OpExecutionContext

from dagster_wandb_v2.errors import WandbArtifactsIOManagerError

if TYPE_CHECKING:
    import wandb

DEFAULT_IO_MANAGER_KEY = "wandb_artifacts_manager"


def step_run(
    context: AssetExecutionContext | OpExecutionContext,
    io_manager_key: str = DEFAULT_IO_MANAGER_KEY,
) -> wandb.Run:
    """The W&B run the IO manager under ``io_manager_key`` logs this step's artifacts to.

    Opened (``wandb.init`` with the IO manager's entity, project and credentials) if the
    step has not used it yet; resumed if asset code finished it. Log to it, do not finish
    it: the IO manager finishes it when the step (in-process executor: the Dagster run)
    ends, failed if a step failed. With the fake W&B of ``dagster_wandb_v2.testing`` it
    is the fake's run (``log`` records into ``history``).

    Raises :class:`~dagster_wandb_v2.errors.WandbArtifactsIOManagerError` if the step has
    no ``WandbArtifactsIOManager`` under ``io_manager_key`` (the asset must use it as its
    IO manager or input manager, or list it in ``required_resource_keys``).
    """
    from dagster_wandb_v2.io_manager import WandbArtifactsIOManager

    manager: Any = getattr(context.resources, io_manager_key, None)
    if not isinstance(manager, WandbArtifactsIOManager):
        raise WandbArtifactsIOManagerError(
            f"step_run: this step has no WandbArtifactsIOManager under resource key "
            f"'{io_manager_key}' (found {type(manager).__name__}); pass io_manager_key= "
            "or add the key to the asset's io_manager_key or required_resource_keys"
        )
    return cast("wandb.Run", manager.step_run(context))


__all__ = ["DEFAULT_IO_MANAGER_KEY", "step_run"]
