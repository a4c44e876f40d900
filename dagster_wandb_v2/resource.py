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

import os
from typing import TYPE_CHECKING, Any, cast

from dagster import ConfigurableResource, EnvVar
from pydantic import Field, model_validator

from dagster_wandb_v2._reachability import check_reachable
from dagster_wandb_v2._unknown_keys import reject_unknown_fields
from dagster_wandb_v2.client import (
    WANDB_CLOUD_HOST,
    RetryPolicy,
    SdkWandbClient,
    WandbClient,
    app_url_for_host,
    explain_sdk_error,
    sdk_auth_settings,
)
from dagster_wandb_v2.errors import WandbConfigurationError

if TYPE_CHECKING:
    import wandb


class WandbResource(ConfigurableResource["WandbResource"]):
    """Authenticates to W&B and says where runs and artifacts live.

    The API key is meant for ``EnvVar("WANDB_API_KEY")``: it is never logged, never put in
    metadata, and hidden from ``repr``. No ``wandb.login`` is done: every client this
    resource hands out carries the key itself.

    ``host``, ``entity`` and ``project`` left unset are read when used from the variables
    the wandb SDK reads (``WANDB_BASE_URL``, ``WANDB_ENTITY``, ``WANDB_PROJECT``), so a
    resource and a bare ``wandb.init()`` talk to the same W&B server. Unknown keyword
    arguments are errors (:class:`~dagster_wandb_v2.WandbConfigurationError`).
    """

    api_key: str = Field(
        repr=False,
        description="W&B API key; use EnvVar('WANDB_API_KEY'), never a literal.",
    )
    host: str | None = Field(
        default=None,
        description=(
            "W&B API host, e.g. https://my-company.wandb.io for a dedicated W&B server; "
            "default: the WANDB_BASE_URL environment variable (as the wandb SDK), else "
            f"{WANDB_CLOUD_HOST}."
        ),
    )
    entity: str | None = Field(
        default=None,
        description=(
            "W&B entity (user or team); default: the WANDB_ENTITY environment variable, "
            "else the API key's default entity."
        ),
    )
    project: str | None = Field(
        default=None,
        description=(
            "W&B project receiving runs and artifacts; default: the WANDB_PROJECT "
            "environment variable (one of the two is required)."
        ),
    )
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

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        data = reject_unknown_fields(cls, data)
        host = data.get("host") if isinstance(data, dict) else None
        if isinstance(host, str) and not isinstance(host, EnvVar):  # EnvVar: checked when used
            _check_host(host, "WandbResource.host")
        return data

    @property
    def resolved_host(self) -> str:
        """The W&B API host used: ``host``, else ``WANDB_BASE_URL``, else the public cloud.

        The wandb SDK reads the same variable, so a resource without ``host`` and a bare
        ``wandb.init()`` in an asset talk to the same W&B server.

        Raises :class:`WandbConfigurationError` naming where the host came from when it is
        not an http(s) URL.
        """
        if configured := _resolved(self.host):
            return _check_host(configured, "WandbResource.host").rstrip("/")
        if from_environment := _from_environment(ENV_BASE_URL):
            return _check_host(from_environment, ENV_BASE_URL).rstrip("/")
        return WANDB_CLOUD_HOST

    @property
    def resolved_entity(self) -> str | None:
        """``entity``, else ``WANDB_ENTITY``, else ``None`` (the API key's default entity)."""
        return _resolved(self.entity) or _from_environment(ENV_ENTITY)

    @property
    def resolved_project(self) -> str:
        """``project``, else ``WANDB_PROJECT``.

        Raises:
            WandbConfigurationError: neither is set.
        """
        project = _resolved(self.project) or _from_environment(ENV_PROJECT)
        if project is None:
            raise WandbConfigurationError(
                [
                    "WandbResource.project: not set; give WandbResource(project=...) or set "
                    f"the {ENV_PROJECT} environment variable"
                ]
            )
        return project

    @property
    def api_key_source(self) -> str:
        """Where the API key comes from, for error messages: a variable's name, never the key.

        Inside a Dagster run an ``EnvVar`` is already replaced by its value, so the
        environment variables holding exactly that value are named.
        """
        if isinstance(self.api_key, EnvVar):
            return f"environment variable {self.api_key.env_var_name}"
        names = sorted(name for name, value in os.environ.items() if value == self.api_key)
        names.sort(key=lambda name: name != ENV_API_KEY)
        if names:
            return f"environment variable {names[0]}"
        return "WandbResource.api_key (a value, not an EnvVar)"

    def _checked_api_key(self) -> str:
        api_key = _resolved(self.api_key)
        if not api_key or not api_key.strip():
            name = self.api_key.env_var_name if isinstance(self.api_key, EnvVar) else None
            where = f"environment variable {name} is not set" if name else "empty"
            fix = (
                f"export {name} with your W&B API key"
                if name
                else "give it as EnvVar('WANDB_API_KEY') and export that variable"
            )
            raise WandbConfigurationError([f"WandbResource.api_key: {where}; {fix}"])
        return api_key

    def get_client(self) -> WandbClient:
        """The client the IO manager uses to start runs and log or use artifacts."""
        return SdkWandbClient(
            api_key=self._checked_api_key(),
            host=self.resolved_host,
            retry=self.retry_policy,
            api_key_source=self.api_key_source,
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry bounds of the W&B runs this resource opens."""
        return RetryPolicy(
            max_retries=self.max_retries,
            wait_max_seconds=self.retry_wait_max_seconds,
            timeout_seconds=self.request_timeout_seconds,
        )

    def get_api(self) -> wandb.Api:
        """A ``wandb.Api`` for queries (runs, artifacts), authenticated with this resource.

        Its ``base_url``, default entity and project are :attr:`resolved_host`,
        :attr:`resolved_entity` and the project (``project`` or ``WANDB_PROJECT``, if any).

        Raises:
            WandbHostUnreachableError: the host does not answer within the retry settings.
            WandbAuthenticationError: the host rejected the API key.
        """
        import wandb

        api_key = self._checked_api_key()
        host = self.resolved_host
        check_reachable(host, self.retry_policy)
        overrides = {
            "base_url": host,
            "entity": self.resolved_entity,
            "project": _resolved(self.project) or _from_environment(ENV_PROJECT),
        }
        try:
            return wandb.Api(
                api_key=api_key,
                overrides={key: value for key, value in overrides.items() if value is not None},
            )
        except Exception as error:
            raise self._explained(error, host, api_key) from error

    def _explained(self, error: Exception, host: str, api_key: str) -> Exception:
        """``error`` of a wandb SDK call in the user's terms (see ``explain_sdk_error``)."""
        return explain_sdk_error(
            error,
            host=host,
            retry=self.retry_policy,
            api_key=api_key,
            api_key_source=self.api_key_source,
        )

    def init_run(self, **kwargs: Any) -> wandb.Run:
        """``wandb.init`` with this resource's entity, project and credentials.

        Extra keyword arguments go to ``wandb.init`` (``id``, ``resume``, ``config``...).
        Asked for the id of a W&B run an IO manager of this process has open for the step
        (``id=context.run.run_id``, or the IO manager's ``run_id``) on the same host and
        project, it returns that run (the integration guide's best practice 7): metrics
        land beside the step's artifacts; do not finish it, the IO manager does.

        Raises:
            WandbHostUnreachableError: the host does not answer within the retry settings.
            WandbAuthenticationError: the host rejected the API key.
        """
        import wandb

        api_key = self._checked_api_key()
        host = self.resolved_host
        settings = wandb.Settings(
            base_url=host,
            **sdk_auth_settings(api_key, host),
            **self.retry_policy.sdk_settings(),
        )
        kwargs.setdefault("entity", self.resolved_entity)
        kwargs.setdefault("project", self.resolved_project)
        kwargs.setdefault("reinit", "create_new")
        if kwargs.get("id") is not None:  # the step's run, when asset code asks for it
            from dagster_wandb_v2._session import open_step_run

            location = (app_url_for_host(host), kwargs["entity"], kwargs["project"])
            step_run = open_step_run(str(kwargs["id"]), location)
            if step_run is not None:
                return cast("wandb.Run", step_run)
        check_reachable(host, self.retry_policy)
        try:
            return wandb.init(settings=settings, **kwargs)
        except Exception as error:
            raise self._explained(error, host, api_key) from error


def _check_host(host: str, source: str) -> str:
    """``host`` if it is an http(s) URL; else a :class:`WandbConfigurationError` naming
    ``source`` (the SDK's own error is a raw ``InvalidSchema`` or a settings error).

    >>> _check_host("http://127.0.0.1:8080", "WandbResource.host")
    'http://127.0.0.1:8080'
    """
    if not host.startswith(("http://", "https://")):
        raise WandbConfigurationError(
            [
                f"{source}: {host!r} is not a W&B host URL; give the scheme, e.g. "
                f"'https://{host}' or 'http://{host}'"
            ]
        )
    return host


ENV_BASE_URL = "WANDB_BASE_URL"
ENV_ENTITY = "WANDB_ENTITY"
ENV_PROJECT = "WANDB_PROJECT"
ENV_API_KEY = "WANDB_API_KEY"


def _resolved(value: str | None) -> str | None:
    """The value of an ``EnvVar`` field when used outside a Dagster run (else the value)."""
    if isinstance(value, EnvVar):
        return value.get_value()
    return value


def _from_environment(name: str) -> str | None:
    """A ``WANDB_*`` variable as the wandb SDK reads it (``wandb.env``); empty means unset."""
    return os.environ.get(name) or None
