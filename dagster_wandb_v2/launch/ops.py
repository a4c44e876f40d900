"""``run_launch_agent`` and ``run_launch_job``: W&B Launch from Dagster ops.

Both ops take their W&B entity, project, API key and host from the ``wandb`` resource
(:class:`~dagster_wandb_v2.WandbResource`) and their options from typed run
configuration (:mod:`dagster_wandb_v2.launch.config`).

Example::

    from dagster import Definitions, EnvVar, job
    from dagster_wandb_v2 import WandbResource, run_launch_job

    @job
    def train_on_gpus() -> None:
        run_launch_job.alias("my_launched_job")()

    defs = Definitions(
        jobs=[train_on_gpus],
        resources={"wandb": WandbResource(api_key=EnvVar("WANDB_API_KEY"),
                                          entity="my_entity", project="my_project")},
    )

``wandb.sdk.launch`` is imported when an op runs, never when this module is imported.
The wandb functions are reached through a :class:`LaunchBackend`, which tests replace
with :func:`use_launch_backend`.

Credentials: ``launch`` and ``create_and_run_agent`` take an API object, which is built
from the resource's key and host; ``launch_add`` takes none, and all three build further
clients from the process's W&B credentials. So while an op talks to W&B, the resource's
key and host are installed as the process's credentials (``WANDB_API_KEY``,
``WANDB_BASE_URL`` and W&B's session credentials) and what was there before is put back
afterwards. The key is never logged or put in metadata.
"""

# No ``from __future__ import annotations``: Dagster reads the ops' annotations at runtime.
import asyncio
import os
import secrets
import string
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dagster import Failure, MetadataValue, OpExecutionContext, op

from dagster_wandb_v2.client import app_url_for_host
from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.launch._tracking import (
    JobOutcome,
    QueuedJob,
    guarded_agent,
    wait_for_queued_run,
)
from dagster_wandb_v2.launch.config import LaunchAgentConfig, LaunchJobConfig
from dagster_wandb_v2.resource import WandbResource, _resolved

# --- the wandb launch functions, behind a seam -------------------------------------------


@dataclass(frozen=True)
class LaunchBackend:
    """The wandb launch functions the ops call, and how their API object is built.

    :meth:`from_wandb` gives the real ones (``wandb.sdk.launch.launch``, ``launch_add``,
    ``create_and_run_agent``); tests pass stand-ins with the same signatures (for
    instance ``unittest.mock.create_autospec`` of the real functions) to
    :func:`use_launch_backend`.
    """

    launch: Callable[..., Any]
    """``wandb.sdk.launch.launch``: runs a job here."""
    launch_add: Callable[..., Any]
    """``wandb.sdk.launch.launch_add``: enqueues a job; returns a ``QueuedRun``."""
    create_and_run_agent: Callable[..., Any]
    """``wandb.sdk.launch.create_and_run_agent``: runs an agent until it is stopped."""
    make_api: Callable[[str, str], Any]
    """``(api_key, host) -> api``: the API object ``launch`` and the agent take."""
    wait_for_job: Callable[[Any, QueuedJob], JobOutcome] = wait_for_queued_run
    """``(api, job) -> outcome``: waits until a queued job's W&B run ends or the agent
    fails its queue item (wandb's ``QueuedRun.wait_until_finished`` waits forever then)."""

    @classmethod
    def from_wandb(cls) -> "LaunchBackend":
        """The real wandb functions (imports ``wandb.sdk.launch``)."""
        from wandb.sdk.launch import create_and_run_agent, launch, launch_add

        return cls(
            launch=launch,
            launch_add=launch_add,
            create_and_run_agent=create_and_run_agent,
            make_api=make_launch_api,
        )


def make_launch_api(api_key: str, host: str) -> Any:
    """The API object of wandb's launch functions, authenticated without global login.

    wandb 0.31 takes a ``wandb.sdk.launch.api.LaunchApi`` (a ``wandb.Api``); wandb 0.29 and
    0.30 take a ``wandb.apis.internal.Api``.
    """
    try:
        from wandb.sdk.launch.api import LaunchApi
    except ImportError:  # wandb < 0.31
        from wandb.apis.internal import Api

        return Api(default_settings={"base_url": host}, api_key=api_key)
    return LaunchApi(api_key=api_key, overrides={"base_url": host})


_backend_lock = threading.Lock()
_backend_override: LaunchBackend | None = None


@contextmanager
def use_launch_backend(backend: LaunchBackend) -> Iterator[LaunchBackend]:
    """Make the Launch ops call ``backend`` instead of wandb while the block runs.

    Meant for tests: the ops run in the same process (``execute_in_process``)::

        with use_launch_backend(fake_backend):
            assert my_job.execute_in_process(run_config=...).success
    """
    global _backend_override
    with _backend_lock:
        previous, _backend_override = _backend_override, backend
    try:
        yield backend
    finally:
        with _backend_lock:
            _backend_override = previous


def current_launch_backend() -> LaunchBackend:
    """The backend the ops use now: the one given to :func:`use_launch_backend`, or wandb."""
    with _backend_lock:
        override = _backend_override
    return override if override is not None else LaunchBackend.from_wandb()


# --- credentials ------------------------------------------------------------------------

_ENV_API_KEY = "WANDB_API_KEY"
_ENV_BASE_URL = "WANDB_BASE_URL"
_ENV_IDENTITY_TOKEN_FILE = "WANDB_IDENTITY_TOKEN_FILE"


class _CredentialScope:
    """Installs one key and host as the process's W&B credentials, and puts back the old.

    Scopes with the same key and host may overlap (several ops in threads); a scope with
    other credentials waits until they are all done.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._active: tuple[str, str] | None = None
        self._users = 0
        self._restore: Callable[[], None] | None = None

    @contextmanager
    def use(self, api_key: str, host: str) -> Iterator[None]:
        wanted = (api_key, host)
        with self._condition:
            while self._users and self._active != wanted:
                self._condition.wait()
            if not self._users:
                self._restore = _install_credentials(api_key, host)
                self._active = wanted
            self._users += 1
        try:
            yield
        finally:
            with self._condition:
                self._users -= 1
                if not self._users:
                    restore, self._restore, self._active = self._restore, None, None
                    if restore is not None:
                        restore()
                    self._condition.notify_all()


def _install_credentials(api_key: str, host: str) -> Callable[[], None]:
    saved_env = {
        name: os.environ.get(name)
        for name in (_ENV_API_KEY, _ENV_BASE_URL, _ENV_IDENTITY_TOKEN_FILE)
    }
    restore_session = _clear_session_credentials()
    os.environ[_ENV_API_KEY] = api_key
    os.environ[_ENV_BASE_URL] = host
    os.environ.pop(_ENV_IDENTITY_TOKEN_FILE, None)

    def restore() -> None:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        restore_session()

    return restore


def _clear_session_credentials() -> Callable[[], None]:
    """Forget W&B's session credentials (they win over the environment) until restored."""
    try:
        from wandb.sdk import wandb_setup
        from wandb.sdk.lib import wbauth
    except ImportError:  # pragma: no cover - every supported wandb has them
        return lambda: None

    settings = wandb_setup.singleton().settings
    saved = {name: getattr(settings, name) for name in _AUTH_SETTINGS}
    previous = wbauth.unauthenticate_session(update_settings=False)

    def restore() -> None:
        wbauth.unauthenticate_session(update_settings=False)
        if previous is not None:
            wbauth.use_explicit_auth(previous, source="dagster_wandb_v2")
        for name, value in saved.items():
            setattr(settings, name, value)

    return restore


_AUTH_SETTINGS = ("api_key", "base_url", "identity_token_file")

_credentials = _CredentialScope()


@contextmanager
def wandb_credentials(api_key: str, host: str) -> Iterator[None]:
    """Use ``api_key`` and ``host`` as the process's W&B credentials for the block only."""
    with _credentials.use(api_key, host):
        yield


# --- the ops ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    op_name: str
    api_key: str
    host: str
    entity: str | None
    project: str


def _target(wandb: WandbResource, op_name: str) -> _Target:
    """Entity, project and credentials from the resource (or the ``WANDB_*`` variables
    it falls back to); empty values are errors."""
    entity = _resolved(wandb.entity)
    project = _resolved(wandb.project)
    problems = []
    if entity is not None and not entity.strip():
        problems.append(
            f"op '{op_name}': WandbResource.entity is empty; set the W&B entity (user or "
            "team) that owns the launch queues, or leave it unset for the API key's default"
        )
    if project is not None and not project.strip():
        problems.append(f"op '{op_name}': WandbResource.project is empty; set the W&B project")
    if problems:
        raise WandbConfigurationError(problems)
    try:
        project = wandb.resolved_project
    except WandbConfigurationError as error:
        raise WandbConfigurationError([f"op '{op_name}': {p}" for p in error.problems]) from None
    return _Target(
        op_name=op_name,
        api_key=wandb._checked_api_key(),
        host=wandb.resolved_host,
        entity=wandb.resolved_entity,
        project=project,
    )


def _default_entity(api: Any, op_name: str) -> str:
    """The API key's default entity, for a resource without one."""
    entity = api.default_entity
    if not entity:
        raise WandbConfigurationError(
            [f"op '{op_name}': the API key has no default W&B entity; set WandbResource.entity"]
        )
    return str(entity)


@op(
    description=(
        "Runs a W&B Launch agent until it is stopped: it polls the configured launch queues "
        "and runs their jobs (or hands them to the queue's execution resource)."
    ),
)
def run_launch_agent(
    context: OpExecutionContext, config: LaunchAgentConfig, wandb: WandbResource
) -> None:
    """Start a W&B Launch agent and run it as a long-running process until stopped.

    Run configuration (all optional)::

        ops:
          run_launch_agent:
            config:
              max_jobs: -1
              queues: [my_dagster_queue]
    """
    op_name = context.op.name
    target = _target(wandb, op_name)
    backend = current_launch_backend()
    with wandb_credentials(target.api_key, target.host):
        api = backend.make_api(target.api_key, target.host)
        entity = target.entity or _default_entity(api, op_name)
        agent_config = config.agent_config(entity)
        if config.queues:
            _check_queues(api, op_name, entity, LAUNCH_QUEUE_PROJECT, config.queues)
        context.log.info(f"Launch agent configuration: {agent_config}")
        if config.stop_after_jobs is None:
            context.log.info("Running the W&B Launch agent until it is stopped...")
        else:
            context.log.info(f"Running the W&B Launch agent for {config.stop_after_jobs} job(s)")
        with guarded_agent(api, config.stop_after_jobs) as guard:
            try:
                backend.create_and_run_agent(api=guard.wrap(), config=agent_config)
            finally:
                stopped = guard.stop_leftover_jobs()
        context.log.info(f"Launch agent stopped; it took {len(guard.taken)} job(s)")
    if stopped:
        runs = ", ".join(
            f"{job.run_path} ({job.run_state or 'state unknown'})"
            for job in stopped
            if job.run_path
        )
        raise Failure(
            description=(
                f"op '{op_name}': the W&B Launch agent stopped while {len(stopped)} job(s) "
                f"were running; their processes were stopped and their queue items failed"
                + (f"; W&B runs: {runs}" if runs else "")
            ),
            metadata={"wandb_run_queue_item_ids": [job.item_id for job in stopped]},
        )


@op(
    description=(
        "Runs a W&B Launch job: enqueued to a launch queue (waiting for the W&B run to "
        "finish when synchronous), or run here when no queue is given."
    ),
)
def run_launch_job(
    context: OpExecutionContext, config: LaunchJobConfig, wandb: WandbResource
) -> None:
    """Run a W&B Launch job and report the launched W&B run as output metadata.

    Run configuration::

        ops:
          my_launched_job:
            config:
              job: my_entity/my_project/train:latest
              queue: my_dagster_queue
              entry_point: [python, train.py]
    """
    op_name = context.op.name
    target = _target(wandb, op_name)
    problems = config.problems()
    if problems:
        raise WandbConfigurationError([f"op '{op_name}' config: {p}" for p in problems])
    run_id = config.run_id or _new_run_id()
    app_url = app_url_for_host(target.host)
    what = config.job or config.docker_image
    backend = current_launch_backend()
    with wandb_credentials(target.api_key, target.host):
        if config.queue is None:
            context.log.info(f"No queue given: running Launch job {what} here")
            metadata = _launch_here(config, backend, target, run_id, app_url)
        else:
            metadata = _launch_to_queue(context, config, backend, target, run_id, app_url)
    context.add_output_metadata(metadata)


def _launch_here(
    config: LaunchJobConfig, backend: LaunchBackend, target: _Target, run_id: str, app_url: str
) -> dict[str, Any]:
    api = backend.make_api(target.api_key, target.host)
    submitted = backend.launch(
        api=api,
        synchronous=config.synchronous,
        **config.launch_kwargs(entity=target.entity, project=target.project, run_id=run_id),
    )
    entity = target.entity or _default_entity(api, target.op_name)
    metadata = _run_metadata(app_url, entity, target.project, run_id)
    if config.synchronous:
        state = str(asyncio.run(submitted.get_status()).state)
        metadata["wandb_run_state"] = state
        if state != "finished":
            raise Failure(
                description=f"Launched W&B run {run_id} ended in state '{state}'",
                metadata=metadata,
            )
    return metadata


def _launch_to_queue(
    context: OpExecutionContext,
    config: LaunchJobConfig,
    backend: LaunchBackend,
    target: _Target,
    run_id: str,
    app_url: str,
) -> dict[str, Any]:
    api = backend.make_api(target.api_key, target.host)
    assert config.queue is not None
    project_queue = config.project_queue or LAUNCH_QUEUE_PROJECT
    queue_entity = target.entity or _default_entity(api, target.op_name)
    _check_queues(api, target.op_name, queue_entity, project_queue, [config.queue])
    queued = backend.launch_add(
        **config.launch_add_kwargs(entity=target.entity, project=target.project, run_id=run_id)
    )
    metadata = _run_metadata(app_url, str(queued.entity), str(queued.project), run_id)
    metadata["wandb_launch_queue"] = str(queued.queue_name)
    metadata["wandb_run_queue_item_id"] = str(queued.id)
    if not config.synchronous:
        context.log.info(f"Launch job added to queue '{config.queue}' (not waiting)")
        return metadata
    context.log.info(f"Launch job added to queue '{config.queue}'; waiting for the run to finish")
    job = QueuedJob(
        entity=str(queued.entity),
        project=str(queued.project),
        queue=str(queued.queue_name),
        project_queue=project_queue,
        item_id=str(queued.id),
        run_id=run_id,
    )
    outcome = backend.wait_for_job(api, job)
    if outcome.run_state is not None:
        metadata["wandb_run_state"] = outcome.run_state
    if outcome.failure is not None:
        raise Failure(
            description=(
                f"op '{target.op_name}': Launch job {config.job or config.docker_image} "
                f"(W&B run {job.entity}/{job.project}/{run_id}, queue '{job.queue}') "
                f"failed: {outcome.failure}"
            ),
            metadata=metadata,
        )
    return metadata


#: The project of entity-scoped launch queues (``wandb.sdk.launch.utils.LAUNCH_DEFAULT_PROJECT``).
LAUNCH_QUEUE_PROJECT = "model-registry"


def _check_queues(
    api: Any, op_name: str, entity: str, project_queue: str, queues: list[str]
) -> None:
    """Refuse queues that do not exist, naming the entity and the queues it has (wandb
    logs a warning and fails vaguely: "Error adding run to queue")."""
    try:
        found = api.get_project_run_queues(entity, project_queue)
    except Exception as error:
        raise Failure(
            description=(
                f"op '{op_name}': cannot list the launch queues of W&B entity '{entity}' "
                f"(project '{project_queue}'): {error}. Check WandbResource.entity (the "
                "user or team that owns the queues) and that the API key can access it."
            )
        ) from error
    names = [str(queue["name"]) for queue in found or []]
    # W&B makes the entity's ``default`` queue on first use; any other must exist
    missing = [queue for queue in queues if queue not in names and queue != "default"]
    if missing:
        raise Failure(
            description=(
                f"op '{op_name}': launch queue(s) {missing} not found in W&B entity "
                f"'{entity}' (project '{project_queue}'); queues there: "
                f"{', '.join(names) or 'none'}. Create the queue in W&B (Launch > Create "
                "queue, or wandb.Api().create_run_queue) or fix the queue name."
            )
        )


def _run_metadata(app_url: str, entity: str, project: str, run_id: str) -> dict[str, Any]:
    return {
        "wandb_entity": entity,
        "wandb_project": project,
        "wandb_run_id": run_id,
        "wandb_run_path": f"{entity}/{project}/{run_id}",
        "wandb_run_url": MetadataValue.url(f"{app_url}/{entity}/{project}/runs/{run_id}"),
    }


_RUN_ID_ALPHABET = string.ascii_lowercase + string.digits


def _new_run_id() -> str:
    """A W&B-style run id (8 characters of [a-z0-9]), as ``wandb`` generates them."""
    return "".join(secrets.choice(_RUN_ID_ALPHABET) for _ in range(8))
