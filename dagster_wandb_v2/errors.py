"""Errors raised by dagster_wandb_v2.

Every error a user can cause names where it happened (asset or op, input or output) and,
for configuration mistakes, the offending key::

    asset 'my_model', output 'result': wandb_artifact_configuration.alises: unknown key
    (did you mean 'aliases'?)
"""

from __future__ import annotations


class WandbArtifactsIOManagerError(Exception):
    """Base class of every error raised by the W&B Artifacts IO manager."""


class WandbConfigurationError(WandbArtifactsIOManagerError):
    """A ``wandb_artifact_configuration`` (or resource setting) is invalid.

    ``problems`` holds one line per problem found, each naming its location and key.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class WandbArtifactNotFoundError(WandbArtifactsIOManagerError):
    """The artifact (or alias/version) that was looked up does not exist.

    One message names where the read happened, the artifact looked up, and what to check::

        asset 'reader', input 'labels': W&B artifact 'me/proj/labels:gold' was not found.
        It is the artifact of asset 'labels'; check that ...
    """

    def __init__(self, qualified_name: str, detail: str = "", location: object = None) -> None:
        self.qualified_name = qualified_name
        message = f"W&B artifact '{qualified_name}' was not found"
        if location is not None:
            message = f"{location}: {message}"
        if detail:
            message += f". {detail}"
        super().__init__(message)


class WandbSerializationError(WandbArtifactsIOManagerError):
    """An object could not be serialized or deserialized."""


class WandbAuthenticationError(WandbArtifactsIOManagerError):
    """The W&B host rejected the API key (HTTP 401).

    The message names the host and where the key came from (an environment variable's
    name), never the key.
    """


class WandbHostUnreachableError(WandbArtifactsIOManagerError):
    """The W&B host could not be reached within the retry settings of ``WandbResource``.

    The message names the host and the settings that bound the retries (``max_retries``,
    ``retry_wait_max_seconds``, ``request_timeout_seconds``).
    """


class WandbRunInUseError(WandbArtifactsIOManagerError):
    """A W&B run with the id the IO manager needs is already open in this process
    elsewhere (another project or entity, usually a ``wandb.init`` in asset code).

    The wandb SDK keeps one open run per id in a process (``run ID ... is in use``).
    """

    def __init__(self, run_id: str, project: str, detail: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"W&B run '{run_id}' is already open in this process ({detail}), so the IO manager "
            f"cannot open it in project '{project}'. To log metrics to the run that holds the "
            f'artifacts, call wandb.init(id=..., resume="allow", project="{project}") with '
            "the IO manager's entity, or use dagster_wandb_v2.step_run(context)"
        )
