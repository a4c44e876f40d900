"""The local cache of downloaded artifacts, with atomic fills and cheap TTL eviction.

Layout under ``<base_dir>/storage/wandb_artifacts_manager/``::

    blobs/<content digest>/<file name>    one file, content-addressed (payloads, get_path)
    artifacts/<artifact digest>/...        a whole downloaded artifact
    payloads/<artifact digest>/<file name> an artifact's serialized payload (a hard link to
                                           its blob), found without fetching the manifest
    runs/<W&B run id>/...                  W&B run directories
    sdk-artifacts/<name:version>/...       the SDK's own downloads (``Artifact.get``)
    tmp/                                   fills in progress (renamed into place when done)

Every entry is filled in ``tmp/`` and renamed into place, so a reader (in this or another
process) never sees a half-written entry. Using an entry touches its directory; eviction
looks only at top-level entries (never at every file) and runs at most once per interval.

Example::

    cache = ArtifactCache(Path("/tmp/dagster/storage"), ttl_minutes=60)
    path = cache.blob("md5:abc==", "output.pickle", lambda directory: download(directory))
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

LAST_EVICTION_MARKER = ".last_eviction"
SECTIONS = ("blobs", "artifacts", "runs", "sdk-artifacts", "payloads")
PAYLOADS = "payloads"
"""Section indexing payloads by artifact digest: ``use_artifact`` gives that digest, while
the payload's own digest needs the manifest, which the SDK fetches (a query, a download)."""
STALE_TMP_SECONDS = 24 * 3600
"""A ``tmp/`` entry untouched this long was left by a process that died; it is removed."""


def safe_key(digest: str) -> str:
    """A file-name-safe, reversible-enough form of a W&B digest.

    >>> safe_key("1B2M2Y8AsgTpgAmY7PhCfg==")
    '1B2M2Y8AsgTpgAmY7PhCfg'
    """
    return digest.replace("/", "_").replace("+", "-").replace(":", "_").rstrip("=")


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

    def blob_path(self, digest: str, file_name: str, section: str = "blobs") -> Path | None:
        """The cached file with this content digest, or ``None``."""
        if not self.enabled:
            return None
        entry = self.root / section / safe_key(digest)
        path = entry / file_name
        if path.is_file():
            _touch(entry)
            return path
        return None

    def blob(
        self, digest: str, file_name: str, fill: Callable[[Path], Path], section: str = "blobs"
    ) -> Path:
        """The file with this content digest; ``fill(directory)`` produces it on a miss.

        ``fill`` must write the file in ``directory`` and return its path.
        """
        cached = self.blob_path(digest, file_name, section)
        if cached is not None:
            return cached
        if not self.enabled:
            return fill(self.scratch_dir())
        entry = self._section(section) / safe_key(digest)
        with self._staging() as staging:
            produced = fill(staging)
            if produced.name != file_name:
                produced = produced.rename(staging / file_name)
            self._publish(staging, entry)
        _touch(entry)
        return entry / file_name

    def seed_blob(self, digest: str, file_name: str, source: Path, section: str = "blobs") -> None:
        """Put a file this process just wrote into the cache (hard link when possible)."""
        if not self.enabled or self.blob_path(digest, file_name, section) is not None:
            return

        def link_or_copy(directory: Path) -> Path:
            target = directory / file_name
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
            return target

        self.blob(digest, file_name, link_or_copy, section)

    def artifact_dir(self, digest: str, fill: Callable[[Path], None]) -> Path:
        """A whole artifact's files; ``fill(directory)`` downloads them on a miss."""
        if not self.enabled:
            directory = self.scratch_dir()
            fill(directory)
            return directory
        entry = self._section("artifacts") / safe_key(digest)
        if entry.is_dir():  # entries appear only complete, by rename
            _touch(entry)
            return entry
        with self._staging() as staging:
            fill(staging)
            self._publish(staging, entry)
        _touch(entry)
        return entry

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
