"""The local cache of downloaded artifacts: atomic fills, verified hits, cheap TTL eviction.

Layout under ``<base_dir>/storage/wandb_artifacts_manager/``::

    blobs/<entry key>/content/<entry path>     one artifact entry (get_path, payloads)
    artifacts/<artifact digest>/content/...     a whole downloaded artifact
    payloads/<entry key>/content/<file name>    an artifact's serialized payload, keyed by the
                                                artifact's digest (a hard link to its blob),
                                                found without fetching the manifest
    <section>/<key>/record.json                 size, mtime and MD5 of every file, at fill
    runs/<W&B run id>/...                       W&B run directories
    sdk-artifacts/<name:version>/...            the SDK's own downloads (``Artifact.get``)
    tmp/                                        fills in progress (renamed into place)

An entry key is the content digest and, for blobs, a hash of the entry path: the same bytes
stored under two paths (``a.csv``, ``backup/a.csv``) are two entries, each handed out under
its own path, folders included.

Every entry is filled in ``tmp/`` and renamed into place, so a reader (in this or another
process) never sees a half-written entry. Files are made read-only when filled: paths handed
to users must not become a way to change what later reads get. A hit is verified before it
is served: size and mtime against the record (a ``stat`` per file), and the MD5 when they
differ; an entry that fails (edited, truncated, deleted, extra files, no record) is removed
and filled again. Using an entry touches its directory; eviction looks only at top-level
entries (never at every file) and runs at most once per interval. Directories stay
writable, so eviction removes read-only files like any other.

Example::

    cache = ArtifactCache(Path("/tmp/dagster/storage"), ttl_minutes=60)
    path = cache.blob("md5:abc==", "data/train.csv", lambda directory: download(directory))
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

LAST_EVICTION_MARKER = ".last_eviction"
SECTIONS = ("blobs", "artifacts", "runs", "sdk-artifacts", "payloads")
PAYLOADS = "payloads"
"""Section indexing payloads by artifact digest: ``use_artifact`` gives that digest, while
the payload's own digest needs the manifest, which the SDK fetches (a query, a download)."""
STALE_TMP_SECONDS = 24 * 3600
"""A ``tmp/`` entry untouched this long was left by a process that died; it is removed."""
CONTENT = "content"
"""The folder of an entry holding the cached files (beside :data:`RECORD`)."""
RECORD = "record.json"
"""The file of an entry recording size, mtime and MD5 of each cached file at fill time."""
READ_ONLY = 0o444
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_HASH_CHUNK = 1 << 20


class CacheIntegrityError(ValueError):
    """Content being cached does not match the digest W&B gives for it."""


def safe_key(digest: str) -> str:
    """A file-name-safe, reversible-enough form of a W&B digest.

    >>> safe_key("1B2M2Y8AsgTpgAmY7PhCfg==")
    '1B2M2Y8AsgTpgAmY7PhCfg'
    """
    return digest.replace("/", "_").replace("+", "-").replace(":", "_").rstrip("=")


def blob_key(digest: str, path: str) -> str:
    """The key of the blob entry holding ``path`` with content ``digest``.

    >>> blob_key("1B2M2Y8AsgTpgAmY7PhCfg==", "data/train.csv")
    '1B2M2Y8AsgTpgAmY7PhCfg.26a83f3d0c70e12c'
    """
    return f"{safe_key(digest)}.{hashlib.sha256(path.encode()).hexdigest()[:16]}"


def md5_b64(path: Path) -> str:
    """The base64 MD5 of a file, W&B's digest of a stored file (read in 1 MiB chunks).

    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "empty"; _ = f.write_bytes(b"")
    >>> md5_b64(f)
    '1B2M2Y8AsgTpgAmY7PhCfg=='
    """
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


def entry_md5(entry: Any) -> str | None:
    """The W&B digest of a manifest entry when it is the MD5 of a stored file, else ``None``.

    References carry ETags or URIs, and entries hashed with XXH128 say so in ``extra["alg"]``
    (wandb's ``ArtifactManifestEntry``).
    """
    if getattr(entry, "ref", None) is not None:
        return None
    extra = getattr(entry, "extra", None) or {}
    if str(extra.get("alg", "MD5")).upper() != "MD5":
        return None
    digest = getattr(entry, "digest", None)
    return str(digest) if digest else None


@dataclass(frozen=True)
class FileDigest:
    """A file's MD5 (W&B's base64) while it had ``size`` bytes and ``mtime_ns``.

    The cache records one per file and trusts it as long as both are unchanged (the
    same test as a cache hit). A writer that knows a file's MD5 already (the SDK computed
    it in ``Artifact.add_file``) hands it over so the cache does not read the file again;
    take the size and mtime *before* the MD5 is computed, with :meth:`of`.

    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "f"; _ = f.write_bytes(b"")
    >>> FileDigest.of(f, "1B2M2Y8AsgTpgAmY7PhCfg==").size
    0
    """

    size: int
    mtime_ns: int
    md5: str

    @classmethod
    def of(cls, path: Path, md5: str) -> FileDigest:
        """``md5`` for ``path`` as it is now (its size and mtime from ``os.stat``)."""
        status = os.stat(path)
        return cls(status.st_size, status.st_mtime_ns, md5)

    def describes(self, status: os.stat_result) -> bool:
        """Whether a file with ``status`` still has the size and mtime recorded here."""
        return (self.size, self.mtime_ns) == (status.st_size, status.st_mtime_ns)


@dataclass(frozen=True)
class HashedFile:
    """A file a fill wrote and hashed on the way (W&B's base64 MD5 of its bytes): the
    cache takes ``md5`` instead of reading the file again.

    >>> HashedFile(Path("output.pickle"), "1B2M2Y8AsgTpgAmY7PhCfg==").md5
    '1B2M2Y8AsgTpgAmY7PhCfg=='
    """

    path: Path
    md5: str


class ArtifactCache:
    """Content-addressed local cache. ``ttl_minutes=0`` disables caching (scratch only)."""

    def __init__(self, root: Path, ttl_minutes: int) -> None:
        self.root = root
        self.ttl_minutes = ttl_minutes
        self._scratch_dirs: list[Path] = []

    @property
    def enabled(self) -> bool:
        return self.ttl_minutes > 0

    def _section(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def _staging(self) -> Iterator[Path]:
        staging = self._section("tmp") / uuid.uuid4().hex
        staging.mkdir()
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def scratch_dir(self) -> Path:
        """A fresh directory for uncached downloads (removed by :meth:`clear_scratch`)."""
        path = self._section("tmp") / f"scratch-{uuid.uuid4().hex}"
        path.mkdir()
        self._scratch_dirs.append(path)
        return path

    def sdk_download_dir(self) -> Path:
        """Where the SDK's own downloads go (its ``<name:version>`` folders are entries)."""
        return self._section("sdk-artifacts")

    def run_dir(self, run_id: str) -> Path:
        path = self._section("runs") / safe_key(run_id)
        path.mkdir(parents=True, exist_ok=True)
        _touch(path)
        return path

    # --- blobs: one file each ----------------------------------------------------------

    def blob_path(self, digest: str, path: str, section: str = "blobs") -> Path | None:
        """The cached, verified file ``path`` with content ``digest``, or ``None``.

        A cached file that no longer matches its record is removed (``None``).
        """
        if not self.enabled:
            return None
        relative = _relative(path)
        entry = self.root / section / blob_key(digest, relative)
        if not self._verified(entry, whole_tree=False):
            return None
        _touch(entry)
        return entry / CONTENT / relative

    def blob(
        self,
        digest: str,
        path: str,
        fill: Callable[[Path], Path | HashedFile],
        section: str = "blobs",
        expected_md5: str | None = None,
        known: FileDigest | None = None,
    ) -> Path:
        """The file ``path`` (POSIX, folders allowed) with content ``digest``.

        On a miss, ``fill(directory)`` writes the file into ``directory`` and returns where:
        W&B's ``entry.download(root)`` puts it at ``directory/path``; another place is moved
        there. With ``expected_md5`` (W&B's base64 MD5), content that does not match raises
        :class:`CacheIntegrityError` and is not cached. ``known``: the MD5 of what ``fill``
        places, trusted while the placed file keeps its size and mtime (a hard link of a
        file whose MD5 was just computed); otherwise the file is hashed. A ``fill`` that
        hashed the file while writing it returns a :class:`HashedFile`: its MD5 is used.
        """
        relative = _relative(path)
        cached = self.blob_path(digest, relative, section)
        if cached is not None:
            return cached
        if not self.enabled:
            directory = self.scratch_dir()
            produced, produced_md5 = _placed_file(fill(directory), directory / relative, known)
            if expected_md5 is not None:
                _check_md5(produced, expected_md5, relative, produced_md5)
            return produced
        entry = self._section(section) / blob_key(digest, relative)
        knowns = {} if known is None else {relative: known}

        def fill_content(content: Path) -> None:
            _, produced_md5 = _placed_file(fill(content), content / relative, known)
            if produced_md5 is not None:
                knowns[relative] = produced_md5

        expected = None if expected_md5 is None else {relative: expected_md5}

        self._fill(entry, fill_content, expected, knowns)
        return entry / CONTENT / relative

    def recorded_digest(self, digest: str, path: str, section: str = "blobs") -> FileDigest | None:
        """What the cache recorded for its file ``path`` with content ``digest`` (size,
        mtime, MD5), or ``None``; read as is, not verified (see :meth:`blob_path`)."""
        relative = _relative(path)
        entry = self.root / section / blob_key(digest, relative)
        try:
            return _read_record(entry / RECORD).get(relative)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def seed_blob(
        self,
        digest: str,
        path: str,
        source: Path,
        section: str = "blobs",
        expected_md5: str | None = None,
        known: FileDigest | None = None,
    ) -> None:
        """Put a file this process just wrote into the cache (hard link when possible).

        The source becomes read-only too when linked. A source that does not match
        ``expected_md5`` is not cached. ``known``: the source's MD5, used instead of
        reading the file again while its size and mtime are still the recorded ones.
        """
        if not self.enabled or self.blob_path(digest, path, section) is not None:
            return

        def link_or_copy(directory: Path) -> Path:
            target = directory / path
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
            return target

        with suppress(CacheIntegrityError):
            self.blob(digest, path, link_or_copy, section, expected_md5, known)

    # --- whole artifacts ---------------------------------------------------------------

    def artifact_dir(self, digest: str, fill: Callable[[Path], None]) -> Path:
        """A whole artifact's files; ``fill(directory)`` downloads them on a miss.

        A hit is verified: every recorded file present, unchanged, and no other file.
        """
        if not self.enabled:
            directory = self.scratch_dir()
            fill(directory)
            return directory
        entry = self._section("artifacts") / safe_key(digest)
        if self._verified(entry, whole_tree=True):
            _touch(entry)
            return entry / CONTENT
        self._fill(entry, fill)
        return entry / CONTENT

    # --- filling and verifying ---------------------------------------------------------

    def _fill(
        self,
        entry: Path,
        fill: Callable[[Path], None],
        expected_md5: dict[str, str] | None = None,
        known: dict[str, FileDigest] | None = None,
    ) -> None:
        """Fill ``entry`` in a staging directory, seal its files, rename it into place.

        Files whose MD5 differs from ``expected_md5`` (by relative path) are not published;
        ``known`` MD5s spare reading files that still have their size and mtime.
        """
        with self._staging() as staging:
            content = staging / CONTENT
            content.mkdir()
            fill(content)
            records = _seal(content, known or {})
            for relative, md5 in (expected_md5 or {}).items():
                found = records.get(relative)
                if found is None or found.md5 != md5:
                    raise CacheIntegrityError(
                        f"downloaded '{relative}' has MD5 {found.md5 if found else 'none'}, "
                        f"but W&B's manifest says {md5}"
                    )
            _write_record(staging / RECORD, records)
            self._publish(staging, entry)
        _touch(entry)

    def _verified(self, entry: Path, *, whole_tree: bool) -> bool:
        """Whether ``entry`` may be served; an entry that may not is removed.

        Each recorded file must have its recorded size; a different mtime costs an MD5,
        which must match (the record then takes the new mtime). With ``whole_tree``, no
        file beyond the recorded ones may exist.
        """
        record_path = entry / RECORD
        try:
            records = _read_record(record_path)
        except FileNotFoundError:
            if entry.exists():  # no record: a fill of an older version, never verified
                self._discard(entry)
            return False
        except (OSError, ValueError, KeyError, TypeError):
            self._discard(entry)
            return False
        content = entry / CONTENT
        if whole_tree and _tree_files(content) != set(records):
            self._discard(entry)
            return False
        changed = {}
        top = str(content)
        for relative, record in records.items():
            file = os.path.join(top, relative)
            try:
                status = os.lstat(file)  # a file replaced by a symlink is not ours
            except OSError:
                self._discard(entry)
                return False
            if status.st_size != record.size or not stat.S_ISREG(status.st_mode):
                self._discard(entry)
                return False
            if status.st_mtime_ns != record.mtime_ns:
                if md5_b64(Path(file)) != record.md5:
                    self._discard(entry)
                    return False
                changed[relative] = FileDigest(record.size, status.st_mtime_ns, record.md5)
            if status.st_mode & _WRITE_BITS:
                with suppress(OSError):
                    os.chmod(file, READ_ONLY)
        if changed:  # same bytes, touched: remember the new mtime so the next hit is cheap
            with suppress(OSError):
                _write_record(record_path, {**records, **changed})
        return True

    def _discard(self, entry: Path) -> None:
        """Remove an entry that must not be served (renamed away first, so no reader can
        pick it up half-deleted)."""
        doomed = self._section("tmp") / f"discard-{uuid.uuid4().hex}"
        try:
            os.rename(entry, doomed)
        except OSError:
            return  # gone already (another process discarded it)
        shutil.rmtree(doomed, ignore_errors=True)

    @staticmethod
    def _publish(staging: Path, entry: Path) -> None:
        try:
            os.rename(staging, entry)
        except OSError:
            # Another process published the same content first: keep theirs.
            if not entry.exists():
                raise

    def clear_scratch(self, now: float | None = None) -> None:
        """Remove the scratch directories of this cache object, and ``tmp/`` entries left
        by dead processes (untouched for :data:`STALE_TMP_SECONDS`).

        Never the scratch or staging directories of other live processes sharing the
        directory: their uploads and downloads may still be using them.
        """
        scratch_dirs, self._scratch_dirs = self._scratch_dirs, []
        for path in scratch_dirs:
            shutil.rmtree(path, ignore_errors=True)
        tmp = self.root / "tmp"
        if not tmp.is_dir():
            return
        stale_before = (time.time() if now is None else now) - STALE_TMP_SECONDS
        with os.scandir(tmp) as entries:
            for entry in entries:
                with suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < stale_before:
                        shutil.rmtree(entry.path, ignore_errors=True)

    def evict_expired(self, now: float | None = None) -> int:
        """Remove entries unused for longer than the TTL; returns how many were removed.

        Looks at top-level entries only, and at most once per ``min(ttl, 60)`` minutes.
        With caching disabled, removes every entry.
        """
        now = time.time() if now is None else now
        if not self.root.is_dir():
            return 0
        if self.enabled:
            marker = self.root / LAST_EVICTION_MARKER
            interval = min(self.ttl_minutes, 60) * 60
            if marker.exists() and now - marker.stat().st_mtime < interval:
                return 0
            marker.touch()
            os.utime(marker, (now, now))
        expiry = now - self.ttl_minutes * 60
        removed = 0
        for section in SECTIONS:
            directory = self.root / section
            if not directory.is_dir():
                continue
            with os.scandir(directory) as entries:
                for entry in entries:
                    if not self.enabled or entry.stat(follow_symlinks=False).st_mtime <= expiry:
                        shutil.rmtree(entry.path, ignore_errors=True)
                        removed += 1
        return removed


def _touch(path: Path) -> None:
    with suppress(OSError):
        os.utime(path)


def _relative(path: str) -> str:
    """``path`` as a relative POSIX path inside an entry; ``..`` and absolute paths are
    refused (W&B entry paths never have them)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ValueError(f"not a relative artifact entry path: {path!r}")
    return pure.as_posix()


def _placed(produced: Path, target: Path) -> Path:
    """``produced`` moved to ``target`` (inside the same directory tree) if elsewhere."""
    if produced != target:
        target.parent.mkdir(parents=True, exist_ok=True)
        produced = produced.rename(target)
    return produced


def _placed_file(
    produced: Path | HashedFile, target: Path, known: FileDigest | None
) -> tuple[Path, FileDigest | None]:
    """What a fill produced, moved to ``target``, and its MD5 when known: a
    :class:`HashedFile`'s (for the file as it is now), else ``known``."""
    if isinstance(produced, HashedFile):
        placed = _placed(produced.path, target)
        return placed, FileDigest.of(placed, produced.md5)
    return _placed(produced, target), known


def _md5_of(file: Path, status: os.stat_result, known: FileDigest | None) -> str:
    """``file``'s MD5: ``known``'s while it still describes the file, else read from it."""
    return known.md5 if known is not None and known.describes(status) else md5_b64(file)


def _check_md5(file: Path, expected: str, relative: str, known: FileDigest | None) -> None:
    actual = _md5_of(file, file.stat(), known)
    if actual != expected:
        raise CacheIntegrityError(
            f"downloaded '{relative}' has MD5 {actual}, but W&B's manifest says {expected}"
        )


def _tree_files(directory: Path) -> set[str]:
    """Relative POSIX paths of every non-directory under ``directory``."""
    found: set[str] = set()
    top = str(directory)
    for parent, directories, files in os.walk(top):
        relative = os.path.relpath(parent, top).replace(os.sep, "/")
        prefix = "" if relative == "." else f"{relative}/"
        found.update(f"{prefix}{name}" for name in files)
        # A symlink to a directory is listed with the directories and not walked: count it.
        found.update(
            f"{prefix}{name}" for name in directories if os.path.islink(os.path.join(parent, name))
        )
    return found


def _seal(content: Path, known: dict[str, FileDigest]) -> dict[str, FileDigest]:
    """Make every file under ``content`` read-only and record its size, mtime and MD5
    (the ``known`` one when size and mtime match it, else read from the file)."""
    records = {}
    for relative in sorted(_tree_files(content)):
        file = content / relative
        if file.is_symlink():
            file.unlink()  # never hand out a link to something outside the cache
            continue
        file.chmod(READ_ONLY)
        status = file.stat()
        md5 = _md5_of(file, status, known.get(relative))
        records[relative] = FileDigest(status.st_size, status.st_mtime_ns, md5)
    return records


def _write_record(path: Path, records: dict[str, FileDigest]) -> None:
    """Write the record atomically (a temporary file renamed over it)."""
    data = {
        "version": 1,
        "files": {
            relative: {"size": r.size, "mtime_ns": r.mtime_ns, "md5": r.md5}
            for relative, r in records.items()
        },
    }
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(json.dumps(data, sort_keys=True))
    os.replace(temporary, path)


def _read_record(path: Path) -> dict[str, FileDigest]:
    data = json.loads(path.read_text())
    if data.get("version") != 1:
        raise ValueError(f"unknown cache record version in {path}")
    return {
        str(relative): FileDigest(int(r["size"]), int(r["mtime_ns"]), str(r["md5"]))
        for relative, r in data["files"].items()
    }
