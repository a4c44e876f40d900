"""What the Launch ops watch while W&B Launch works: queue items, launched runs, the agent.

``wandb`` gives no call that waits for a queued job and reports a failure: its
``QueuedRun.wait_until_finished`` waits forever when the agent fails the item before the
W&B run exists. :func:`wait_for_queued_run` polls the item and the run instead and ends on
either. :class:`AgentGuard` bounds a launch agent (``stop_after_jobs``) and, when the agent
stops, ends the jobs it leaves running: their processes are stopped, their W&B runs
marked failed and their queue items failed, so nothing keeps running after the op.

These use the agent's API object (``wandb.sdk.launch.api.LaunchApi``): its public Launch
methods, and for the two reads it has no method for (a queue item's error, a run's
state change) its GraphQL channel.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dagster_wandb_v2._sdk_private import execute_graphql

#: W&B run states after which a run does not change any more.
TERMINAL_RUN_STATES = ("finished", "failed", "crashed", "killed", "preempted")

_ITEM_QUERY = """
query DagsterRunQueueItem($entity: String!, $project: String!, $queue: String!, $item: ID!) {
  project(entityName: $entity, name: $project) {
    runQueue(name: $queue) { runQueueItem(id: $item) { id state associatedRunId } }
  }
}
"""

_ITEM_ERROR_QUERY = """
query DagsterRunQueueItemError($entity: String!, $project: String!, $queue: String!, $item: ID!) {
  project(entityName: $entity, name: $project) {
    runQueue(name: $queue) { runQueueItem(id: $item) { error { message stage } } }
  }
}
"""

_MARK_RUN = """
mutation DagsterMarkRunState($entity: String!, $project: String!, $name: String!, $state: String!) {
  upsertBucket(input: {entityName: $entity, modelName: $project, name: $name, state: $state}) {
    bucket { id state }
  }
}
"""


def _graphql(api: Any, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = execute_graphql(api, query, variables)
    return result


@dataclass(frozen=True)
class QueuedJob:
    """A job pushed to a launch queue: where its item is, and the run it launches."""

    entity: str
    project: str
    queue: str
    project_queue: str
    item_id: str
    run_id: str


@dataclass(frozen=True)
class JobOutcome:
    """How a queued job ended: the launched run's state, or the agent's failure."""

    run_state: str | None
    """The W&B run's final state; ``None`` when the run never started."""
    failure: str | None
    """Why the job failed (the agent's message, or the run's state), ``None`` if it finished."""


def queue_item(api: Any, job: QueuedJob) -> dict[str, Any] | None:
    """The queue item's ``id``, ``state`` and ``associatedRunId`` (``None`` if gone)."""
    variables = {
        "entity": job.entity,
        "project": job.project_queue,
        "queue": job.queue,
        "item": job.item_id,
    }
    project = _graphql(api, _ITEM_QUERY, variables).get("project") or {}
    item: dict[str, Any] | None = (project.get("runQueue") or {}).get("runQueueItem")
    return item


def queue_item_error(api: Any, job: QueuedJob) -> str:
    """The agent's message and stage for a failed item (W&B keeps them on the item)."""
    variables = {
        "entity": job.entity,
        "project": job.project_queue,
        "queue": job.queue,
        "item": job.item_id,
    }
    try:
        project = _graphql(api, _ITEM_ERROR_QUERY, variables).get("project") or {}
        error = ((project.get("runQueue") or {}).get("runQueueItem") or {}).get("error")
    except Exception:  # a server without the field: say what is known
        error = None
    if not error:
        return "the launch agent failed the queue item (no message recorded)"
    return f"{error.get('message')} (stage: {error.get('stage')})"


def run_state(api: Any, entity: str, project: str, run_id: str) -> str | None:
    """The W&B run's state, ``None`` while the run does not exist."""
    try:
        return str(api.get_run_state(entity, project, run_id)).lower()
    except Exception as error:  # wandb raises CommError("Error fetching run state ...")
        if "Error fetching run state" in str(error):
            return None
        raise


def mark_run_failed(api: Any, entity: str, project: str, run_id: str) -> bool:
    """Mark a W&B run that is still ``running`` as ``failed``; ``True`` if it was marked."""
    if run_state(api, entity, project, run_id) not in ("running", "pending"):
        return False
    _graphql(
        api,
        _MARK_RUN,
        {"entity": entity, "project": project, "name": run_id, "state": "failed"},
    )
    return True


def wait_for_queued_run(
    api: Any,
    job: QueuedJob,
    *,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> JobOutcome:
    """Wait until the launched W&B run ends or the agent fails the queue item."""
    while True:
        item = queue_item(api, job)
        if item is None:
            return JobOutcome(None, f"queue item {job.item_id} no longer exists (deleted)")
        if str(item.get("state")).upper() == "FAILED":
            state = run_state(api, job.entity, job.project, job.run_id)
            return JobOutcome(state, queue_item_error(api, job))
        run_id = item.get("associatedRunId")
        if run_id:
            state = run_state(api, job.entity, job.project, str(run_id))
            if state == "finished":
                return JobOutcome(state, None)
            if state in TERMINAL_RUN_STATES:
                # an agent fails the item before it stops the run: its message says why
                again = queue_item(api, job) or {}
                if str(again.get("state")).upper() == "FAILED":
                    return JobOutcome(state, queue_item_error(api, job))
                return JobOutcome(state, f"the W&B run ended '{state}'")
        sleep(poll_seconds)


# --- the agent ---------------------------------------------------------------------------


@dataclass
class StoppedJob:
    """A job the agent left running when it stopped, and what was done about it."""

    item_id: str
    run_path: str | None
    run_state: str | None
    """The W&B run's state once the job was ended (``failed``), ``None`` if unknown."""


@dataclass
class TakenJob:
    """A job the agent took from a queue: its item, and the W&B run it launches."""

    item_id: str
    entity: str | None
    project: str | None
    run_id: str | None = None


@dataclass
class AgentGuard:
    """Bounds a W&B launch agent and cleans up after it.

    Wraps the agent's API object (every attribute passes through): it records the jobs the
    agent takes (``pop_from_run_queue``) and the runs it launches for them
    (``ack_run_queue_item``). Once ``stop_after_jobs`` have been taken and the agent runs
    none, it answers the agent's next ``get_launch_agent`` with ``stopPolling``, which is
    how W&B tells an agent to stop.
    """

    api: Any
    stop_after_jobs: int | None = None
    taken: list[TakenJob] = field(default_factory=list)

    def wrap(self) -> Any:
        """The API object to give the agent."""
        return _GuardedApi(self)

    def should_stop(self) -> bool:
        if self.stop_after_jobs is None or len(self.taken) < self.stop_after_jobs:
            return False
        agent = _running_agent()
        return agent is None or not agent.thread_ids

    def stop_leftover_jobs(self, terminate_seconds: float = 10.0) -> list[StoppedJob]:
        """End the jobs a stopped agent left running: their processes (this process's
        children that wandb gave the queue item id, ``WANDB_LAUNCH_TRACE_ID``), their
        W&B runs (marked failed) and their queue items (failed)."""
        base_url = _base_url(self.api)
        stopped: list[StoppedJob] = []
        for job in self.taken:
            processes = launched_processes(job.item_id, base_url)
            known_run = bool(job.run_id and job.entity and job.project)
            state = None
            if known_run:
                with contextlib.suppress(Exception):
                    state = run_state(self.api, str(job.entity), str(job.project), str(job.run_id))
            if not processes and state not in ("running", "pending"):
                continue  # the job had ended
            with contextlib.suppress(Exception):  # first, so waiters read why
                self.api.fail_run_queue_item(
                    job.item_id,
                    "the launch agent was stopped while the job was running",
                    "agent",
                    None,
                )
            for pid in processes:
                end_process_tree(pid, terminate_seconds)
            run_path = None
            if known_run:
                run_path = f"{job.entity}/{job.project}/{job.run_id}"
                with contextlib.suppress(Exception):
                    mark_run_failed(self.api, str(job.entity), str(job.project), str(job.run_id))
                with contextlib.suppress(Exception):
                    state = run_state(self.api, str(job.entity), str(job.project), str(job.run_id))
            stopped.append(StoppedJob(job.item_id, run_path, state))
        agent = _running_agent()
        if agent is not None:
            with agent._jobs_lock:
                agent._jobs.clear()
        return stopped

    def finish_agent_run(self) -> None:
        """Finish the agent's own W&B run (wandb opens one and never closes it)."""
        agent = _running_agent()
        run = getattr(agent, "_wandb_run", None)
        if run is not None:
            with contextlib.suppress(Exception):
                run.finish()
        _forget_agent()


class _GuardedApi:
    def __init__(self, guard: AgentGuard) -> None:
        self._guard = guard

    def __getattr__(self, name: str) -> Any:
        return getattr(self._guard.api, name)

    def pop_from_run_queue(self, *args: Any, **kwargs: Any) -> Any:
        item = self._guard.api.pop_from_run_queue(*args, **kwargs)
        if isinstance(item, dict):
            spec = item.get("runSpec")
            spec = spec if isinstance(spec, dict) else {}
            self._guard.taken.append(
                TakenJob(str(item.get("runQueueItemId")), spec.get("entity"), spec.get("project"))
            )
        return item

    def ack_run_queue_item(self, item_id: str, run_id: str | None = None) -> Any:
        for job in self._guard.taken:
            if job.item_id == str(item_id):
                job.run_id = run_id
        return self._guard.api.ack_run_queue_item(item_id, run_id)

    def get_launch_agent(self, *args: Any, **kwargs: Any) -> Any:
        answer = self._guard.api.get_launch_agent(*args, **kwargs)
        if isinstance(answer, dict) and self._guard.should_stop():
            answer = {**answer, "stopPolling": True}
        return answer


def _base_url(api: Any) -> str | None:
    with contextlib.suppress(Exception):
        return str(api.settings["base_url"])
    return None


def launched_processes(item_id: str, base_url: str | None) -> list[int]:
    """Processes under this one that wandb launched for a queue item (Linux ``/proc``):
    their environment holds ``WANDB_LAUNCH_TRACE_ID=<item id>`` and the server's URL.
    Without a server URL nothing is attributed (item ids repeat across servers)."""
    if not base_url:
        return []
    wanted = f"WANDB_LAUNCH_TRACE_ID={item_id}".encode()
    server = f"WANDB_BASE_URL={base_url}".encode()
    found = []
    for pid in _descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                variables = environ.read().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if wanted in variables and server in variables and _alive(pid):
            found.append(pid)
    return found


def _running_agent() -> Any:
    """wandb's launch agent of this process (a singleton), if one was made."""
    try:
        from wandb.sdk.launch.agent.agent import LaunchAgent
    except ImportError:  # pragma: no cover - wandb without launch
        return None
    return getattr(LaunchAgent, "_instance", None)


def _forget_agent() -> None:
    with contextlib.suppress(ImportError):
        from wandb.sdk.launch.agent.agent import LaunchAgent

        LaunchAgent._instance = None


def end_process_tree(pid: int, terminate_seconds: float) -> None:
    """End a process and every process it started: SIGINT (a wandb run inside ends as
    failed), then SIGTERM, then SIGKILL, each given ``terminate_seconds``."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        tree = [pid for pid in [*_descendants(pid), pid] if _alive(pid)]
        if not tree:
            return
        for member in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(member, sig)
        deadline = time.monotonic() + terminate_seconds
        while time.monotonic() < deadline and any(_alive(member) for member in tree):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _descendants(pid: int) -> list[int]:
    """Process ids under ``pid``, deepest first (Linux ``/proc``; none elsewhere)."""
    parents: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with (
                contextlib.suppress(OSError, IndexError, ValueError),
                open(f"/proc/{entry}/stat") as stat,
            ):
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found = children + found
        frontier = children
    return found


@contextlib.contextmanager
def guarded_agent(api: Any, stop_after_jobs: int | None) -> Iterator[AgentGuard]:
    """An :class:`AgentGuard` whose agent run is finished when the block ends."""
    guard = AgentGuard(api, stop_after_jobs)
    try:
        yield guard
    finally:
        guard.finish_agent_run()
