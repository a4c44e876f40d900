"""An in-memory W&B for unit tests, behind the same client protocol as the real SDK.

It keeps W&B's artifact semantics: versions ``v0, v1, ...`` per collection; logging the
same content again (same digest) returns the existing version; ``latest`` moves to the
version logged last (a deduplicated one too); an alias points to one version of a
collection at a time, and ``v<number>`` aliases are ignored; a version looked up by alias is
named by it (``ds:latest``); a run records each version it logged or used once; a finished
run refuses artifacts; ``get`` and ``get_entry`` work on logged artifacts; a missing name or
alias raises like W&B would. ``tests/behaviour`` runs these against the real SDK too.

Example::

    from dagster import materialize
    from dagster_wandb_v2.testing import FakeWandb

    fake = FakeWandb()
    result = materialize([my_asset], resources=fake.resources())
    assert fake.artifact("my_asset:latest").version == "v0"
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

import wandb
from pydantic import Field
from wandb.errors import CommError, UsageError

from dagster_wandb_v2.client import (
    ArtifactReader,
    ArtifactVersion,
    EntryStream,
    RunSpec,
    StoredArtifact,
    StoredFile,
    WandbArtifactsApi,
    WandbClient,
    WandbRun,
)
from dagster_wandb_v2.config import ARTIFACT_NAME_PATTERN
from dagster_wandb_v2.errors import WandbArtifactNotFoundError, WandbRunInUseError
from dagster_wandb_v2.resource import WandbResource

DEFAULT_ENTITY = "fake-entity"
FAKE_APP_URL = "https://fake.wandb.test"
FAKE_ORGANIZATION = "fake-org"
"""The organization (and its entity) that the fake's W&B Registry collections belong to."""
_VERSION_ALIAS = re.compile(r"v\d+")
MAX_ALIAS_LENGTH = 128


@dataclass
class FakeEntry:
    """One file (or reference) of a stored artifact; mirrors ``ArtifactManifestEntry``."""

    path: str
    digest: str
    size: int
    ref: str | None
    stored_file: Path | None
    artifact: FakeArtifact | None = None

    def download(self, root: str | None = None) -> str:
        """Copy the stored file, or a ``file://`` reference's file checked against its
        digest as the SDK's local file handler does (a ``ValueError`` if it is gone or
        changed); other references are not fetched by the fake (``ValueError``)."""
        source = self.stored_file or _referenced_file(self)
        if root is None and self.artifact is not None:
            root = str(self.artifact.default_root())
        target = Path(root or tempfile.mkdtemp()) / self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        if self.artifact is not None:
            self.artifact._backend.downloaded_bytes += self.size
        return str(target)


@dataclass
class _Draft:
    """A version distributed runs are building (``upsert_artifact``), not committed yet."""

    id: str
    entity: str
    project: str
    name: str
    type: str
    distributed_id: str
    entries: dict[str, tuple[Path | None, str | None, str]] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    committed: FakeArtifact | None = None


@dataclass
class _Manifest:
    entries: dict[str, FakeEntry]

    def get_entries_in_directory(self, directory: str) -> list[FakeEntry]:
        """Entries under ``directory/`` (``ArtifactManifest``'s; ``PartitionedTable`` reads
        its parts with it)."""
        return [entry for path, entry in self.entries.items() if path.startswith(f"{directory}/")]


class FakeArtifact(wandb.Artifact):
    """A logged artifact version of the fake.

    A ``wandb.Artifact`` (so ``isinstance`` checks and Dagster type checks pass) whose read
    API (``name``, ``version``, ``download``, ``get``, ``get_entry``, ``verify``...) is
    served by the fake instead of a W&B server.
    """

    def __init__(
        self,
        backend: FakeWandb,
        *,
        entity: str,
        project: str,
        collection: str,
        type: str,
        version: str,
        digest: str,
        description: str | None,
        metadata: dict[str, Any],
        manifest: _Manifest,
        logged_by: str,
    ) -> None:
        # wandb.Artifact.__init__ is not called: every attribute read here is our own.
        self._backend = backend
        self._fake_entity = entity
        self._fake_project = project
        self.collection_name = collection
        self._fake_type = type
        self._fake_version = version
        self._fake_digest = digest
        self._fake_description = description
        self._fake_metadata = metadata
        self._fake_manifest = manifest
        self.logged_by_run = logged_by
        self._fake_id = base64.b64encode(uuid.uuid4().bytes).decode()
        self.used_by_runs: list[str] = []
        self.ttl_seconds: int | None = None
        """The TTL set when logging (``None``: none, or inherited, see ``ttl_inherited``)."""
        self.ttl_inherited = True
        self._fake_name: str | None = None
        self._fake_source: FakeArtifact | None = None
        """The version in its own project, when this one was looked up in a registry."""
        self.deleted = False
        """Deleted (``Artifact.delete``): no longer found, listed or deduplicated to."""

    def __repr__(self) -> str:
        return f"FakeArtifact({self.qualified_name!r})"

    def __eq__(self, other: object) -> bool:
        """Two lookups of one version are equal (W&B gives a new object per lookup)."""
        if not isinstance(other, FakeArtifact):
            return NotImplemented
        return bool(self._fake_id == other._fake_id)

    def __hash__(self) -> int:
        return hash(self._fake_id)

    def named(self, qualifier: str) -> FakeArtifact:
        """This version as looked up by ``qualifier`` (an alias or ``vN``): like the SDK,
        its ``name`` is ``<collection>:<qualifier>``, ``version`` stays ``vN``."""
        view = copy.copy(self)
        view._fake_name = f"{self.collection_name}:{qualifier}"
        return view

    id = property(lambda self: self._fake_id)
    entity = property(lambda self: self._fake_entity)
    project = property(lambda self: self._fake_project)
    type = property(lambda self: self._fake_type)
    version = property(lambda self: self._fake_version)
    digest = property(lambda self: self._fake_digest)
    description = property(lambda self: self._fake_description)
    metadata = property(lambda self: self._fake_metadata)
    manifest = property(lambda self: self._fake_manifest)

    @property
    def name(self) -> str:
        return self._fake_name or self.source_name

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    @property
    def source_name(self) -> str:
        """``<collection>:vN`` in its own project, however the version was looked up."""
        if self._fake_source is not None:
            return self._fake_source.source_name
        return f"{self.collection_name}:{self.version}"

    def linked_as(
        self, registry_project: str, collection: str, version: str, qualifier: str
    ) -> FakeArtifact:
        """This version as looked up in a registry collection: like the SDK, in the
        organization's entity and ``wandb-registry-<registry>`` project, with the
        collection's version and aliases, named ``<collection>:<qualifier>``."""
        view = copy.copy(self)
        view._fake_entity = FAKE_ORGANIZATION
        view._fake_project = registry_project
        view.collection_name = collection
        view._fake_version = version
        view._fake_name = f"{collection}:{qualifier}"
        view._fake_source = self._fake_source or self
        return view

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.manifest.entries.values())

    @property  # type: ignore[misc]
    def aliases(self) -> list[str]:
        return self._backend._aliases_of(self)

    def download(self, root: str | None = None, **_: Any) -> str:  # type: ignore[override]
        directory = Path(root or self.default_root())
        for entry in self.manifest.entries.values():  # like the SDK: file:// refs too
            if entry.stored_file is not None or _is_file_ref(entry.ref):
                entry.download(str(directory))
        self._backend.downloads += 1
        return str(directory)

    def default_root(self) -> Path:
        """Where ``download()`` without a root puts the files, as the SDK does:
        ``$WANDB_ARTIFACT_DIR`` (default ``./artifacts``) / ``<collection>:vN``."""
        return Path(wandb.env.get_artifact_dir()) / self.source_name

    def get_entry(self, name: str) -> FakeEntry:  # type: ignore[override]
        entry = self.manifest.entries.get(name) or self._object_entry(name)[0]
        if entry is None:
            raise KeyError(f"Path not contained in artifact: {name}")
        return entry

    def get_path(self, name: str) -> FakeEntry:  # type: ignore[override]
        return self.get_entry(name)

    def _object_entry(self, name: str) -> tuple[FakeEntry | None, Any]:
        from wandb.sdk.data_types.base_types.wb_value import WBValue

        for wb_class in WBValue.type_mapping().values():
            entry = self.manifest.entries.get(wb_class.with_suffix(name))
            if entry is not None:
                return entry, wb_class
        return None, None

    def get(self, name: str) -> Any:
        entry, wb_class = self._object_entry(name)
        if entry is None or entry.stored_file is None:
            return None
        json_obj = json.loads(entry.stored_file.read_text())
        return wb_class.from_json(json_obj, self)

    def verify(self, root: str | None = None) -> None:
        directory = Path(root or self.default_root())
        for path in directory.rglob("*"):
            if (
                path.is_file()
                and path.relative_to(directory).as_posix() not in self.manifest.entries
            ):
                raise ValueError(f"Found file {path} which is not a member of artifact {self.name}")
        for entry in self.manifest.entries.values():
            if entry.ref is None and _md5_b64(directory / entry.path) != entry.digest:
                raise ValueError(f"Digest mismatch for file: {entry.path}")


class FakeRun:
    """A W&B run of the fake; records what it logged and used, and how it finished.

    Like W&B, starting a run whose id is finished resumes it (same object, ``history``
    kept); asset code logs metrics with ``log`` (``wandb.Run.log``).
    """

    def __init__(self, backend: FakeWandb, spec: RunSpec) -> None:
        self._backend = backend
        self.spec = spec
        self.entity = spec.entity or DEFAULT_ENTITY
        self.project = spec.project
        self.id = spec.run_id
        self.name = spec.name
        self.logged: list[FakeArtifact] = []
        self.used: list[FakeArtifact] = []
        self.exit_code: int | None = None
        self.history: list[dict[str, Any]] = []
        """Every ``log`` call's data, in order (``wandb.apis.public.Run.history``)."""
        self.config: dict[str, Any] = {}
        """What asset code put in ``config`` (``wandb.Run.config``)."""
        self.resumed = 0

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def url(self) -> str:
        return f"{FAKE_APP_URL}/{self.entity}/{self.project}/runs/{self.id}"

    @property
    def state(self) -> str:
        if self.exit_code is None:
            return "running"
        return "finished" if self.exit_code == 0 else "failed"

    @property
    def finished(self) -> bool:
        return self.exit_code is not None

    @property
    def handle(self) -> FakeRun:
        return self

    def log(self, data: dict[str, Any]) -> None:
        """Record metrics (``wandb.Run.log``); raises like the SDK once finished."""
        self._check_open("log")
        self.history.append(dict(data))

    def log_artifact(self, artifact: wandb.Artifact, aliases: Sequence[str]) -> StoredArtifact:
        self._check_open("log_artifact")
        stored = self._backend.store(artifact, self.entity, self.project, aliases, self.path)
        with self._backend._lock:
            if stored not in self.logged:  # W&B records a run's output once
                self.logged.append(stored)
        return stored

    def use_artifact(self, qualified_name: str) -> StoredArtifact:
        self._check_open("use_artifact")
        return self.use_logged_artifact(self._backend.artifact(qualified_name))

    def use_logged_artifact(self, artifact: StoredArtifact) -> StoredArtifact:
        self._check_open("use_artifact")
        if not isinstance(artifact, FakeArtifact):
            raise TypeError(f"not a version logged to this fake: {artifact!r}")
        with self._backend._lock:
            if self.path not in artifact.used_by_runs:  # and a run's input once
                artifact.used_by_runs.append(self.path)
            if artifact not in self.used:
                self.used.append(artifact)
        return artifact

    def stored_files(self, artifact: StoredArtifact, paths: Sequence[str]) -> list[StoredFile]:
        return self._backend.stored_files(artifact, paths)

    def open_file(self, file: StoredFile) -> EntryStream:
        return self._backend.open_file(file)

    def link_artifact(
        self, artifact: StoredArtifact, target_path: str, aliases: Sequence[str]
    ) -> str:
        # Like SdkWandbClient (``Artifact.link``): a logged version links without an open run.
        return self._backend.link(artifact, target_path, aliases)

    def finish(self, exit_code: int = 0) -> None:
        self.exit_code = exit_code

    def upsert_artifact(
        self, artifact: wandb.Artifact, aliases: Sequence[str], distributed_id: str
    ) -> str:
        """``wandb.Run.upsert_artifact``: add files to the draft ``distributed_id`` builds."""
        self._check_open("upsert_artifact")
        return self._backend.upsert(artifact, self.entity, self.project, aliases, distributed_id)

    def draft_entries(self, draft_id: str) -> list[str]:
        return self._backend.draft_entries(draft_id)

    def commit_draft(self, draft_id: str) -> StoredArtifact:
        stored = self._backend.commit_draft(draft_id, self.path)
        with self._backend._lock:
            if stored not in self.logged:
                self.logged.append(stored)
        return stored

    def latest_version(self, name: str) -> StoredArtifact | None:
        """Like ``SdkWandbClient``'s run: ``latest`` of ``name``, no lineage recorded."""
        try:
            return self._backend.artifact(f"{self.entity}/{self.project}/{name}:latest")
        except WandbArtifactNotFoundError:
            return None

    def _check_open(self, call: str) -> None:
        if self.exit_code is not None:  # what the wandb SDK raises
            raise UsageError(
                f"Run ({self.id}) is finished. The call to `{call}` will be ignored. "
                "Please make sure that you are using an active run."
            )


class FakeWandb:
    """The fake W&B backend: projects, artifact collections, runs. Thread-safe.

    ``downloads`` and ``downloaded_bytes`` count what readers fetched, so tests can check
    the local cache.
    """

    _registry: ClassVar[dict[str, FakeWandb]] = {}

    def __init__(self, storage_dir: str | Path | None = None) -> None:
        self.backend_id = uuid.uuid4().hex
        self._own_dir = storage_dir is None
        self.storage_dir = Path(storage_dir or tempfile.mkdtemp(prefix="fake-wandb-"))
        self.runs: list[FakeRun] = []
        self.downloads = 0
        self.downloaded_bytes = 0
        self._versions: dict[tuple[str, str, str], list[FakeArtifact]] = {}
        self._alias_index: dict[tuple[str, str, str], dict[str, FakeArtifact]] = {}
        self._links: dict[str, list[FakeArtifact]] = {}
        self._link_aliases: dict[str, dict[str, FakeArtifact]] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count()
        self._drafts: dict[str, _Draft] = {}
        self._open_drafts: dict[tuple[str, str, str, str], _Draft] = {}
        FakeWandb._registry[self.backend_id] = self

    # --- wiring ------------------------------------------------------------------------

    def client(self) -> FakeWandbClient:
        return FakeWandbClient(self)

    def resource(
        self, project: str = "fake-project", entity: str | None = None
    ) -> FakeWandbResource:
        """A :class:`WandbResource` talking to this fake."""
        return FakeWandbResource(backend_id=self.backend_id, project=project, entity=entity)

    def resources(self, project: str = "fake-project", **io_manager_config: Any) -> dict[str, Any]:
        """``{"wandb": ..., "wandb_artifacts_manager": ...}`` ready for ``materialize``."""
        from dagster_wandb_v2.io_manager import WandbArtifactsIOManager

        resource = self.resource(project=project)
        return {
            "wandb": resource,
            "wandb_artifacts_manager": WandbArtifactsIOManager(wandb=resource, **io_manager_config),
        }

    def close(self) -> None:
        FakeWandb._registry.pop(self.backend_id, None)
        if self._own_dir:
            shutil.rmtree(self.storage_dir, ignore_errors=True)

    @classmethod
    def lookup(cls, backend_id: str) -> FakeWandb:
        try:
            return cls._registry[backend_id]
        except KeyError:
            raise RuntimeError(
                f"no FakeWandb with id {backend_id!r} in this process; the fake lives in "
                "memory, so use it with the in-process executor"
            ) from None

    # --- storage -----------------------------------------------------------------------

    def store(
        self,
        artifact: wandb.Artifact,
        entity: str = DEFAULT_ENTITY,
        project: str = "fake-project",
        aliases: Sequence[str] = ("latest",),
        logged_by: str = "external",
    ) -> FakeArtifact:
        """Log a draft ``wandb.Artifact`` (what ``run.log_artifact`` + ``wait`` do)."""
        name = artifact.name.split(":")[0]
        _check_name(name)
        if any("/" in alias or ":" in alias for alias in aliases):  # the SDK's message
            raise ValueError("Aliases must not contain any of the following characters: '/', ':'")
        for alias in aliases:  # W&B: "an alias can be 1 to 128 characters long"
            if not 1 <= len(alias) <= MAX_ALIAS_LENGTH:
                raise ValueError(f"Invalid alias {alias!r}: aliases must be 1-128 characters")
        artifact.finalize()
        digest = artifact.manifest.digest()
        with self._lock:
            key = (entity, project, name)
            versions = self._versions.setdefault(key, [])
            if versions and versions[0].type != artifact.type:
                raise ValueError(
                    f"artifact '{name}' already exists with type '{versions[0].type}', "
                    f"cannot log it with type '{artifact.type}'"
                )
            stored = next((v for v in versions if v.digest == digest and not v.deleted), None)
            if stored is None:
                stored = self._new_version(artifact, entity, project, name, digest, logged_by)
                versions.append(stored)
            index = self._alias_index.setdefault(key, {})
            # Like W&B: the requested aliases and "latest" go to the logged (or deduped)
            # version and leave whichever version held them before.
            for alias in _settable_aliases(aliases):
                index[alias] = stored
            return stored

    def _new_version(
        self,
        artifact: wandb.Artifact,
        entity: str,
        project: str,
        name: str,
        digest: str,
        logged_by: str,
    ) -> FakeArtifact:
        version = f"v{len(self._versions[(entity, project, name)])}"
        directory = self.storage_dir / entity / project / name / version
        entries: dict[str, FakeEntry] = {}
        for path, source in artifact.manifest.entries.items():
            stored_file = None
            if source.ref is None and source.local_path is not None:
                stored_file = directory / str(path)
                stored_file.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source.local_path, stored_file)
            entries[str(path)] = FakeEntry(
                path=str(path),
                digest=str(source.digest),
                size=int(source.size or 0),
                ref=source.ref,
                stored_file=stored_file,
            )
        stored = FakeArtifact(
            self,
            entity=entity,
            project=project,
            collection=name,
            type=artifact.type,
            version=version,
            digest=digest,
            description=artifact.description,
            metadata=_stored_metadata(artifact.metadata),
            manifest=_Manifest(entries),
            logged_by=logged_by,
        )
        for entry in entries.values():
            entry.artifact = stored
        stored.ttl_seconds = getattr(artifact, "_ttl_duration_seconds", None)
        stored.ttl_inherited = bool(getattr(artifact, "_ttl_is_inherited", True))
        return stored

    def link(self, artifact: Any, target_path: str, aliases: Sequence[str] = ()) -> str:
        """Link a stored version to a registry collection (``wandb-registry-x/name``)."""
        _, registry, collection = _parse_registry_path(target_path)
        key = f"wandb-registry-{registry}/{collection}"
        if isinstance(artifact, FakeArtifact):  # the version, however it was looked up
            artifact = self.artifact(f"{artifact.entity}/{artifact.project}/{artifact.source_name}")
        with self._lock:
            linked = self._links.setdefault(key, [])
            if artifact not in linked:
                linked.append(artifact)
            index = self._link_aliases.setdefault(key, {})
            for alias in _settable_aliases(aliases):
                index[alias] = artifact
            version = f"v{linked.index(artifact)}"
        # The form of the SDK's ``Artifact.url`` for a version linked to a registry.
        selection = quote(f"{FAKE_ORGANIZATION}/{key}", safe="")
        return (
            f"{FAKE_APP_URL}/orgs/{FAKE_ORGANIZATION}/registry/{registry}"
            f"?selectionPath={selection}&view=membership&version={version}"
        )

    def linked(self, path: str) -> FakeArtifact:
        """The source version linked at ``[org/]wandb-registry-x/collection[:alias|vN]``."""
        return self._linked(path)[0]

    def _linked(self, path: str) -> tuple[FakeArtifact, str, str]:
        """``(source version, collection version "vN", qualifier)`` of a registry path; the
        organization, if given, must be the fake's (its name and entity)."""
        target, _, qualifier = path.partition(":")
        organization, registry, collection = _parse_registry_path(target)
        key = f"wandb-registry-{registry}/{collection}"
        qualifier = qualifier or "latest"
        with self._lock:
            versions = self._links.get(key, [])
            found: FakeArtifact | None = None
            if organization not in (None, FAKE_ORGANIZATION):
                found = None
            elif _VERSION_ALIAS.fullmatch(qualifier):
                if int(qualifier[1:]) < len(versions):
                    found = versions[int(qualifier[1:])]
            else:
                found = self._link_aliases.get(key, {}).get(qualifier)
            if found is not None and not found.deleted:
                return found, f"v{versions.index(found)}", qualifier
        raise WandbArtifactNotFoundError(f"{key}:{qualifier}")

    def registry_versions(self, target_path: str) -> list[tuple[str, FakeArtifact, list[str]]]:
        """Versions of a registry collection (``wandb-registry-x/name``), oldest first:
        ``(registry version "vN", source version, sorted aliases)``."""
        _, registry, collection = _parse_registry_path(target_path)
        key = f"wandb-registry-{registry}/{collection}"
        with self._lock:
            aliases = self._link_aliases.get(key, {})
            return [
                (
                    f"v{index}",
                    source,
                    sorted(alias for alias, target in aliases.items() if target is source),
                )
                for index, source in enumerate(self._links.get(key, []))
                if not source.deleted
            ]

    # --- queries -----------------------------------------------------------------------

    def artifact(self, name: str) -> FakeArtifact:
        """Look up ``[entity/][project/]name[:alias|vN]`` (``latest`` by default).

        Like ``wandb.Api().artifact``, the result is named as looked up (``name:latest``).
        A registry path (``[org/]wandb-registry-x/collection[:alias|vN]``) finds the linked
        version, as the SDK does (:meth:`FakeArtifact.linked_as`).
        """
        entity, project, collection, qualifier = self._parse(name)
        if project.startswith("wandb-registry-"):
            source, version, qualifier = self._linked(name)
            return source.linked_as(project, collection, version, qualifier)
        with self._lock:
            versions = self._versions.get((entity, project, collection), [])
            if _VERSION_ALIAS.fullmatch(qualifier):
                index = int(qualifier[1:])
                if index < len(versions) and not versions[index].deleted:
                    return versions[index]
            else:
                found = self._alias_index.get((entity, project, collection), {}).get(qualifier)
                if found is not None:
                    return found.named(qualifier)
        raise WandbArtifactNotFoundError(f"{entity}/{project}/{collection}:{qualifier}")

    # --- distributed artifacts: drafts several runs add to, committed once -------------

    def upsert(
        self,
        artifact: wandb.Artifact,
        entity: str,
        project: str,
        aliases: Sequence[str],
        distributed_id: str,
    ) -> str:
        """Add ``artifact``'s files to the draft of ``distributed_id`` (made if none is
        open); returns the draft's id. Like W&B, a later file at the same path wins."""
        name = artifact.name.split(":")[0]
        _check_name(name)
        artifact.finalize()
        with self._lock:
            key = (entity, project, name, distributed_id)
            draft = self._open_drafts.get(key)
            if draft is None:
                draft = _Draft(
                    id=base64.b64encode(uuid.uuid4().bytes).decode(),
                    entity=entity,
                    project=project,
                    name=name,
                    type=artifact.type,
                    distributed_id=distributed_id,
                )
                self._open_drafts[key] = draft
                self._drafts[draft.id] = draft
            directory = self.storage_dir / "drafts" / draft.id
            for path, source in artifact.manifest.entries.items():
                copied = None
                if source.ref is None and source.local_path is not None:
                    copied = directory / str(path)
                    copied.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source.local_path, copied)
                draft.entries[str(path)] = (copied, source.ref, str(source.digest))
            draft.aliases += [alias for alias in aliases if alias not in draft.aliases]
            draft.description = artifact.description or draft.description
            draft.metadata.update(artifact.metadata)
            return draft.id

    def draft_entries(self, draft_id: str) -> list[str]:
        with self._lock:
            return sorted(self._drafts[draft_id].entries)

    def commit_draft(self, draft_id: str, logged_by: str = "external") -> FakeArtifact:
        """Publish a draft as the next version (again: the same version)."""
        with self._lock:
            draft = self._drafts[draft_id]
            if draft.committed is not None:
                return draft.committed
            artifact = wandb.Artifact(
                draft.name, draft.type, description=draft.description, metadata=draft.metadata
            )
            for path, (copied, ref, _digest) in draft.entries.items():
                if copied is not None:
                    artifact.add_file(str(copied), name=path)
                elif ref is not None:
                    artifact.add_reference(ref, name=path, checksum=False)
            draft.committed = self.store(
                artifact, draft.entity, draft.project, [*draft.aliases, "latest"], logged_by
            )
            self._open_drafts.pop(
                (draft.entity, draft.project, draft.name, draft.distributed_id), None
            )
            return draft.committed

    def stored_files(self, artifact: StoredArtifact, paths: Sequence[str]) -> list[StoredFile]:
        """Those of ``paths`` that a version stores, in that order (W&B: one
        ``Artifact.files(names=paths)`` query); references and missing paths left out."""
        entries = artifact.manifest.entries if isinstance(artifact, FakeArtifact) else {}
        found = []
        for path in dict.fromkeys(paths):
            entry = entries.get(path)
            if entry is not None and entry.stored_file is not None:
                found.append(StoredFile(path, entry.size, entry.digest, entry.stored_file.as_uri()))
        return found

    def open_file(self, file: StoredFile) -> EntryStream:
        """A stored file opened for reading (W&B: one streamed ``GET`` of its
        ``directUrl``); ``OSError`` if it is gone."""
        stored = Path(url2pathname(urlsplit(file.url).path))
        stream: EntryStream = stored.open("rb")
        self.downloaded_bytes += file.size
        return stream

    def artifact_exists(self, name: str) -> bool:
        try:
            self.artifact(name)
        except WandbArtifactNotFoundError:
            return False
        return True

    def versions(self, name: str) -> list[FakeArtifact]:
        """Every version of a collection, oldest first (deleted ones left out)."""
        entity, project, collection, _ = self._parse(name)
        with self._lock:
            versions = self._versions.get((entity, project, collection), [])
            return [version for version in versions if not version.deleted]

    # --- changing logged versions (``wandb.Api().artifact(...)``, then ``save``) -------

    def update_version(
        self,
        artifact: FakeArtifact,
        aliases: Sequence[str],
        description: str | None,
        metadata: dict[str, Any],
    ) -> None:
        """What ``Artifact.save()`` of a logged version does: set its aliases (an alias
        another version holds moves here), description and metadata."""
        for alias in aliases:
            _check_alias(alias)
        with self._lock:
            index = self._alias_index.setdefault(
                (artifact.entity, artifact.project, artifact.collection_name), {}
            )
            for alias in [a for a, target in index.items() if target == artifact]:
                if alias not in aliases:
                    del index[alias]
            for alias in aliases:
                if not _VERSION_ALIAS.fullmatch(alias):
                    index[alias] = artifact
            artifact._fake_description = description
            artifact._fake_metadata = _stored_metadata(metadata)

    def delete_version(self, artifact: FakeArtifact, delete_aliases: bool = False) -> None:
        """``Artifact.delete``: refused (``CommError``, as the SDK raises) while the version
        has aliases, unless ``delete_aliases``; its registry links go with it."""
        with self._lock:
            aliases = self._aliases_of(artifact)
            if aliases and not delete_aliases:
                raise CommError(
                    f"cannot delete an artifact version that has aliases {aliases}: "
                    "delete them first or pass deleteAliases (delete_aliases=True)"
                )
            index = self._alias_index.get(
                (artifact.entity, artifact.project, artifact.collection_name), {}
            )
            for alias in aliases:
                del index[alias]
            for link_index in self._link_aliases.values():
                for alias in [a for a, target in link_index.items() if target == artifact]:
                    del link_index[alias]
            artifact.deleted = True

    def links_of(self, artifact: FakeArtifact) -> list[FakeLinkedVersion]:
        """The registry versions linking to ``artifact`` (``Artifact.linked_artifacts``)."""
        with self._lock:
            found = []
            for key, linked in self._links.items():
                if artifact in linked:
                    version = f"v{linked.index(artifact)}"
                    aliases = [
                        alias
                        for alias, target in self._link_aliases.get(key, {}).items()
                        if target == artifact
                    ]
                    found.append(
                        FakeLinkedVersion(
                            qualified_name=f"{FAKE_ORGANIZATION}/{key}:{version}",
                            aliases=sorted([*aliases, version]),
                            url="",
                        )
                    )
            return found

    def collections(self, project: str = "fake-project", entity: str = DEFAULT_ENTITY) -> list[str]:
        with self._lock:
            return sorted(key[2] for key in self._versions if key[:2] == (entity, project))

    def _aliases_of(self, artifact: FakeArtifact) -> list[str]:
        with self._lock:
            if artifact._fake_source is not None:  # looked up in a registry collection
                link_key = f"{artifact.project}/{artifact.collection_name}"
                links = self._link_aliases.get(link_key, {})
                return sorted(a for a, target in links.items() if target == artifact._fake_source)
            key = (artifact.entity, artifact.project, artifact.collection_name)
            index = self._alias_index.get(key, {})
            return sorted(alias for alias, target in index.items() if target == artifact)

    def _parse(self, name: str) -> tuple[str, str, str, str]:
        path, _, qualifier = name.partition(":")
        parts = path.split("/")
        if len(parts) == 1:
            parts = [DEFAULT_ENTITY, "fake-project", *parts]
        elif len(parts) == 2:
            parts = [DEFAULT_ENTITY, *parts]
        entity, project, collection = parts[-3:]
        return entity, project, collection, qualifier or "latest"


@dataclass
class FakeLinkedVersion:
    """A registry version linking to a stored one (what ``Artifact.link`` returns)."""

    qualified_name: str
    aliases: list[str]
    url: str


class FakeArtifactVersion:
    """A stored version as ``wandb.Api().artifact(...)`` returns it: edits to ``aliases``,
    ``description`` and ``metadata`` stay local until ``save()``, as in the SDK."""

    def __init__(self, backend: FakeWandb, looked_up: FakeArtifact) -> None:
        self._backend = backend
        # The stored version itself, not the view named after the alias it was found by.
        stored = backend.artifact(f"{looked_up.entity}/{looked_up.project}/{looked_up.source_name}")
        self._stored = stored
        self.name = looked_up.name
        self.aliases: list[str] = list(stored.aliases)
        self.description: str | None = stored.description
        self.metadata: dict[str, Any] = copy.deepcopy(stored.metadata)

    def __repr__(self) -> str:
        return f"FakeArtifactVersion({self._stored.qualified_name!r})"

    id = property(lambda self: self._stored.id)
    type = property(lambda self: self._stored.type)
    version = property(lambda self: self._stored.version)
    source_name = property(lambda self: self._stored.source_name)
    entity = property(lambda self: self._stored.entity)
    project = property(lambda self: self._stored.project)
    qualified_name = property(lambda self: f"{self.entity}/{self.project}/{self.name}")

    @property
    def linked_artifacts(self) -> list[Any]:
        return list(self._backend.links_of(self._stored))

    def save(self) -> None:
        self._backend.update_version(self._stored, self.aliases, self.description, self.metadata)
        self.aliases = list(self._stored.aliases)

    def delete(self, delete_aliases: bool = False) -> None:
        self._backend.delete_version(self._stored, delete_aliases)

    def link(self, target_path: str, aliases: list[str] | None = None) -> Any:
        url = self._backend.link(self._stored, target_path, aliases or ())
        target = target_path.split(":")[0].split("/")
        key = "/".join(target[-2:])
        (linked,) = [
            link
            for link in self._backend.links_of(self._stored)
            if link.qualified_name.split(":")[0].endswith(key)
        ]
        return FakeLinkedVersion(linked.qualified_name, linked.aliases, url)


class FakeArtifactsApi:
    """:class:`~dagster_wandb_v2.client.WandbArtifactsApi` over a :class:`FakeWandb`."""

    default_entity = DEFAULT_ENTITY

    def __init__(self, backend: FakeWandb) -> None:
        self.backend = backend

    def artifact(self, path: str) -> ArtifactVersion:
        return FakeArtifactVersion(self.backend, self.backend.artifact(path))

    def versions(self, path: str) -> list[ArtifactVersion]:
        return [FakeArtifactVersion(self.backend, v) for v in self.backend.versions(path)]


class FakeWandbClient:
    """:class:`~dagster_wandb_v2.client.WandbClient` over a :class:`FakeWandb`."""

    app_url = FAKE_APP_URL

    def __init__(self, backend: FakeWandb) -> None:
        self.backend = backend

    def artifacts_api(self) -> WandbArtifactsApi:
        return FakeArtifactsApi(self.backend)

    def start_run(self, spec: RunSpec) -> WandbRun:
        """Like the SDK: one open run per id, a finished run of the same path resumes."""
        entity = spec.entity or DEFAULT_ENTITY
        with self.backend._lock:
            for run in self.backend.runs:
                if run.id != spec.run_id:
                    continue
                if not run.finished and (run.entity, run.project) != (entity, spec.project):
                    raise WandbRunInUseError(
                        run.id, spec.project, f"open in '{run.entity}/{run.project}'"
                    )
                if (run.entity, run.project) == (entity, spec.project):
                    if run.finished:
                        run.exit_code = None
                        run.resumed += 1
                    return run
            run = FakeRun(self.backend, spec)
            self.backend.runs.append(run)
        return run

    def check_mode(self) -> None:
        """The fake stores in memory whatever the wandb SDK's mode."""

    def artifact_reader(self, entity: str | None, project: str) -> ArtifactReader:
        """Like the SDK's public API: looks artifacts up without a run or lineage."""
        return _FakeReader(self.backend, entity or DEFAULT_ENTITY, project)


@dataclass(frozen=True)
class _FakeReader:
    backend: FakeWandb
    entity: str
    project: str

    def use_artifact(self, qualified_name: str) -> StoredArtifact:
        return self.backend.artifact(qualified_name)

    def stored_files(self, artifact: StoredArtifact, paths: Sequence[str]) -> list[StoredFile]:
        return self.backend.stored_files(artifact, paths)

    def open_file(self, file: StoredFile) -> EntryStream:
        return self.backend.open_file(file)


class FakeWandbResource(WandbResource):
    """A :class:`WandbResource` whose clients talk to an in-memory :class:`FakeWandb`."""

    api_key: str = Field(default="fake-api-key", repr=False)
    backend_id: str

    def get_client(self) -> WandbClient:
        return FakeWandb.lookup(self.backend_id).client()


def _parse_registry_path(target_path: str) -> tuple[str | None, str, str]:
    parts = target_path.split("/")
    if len(parts) not in (2, 3) or not parts[-2].startswith("wandb-registry-"):
        raise ValueError(f"not a registry path: {target_path!r}")
    prefix = parts[0] if len(parts) == 3 else None
    return prefix, parts[-2].removeprefix("wandb-registry-"), parts[-1]


def _stored_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata as W&B stores it: the SDK's JSON form (NaN -> null, datetime -> ISO 8601,
    tuple -> list, numpy -> Python)."""
    from wandb.util import json_friendly_val

    stored: dict[str, Any] = json.loads(
        json.dumps(json_friendly_val(metadata), allow_nan=False, default=str)
    )
    return stored


def _settable_aliases(aliases: Sequence[str]) -> list[str]:
    """``aliases`` plus ``latest``, without ``v<number>`` ones: W&B manages those itself and
    ignores them when given."""
    return [a for a in dict.fromkeys([*aliases, "latest"]) if not _VERSION_ALIAS.fullmatch(a)]


def _check_alias(alias: str) -> None:
    """The W&B server's alias checks (characters and length)."""
    if "/" in alias or ":" in alias:  # the SDK's message
        raise ValueError("Aliases must not contain any of the following characters: '/', ':'")
    if not 1 <= len(alias) <= MAX_ALIAS_LENGTH:  # "an alias can be 1 to 128 characters long"
        raise ValueError(f"Invalid alias {alias!r}: aliases must be 1-128 characters")


def _check_name(name: str) -> None:
    if not ARTIFACT_NAME_PATTERN.match(name):
        raise ValueError(
            "Artifact name may only contain alphanumeric characters, dashes, underscores, "
            f"and dots. Invalid name: {name!r}"
        )


def _is_file_ref(ref: str | None) -> bool:
    return ref is not None and ref.startswith("file://")


def _referenced_file(entry: FakeEntry) -> Path:
    """The local file a ``file://`` reference names, checked like the SDK checks it."""
    if not _is_file_ref(entry.ref):
        raise ValueError(f"the fake does not fetch this reference: {entry.ref}")
    assert entry.ref is not None
    path = Path(url2pathname(urlsplit(entry.ref).path))
    if not path.is_file():
        raise ValueError(f"Local file reference: Failed to find file at path {str(path)!r}")
    if _md5_b64(path) != entry.digest:
        raise ValueError(f"Local file reference: Digest mismatch for path {str(path)!r}")
    return path


def _md5_b64(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


__all__ = [
    "FakeArtifact",
    "FakeArtifactVersion",
    "FakeArtifactsApi",
    "FakeRun",
    "FakeWandb",
    "FakeWandbClient",
    "FakeWandbResource",
]
