"""``WandbResource``: W&B credentials and location, and ready clients for ops and assets.

Example::

    from dagster import Definitions, EnvVar, asset
    from dagster_wandb_v2 import WandbResource

    @asset
    def train(wandb: WandbResource) -> None:
        with wandb.init_run(job_type="train") as run:
            run.log({"loss": 0.1})

    defs = Definitions(
        assets=[train],
        resources={"wandb": WandbResource(api_key=EnvVar("WANDB_API_KEY"),
                                          entity="my_entity", project="my_project")},
    )
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from dagster_wandb_v2.client import WANDB_CLOUD_HOST, RetryPolicy, SdkWandbClient, WandbClient
from dagster_wandb_v2.errors import WandbConfigurationError

if TYPE_CHECKING:
    import wandb


class WandbResource(ConfigurableResource["WandbResource"]):
    """Authenticates to W&B and says where runs and artifacts live.

    The API key is meant for ``EnvVar("WANDB_API_KEY")``: it is never logged, never put in
    metadata, and hidden from ``repr``. No global ``wandb.login`` is done: every client
    this resource hands out carries the key itself.
    """

    api_key: str = Field(
        repr=False,
        description="W&B API key; use EnvVar('WANDB_API_KEY'), never a literal.",
    )
    host: str = Field(
        default=WANDB_CLOUD_HOST,
        description="W&B API host; change it for a dedicated or local W&B server.",
    )
    entity: str | None = Field(
        default=None,
        description="W&B entity (user or team); defaults to the API key's default entity.",
    )
    project: str = Field(description="W&B project receiving runs and artifacts.")
    max_retries: int | None = Field(
        default=None,
        ge=0,
        repr=False,
        description=(
            "How many times a failed W&B request (GraphQL, file upload, run history) is "
            "retried before the step fails; default: the wandb SDK's (minutes of retries "
            "for requests, days for run history)."
        ),
    )
    retry_wait_max_seconds: int | None = Field(
        default=None,
        ge=1,
        repr=False,
        description="Longest wait between two retries; waits grow from 1 s up to it.",
    )
    request_timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        repr=False,
        description="Timeout of one W&B request attempt; default: the wandb SDK's.",
    )

    def _checked_api_key(self) -> str:
        api_key = _resolved(self.api_key)
        if not api_key or not api_key.strip():
            name = self.api_key.env_var_name if isinstance(self.api_key, EnvVar) else None
            where = f"environment variable {name} is not set" if name else "empty"
            raise WandbConfigurationError(
                [f"WandbResource.api_key: {where}; set it with EnvVar('WANDB_API_KEY')"]
            )
        return api_key

    def get_client(self) -> WandbClient:
        """The client the IO manager uses to start runs and log or use artifacts."""
        host = _resolved(self.host) or WANDB_CLOUD_HOST
        return SdkWandbClient(api_key=self._checked_api_key(), host=host, retry=self.retry_policy)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry bounds of the W&B runs this resource opens."""
        return RetryPolicy(
            max_retries=self.max_retries,
            wait_max_seconds=self.retry_wait_max_seconds,
            timeout_seconds=self.request_timeout_seconds,
        )

    def get_api(self) -> wandb.Api:
        """A ``wandb.Api`` for queries (runs, artifacts), authenticated with this resource."""
        import wandb

        overrides = {
            "base_url": _resolved(self.host),
            "entity": _resolved(self.entity),
            "project": _resolved(self.project),
        }
        return wandb.Api(api_key=self._checked_api_key(), overrides=overrides)

    def init_run(self, **kwargs: Any) -> wandb.Run:
        """``wandb.init`` with this resource's entity, project and credentials.

        Extra keyword arguments go to ``wandb.init`` (``id``, ``resume``, ``config``...).
        """
        import wandb

        host = _resolved(self.host) or WANDB_CLOUD_HOST
        settings = wandb.Settings(
            api_key=self._checked_api_key(), base_url=host, **self.retry_policy.sdk_settings()
        )
        kwargs.setdefault("entity", _resolved(self.entity))
        kwargs.setdefault("project", _resolved(self.project))
        kwargs.setdefault("reinit", "create_new")
        return wandb.init(settings=settings, **kwargs)


def _resolved(value: str | None) -> str | None:
    """The value of an ``EnvVar`` field when used outside a Dagster run (else the value)."""
    if isinstance(value, EnvVar):
        return value.get_value()
    return value
