"""Read strategies: what an input receives from a W&B artifact.

- ``get``: the named W&B object inside the artifact (e.g. a ``wandb.Table``);
- ``get_path``: one file, downloaded, as a local path;
- neither: the serialized Python object if the artifact holds one, otherwise the
  ``wandb.Artifact`` itself, downloaded and verified.

Every read goes through the step's W&B run (``use_artifact``), so W&B records lineage, and
through the local cache, so content already on this machine is not downloaded again.

Example::

    value = read_artifact(run, cache, "me/proj/my_dataset:latest", PartitionReadSpec(), loc)
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast

from dagster_wandb_v2._location import Location
from dagster_wandb_v2.cache import (
    PAYLOADS,
    ArtifactCache,
    CacheIntegrityError,
    HashedFile,
    entry_md5,
)
from dagster_wandb_v2.client import (
    ArtifactEntry,
    ArtifactReader,
    StoredArtifact,
    StoredFile,
    entry_paths,
    object_names,
)
from dagster_wandb_v2.config import CONFIG_KEY, PartitionReadSpec
from dagster_wandb_v2.errors import (
    WandbArtifactsIOManagerError,
    WandbSerializationError,
)
from dagster_wandb_v2.serialization import (
    MODULES,
    SIGNATURE_METADATA_KEY,
    SerializationModule,
    verify_payload,
)
from dagster_wandb_v2.streamed_read import UNPICKLE_WHILE_RECEIVING_MIN_BYTES, Received, receive


def read_artifact(
    run: ArtifactReader,
    cache: ArtifactCache,
    qualified_name: str,
    spec: PartitionReadSpec,
    location: Location,
    signing_key: str | None = None,
    use_logged: Callable[[], StoredArtifact] | None = None,
    unpickle_from_bytes: int = UNPICKLE_WHILE_RECEIVING_MIN_BYTES,
) -> Any:
    """Look up ``qualified_name`` through ``run`` and return what ``spec`` asks for.

    ``run`` is the step's W&B run (W&B records it as a user of the artifact), or a reader
    without a run for values loaded outside a step. ``use_logged``: when the version
    ``qualified_name`` names was logged earlier in this process, records its use without
    a lookup by name (:meth:`WandbRun.use_logged_artifact`).

    A payload or a ``get_path`` file that W&B stores is found without the manifest (one
    query, :meth:`ArtifactReader.stored_files`) and received as one stream into the cache,
    hashed meanwhile (:mod:`.streamed_read`); an unsigned payload of ``unpickle_from_bytes``
    bytes or more is unpickled while it arrives.

    With ``signing_key``, a serialized payload is unpickled only if its signature matches.
    """
    try:
        artifact = use_logged() if use_logged else run.use_artifact(qualified_name)
    except WandbArtifactsIOManagerError:  # e.g. not found: the caller knows what to check
        raise
    except Exception as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: could not read W&B artifact '{qualified_name}' (use_artifact): {error}"
        ) from error
    if spec.get is not None:
        return _get_object(artifact, spec.get, location, cache)
    if spec.get_path is not None:
        return str(_get_file(run, artifact, cache, spec.get_path, location))
    return _whole(run, artifact, cache, signing_key, location, unpickle_from_bytes)


def _get_object(
    artifact: StoredArtifact, name: str, location: Location, cache: ArtifactCache
) -> Any:
    _manifest_entries(artifact, location)  # fetched here, so that its failures say so
    try:
        with _sdk_downloads_in(cache.sdk_download_dir()):
            value = artifact.get(name)
    except Exception as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: could not read the W&B object '{name}' of artifact "
            f"'{artifact.name}' (get): {error}"
        ) from error
    if value is None:
        raise WandbArtifactsIOManagerError(
            f"{location}: {CONFIG_KEY}.get: no W&B object named '{name}' in artifact "
            f"'{artifact.name}'. {_contents_hint(artifact, name, 'get')}"
        )
    return value


_ENVIRONMENT_LOCK = threading.Lock()


@contextmanager
def _sdk_downloads_in(directory: Path) -> Iterator[None]:
    """Make the SDK's own downloads (``Artifact.get`` takes no root) land in ``directory``.

    Without it, ``get`` of a Table writes ``./artifacts/...`` into the working directory.
    A ``WANDB_ARTIFACT_DIR`` the user set is respected.
    """
    with _ENVIRONMENT_LOCK:
        if "WANDB_ARTIFACT_DIR" in os.environ:
            yield
            return
        os.environ["WANDB_ARTIFACT_DIR"] = str(directory)
        try:
            yield
        finally:
            os.environ.pop("WANDB_ARTIFACT_DIR", None)


def _get_file(
    reader: ArtifactReader,
    artifact: StoredArtifact,
    cache: ArtifactCache,
    path: str,
    location: Location,
) -> Path:
    stored = _stored_files(reader, artifact, [path], location)
    if stored:
        return _cached_file(reader, artifact, cache, stored[0], location)[0]
    # Not a stored file: a reference (the SDK fetches it), or not in the artifact at all.
    _manifest_entries(artifact, location)  # fetched here, so that its failures say so
    try:
        entry = artifact.get_entry(path)
    except KeyError:
        raise WandbArtifactsIOManagerError(
            f"{location}: {CONFIG_KEY}.get_path: no file '{path}' in artifact "
            f"'{artifact.name}'. {_contents_hint(artifact, path, 'get_path')}"
        ) from None
    return _cached_entry(artifact, cache, entry, location)


def _stored_files(
    reader: ArtifactReader, artifact: StoredArtifact, paths: list[str], location: Location
) -> list[StoredFile]:
    """:meth:`ArtifactReader.stored_files`; a failure raises
    :class:`WandbArtifactsIOManagerError` naming the asset and the artifact."""
    try:
        return reader.stored_files(artifact, paths)
    except Exception as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: could not list the files of W&B artifact '{artifact.name}' "
            f"(Artifact.files): {error}"
        ) from error


def _manifest_entries(artifact: StoredArtifact, location: Location) -> Mapping[str, Any]:
    """The entries of ``artifact``'s manifest (path -> entry, not copied), which the SDK
    fetches on first use (a query and a download) and keeps; a failure raises
    :class:`WandbArtifactsIOManagerError` naming the asset and the artifact."""
    try:
        return cast(Mapping[str, Any], artifact.manifest.entries)
    except Exception as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: could not read the manifest of W&B artifact '{artifact.name}': {error}"
        ) from error


def _cached_entry(
    artifact: StoredArtifact, cache: ArtifactCache, entry: ArtifactEntry, location: Location
) -> Path:
    """One manifest entry, from the cache or downloaded into it by the SDK, at
    ``<...>/<entry path>`` (what :func:`_cached_file` cannot fetch: references)."""
    try:
        return cache.blob(
            _entry_digest(artifact, entry),
            str(entry.path),
            lambda directory: _downloaded(entry, directory, artifact.name, location),
            expected_md5=entry_md5(entry),
        )
    except CacheIntegrityError as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: W&B artifact '{artifact.name}': {error}; not cached, try again"
        ) from None


def _cached_file(
    reader: ArtifactReader,
    artifact: StoredArtifact,
    cache: ArtifactCache,
    file: StoredFile,
    location: Location,
    load: Callable[[Any], Any] | None = None,
) -> tuple[Path, Received | None]:
    """A stored file, from the cache or received into it as one stream (one ``GET``,
    hashed meanwhile, checked against W&B's MD5 before it enters the cache), at
    ``<...>/<file path>``; with ``load``, also what it returned for the bytes as they
    arrived (``None`` on a cache hit: load the cached file). The value comes back only
    once the MD5 matched."""
    received: list[Received] = []

    def receive_into(directory: Path) -> HashedFile:
        target = directory / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = receive(reader.open_file(file), target, load)
        except Exception as error:
            raise WandbArtifactsIOManagerError(
                f"{location}: could not download '{file.path}' of W&B artifact "
                f"'{artifact.name}': {error}; nothing was cached, try again"
            ) from error
        received.append(result)
        return HashedFile(target, result.md5)

    try:
        cached = cache.blob(file.md5, file.path, receive_into, expected_md5=file.md5)
    except CacheIntegrityError as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: W&B artifact '{artifact.name}': {error}; not cached, try again"
        ) from None
    return cached, received[0] if received else None


def _entry_digest(artifact: StoredArtifact, entry: ArtifactEntry) -> str:
    """The cache key of one entry: its W&B digest, or the artifact's and its path."""
    return str(getattr(entry, "digest", "") or f"{artifact.digest}-{entry.path}")


def _whole(
    reader: ArtifactReader,
    artifact: StoredArtifact,
    cache: ArtifactCache,
    signing_key: str | None,
    location: Location,
    unpickle_from_bytes: int = UNPICKLE_WHILE_RECEIVING_MIN_BYTES,
) -> Any:
    # A payload already cached under the artifact's digest needs no request: a re-read,
    # or a read where the artifact was written.
    cached = next(
        (
            (m, path)
            for m in MODULES.values()
            if (path := cache.blob_path(artifact.digest, m.file_name, PAYLOADS)) is not None
        ),
        None,
    )
    if cached is not None:
        module, payload = cached
    else:
        stored = _stored_files(reader, artifact, [m.file_name for m in MODULES.values()], location)
        if not stored:
            return _whole_unlisted(artifact, cache, signing_key, location)
        file = stored[0]
        module = next(m for m in MODULES.values() if m.file_name == file.path)
        # Unpickled while it arrives if large, unless it must be verified first (a signing
        # key) or its loader needs a file it can seek in.
        streams = module.loads_from_stream and not signing_key
        load = module.load_file if streams and file.size >= unpickle_from_bytes else None
        payload, received = _cached_file(reader, artifact, cache, file, location, load)
        _index_payload(cache, artifact, module, payload, file.md5, file.path)
        if received is not None and load is not None:  # the MD5 matched W&B's
            if received.load_error is not None:
                raise received.load_error
            return received.value
    return _verified_load(module, payload, artifact, signing_key, location)


def _whole_unlisted(
    artifact: StoredArtifact, cache: ArtifactCache, signing_key: str | None, location: Location
) -> Any:
    """An artifact W&B lists no stored payload for: its payload is a reference (the SDK
    fetches it), or it has none and is returned whole (:func:`_whole_artifact`)."""
    entries = _manifest_entries(artifact, location)
    module = next((m for m in MODULES.values() if m.file_name in entries), None)
    if module is None:
        return _whole_artifact(artifact, cache, location)
    entry = artifact.get_entry(module.file_name)
    payload = _cached_entry(artifact, cache, entry, location)
    _index_payload(cache, artifact, module, payload, _entry_digest(artifact, entry), entry.path)
    return _verified_load(module, payload, artifact, signing_key, location)


def _index_payload(
    cache: ArtifactCache,
    artifact: StoredArtifact,
    module: SerializationModule,
    payload: Path,
    blob_digest: str,
    path: str,
) -> None:
    """Index the cached ``payload`` (blob ``blob_digest``/``path``) under the artifact's
    own digest, so that a re-read needs no request at all. The index is a hard link of the
    blob, so it takes the MD5 the cache recorded for it: no second read of the file."""
    known = cache.recorded_digest(blob_digest, path)
    cache.seed_blob(artifact.digest, module.file_name, payload, PAYLOADS, known=known)


def _verified_load(
    module: SerializationModule,
    payload: Path,
    artifact: StoredArtifact,
    signing_key: str | None,
    location: Location,
) -> Any:
    """Unpickle ``payload`` with ``module``, once its signature matched (``signing_key``)."""
    if signing_key:
        try:
            verify_payload(
                payload,
                signing_key,
                artifact.metadata.get(SIGNATURE_METADATA_KEY),
                artifact.name,
            )
        except WandbSerializationError as error:
            raise WandbSerializationError(f"{location}: {error}") from None
    return module.load(payload)


def _whole_artifact(artifact: StoredArtifact, cache: ArtifactCache, location: Location) -> Any:
    """An artifact without a serialized payload: downloaded whole, verified, returned.

    W&B's ``verify`` checks the download against the manifest before it enters the cache;
    later hits are verified by the cache (size and mtime of every file, MD5 when changed).
    """

    def download_into(target: Path) -> None:
        _downloaded(artifact, target, artifact.name, location)
        try:
            artifact.verify(root=str(target))
        except ValueError as error:
            raise WandbArtifactsIOManagerError(
                f"{location}: downloaded W&B artifact '{artifact.name}' does not match its "
                f"manifest (verify): {error}"
            ) from error

    cache.artifact_dir(artifact.digest, download_into)
    return artifact


def _downloaded(
    source: StoredArtifact | ArtifactEntry, directory: Path, name: str, location: Location
) -> Path:
    """Download a file (an entry) or every file (an artifact) into ``directory``.

    Not with ``skip_cache``: the wandb SDK (0.29-0.31) keeps the destination it was given
    on its process-wide file cache (``ArtifactFileCache._override_cache_path``) and
    writes every later download of the process there.
    """
    try:
        return Path(source.download(root=str(directory)))
    except Exception as error:
        raise WandbArtifactsIOManagerError(
            f"{location}: could not download W&B artifact '{name}' (download): {error}"
        ) from error


def _contents_hint(artifact: StoredArtifact, wanted: str, key: Literal["get", "get_path"]) -> str:
    """The closest match, and what the artifact holds as ``get`` and ``get_path`` take it.

    E.g. ``"Did you mean 'Table'? W&B objects in it (names for get): Table; files (paths
    for get_path): Table.table.json"``.
    """
    objects, files = object_names(artifact), entry_paths(artifact)
    if key == "get" and wanted in files:
        hint = f"'{wanted}' is a file, not a W&B object: use get_path. "
    else:
        matches = difflib.get_close_matches(wanted, objects if key == "get" else files, n=1)
        hint = f"Did you mean '{matches[0]}'? " if matches else ""
    return (
        f"{hint}W&B objects in it (names for get): {', '.join(objects) or 'none'}; "
        f"files (paths for get_path): {', '.join(files) or 'none'}"
    )
