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

Example::

    session = StepSession(client=client, entity=None, project="p", dagster_run_id="abc...",
                          run_id=None, run_name=None, run_tags=(), cache=cache)
    run = session.run_for(output_context)
"""

from __future__ import annotations

import hashlib

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
    ) -> None:
        self.client = client
        self.cache = cache
        self.dagster_run_id = dagster_run_id
        self.step_keys: set[str] = set()
        self._entity = entity
        self._project = project
        self._run_id = run_id or dagster_run_id
        self._run_name = run_name or f"dagster-run-{dagster_run_id[:8]}"
        self._run_tags = tuple(dict.fromkeys([*run_tags, INTEGRATION_TAG]))
        self._run: WandbRun | None = None
        self._per_step = False
        self._failed = False

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
        )

    def run_for(self, context: OutputContext | InputContext) -> WandbRun:
        """The W&B run of this process, started on first use."""
        step_key = _contexts.step_key(context)
        if step_key is not None:
            self.step_keys.add(step_key)
        if self._run is None:
            scope = _contexts.single_step_scope(context)
            self._per_step = scope is not None
            spec = self.run_spec(scope)
            try:
                self._run = self.client.start_run(spec)
            except Exception as error:
                raise WandbArtifactsIOManagerError(
                    f"could not start W&B run '{spec.run_id}' in project '{spec.project}' "
                    f"(wandb.init): {error}"
                ) from error
        return self._run

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
        try:
            stored = run.log_artifact(built.artifact, all_aliases)
        except Exception as error:
            self._failed = True
            raise WandbArtifactsIOManagerError(
                f"{location}: could not log W&B artifact '{built.artifact.name}' "
                f"(log_artifact): {error}"
            ) from error
        if payload_digest is not None and built.payload is not None and built.payload_name:
            self.cache.seed_blob(
                payload_digest, built.payload_name, built.payload, expected_md5=payload_md5
            )
            if artifact_digest is not None:
                self.cache.seed_blob(artifact_digest, built.payload_name, built.payload, PAYLOADS)
        links = {}
        for link in spec.link_to:
            try:
                links[link.target_path] = run.link_artifact(stored, link.target_path, link.aliases)
            except Exception as error:
                self._failed = True
                raise WandbArtifactsIOManagerError(
                    f"{location}: logged W&B artifact '{stored.name}' but could not link it to "
                    f"'{link.target_path}' (link): {error}"
                ) from error
        return stored, links

    def close(self, failed: bool) -> None:
        """Finish the W&B run (failed if a step failed) and tidy the cache."""
        run, self._run = self._run, None
        try:
            if run is not None:
                run.finish(exit_code=1 if failed or self._failed else 0)
        finally:
            self.cache.clear_scratch()
            self.cache.evict_expired()

    @property
    def per_step(self) -> bool:
        return self._per_step
