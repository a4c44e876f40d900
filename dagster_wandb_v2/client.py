"""The seam between the IO manager and W&B: a small protocol, and its wandb SDK implementation.

The IO manager never touches ``wandb`` globals; it asks a :class:`WandbClient` to start a
run, and the run to log and use artifacts. :class:`SdkWandbClient` does it with the real
wandb SDK; ``dagster_wandb_v2.testing.FakeWandbClient`` does it in memory, with the same
semantics, for unit tests.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from dagster_wandb_v2._modes import check_mode_stores
from dagster_wandb_v2._sdk_private import (
    draft_version_id,
    execute_graphql,
    make_artifact_caches_thread_safe,
    run_is_finished,
)
from dagster_wandb_v2.errors import (
    WandbArtifactNotFoundError,
    WandbAuthenticationError,
    WandbHostUnreachableError,
    WandbRunInUseError,
)

if TYPE_CHECKING:
    import urllib3
    import wandb

WANDB_CLOUD_HOST = "https://api.wandb.ai"


def app_url_for_host(host: str) -> str:
    """The web UI address for an API host: ``https://api.wandb.ai`` -> ``https://wandb.ai``.

    >>> app_url_for_host("https://api.wandb.ai")
    'https://wandb.ai'
    >>> app_url_for_host("http://127.0.0.1:8080/")
    'http://127.0.0.1:8080'
    """
    host = host.rstrip("/")
    if host == WANDB_CLOUD_HOST:
        return "https://wandb.ai"
    return host.replace("://api.", "://", 1) if "://api." in host else host


@dataclass(frozen=True)
class RetryPolicy:
    """How long the wandb SDK keeps retrying a failing request; ``None`` keeps its default.

    The SDK's defaults favour never losing data: GraphQL requests and file uploads are
    retried for many minutes, run history for days. Bound them when a failing W&B should
    fail the step quickly instead. Waits grow exponentially from 1 s up to
    ``wait_max_seconds``; the SDK counts in whole seconds.

    >>> RetryPolicy(max_retries=2, wait_max_seconds=1).sdk_settings()["x_graphql_retry_max"]
    2
    """

    max_retries: int | None = None
    wait_max_seconds: int | None = None
    timeout_seconds: int | None = None

    def sdk_settings(self) -> dict[str, Any]:
        """``wandb.Settings`` keyword arguments for the GraphQL, file transfer and run
        history clients of a run."""
        settings: dict[str, Any] = {}
        for client in ("graphql", "file_transfer", "file_stream"):
            if self.max_retries is not None:
                settings[f"x_{client}_retry_max"] = self.max_retries
            if self.wait_max_seconds is not None:
                settings[f"x_{client}_retry_wait_min_seconds"] = 1
                settings[f"x_{client}_retry_wait_max_seconds"] = self.wait_max_seconds
            if self.timeout_seconds is not None:
                settings[f"x_{client}_timeout_seconds"] = self.timeout_seconds
        return settings


@dataclass(frozen=True)
class RunSpec:
    """What the IO manager asks for when it opens its W&B run."""

    project: str
    run_id: str
    name: str
    entity: str | None = None
    tags: tuple[str, ...] = ()
    group: str | None = None
    directory: str | None = None
    shared_ids: tuple[str, ...] = ()
    """Ids of a run opened by asset code (``wandb.init(id=..., resume="allow")``) in the
    same project that this step may log to instead of opening its own (``run_id`` always)."""


class ArtifactEntry(Protocol):
    """One file of a logged artifact (``wandb.Artifact.get_entry`` returns one)."""

    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int | None:
        """Bytes of the stored file (``None`` when W&B does not say, e.g. references)."""
        ...

    def download(self, root: str | None = None) -> str: ...


class EntryStream(Protocol):
    """The bytes of one stored file as they arrive (an HTTP response body, an open file).

    ``read(size)`` returns at most ``size`` bytes, fewer only at the end, ``b""`` after it;
    it raises ``OSError`` (or the HTTP library's error) when the transfer fails midway.
    """

    def read(self, size: int) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class StoredFile:
    """A file W&B stores for a logged artifact, as W&B lists it (``wandb.Artifact.files``):
    found without fetching the artifact's manifest.

    ``path``: the entry's path in the artifact; ``size``: bytes; ``md5``: base64 MD5 of the
    bytes (W&B's digest of a stored entry); ``url``: where one ``GET`` fetches it (W&B's
    ``directUrl``: W&B's own host or a storage bucket's signed URL).

    Example::

        StoredFile("output.pickle", 1042, "sO24OGwJvvpG4Zzi3o3wbA==", "https://...")
    """

    path: str
    size: int
    md5: str
    url: str


class StoredArtifact(Protocol):
    """The part of a logged ``wandb.Artifact`` the IO manager reads from."""

    @property
    def id(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def metadata(self) -> dict[str, Any]: ...
    @property
    def manifest(self) -> Any: ...

    def download(self, root: str | None = None) -> str: ...
    def get(self, name: str) -> Any: ...
    def get_entry(self, name: str) -> ArtifactEntry: ...
    def verify(self, root: str | None = None) -> None: ...


class ArtifactReader(Protocol):
    """What reads need: artifacts of one W&B project, looked up by qualified name.

    A :class:`WandbRun` is one (``use_artifact`` records lineage); outside a step of a
    Dagster run, :meth:`WandbClient.artifact_reader` gives one without a run.
    """

    @property
    def entity(self) -> str: ...
    @property
    def project(self) -> str: ...

    def use_artifact(self, qualified_name: str) -> StoredArtifact:
        """Look up ``entity/project/name:alias``.

        Raises :class:`~dagster_wandb_v2.errors.WandbArtifactNotFoundError` if missing.
        """
        ...

    def stored_files(self, artifact: StoredArtifact, paths: Sequence[str]) -> list[StoredFile]:
        """Those of ``paths`` that ``artifact`` stores, in the order of ``paths``, with their
        size and MD5, without the manifest. W&B: one query, ``Artifact.files(names=paths)``;
        references (no stored bytes) and paths the artifact lacks are left out.
        """
        ...

    def open_file(self, file: StoredFile) -> EntryStream:
        """The bytes of a stored ``file`` as one stream, unchecked (the caller compares them
        with ``file.md5``). W&B: one HTTP ``GET`` of its ``directUrl``.

        Raises ``OSError`` if W&B does not serve it (an HTTP error status, an unreachable
        host).
        """
        ...


class WandbRun(ArtifactReader, Protocol):
    """An open W&B run; every artifact the IO manager logs or uses goes through it (an
    :class:`ArtifactReader` that records lineage)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def finished(self) -> bool:
        """Whether the run was finished (by asset code: ``run.finish()``, a ``with`` block)."""
        ...

    @property
    def handle(self) -> Any:
        """What asset code logs to: a ``wandb.Run`` (the fake's own run in the fake)."""
        ...

    def log_artifact(self, artifact: wandb.Artifact, aliases: Sequence[str]) -> StoredArtifact:
        """Log ``artifact`` with ``aliases`` and wait until W&B committed it."""
        ...

    def use_artifact(self, qualified_name: str) -> StoredArtifact:
        """Look up ``entity/project/name:alias`` and record that this run used it.

        Raises :class:`~dagster_wandb_v2.errors.WandbArtifactNotFoundError` if missing.
        """
        ...

    def use_logged_artifact(self, artifact: StoredArtifact) -> StoredArtifact:
        """Record that this run used ``artifact``, a version logged in this process.

        W&B's ``Run.use_artifact`` with the logged ``wandb.Artifact`` instead of its name:
        the same lineage, one lookup by name fewer.
        """
        ...

    def link_artifact(
        self, artifact: StoredArtifact, target_path: str, aliases: Sequence[str]
    ) -> str:
        """Link a logged version to a W&B Registry collection; returns its registry URL."""
        ...

    def finish(self, exit_code: int = 0) -> None: ...


class ArtifactVersion(Protocol):
    """A logged version looked up outside of any run (``wandb.Api().artifact``).

    As in the wandb SDK, changes to ``aliases``, ``description`` and ``metadata`` are local
    until ``save()``; an alias added here leaves the version of the collection holding it.
    """

    @property
    def id(self) -> str | None: ...
    @property
    def type(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def source_name(self) -> str:
        """``<collection>:vN``, however the version was looked up."""
        ...

    aliases: list[str]
    description: str | None
    metadata: dict[str, Any]

    @property
    def linked_artifacts(self) -> list[Any]:
        """The W&B Registry versions linking to this one (each has a ``qualified_name``)."""
        ...

    def save(self) -> None: ...
    def delete(self, delete_aliases: bool = False) -> None:
        """Delete the version; W&B refuses one with aliases unless ``delete_aliases``."""
        ...

    def link(self, target_path: str, aliases: list[str] | None = None) -> Any:
        """Link to a W&B Registry collection; returns the linked version (with a ``url``)."""
        ...


class WandbArtifactsApi(Protocol):
    """Logged versions outside of any run: W&B's public API (``wandb.Api``)."""

    @property
    def default_entity(self) -> str:
        """The entity of an artifact path without one (the API key's default entity)."""
        ...

    def artifact(self, path: str) -> ArtifactVersion:
        """The version ``entity/project/collection:alias|vN``.

        Raises :class:`~dagster_wandb_v2.errors.WandbArtifactNotFoundError` if missing.
        """
        ...

    def versions(self, path: str) -> list[ArtifactVersion]:
        """Every version of the collection ``entity/project/collection``, oldest first
        (empty when the collection does not exist)."""
        ...


class WandbClient(Protocol):
    """Starts W&B runs. The only door from the IO manager to W&B."""

    @property
    def app_url(self) -> str: ...

    def artifacts_api(self) -> WandbArtifactsApi:
        """W&B's public API for versions already logged (aliases, metadata, links, deletes)."""
        ...

    def start_run(self, spec: RunSpec) -> WandbRun:
        """Open (or resume, W&B ``resume="allow"``) the run ``spec`` describes.

        A run of ``spec.shared_ids`` already open in this process on the same project is
        used as is. Raises :class:`~dagster_wandb_v2.errors.WandbRunInUseError` when a run
        with the id is open elsewhere (another project): one process has one run per id.
        """
        ...

    def check_mode(self) -> None:
        """Raise :class:`~dagster_wandb_v2.errors.WandbConfigurationError` if runs would
        store nothing in W&B (the SDK's ``disabled`` or ``offline`` mode)."""
        ...

    def artifact_reader(self, entity: str | None, project: str) -> ArtifactReader:
        """Reads of ``entity/project`` (``None``: the API key's default entity) without a
        W&B run: for values loaded outside a step (``Definitions.load_asset_value``), which
        no Dagster step consumes, so no run is opened and W&B records no lineage."""
        ...


def entry_paths(artifact: StoredArtifact) -> list[str]:
    """The file paths stored in ``artifact`` (what ``get_path`` takes)."""
    entries: Mapping[str, Any] = artifact.manifest.entries
    return sorted(str(path) for path in entries)


def object_names(artifact: StoredArtifact) -> list[str]:
    """The names of the W&B objects stored in ``artifact`` (what ``get`` takes).

    W&B stores an object added as ``artifact.add(table, "Table")`` in the file
    ``Table.table.json``; ``get("Table")`` finds it by the object type's suffix. The
    suffixes come from the wandb SDK (``WBValue.with_suffix``), as in ``Artifact.get``.
    """
    from wandb.sdk.data_types.base_types.wb_value import WBValue

    suffixes = {wb_class.with_suffix("") for wb_class in WBValue.type_mapping().values()}
    names = set()
    for path in entry_paths(artifact):
        for suffix in suffixes:
            if suffix and path.endswith(suffix) and len(path) > len(suffix):
                names.add(path[: -len(suffix)])
    return sorted(names)


# --- the wandb SDK implementation -----------------------------------------------------


class SdkWandbClient:
    """:class:`WandbClient` over the real wandb SDK, authenticated without global login.

    Example::

        client = SdkWandbClient(api_key="...", host="https://api.wandb.ai")
        run = client.start_run(RunSpec(project="my_project", run_id="abc", name="abc"))
    """

    def __init__(
        self,
        api_key: str,
        host: str = WANDB_CLOUD_HOST,
        retry: RetryPolicy | None = None,
        api_key_source: str | None = None,
    ) -> None:
        self._api_key = api_key
        self._host = host.rstrip("/")
        self._retry = retry or RetryPolicy()
        self._api_key_source = api_key_source
        self._api: wandb.Api | None = None
        self._api_lock = threading.Lock()
        self._downloads: urllib3.PoolManager | None = None
        _watch_runs_finished_by_asset_code()
        make_artifact_caches_thread_safe()  # reads of several partitions run at once

    def __repr__(self) -> str:
        return f"SdkWandbClient(host={self._host!r})"

    @property
    def app_url(self) -> str:
        return app_url_for_host(self._host)

    def settings(self) -> wandb.Settings:
        """Settings for runs of the IO manager: quiet, no system metrics, no code capture,
        and the retry policy."""
        import wandb

        return wandb.Settings(
            base_url=self._host,
            silent=True,
            console="off",
            disable_git=True,
            disable_code=True,
            save_code=False,
            x_disable_stats=True,
            x_disable_machine_info=True,
            x_save_requirements=False,
            **sdk_auth_settings(self._api_key, self._host),
            **self._retry.sdk_settings(),
        )

    def api(self) -> wandb.Api:
        """This client's ``wandb.Api``: one for the client's life, shared by its threads.

        Each ``wandb.Api`` opens its own session in wandb-core, with its own pool of
        idle HTTP connections, so one per call made a pipeline hold hundreds of
        connections. Sharing is safe: the SDK (0.31) sends every request of the public
        API through its service connection's mailbox, made for concurrent callers, and
        ``wandb.Api(api_key=...)`` opens that session before it returns.
        """
        with self._api_lock:
            if self._api is None:
                import wandb

                self._api = wandb.Api(api_key=self._api_key, overrides={"base_url": self._host})
            return self._api

    def downloads(self) -> urllib3.PoolManager:
        """This client's HTTP connection pool for signed URLs (thread-safe, keeps up to
        :data:`DOWNLOAD_CONNECTIONS_PER_HOST` connections per host for the next downloads,
        so concurrent reads discard none), retrying as :func:`download_retries` says."""
        with self._api_lock:
            if self._downloads is None:
                import urllib3

                self._downloads = urllib3.PoolManager(
                    num_pools=DOWNLOAD_CONNECTIONS_PER_HOST,
                    maxsize=DOWNLOAD_CONNECTIONS_PER_HOST,
                    retries=download_retries(self._retry),
                )
            return self._downloads

    def stored_files(self, artifact: StoredArtifact, paths: Sequence[str]) -> list[StoredFile]:
        """Those of ``paths`` that a logged ``artifact`` stores: one GraphQL query of W&B's
        ``Artifact.files(names: ...)`` (:data:`STORED_FILES_QUERY`), no manifest.
        References, whose files W&B lists without an MD5, are left out.

        The SDK's ``Artifact.files(names=...)`` asks the same, but its first call in a
        process imports its pagination models (about 0.2 s), more than the manifest it
        saves; a step process reading one payload would pay it every time.
        """
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return []
        if not artifact.id:
            raise ValueError(f"artifact '{artifact.name}' has no W&B id: it was not logged")
        variables = {"id": artifact.id, "names": wanted, "first": len(wanted)}
        data = execute_graphql(self.api(), STORED_FILES_QUERY, variables)
        listed = ((data.get("artifact") or {}).get("files") or {}).get("edges") or []
        found: dict[str, StoredFile] = {}
        for edge in listed:
            node = edge.get("node") or {}
            name = str(node.get("displayName") or node.get("name") or "")
            md5, url = str(node.get("md5") or ""), str(node.get("directUrl") or "")
            if name in wanted and md5 and url:
                found[name] = StoredFile(name, int(node.get("sizeBytes") or 0), md5, url)
        return [found[path] for path in wanted if path in found]

    def open_file(self, file: StoredFile) -> EntryStream:
        """One streamed HTTP ``GET`` of ``file.url`` through :meth:`downloads`. The API key
        goes along only to this client's own W&B host (a file served by W&B itself), never
        to a storage bucket's signed URL.

        Raises ``OSError`` on an HTTP error status.
        """
        import urllib3

        headers = {"Accept-Encoding": "identity"}
        if _same_origin(file.url, self._host):
            headers.update(urllib3.make_headers(basic_auth=f"api:{self._api_key}"))
        read_timeout = float(self._retry.timeout_seconds or _ENTRY_READ_TIMEOUT_SECONDS)
        response = self.downloads().request(
            "GET",
            file.url,
            headers=headers,
            preload_content=False,
            decode_content=False,
            timeout=urllib3.Timeout(connect=_ENTRY_CONNECT_TIMEOUT_SECONDS, read=read_timeout),
        )
        if response.status != 200:
            response.close()
            response.release_conn()
            raise OSError(f"W&B answered HTTP {response.status} to the download of '{file.path}'")
        return _ResponseStream(response)

    def artifacts_api(self) -> WandbArtifactsApi:
        try:
            api = self.api()
        except Exception as error:
            raise explain_sdk_error(
                error,
                host=self._host,
                retry=self._retry,
                api_key=self._api_key,
                api_key_source=self._api_key_source,
            ) from error
        return SdkArtifactsApi(api)

    def start_run(self, spec: RunSpec) -> WandbRun:
        import wandb

        from dagster_wandb_v2._reachability import check_reachable

        # A run of a shared id that asset code opened and finished (a ``with`` block) is
        # the one to resume: its metrics are there.
        finished = [
            run_id
            for run_id in spec.shared_ids
            if self._matches(_FINISHED_BY_ASSET_CODE.get(run_id), spec)
        ]
        _warn_of_runs_elsewhere(self, spec)
        self.check_mode()
        arguments: dict[str, Any] = dict(
            id=finished[0] if finished else spec.run_id,
            name=spec.name,
            project=spec.project,
            entity=spec.entity,
            tags=list(spec.tags),
            group=spec.group,
            dir=spec.directory,
            resume="allow",
            settings=self.settings(),
        )
        check_reachable(self._host, self._retry)
        try:
            # No run open: this one becomes ``wandb.run``, so ``wandb.log`` and a later
            # ``wandb.init(id=..., resume="allow")`` in asset code reach it (the SDK's
            # "return_previous"). A run already open is returned instead of a new one.
            run = wandb.init(reinit="return_previous", **arguments)
            if run in _OPENED_HERE or not self._may_share(run, spec):  # another's run
                run = wandb.init(reinit="create_new", **arguments)
        except Exception as error:
            if "is in use" in str(error):
                raise WandbRunInUseError(spec.run_id, spec.project, str(error)) from error
            raise explain_sdk_error(
                error,
                host=self._host,
                retry=self._retry,
                api_key=self._api_key,
                api_key_source=self._api_key_source,
            ) from error
        _OPENED_HERE.add(run)
        if finished:  # resumed for this step; another step's run must not take it too
            _FINISHED_BY_ASSET_CODE.pop(finished[0], None)
        return _SdkRun(run, self)

    def check_mode(self) -> None:
        check_mode_stores("WandbArtifactsIOManager")

    def artifact_reader(self, entity: str | None, project: str) -> ArtifactReader:
        from dagster_wandb_v2._reachability import check_reachable

        check_reachable(self._host, self._retry)
        try:
            api = self.api()
            entity = entity or str(api.default_entity)
        except Exception as error:
            raise self._explained(error) from error
        return _ApiReader(api, entity, project, self)

    def _explained(self, error: Exception) -> Exception:
        return explain_sdk_error(
            error,
            host=self._host,
            retry=self._retry,
            api_key=self._api_key,
            api_key_source=self._api_key_source,
        )

    def _may_share(self, run: wandb.Run, spec: RunSpec) -> bool:
        """Whether ``run``, opened by asset code, is the run ``spec`` asks for.

        Raises :class:`WandbRunInUseError` if it has the id but another location.
        """
        if run.id not in {spec.run_id, *spec.shared_ids}:
            return False
        check_mode_stores(
            f"WandbArtifactsIOManager (W&B run '{run.id}', opened by asset code)",
            str(run.settings.mode),
            "wandb.init(mode=...) or the settings asset code passed; open it online, or "
            "log to dagster_wandb_v2.step_run(context)",
        )
        location = _location_of(run)
        if not self._matches(location, spec):
            raise WandbRunInUseError(
                run.id, spec.project, f"asset code opened it in '{'/'.join(location)}'"
            )
        return True

    def _matches(self, location: tuple[str, str, str] | None, spec: RunSpec) -> bool:
        """Whether a run at ``location`` (host, entity, project) is where ``spec`` is."""
        if location is None:
            return False
        host, entity, project = location
        return (
            host == self._host
            and project == spec.project
            and (spec.entity is None or entity == spec.entity)
        )


def _warn_of_runs_elsewhere(client: SdkWandbClient, spec: RunSpec) -> None:
    """Warn when asset code finished a run with the step run's id in another project.

    ``with wandb.init(id=context.run.run_id, resume="allow")`` without ``project=`` (and
    no ``WANDB_PROJECT``) logs to W&B's ``uncategorized`` project; the run is finished
    before the IO manager opens its own, so nothing fails, but the metrics and the
    artifacts end up in two runs.
    """
    for run_id in dict.fromkeys([spec.run_id, *spec.shared_ids]):
        location = _FINISHED_BY_ASSET_CODE.get(run_id)
        if location is not None and not client._matches(location, spec):
            warnings.warn(
                f"asset code logged to W&B run '{run_id}' in '{'/'.join(location[1:])}', but "
                f"the IO manager logs the step's artifacts to project '{spec.project}': the "
                "metrics and the artifacts are in two runs. Pass "
                f'project="{spec.project}" to wandb.init, or use '
                "dagster_wandb_v2.step_run(context)",
                UserWarning,
                stacklevel=2,
            )


def _location_of(run: wandb.Run) -> tuple[str, str, str]:
    base_url = str(getattr(run.settings, "base_url", "") or "").rstrip("/")
    return base_url, str(run.entity), str(run.project)


_OPENED_HERE: weakref.WeakSet[Any] = weakref.WeakSet()
"""Runs this process opened for the IO manager (the rest were opened by asset code)."""

_FINISHED_BY_ASSET_CODE: dict[str, tuple[str, str, str]] = {}
"""Id -> (host, entity, project) of the runs asset code finished in this process."""


def _remember_run_finished_by_asset_code() -> None:
    """The SDK's ``on_finished`` hook: ``wandb.run`` is the run being finished."""
    import wandb

    run = wandb.run
    if run is not None and run not in _OPENED_HERE:
        _FINISHED_BY_ASSET_CODE[str(run.id)] = _location_of(run)


def _watch_runs_finished_by_asset_code() -> None:
    """Register :func:`_remember_run_finished_by_asset_code` once per process.

    Under the multiprocess executor, a ``with wandb.init(id=<run id>, resume="allow")``
    block in asset code ends before the IO manager opens the step's run; this is how the
    IO manager learns to resume that run. ``wandb.trigger`` is an SDK module without
    a stability promise: without it, the step opens its own run as before.
    """
    try:
        from wandb import trigger

        with _WATCH_LOCK:  # unregister first: registered once, through public calls only
            with contextlib.suppress(KeyError, ValueError):
                trigger.unregister("on_finished", _remember_run_finished_by_asset_code)
            trigger.register("on_finished", _remember_run_finished_by_asset_code)
    except Exception:
        pass


_WATCH_LOCK = threading.Lock()


def run_path(run: Any) -> str:
    """``entity/project/run_id`` of a ``wandb.Run`` (a ``str``) or of a public API run
    (``wandb.apis.public.Run.path`` is a list of the three parts).

    >>> run_path(type("R", (), {"path": ["e", "p", "id"]})())
    'e/p/id'
    """
    path = run.path
    if isinstance(path, str):
        return path
    return "/".join(str(part) for part in path)


def sdk_auth_settings(api_key: str, host: str) -> dict[str, Any]:
    """``wandb.Settings`` keyword arguments that make a run use ``api_key`` on ``host``.

    ``wandb.init`` with an explicit ``api_key`` replaces the SDK's process-wide session
    credentials, and as these have no equality, it warns "Changing session credentials"
    on every ``wandb.init`` after the first, even with the same key. When the session
    already holds this key for this host, the key is left out and the SDK uses the
    session's (the same key): nothing is replaced, nothing is printed.
    """
    try:
        from wandb.sdk.lib import wbauth
    except ImportError:  # wandb < 0.31: no session credentials to compare with
        return {"api_key": api_key}
    current = wbauth.session_credentials(host=host)
    if isinstance(current, wbauth.AuthApiKey) and current.api_key == api_key:
        return {}
    return {"api_key": api_key}


_UNREACHABLE_MARKERS = (
    "context deadline exceeded",
    "giving up after",
    "connection refused",
    "no such host",
    "network is unreachable",
    "i/o timeout",
)


def explain_sdk_error(
    error: Exception, *, host: str, retry: RetryPolicy, api_key: str, api_key_source: str | None
) -> Exception:
    """The error to raise for a failed wandb SDK call, in the user's terms.

    - network failures (``context deadline exceeded``, ``connection refused``...): a
      :class:`WandbHostUnreachableError` naming the host and the ``WandbResource`` retry
      settings;
    - HTTP 401 (``returned error 401``, or a bare ``CommError`` while ``api_key`` fails
      verification): a :class:`WandbAuthenticationError` naming the
      host and ``api_key_source`` (a variable's name, never the key);
    - anything else: ``error`` itself.
    """
    from dagster_wandb_v2._reachability import retry_settings

    text = str(error)
    if any(marker in text.lower() for marker in _UNREACHABLE_MARKERS):
        return WandbHostUnreachableError(
            f"the W&B host {host} did not answer in time ({text}); check WandbResource.host "
            "(or the WANDB_BASE_URL environment variable) and the network; retries are "
            f"bounded by {retry_settings(retry)}"
        )
    if "API key must have" in text:  # the SDK's length check, before any request
        return WandbAuthenticationError(
            f"the API key from {api_key_source or 'WandbResource.api_key'} is not a W&B API "
            f"key ({text}): check the variable's value"
        )
    if _is_rejected_key(error) or _key_fails_verification(api_key, host, retry):
        return WandbAuthenticationError(
            f"the W&B host {host} rejected the API key from "
            f"{api_key_source or 'WandbResource.api_key'} (HTTP 401): check that the key is "
            "valid and belongs to this host (a key of one W&B server, the public cloud "
            "included, is not valid on another)"
            + (f". W&B said: {text}" if text and text != "<no message>" else "")
        )
    return error


def _is_rejected_key(error: Exception) -> bool:
    """HTTP 401 in the SDK's message (its ``AuthenticationError`` also means "unreachable")."""
    return bool(re.search(r"\berror 401\b|\b401 Unauthorized\b", str(error)))


def _key_fails_verification(api_key: str, host: str, retry: RetryPolicy) -> bool:
    """Whether ``host`` rejects ``api_key`` (asked after a failure the SDK left unexplained,
    e.g. ``wandb.init``'s bare ``CommError`` when creating the run gets HTTP 401)."""
    import wandb

    try:
        wandb.Api(api_key=api_key, overrides={"base_url": host}, timeout=retry.timeout_seconds)
    except Exception as error:
        return _is_rejected_key(error)
    return False


STORED_FILES_QUERY = """
query StoredArtifactFiles($id: ID!, $names: [String!], $first: Int) {
  artifact(id: $id) {
    files(names: $names, first: $first) {
      edges { node { name displayName sizeBytes md5 directUrl } }
    }
  }
}
"""
"""W&B's files of one artifact version, by path (``Artifact.files``; wandb-core lists an
artifact's file URLs the same way, ``core/api/graphql/query_artifact_file_urls.graphql``)."""


DOWNLOAD_CONNECTIONS_PER_HOST = 64
"""Connections kept per host (and hosts kept) by the file download pool: the wandb SDK's
for artifact files (``HTTP_POOL_MAXSIZE``, ``HTTP_POOL_CONNECTIONS`` in
``wandb.sdk.artifacts.storage_policies._factories``). urllib3's default of one per host
would discard, with a warning, every connection but one of concurrent reads."""


RETRIED_DOWNLOAD_STATUSES = (308, 408, 409, 429, 500, 502, 503, 504)
"""HTTP statuses a file download is retried on: the wandb SDK's for artifact files
(``wandb.sdk.artifacts.storage_policies._factories.make_http_session``)."""


def download_retries(policy: RetryPolicy) -> urllib3.Retry:
    """How a file download is retried: as the wandb SDK retries artifact files (16 times,
    waits doubling from 0 s then 2 s up to 120 s, on :data:`RETRIED_DOWNLOAD_STATUSES` and
    failed connections), bounded by ``policy`` (``max_retries``, ``wait_max_seconds``).

    >>> download_retries(RetryPolicy(max_retries=2)).total
    2
    """
    import urllib3

    settings: dict[str, Any] = {
        "total": 16 if policy.max_retries is None else policy.max_retries,
        "backoff_factor": 1,
        "status_forcelist": RETRIED_DOWNLOAD_STATUSES,
        "raise_on_status": False,  # the last answer comes back, and its status is reported
    }
    try:  # urllib3 2: waits capped at wait_max_seconds (1.26 caps them at 120 s)
        return urllib3.Retry(**settings, backoff_max=float(policy.wait_max_seconds or 120))
    except TypeError:
        return urllib3.Retry(**settings)


_ENTRY_CONNECT_TIMEOUT_SECONDS = 30.0
_ENTRY_READ_TIMEOUT_SECONDS = 120.0
"""How long a streamed entry download waits for the next bytes before it fails."""


def _same_origin(url: str, host: str) -> bool:
    """Whether ``url`` is served by the W&B host ``host`` (scheme, host and port; a port
    left out is the scheme's default, as in RFC 6454 origins).

    >>> _same_origin("http://127.0.0.1:8080/blobs/ab?sig=1", "http://127.0.0.1:8080")
    True
    >>> _same_origin("https://wandb.example.com:443/artifacts/x", "https://wandb.example.com")
    True
    >>> _same_origin("https://bucket.s3.amazonaws.com/x", "https://api.wandb.ai")
    False
    """
    return _origin(url) == _origin(host)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str | None, str | None, int | None]:
    """``(scheme, host, port)`` of ``url``, lower-case, with the scheme's default port."""
    import urllib3

    parsed = urllib3.util.parse_url(url)
    scheme = (parsed.scheme or "").lower() or None
    port = parsed.port or _DEFAULT_PORTS.get(scheme or "")
    return scheme, (parsed.host or "").lower() or None, port


class _ResponseStream:
    """:class:`EntryStream` over a streamed ``urllib3`` response: raw bytes (decoded only
    if the server encoded them anyway); its connection goes back to the pool when read to
    the end, and is closed otherwise."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        encoding = str(response.headers.get("Content-Encoding", "identity")).lower()
        self._decode = encoding not in ("", "identity")
        self._ended = False

    def read(self, size: int) -> bytes:
        data = self._response.read(size, decode_content=self._decode)
        self._ended = self._ended or not data
        return data

    def close(self) -> None:
        if not self._ended:
            self._response.close()  # unread bytes: the connection cannot serve another
        self._response.release_conn()


class _ApiReader:
    """:class:`ArtifactReader` over ``wandb.Api``: looks artifacts up, records no lineage."""

    def __init__(self, api: wandb.Api, entity: str, project: str, client: SdkWandbClient):
        self._api = api
        self.entity = entity
        self.project = project
        self._client = client

    def use_artifact(self, qualified_name: str) -> StoredArtifact:
        try:
            return cast(StoredArtifact, self._api.artifact(qualified_name))
        except Exception as error:
            if _exists(self._api, qualified_name) is False:
                raise WandbArtifactNotFoundError(qualified_name) from error
            raise self._client._explained(error) from error

    def stored_files(self, artifact: StoredArtifact, paths: Sequence[str]) -> list[StoredFile]:
        return self._client.stored_files(artifact, paths)

    def open_file(self, file: StoredFile) -> EntryStream:
        return self._client.open_file(file)


def _exists(api: wandb.Api, qualified_name: str) -> bool | None:
    """Whether W&B has ``qualified_name`` (``None``: it could not say)."""
    try:
        return bool(api.artifact_exists(qualified_name))
    except Exception:
        return None


class SdkArtifactsApi:
    """:class:`WandbArtifactsApi` over a ``wandb.Api``."""

    def __init__(self, api: wandb.Api) -> None:
        self._api = api

    @property
    def default_entity(self) -> str:
        return str(self._api.default_entity)

    def artifact(self, path: str) -> ArtifactVersion:
        try:
            return cast(ArtifactVersion, self._api.artifact(path))
        except Exception as error:
            if self._exists(path) is False:
                raise WandbArtifactNotFoundError(path) from error
            raise

    def _exists(self, path: str) -> bool | None:
        return _exists(self._api, path)

    def versions(self, path: str) -> list[ArtifactVersion]:
        artifact_type = self._type_of(path)
        if artifact_type is None:
            return []
        versions = [cast(ArtifactVersion, v) for v in self._api.artifacts(artifact_type, path)]
        return sorted(versions, key=lambda version: int(version.version[1:]))

    def _type_of(self, path: str) -> str | None:
        """The type of collection ``path`` (W&B lists versions by type and name)."""
        if self._exists(f"{path}:latest"):
            return str(self._api.artifact(f"{path}:latest").type)
        entity, project, _ = path.split("/")
        for artifact_type in self._api.artifact_types(project=f"{entity}/{project}"):
            if self._api.artifact_collection_exists(path, str(artifact_type.name)):
                return str(artifact_type.name)
        return None


class _SdkRun:
    def __init__(self, run: wandb.Run, client: SdkWandbClient) -> None:
        self._run = run
        self._client = client

    id = property(lambda self: str(self._run.id))
    entity = property(lambda self: str(self._run.entity))
    project = property(lambda self: str(self._run.project))
    path = property(lambda self: run_path(self._run))
    handle = property(lambda self: self._run)

    @property
    def name(self) -> str:
        return str(self._run.name or self._run.id)  # the SDK's name is None until set

    @property
    def url(self) -> str:
        url = self._run.url  # None for offline runs
        if url:
            return str(url)
        return f"{self._client.app_url}/{self.entity}/{self.project}/runs/{self.id}"

    @property
    def finished(self) -> bool:
        return run_is_finished(self._run)

    def log_artifact(self, artifact: wandb.Artifact, aliases: Sequence[str]) -> StoredArtifact:
        logged = self._run.log_artifact(artifact, aliases=list(aliases))
        logged.wait()
        return cast(StoredArtifact, logged)

    def use_artifact(self, qualified_name: str) -> StoredArtifact:
        try:
            return cast(StoredArtifact, self._run.use_artifact(qualified_name))
        except Exception as error:
            if self._exists(qualified_name) is False:
                raise WandbArtifactNotFoundError(qualified_name) from error
            raise

    def use_logged_artifact(self, artifact: StoredArtifact) -> StoredArtifact:
        return cast(StoredArtifact, self._run.use_artifact(cast(Any, artifact)))

    def stored_files(self, artifact: StoredArtifact, paths: Sequence[str]) -> list[StoredFile]:
        return self._client.stored_files(artifact, paths)

    def open_file(self, file: StoredFile) -> EntryStream:
        return self._client.open_file(file)

    def _exists(self, qualified_name: str) -> bool | None:
        try:
            return _exists(self._client.api(), qualified_name)
        except Exception:
            return None

    def link_artifact(
        self, artifact: StoredArtifact, target_path: str, aliases: Sequence[str]
    ) -> str:
        linked = cast(Any, artifact).link(target_path, aliases=list(aliases))
        try:
            return str(linked.url)
        except Exception:  # older SDKs return nothing, or no URL for links
            registry, _, collection = target_path.rpartition("/")
            return f"{self._client.app_url}/registry/{registry.split('wandb-registry-')[-1]}" + (
                f"?selectionPath={collection}"
            )

    def finish(self, exit_code: int = 0) -> None:
        self._run.finish(exit_code=exit_code)

    # --- distributed artifacts (see dagster_wandb_v2.distributed) --------------------

    def upsert_artifact(
        self, artifact: wandb.Artifact, aliases: Sequence[str], distributed_id: str
    ) -> str:
        """``wandb.Run.upsert_artifact``: add ``artifact``'s files to the draft version
        that ``distributed_id`` builds; returns the draft version's id once W&B has them."""
        upserted = self._run.upsert_artifact(
            artifact, aliases=list(aliases), distributed_id=distributed_id
        )
        upserted.wait()
        return draft_version_id(upserted)

    def draft_entries(self, draft_id: str) -> list[str]:
        """The entry paths of a draft (uncommitted) version: its merged manifest."""
        data = self._graphql(_DRAFT_MANIFEST_QUERY, {"id": draft_id})
        artifact = data.get("artifact") or {}
        manifest = artifact.get("currentManifest") or {}
        url = (manifest.get("file") or {}).get("directUrl")
        if not url:
            return []
        import json

        response = self._client.downloads().request("GET", url, timeout=60.0)  # signed URL
        if response.status != 200:
            raise RuntimeError(
                f"W&B answered HTTP {response.status} to the download of draft {draft_id}'s "
                "manifest"
            )
        contents = json.loads(response.data).get("contents") or {}
        return sorted(str(path) for path in contents)

    def commit_draft(self, draft_id: str) -> StoredArtifact:
        """Commit a draft version (W&B ``CommitArtifact``; committing twice is harmless)
        and return it as logged."""
        data = self._graphql(_COMMIT_ARTIFACT_MUTATION, {"id": draft_id})
        committed = (data.get("commitArtifact") or {}).get("artifact") or {}
        index = committed.get("versionIndex")
        sequence = committed.get("artifactSequence") or {}
        name = sequence.get("name")
        if index is None or not name:
            raise RuntimeError(f"W&B did not commit the draft version {draft_id}: {data}")
        path = f"{self.entity}/{self.project}/{name}:v{index}"
        return cast(StoredArtifact, self._client.api().artifact(path))

    def latest_version(self, name: str) -> StoredArtifact | None:
        """The ``latest`` committed version of ``name`` in the run's project, looked up
        without recording the run as its user (``None``: there is none, or W&B could not
        say)."""
        try:
            return cast(
                StoredArtifact,
                self._client.api().artifact(f"{self.entity}/{self.project}/{name}:latest"),
            )
        except Exception:
            return None

    def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        # The public API has no call for draft versions (see ``_sdk_private``).
        return execute_graphql(self._client.api(), query, variables)


_DRAFT_MANIFEST_QUERY = """
query DagsterWandbDraftManifest($id: ID!) {
  artifact(id: $id) { id state currentManifest { file { directUrl } } }
}
"""

_COMMIT_ARTIFACT_MUTATION = """
mutation DagsterWandbCommitArtifact($id: ID!) {
  commitArtifact(input: {artifactID: $id}) {
    artifact { id state versionIndex artifactSequence { name } }
  }
}
"""
