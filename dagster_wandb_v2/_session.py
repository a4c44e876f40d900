"""One W&B run per step process: opened on first use, finished at teardown.

Which W&B run a process uses:

- the in-process executor runs every step in one process: one W&B run whose id is the
  configured ``run_id`` or the Dagster run id, so ``wandb.init(id=context.run_id,
  resume="allow")`` inside an asset logs to the same run as the artifacts;
- the multiprocess executor runs steps in parallel processes. Resuming one W&B run from
  several processes at once makes them overwrite each other's history and state, so each
  step gets its own run, ``<run id>-<hash of step key>``, named ``<run name>-<step key>``,
  and all of them share the W&B group ``<run id>`` (W&B's "shared" run mode would also
  work but needs a recent server and gives no per-step failure state).
- ``run_per_step=True`` gives each step its own run under the in-process executor too,
  the same ids, names and group as under the multiprocess executor, so W&B's lineage
  graph (``logged_by``/``used_by``) mirrors Dagster's asset lineage whatever the executor.
  A step's run is finished once the step handed over its last output (at the latest when
  the next step starts), and marked failed at teardown if the step failed.

Sharing the run (the guide's best practice 7):

- a run asset code opened with ``wandb.init(id=<that id or the run id>, resume="allow")``
  on the IO manager's project is used as the step's run (no second run);
- the step's run is ``wandb.run`` when no other run is open, so a later ``wandb.init(...,
  resume="allow")`` in asset code returns it (the SDK's ``reinit="return_previous"``);
- a step's run that asset code finished (``run.finish()``, the end of a ``with`` block) is
  resumed on next use.

One process has one open run per id (wandb-core: ``run ID ... is in use``), so IO managers
of one Dagster run that open the same id share the run when they agree on host, entity
and project; on another location the id gets ``-<8 hex chars of host/entity/project>``.

Example::

    session = StepSession(client=client, entity=None, project="p", dagster_run_id="abc...",
                          run_id=None, run_name=None, run_tags=(), cache=cache)
    run = session.run_for(output_context)
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

from dagster import InputContext, OutputContext

from dagster_wandb_v2 import _contexts
from dagster_wandb_v2._location import Location
from dagster_wandb_v2.cache import PAYLOADS, ArtifactCache, entry_md5
from dagster_wandb_v2.client import RunSpec, StoredArtifact, WandbClient, WandbRun
from dagster_wandb_v2.config import WriteSpec
from dagster_wandb_v2.errors import WandbArtifactsIOManagerError
from dagster_wandb_v2.serialization import MODULES
from dagster_wandb_v2.write import BuiltArtifact

INTEGRATION_TAG = "dagster_wandb"

RunLocation = tuple[str, str | None, str]
"""Where a W&B run lives: (app URL of the host, entity, project)."""


@dataclass
class SharedRun:
    """One open W&B run of this process and the sessions using it."""

    spec: RunSpec
    location: RunLocation
    client: WandbClient
    step_key: str | None = None
    """The step the run serves alone, ``None`` when it serves every step of the process."""
    run: WandbRun | None = None
    users: int = 0
    failed: bool = False
    finished_with: bool | None = None
    """``failed`` of the last :meth:`finish_early`; ``None``: not finished by this package."""
    lock: threading.RLock = field(default_factory=threading.RLock)

    def current(self) -> WandbRun:
        """The open run: started on first use, resumed if asset code finished it."""
        with self.lock:
            if self.run is None or self.run.finished:
                spec = self.spec if self.run is None else replace(self.spec, run_id=self.run.id)
                try:
                    self.run = self.client.start_run(spec)
                except WandbArtifactsIOManagerError:
                    raise
                except Exception as error:
                    raise WandbArtifactsIOManagerError(
                        f"could not start W&B run '{spec.run_id}' in project '{spec.project}' "
                        f"(wandb.init): {error}"
                    ) from error
            self.finished_with = None
            return self.run

    def finish_early(self, failed: bool) -> None:
        """Finish the run before its session ends (its step is over); resumed on next use."""
        with self.lock:
            if self.run is not None and not self.run.finished:
                self.run.finish(exit_code=1 if failed else 0)
                self.finished_with = failed


_OPEN_RUNS: dict[str, SharedRun] = {}
"""The W&B runs the IO managers of this process opened, by the id they asked for."""
_OPEN_RUNS_LOCK = threading.Lock()


def _claim(spec: RunSpec, client: WandbClient, step_key: str | None) -> SharedRun:
    """The shared run for ``spec``; an id taken by another location gets a suffix."""
    location: RunLocation = (client.app_url, spec.entity, spec.project)
    with _OPEN_RUNS_LOCK:
        while (shared := _OPEN_RUNS.get(spec.run_id)) is not None and shared.location != location:
            suffix = hashlib.sha1("/".join(map(str, location)).encode()).hexdigest()[:8]
            spec = replace(spec, run_id=f"{spec.run_id}-{suffix}")
        if shared is None:
            shared = _OPEN_RUNS[spec.run_id] = SharedRun(spec, location, client, step_key)
        shared.users += 1
        return shared


def open_step_run(run_id: str, location: RunLocation) -> Any | None:
    """The SDK run of an open step run asked for as ``run_id`` at ``location``, if any.

    ``run_id`` matches the id the step run was asked for (the Dagster run id or the IO
    manager's ``run_id``), also under the multiprocess executor, where each step's run
    is ``<run id>-<hash>``. Resumed if asset code finished it. ``WandbResource.init_run``
    uses it, so ``init_run(id=context.run.run_id, resume="allow")`` in asset code returns
    the run of the step's artifacts instead of failing with ``run ID ... is in use``. With
    one run per step in this process (``run_per_step``), the running step's run, if open.
    ``location`` is (app URL, entity or ``None`` for any, project).
    """
    app_url, entity, project = location
    with _OPEN_RUNS_LOCK:
        candidates = [
            shared
            for shared in _OPEN_RUNS.values()
            if shared.run is not None
            and run_id in (shared.spec.run_id, *shared.spec.shared_ids)
            and shared.location[0] == app_url
            and shared.location[2] == project
            and (entity is None or shared.location[1] in (None, entity))
        ]
    if len(candidates) > 1:  # one run per step in this process: the running step's
        step_key = _contexts.current_step_key()
        candidates = [shared for shared in candidates if shared.step_key == step_key]
    if not candidates:
        return None
    return candidates[0].current().handle


def _release(shared: SharedRun, failed: bool) -> None:
    """Finish ``shared`` when its last session lets it go (failed if any step failed)."""
    with _OPEN_RUNS_LOCK:
        shared.users -= 1
        shared.failed = shared.failed or failed
        if shared.users > 0:
            return
        _OPEN_RUNS.pop(shared.spec.run_id, None)
    run, shared.run = shared.run, None
    if run is not None and not run.finished:
        run.finish(exit_code=1 if shared.failed else 0)
    elif shared.finished_with is not None and shared.finished_with == shared.failed:
        return  # finished early with the step's final outcome
    elif run is not None and shared.failed:  # asset code finished it: record the failure
        shared.client.start_run(replace(shared.spec, run_id=run.id)).finish(exit_code=1)


class StepSession:
    """The W&B run and the cache of the Dagster steps running in this process."""

    def __init__(
        self,
        *,
        client: WandbClient,
        entity: str | None,
        project: str,
        dagster_run_id: str,
        run_id: str | None,
        run_name: str | None,
        run_tags: tuple[str, ...],
        cache: ArtifactCache,
        run_per_step: bool = False,
    ) -> None:
        self.client = client
        self.cache = cache
        self.dagster_run_id = dagster_run_id
        self._entity = entity
        self._project = project
        self._run_id = run_id or dagster_run_id
        self._run_name = run_name or f"dagster-run-{dagster_run_id[:8]}"
        self._run_tags = tuple(dict.fromkeys([*run_tags, INTEGRATION_TAG]))
        self._run_per_step = run_per_step
        self._shared: dict[str | None, SharedRun] = {}
        """The W&B runs this session uses, by the step each serves alone (``None``: all)."""
        self._logged: dict[str, StoredArtifact] = {}
        """``entity/project/collection`` -> the version this session logged last."""
        self._handled_outputs: dict[str, set[str]] = {}
        """``run_per_step``: the outputs of each step handed to this IO manager so far."""
        self._running_step: str | None = None
        """``run_per_step``: the step whose run was used last (the others are finished)."""
        self._write_failed = False
        """A write of this session failed: the outcome when the event log cannot say."""

    def run_spec(self, step_key: str | None) -> RunSpec:
        """The W&B run for this process; ``step_key`` when each step needs its own run."""
        if step_key is None:
            return RunSpec(
                entity=self._entity,
                project=self._project,
                run_id=self._run_id,
                name=self._run_name,
                tags=self._run_tags,
                group=self.dagster_run_id,
                directory=str(self.cache.run_dir(self._run_id)),
            )
        suffix = hashlib.sha1(step_key.encode()).hexdigest()[:8]
        run_id = f"{self._run_id}-{suffix}"
        return RunSpec(
            entity=self._entity,
            project=self._project,
            run_id=run_id,
            name=f"{self._run_name}-{step_key}",
            tags=self._run_tags,
            group=self._run_id,
            directory=str(self.cache.run_dir(run_id)),
            shared_ids=(self._run_id,),
        )

    def run_for(self, context: OutputContext | InputContext | _contexts.StepContext) -> WandbRun:
        """The W&B run of the step: started on first use, resumed if finished."""
        step_context = _contexts.step_context_of(context)
        step_key = _contexts.step_key(step_context)
        if self._run_per_step and step_key is not None:
            scope: str | None = step_key
            if step_key != self._running_step:
                self._finish_other_steps(step_context, step_key)
                self._running_step = step_key
        elif self._shared:  # the process's one run, whichever step opened it
            scope = next(iter(self._shared))
        else:
            scope = _contexts.single_step_scope(step_context)
        shared = self._shared.get(scope)
        if shared is None:
            shared = self._shared[scope] = _claim(self.run_spec(scope), self.client, scope)
        return shared.current()

    def output_handled(self, context: OutputContext) -> None:
        """``run_per_step``: finish the step's run once the step handed this IO manager its
        last output, so the next step's asset code does not find it open (``wandb.log``
        would reach it). A step that fails later gets its run marked failed at teardown;
        one that logs after its last output resumes it."""
        step_key = _contexts.step_key(_contexts.step_context_of(context))
        shared = self._shared.get(step_key) if self._run_per_step else None
        if step_key is None or shared is None:
            return
        handled = self._handled_outputs.setdefault(step_key, set())
        handled.add(context.name)
        expected = _contexts.outputs_for_io_manager(context)
        if expected is not None and expected <= handled:
            shared.finish_early(failed=False)

    def _finish_other_steps(self, step_context: _contexts.StepContext, step_key: str) -> None:
        """Finish the runs of the steps before ``step_key``: the in-process executor runs
        one step at a time, so they are over. Then the new step's run is the only one open
        and becomes ``wandb.run`` (``wandb.log`` in asset code reaches it). Each is
        finished with its step's outcome so far; a retried step resumes its run."""
        for scope, shared in self._shared.items():
            if scope == step_key:
                continue
            try:
                failed = _contexts.steps_failed_in(
                    step_context.instance, step_context.run_id, [scope] if scope else None
                )
            except Exception:
                failed = None
            shared.finish_early(self._write_failed if failed is None else failed)

    def log_artifact(
        self, run: WandbRun, built: BuiltArtifact, spec: WriteSpec, location: Location
    ) -> tuple[StoredArtifact, dict[str, str]]:
        """Log ``built`` (aliases: the user's, ``dagster-run-<8>``, ``latest``) and link it.

        Returns the logged version and the registry URL of every ``link_to`` target.
        """
        all_aliases = list(
            dict.fromkeys([*spec.aliases, f"dagster-run-{self.dagster_run_id[:8]}", "latest"])
        )
        # The payload's digest, read from the draft: once logged, the SDK fetches the
        # manifest back from W&B on access (a query and a download per output).
        payload_digest = artifact_digest = payload_md5 = None
        if built.payload is not None and built.payload_name is not None:
            entries = built.artifact.manifest.entries
            payload_digest = str(entries[built.payload_name].digest)
            payload_md5 = entry_md5(entries[built.payload_name])
            # What a reader of the whole artifact gets (read.py: the first payload name).
            if next(m.file_name for m in MODULES.values() if m.file_name in entries) == (
                built.payload_name
            ):
                artifact_digest = str(built.artifact.manifest.digest())
        collection = built.artifact.name  # the SDK renames it ``name:vN`` once logged
        try:
            stored = run.log_artifact(built.artifact, all_aliases)
        except Exception as error:
            self._write_failed = True
            raise WandbArtifactsIOManagerError(
                f"{location}: could not log W&B artifact '{built.artifact.name}' "
                f"(log_artifact): {error}"
            ) from error
        self._logged[f"{run.entity}/{run.project}/{collection}"] = stored
        if payload_digest is not None and built.payload is not None and built.payload_name:
            known = built.payload_digest
            self.cache.seed_blob(
                payload_digest,
                built.payload_name,
                built.payload,
                expected_md5=payload_md5,
                known=known,
            )
            if artifact_digest is not None:
                self.cache.seed_blob(
                    artifact_digest, built.payload_name, built.payload, PAYLOADS, known=known
                )
        links = {}
        for link in spec.link_to:
            try:
                links[link.target_path] = run.link_artifact(stored, link.target_path, link.aliases)
            except Exception as error:
                self._write_failed = True
                raise WandbArtifactsIOManagerError(
                    f"{location}: logged W&B artifact '{stored.name}' but could not link it to "
                    f"'{link.target_path}' (link): {error}"
                ) from error
        return stored, links

    def logged_version(self, path: str, qualifier: str) -> StoredArtifact | None:
        """The version of ``path`` (``entity/project/collection``) this session logged
        last, if ``qualifier`` (``latest`` or ``vN``) names it: a step reading what an
        earlier step of this Dagster run wrote in this process gets that version without
        a lookup by name (W&B's ``Run.use_artifact`` with the logged artifact)."""
        stored = self._logged.get(path)
        if stored is not None and qualifier in ("latest", stored.version):
            return stored
        return None

    def close(self, steps_failed: Callable[[Collection[str] | None], bool | None]) -> None:
        """Finish the W&B runs and tidy the cache.

        ``steps_failed(step_keys)``: whether one of ``step_keys`` (``None``: any step of
        the Dagster run) finally failed, from the Dagster event log (a retried step's
        outcome is its last attempt's); ``None`` when unknown, then a run is failed if one
        of this session's writes failed. A run serving one step alone takes that step's
        outcome; the process's one run takes the outcome of every step.
        """
        shared_runs, self._shared = self._shared, {}
        try:
            for scope, shared in shared_runs.items():
                failed = steps_failed(None if scope is None else [scope])
                _release(shared, self._write_failed if failed is None else failed)
        finally:
            self.cache.clear_scratch()
            self.cache.evict_expired()
