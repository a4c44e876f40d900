"""The local artifact cache: fills once, atomic publishing, TTL eviction."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from dagster_wandb_v2 import cache as cache_module
from dagster_wandb_v2.cache import (
    CONTENT,
    LAST_EVICTION_MARKER,
    PAYLOADS,
    ArtifactCache,
    CacheIntegrityError,
    FileDigest,
    HashedFile,
    blob_key,
    entry_md5,
    safe_key,
)

DIGEST = "md5:1B2M2Y8AsgTpgAmY7PhCfg=="
TTL_MINUTES = 60
NOBODY = 65534


@pytest.fixture
def cache(tmp_path: Path) -> ArtifactCache:
    return ArtifactCache(tmp_path / "cache", ttl_minutes=TTL_MINUTES)


def counting_fill(content: bytes, file_name: str = "output.pickle") -> tuple[list[Path], Any]:
    calls: list[Path] = []

    def fill(directory: Path) -> Path:
        calls.append(directory)
        path = directory / file_name
        path.write_bytes(content)
        return path

    return calls, fill


def tmp_leftovers(cache: ArtifactCache) -> list[str]:
    tmp = cache.root / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


def set_mtime(path: Path, mtime: float) -> None:
    os.utime(path, (mtime, mtime))


def blob_entry(cache: ArtifactCache, path: str = "output.pickle", digest: str = DIGEST) -> Path:
    return cache.root / "blobs" / blob_key(digest, path)


def artifact_entry(cache: ArtifactCache, digest: str = DIGEST) -> Path:
    return cache.root / "artifacts" / safe_key(digest)


def test_safe_key() -> None:
    assert safe_key("md5:ab/c+d==") == "md5_ab_c-d"
    assert safe_key("1B2M2Y8AsgTpgAmY7PhCfg==") == "1B2M2Y8AsgTpgAmY7PhCfg"


# --- blobs -----------------------------------------------------------------------------


def test_blob_fills_once_then_hits(cache: ArtifactCache) -> None:
    calls, fill = counting_fill(b"payload")
    first = cache.blob(DIGEST, "output.pickle", fill)
    second = cache.blob(DIGEST, "output.pickle", fill)
    assert len(calls) == 1
    assert first == second == blob_entry(cache) / CONTENT / "output.pickle"
    assert first.read_bytes() == b"payload"
    assert cache.blob_path(DIGEST, "output.pickle") == first
    assert tmp_leftovers(cache) == []


def test_blob_is_renamed_to_the_requested_file_name(cache: ArtifactCache) -> None:
    calls, fill = counting_fill(b"payload", file_name="downloaded.bin")
    path = cache.blob(DIGEST, "output.pickle", fill)
    assert path.name == "output.pickle"
    assert path.read_bytes() == b"payload"
    assert sorted(p.name for p in path.parent.iterdir()) == ["output.pickle"]
    cache.blob(DIGEST, "output.pickle", fill)
    assert len(calls) == 1


def test_blob_path_misses_for_other_digest_or_file(cache: ArtifactCache) -> None:
    _, fill = counting_fill(b"payload")
    cache.blob(DIGEST, "output.pickle", fill)
    assert cache.blob_path("md5:other==", "output.pickle") is None
    assert cache.blob_path(DIGEST, "output.dill") is None


def test_blob_hit_touches_the_entry(cache: ArtifactCache) -> None:
    _, fill = counting_fill(b"payload")
    cache.blob(DIGEST, "output.pickle", fill)
    set_mtime(blob_entry(cache), 1_000)
    cache.blob(DIGEST, "output.pickle", fill)
    assert blob_entry(cache).stat().st_mtime > time.time() - 60


def test_failing_fill_leaves_no_entry_and_no_leftover(cache: ArtifactCache) -> None:
    def fill(directory: Path) -> Path:
        (directory / "output.pickle").write_bytes(b"half")
        raise ConnectionError("download interrupted")

    with pytest.raises(ConnectionError, match="download interrupted"):
        cache.blob(DIGEST, "output.pickle", fill)
    assert cache.blob_path(DIGEST, "output.pickle") is None
    assert not blob_entry(cache).exists()
    assert tmp_leftovers(cache) == []

    calls, good_fill = counting_fill(b"complete")
    assert cache.blob(DIGEST, "output.pickle", good_fill).read_bytes() == b"complete"
    assert len(calls) == 1


def test_failing_artifact_fill_leaves_no_entry_and_no_leftover(cache: ArtifactCache) -> None:
    def fill(directory: Path) -> None:
        (directory / "a.txt").write_text("a")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache.artifact_dir(DIGEST, fill)
    assert not artifact_entry(cache).exists()
    assert tmp_leftovers(cache) == []


def test_fill_sees_a_staging_directory_not_the_entry(cache: ArtifactCache) -> None:
    calls, fill = counting_fill(b"payload")
    path = cache.blob(DIGEST, "output.pickle", fill)
    assert calls[0].parent.parent == cache.root / "tmp"
    assert not calls[0].exists()
    assert path.parent != calls[0]


def _race(
    cache_root: Path, publish: Callable[[ArtifactCache, threading.Barrier], Path], count: int
) -> list[Path | BaseException]:
    barrier = threading.Barrier(count)
    results: list[Path | BaseException] = [RuntimeError("not run")] * count

    def worker(index: int) -> None:
        try:
            results[index] = publish(ArtifactCache(cache_root, TTL_MINUTES), barrier)
        except BaseException as error:
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_racing_blob_publishers_both_get_a_complete_entry(tmp_path: Path) -> None:
    content = os.urandom(1 << 20)

    def publish(cache: ArtifactCache, barrier: threading.Barrier) -> Path:
        def fill(directory: Path) -> Path:
            path = directory / "output.pickle"
            path.write_bytes(content)
            barrier.wait(timeout=10)  # both fills done before either publishes
            return path

        return cache.blob(DIGEST, "output.pickle", fill)

    root = tmp_path / "cache"
    results = _race(root, publish, 2)
    for result in results:
        assert isinstance(result, Path), result
        assert result.read_bytes() == content
    entry = root / "blobs" / blob_key(DIGEST, "output.pickle")
    assert sorted(p.name for p in (entry / CONTENT).iterdir()) == ["output.pickle"]
    assert sorted(p.name for p in (root / "tmp").iterdir()) == []


def test_racing_artifact_publishers_both_get_a_complete_entry(tmp_path: Path) -> None:
    files = {f"file{i}.txt": f"content {i}" * 100 for i in range(20)}

    def publish(cache: ArtifactCache, barrier: threading.Barrier) -> Path:
        def fill(directory: Path) -> None:
            for name, text in files.items():
                (directory / name).write_text(text)
            barrier.wait(timeout=10)

        return cache.artifact_dir(DIGEST, fill)

    root = tmp_path / "cache"
    results = _race(root, publish, 2)
    for result in results:
        assert isinstance(result, Path), result
        assert result == root / "artifacts" / safe_key(DIGEST) / CONTENT
        assert {p.name: p.read_text() for p in result.iterdir()} == files
    assert sorted(p.name for p in (root / "tmp").iterdir()) == []


def test_seed_blob_makes_the_next_blob_a_hit(cache: ArtifactCache, tmp_path: Path) -> None:
    source = tmp_path / "written.pickle"
    source.write_bytes(b"just written")
    cache.seed_blob(DIGEST, "output.pickle", source)
    calls, fill = counting_fill(b"downloaded")
    path = cache.blob(DIGEST, "output.pickle", fill)
    assert calls == []
    assert path.read_bytes() == b"just written"
    assert source.read_bytes() == b"just written"  # the source is left in place
    cache.seed_blob(DIGEST, "output.pickle", tmp_path / "does-not-matter")  # already cached


def test_seed_blob_copies_when_linking_fails(
    cache: ArtifactCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(*args: Any) -> None:
        raise OSError("cross-device link")

    monkeypatch.setattr(cache_module.os, "link", no_link)
    source = tmp_path / "written.pickle"
    source.write_bytes(b"copied")
    cache.seed_blob(DIGEST, "output.pickle", source)
    assert cache.blob_path(DIGEST, "output.pickle") is not None
    assert cache.blob_path(DIGEST, "output.pickle").read_bytes() == b"copied"  # type: ignore[union-attr]


# --- whole artifacts -------------------------------------------------------------------


def test_artifact_dir_fills_once_then_hits(cache: ArtifactCache) -> None:
    calls: list[Path] = []

    def fill(directory: Path) -> None:
        calls.append(directory)
        (directory / "sub").mkdir()
        (directory / "sub" / "a.txt").write_text("a")
        (directory / "b.txt").write_text("b")

    first = cache.artifact_dir(DIGEST, fill)
    second = cache.artifact_dir(DIGEST, fill)
    assert len(calls) == 1
    assert first == second == artifact_entry(cache) / CONTENT
    assert (first / "sub" / "a.txt").read_text() == "a"
    assert (first / "b.txt").read_text() == "b"
    assert tmp_leftovers(cache) == []


def test_run_dir(cache: ArtifactCache) -> None:
    path = cache.run_dir("abc:def")
    assert path == cache.root / "runs" / "abc_def"
    assert path.is_dir()
    assert cache.run_dir("abc:def") == path


# --- disabled cache --------------------------------------------------------------------


def test_ttl_zero_disables_the_cache(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", ttl_minutes=0)
    assert not cache.enabled
    calls, fill = counting_fill(b"payload")
    first = cache.blob(DIGEST, "output.pickle", fill)
    second = cache.blob(DIGEST, "output.pickle", fill)
    assert len(calls) == 2
    assert first != second
    assert first.read_bytes() == second.read_bytes() == b"payload"
    for path in (first, second):
        assert path.parent.parent == cache.root / "tmp"
        assert path.parent.name.startswith("scratch-")
    assert cache.blob_path(DIGEST, "output.pickle") is None
    assert not (cache.root / "blobs").exists()

    artifact_calls: list[Path] = []
    directory = cache.artifact_dir(DIGEST, artifact_calls.append)
    cache.artifact_dir(DIGEST, artifact_calls.append)
    assert len(artifact_calls) == 2
    assert directory.name.startswith("scratch-")
    assert not (cache.root / "artifacts").exists()

    source = tmp_path / "written"
    source.write_bytes(b"x")
    cache.seed_blob(DIGEST, "output.pickle", source)
    assert not (cache.root / "blobs").exists()

    cache.clear_scratch()
    assert tmp_leftovers(cache) == []


def test_clear_scratch_keeps_cache_entries(cache: ArtifactCache) -> None:
    scratch = cache.scratch_dir()
    (scratch / "f").write_text("x")
    _, fill = counting_fill(b"payload")
    path = cache.blob(DIGEST, "output.pickle", fill)
    cache.clear_scratch()
    assert not scratch.exists()
    assert path.read_bytes() == b"payload"


# --- eviction --------------------------------------------------------------------------


def _populate(cache: ArtifactCache, mtime_by_entry: dict[tuple[str, str], float]) -> None:
    for (section, name), mtime in mtime_by_entry.items():
        entry = cache.root / section / name
        entry.mkdir(parents=True)
        (entry / "file").write_text(name)
        set_mtime(entry, mtime)


def _entries(cache: ArtifactCache) -> set[tuple[str, str]]:
    return {
        (section, path.name)
        for section in ("blobs", "artifacts", "runs")
        if (cache.root / section).is_dir()
        for path in (cache.root / section).iterdir()
    }


def test_evict_removes_only_entries_older_than_the_ttl(cache: ArtifactCache) -> None:
    now = 10_000_000.0
    ttl = TTL_MINUTES * 60
    _populate(
        cache,
        {
            ("blobs", "old"): now - ttl - 1,
            ("blobs", "fresh"): now - ttl + 60,
            ("artifacts", "old"): now - 10 * ttl,
            ("artifacts", "fresh"): now,
            ("runs", "old"): now - ttl - 5,
            ("runs", "fresh"): now - 1,
        },
    )
    assert cache.evict_expired(now=now) == 3
    assert _entries(cache) == {("blobs", "fresh"), ("artifacts", "fresh"), ("runs", "fresh")}
    # Files inside kept entries are untouched.
    assert (cache.root / "artifacts" / "fresh" / "file").read_text() == "fresh"


def test_recently_used_entry_survives_eviction(cache: ArtifactCache) -> None:
    _, fill = counting_fill(b"payload")
    path = cache.blob(DIGEST, "output.pickle", fill)
    old = time.time() - 3 * TTL_MINUTES * 60
    set_mtime(blob_entry(cache), old)
    cache.blob(DIGEST, "output.pickle", fill)  # a hit touches the entry
    assert cache.evict_expired() == 0
    assert path.is_file()


def test_eviction_is_throttled(cache: ArtifactCache) -> None:
    now = 10_000_000.0
    ttl = TTL_MINUTES * 60
    _populate(cache, {("blobs", "a"): now - ttl - 1})
    assert cache.evict_expired(now=now) == 1
    marker = cache.root / LAST_EVICTION_MARKER
    assert marker.stat().st_mtime == now

    # Expired meanwhile, but the last eviction was less than the interval ago.
    _populate(cache, {("blobs", "b"): now - ttl - 1, ("artifacts", "c"): now - 2 * ttl})
    interval = min(TTL_MINUTES, 60) * 60
    assert cache.evict_expired(now=now + interval - 1) == 0
    assert _entries(cache) == {("blobs", "b"), ("artifacts", "c")}

    # Once the interval has passed, eviction runs again.
    assert cache.evict_expired(now=now + interval) == 2
    assert _entries(cache) == set()


def test_eviction_interval_is_at_most_the_ttl(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", ttl_minutes=5)
    now = 10_000_000.0
    _populate(cache, {("blobs", "a"): now - 1})
    assert cache.evict_expired(now=now) == 0  # fresh
    # Expired (older than 5 minutes) but the last eviction is less than 5 minutes ago.
    assert cache.evict_expired(now=now + 5 * 60 - 1) == 0
    assert cache.evict_expired(now=now + 5 * 60) == 1


def test_eviction_runs_at_least_hourly_with_a_long_ttl(tmp_path: Path) -> None:
    ttl_minutes = 30 * 24 * 60  # the default: 30 days
    cache = ArtifactCache(tmp_path / "cache", ttl_minutes=ttl_minutes)
    now = 10_000_000.0
    _populate(cache, {("blobs", "a"): now - ttl_minutes * 60 + 1800})
    assert cache.evict_expired(now=now) == 0
    assert cache.evict_expired(now=now + 3599) == 0  # expired, but throttled
    assert cache.evict_expired(now=now + 3600) == 1


def test_eviction_with_ttl_zero_clears_everything(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", ttl_minutes=0)
    now = time.time()
    _populate(
        cache,
        {("blobs", "a"): now, ("artifacts", "b"): now + 100, ("runs", "c"): now - 1},
    )
    assert cache.evict_expired(now=now) == 3
    assert _entries(cache) == set()
    # Not throttled when disabled.
    _populate(cache, {("blobs", "d"): now})
    assert cache.evict_expired(now=now) == 1


def test_eviction_of_a_missing_root_does_nothing(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "never-created", ttl_minutes=TTL_MINUTES)
    assert cache.evict_expired() == 0
    assert not cache.root.exists()


def test_eviction_stats_only_top_level_entries(
    cache: ArtifactCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = 10_000_000.0
    entry = cache.root / "artifacts" / "big"
    for index in range(50):
        sub = entry / f"dir{index}"
        sub.mkdir(parents=True)
        for file_index in range(10):
            (sub / f"f{file_index}").write_text("x")
    set_mtime(entry, now)
    _populate(cache, {("blobs", "small"): now})

    scanned: list[str] = []
    stat_calls: list[str] = []
    real_scandir = os.scandir

    class CountingEntry:
        def __init__(self, entry: os.DirEntry[str]) -> None:
            self._entry = entry
            self.path = entry.path
            self.name = entry.name

        def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
            stat_calls.append(self.path)
            return self._entry.stat(follow_symlinks=follow_symlinks)

    class CountingScandir:
        def __init__(self, path: Any) -> None:
            scanned.append(str(path))
            self._iterator = real_scandir(path)

        def __enter__(self) -> Any:
            return (CountingEntry(entry) for entry in self._iterator)

        def __exit__(self, *exc: object) -> None:
            self._iterator.close()

    def no_walk(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eviction must not walk every file")

    monkeypatch.setattr(cache_module.os, "scandir", CountingScandir)
    monkeypatch.setattr(cache_module.os, "walk", no_walk)
    monkeypatch.setattr(Path, "rglob", no_walk)

    assert cache.evict_expired(now=now + 1) == 0
    assert sorted(scanned) == sorted(
        str(cache.root / section) for section in ("blobs", "artifacts")
    )
    assert sorted(stat_calls) == sorted(
        [str(cache.root / "artifacts" / "big"), str(cache.root / "blobs" / "small")]
    )


# --- entry paths with folders ----------------------------------------------------------


def entry_download(content: bytes, path: str) -> tuple[list[Path], Any]:
    """A fill like W&B's ``entry.download(root)``: the file lands at ``root/<entry path>``."""
    calls: list[Path] = []

    def fill(directory: Path) -> Path:
        calls.append(directory)
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return target

    return calls, fill


@pytest.mark.parametrize("path", ["data/train.csv", "a/b/c/deep.txt", "plain.txt"])
def test_blob_keeps_the_entry_path_with_its_folders(cache: ArtifactCache, path: str) -> None:
    calls, fill = entry_download(b"rows", path)
    first = cache.blob(DIGEST, path, fill)
    second = cache.blob(DIGEST, path, fill)
    assert first == second
    assert first.as_posix().endswith(f"/{CONTENT}/{path}")
    assert first.read_bytes() == b"rows"
    assert len(calls) == 1


def test_same_content_under_two_paths_is_two_entries(cache: ArtifactCache) -> None:
    paths = ["data/train.csv", "backup/train.csv", "train.csv"]
    for path in paths:
        _, fill = entry_download(b"same bytes", path)
        handed_out = cache.blob(DIGEST, path, fill)
        assert handed_out.as_posix().endswith(path)
        assert handed_out.read_bytes() == b"same bytes"
    assert all(cache.blob_path(DIGEST, path) is not None for path in paths)


def test_blob_with_cache_disabled_keeps_the_entry_path(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache", ttl_minutes=0)
    _, fill = entry_download(b"rows", "data/train.csv")
    path = cache.blob(DIGEST, "data/train.csv", fill)
    assert path.as_posix().endswith("/data/train.csv")
    assert path.read_bytes() == b"rows"


def test_entry_paths_leaving_the_entry_are_refused(cache: ArtifactCache) -> None:
    for path in ("../escape.txt", "/etc/passwd", ""):
        _, fill = entry_download(b"x", "x")
        with pytest.raises(ValueError, match="not a relative artifact entry path"):
            cache.blob(DIGEST, path, fill)


# --- cached files cannot be corrupted through the paths handed out ---------------------


def writable(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o222 != 0


def fill_artifact(directory: Path) -> None:
    (directory / "sub" / "deeper").mkdir(parents=True)
    (directory / "sub" / "deeper" / "a.txt").write_text("a")
    (directory / "b.txt").write_text("b")


def test_cached_files_are_read_only_and_folders_writable(cache: ArtifactCache) -> None:
    _, fill = entry_download(b"rows", "data/train.csv")
    blob = cache.blob(DIGEST, "data/train.csv", fill)
    directory = cache.artifact_dir(DIGEST, fill_artifact)
    files = [blob, directory / "sub" / "deeper" / "a.txt", directory / "b.txt"]
    assert [path for path in files if writable(path)] == []
    folders = [path for path in cache.root.rglob("*") if path.is_dir()]
    assert folders and [path for path in folders if not writable(path)] == []


def damage(path: Path, how: str) -> None:
    """What a user can do to a file handed out (as root, or after a chmod)."""
    if how == "delete":
        path.unlink()
        return
    path.chmod(0o644)
    if how == "edit":
        path.write_bytes(b"poisoned content")
    elif how == "same_size_edit":
        size = path.stat().st_size
        path.write_bytes(b"X" * size)
        set_mtime(path, path.stat().st_mtime + 5)  # a coarse clock cannot hide the edit
    elif how == "truncate":
        path.write_bytes(b"")
    elif how == "append":
        with open(path, "ab") as file:
            file.write(b" and more")


DAMAGES = ["edit", "same_size_edit", "truncate", "append", "delete"]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_blob_is_filled_again_never_served(cache: ArtifactCache, how: str) -> None:
    calls, fill = entry_download(b"original rows", "data/train.csv")
    path = cache.blob(DIGEST, "data/train.csv", fill)
    damage(path, how)
    assert cache.blob_path(DIGEST, "data/train.csv") is None
    again = cache.blob(DIGEST, "data/train.csv", fill)
    assert again.read_bytes() == b"original rows"
    assert not writable(again)
    assert len(calls) == 2
    assert tmp_leftovers(cache) == []


@pytest.mark.parametrize("how", [*DAMAGES, "extra_file"])
def test_a_damaged_artifact_dir_is_filled_again_never_served(
    cache: ArtifactCache, how: str
) -> None:
    calls: list[Path] = []

    def fill(directory: Path) -> None:
        calls.append(directory)
        fill_artifact(directory)

    directory = cache.artifact_dir(DIGEST, fill)
    if how == "extra_file":
        (directory / "sub" / "stray.txt").write_text("not in the artifact")
    else:
        damage(directory / "sub" / "deeper" / "a.txt", how)
    again = cache.artifact_dir(DIGEST, fill)
    assert len(calls) == 2
    assert sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file()) == [
        "b.txt",
        "sub/deeper/a.txt",
    ]
    assert (again / "sub" / "deeper" / "a.txt").read_text() == "a"


def test_a_hit_with_unchanged_size_and_mtime_reads_no_content(
    cache: ArtifactCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, fill = entry_download(b"rows", "data/train.csv")
    cache.blob(DIGEST, "data/train.csv", fill)
    cache.artifact_dir(DIGEST, fill_artifact)

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"hashed {path} on a hit whose size and mtime are unchanged")

    monkeypatch.setattr(cache_module, "md5_b64", no_hashing)
    assert cache.blob_path(DIGEST, "data/train.csv") is not None
    assert cache.artifact_dir(DIGEST, fill_artifact).is_dir()


def test_a_touched_but_unchanged_file_is_served_and_its_new_mtime_recorded(
    cache: ArtifactCache, hashed_by_the_cache: list[Path]
) -> None:
    calls, fill = entry_download(b"rows", "data/train.csv")
    path = cache.blob(DIGEST, "data/train.csv", fill)
    path.chmod(0o644)
    set_mtime(path, 1_000_000)  # e.g. `touch`, or a copy that kept the bytes
    hashed_by_the_cache.clear()  # the fill above hashed what it downloaded
    for _ in range(3):
        assert cache.blob(DIGEST, "data/train.csv", fill) == path
    assert len(calls) == 1
    assert hashed_by_the_cache == [path]  # once; the record then holds the new mtime
    assert not writable(path)  # made read-only again


def test_an_entry_without_a_record_is_filled_again(cache: ArtifactCache) -> None:
    """Entries of an older cache layout, or made by hand, were never verified."""
    legacy = artifact_entry(cache) / CONTENT
    legacy.mkdir(parents=True)
    (legacy / "b.txt").write_text("whatever was there")
    directory = cache.artifact_dir(DIGEST, fill_artifact)
    assert (directory / "b.txt").read_text() == "b"

    blob = blob_entry(cache, "data/train.csv") / CONTENT / "data" / "train.csv"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"unverified")
    assert cache.blob_path(DIGEST, "data/train.csv") is None
    _, fill = entry_download(b"rows", "data/train.csv")
    assert cache.blob(DIGEST, "data/train.csv", fill).read_bytes() == b"rows"


def test_a_broken_record_is_filled_again(cache: ArtifactCache) -> None:
    calls, fill = entry_download(b"rows", "data/train.csv")
    cache.blob(DIGEST, "data/train.csv", fill)
    record = blob_entry(cache, "data/train.csv") / cache_module.RECORD
    record.write_text("{not json")
    assert cache.blob(DIGEST, "data/train.csv", fill).read_bytes() == b"rows"
    assert len(calls) == 2


def test_content_not_matching_its_md5_is_never_cached(cache: ArtifactCache) -> None:
    _, fill = entry_download(b"what arrived", "data/train.csv")
    with pytest.raises(CacheIntegrityError, match="W&B's manifest says"):
        cache.blob(DIGEST, "data/train.csv", fill, expected_md5=md5_of(b"what was logged"))
    assert not blob_entry(cache, "data/train.csv").exists()
    assert tmp_leftovers(cache) == []
    path = cache.blob(DIGEST, "data/train.csv", fill, expected_md5=md5_of(b"what arrived"))
    assert path.read_bytes() == b"what arrived"


def test_a_seed_not_matching_its_md5_is_not_cached(cache: ArtifactCache, tmp_path: Path) -> None:
    source = tmp_path / "written.pickle"
    source.write_bytes(b"changed after hashing")
    cache.seed_blob(DIGEST, "output.pickle", source, expected_md5=md5_of(b"hashed"))
    assert cache.blob_path(DIGEST, "output.pickle") is None


def test_a_seed_with_a_known_md5_is_not_read_again(
    cache: ArtifactCache, tmp_path: Path, hashed_by_the_cache: list[Path]
) -> None:
    source = tmp_path / "written.pickle"
    source.write_bytes(b"payload")
    known = FileDigest.of(source, md5_of(b"payload"))  # as the SDK's add_file found it
    cache.seed_blob(DIGEST, "output.pickle", source, expected_md5=known.md5, known=known)
    cache.seed_blob("artifact-digest", "output.pickle", source, PAYLOADS, known=known)
    assert hashed_by_the_cache == []
    assert cache.blob_path(DIGEST, "output.pickle") is not None
    assert cache.blob_path("artifact-digest", "output.pickle", PAYLOADS) is not None
    assert cache.recorded_digest(DIGEST, "output.pickle") == known


def test_a_known_md5_of_a_file_changed_since_is_not_trusted(
    cache: ArtifactCache, tmp_path: Path, hashed_by_the_cache: list[Path]
) -> None:
    source = tmp_path / "written.pickle"
    source.write_bytes(b"hashed")
    known = FileDigest.of(source, md5_of(b"hashed"))
    source.write_bytes(b"edited")  # same size, newer mtime
    os.utime(source, ns=(known.mtime_ns + 10**9, known.mtime_ns + 10**9))
    cache.seed_blob(DIGEST, "output.pickle", source, expected_md5=known.md5, known=known)
    assert len(hashed_by_the_cache) == 1  # read, found different: not cached
    assert cache.blob_path(DIGEST, "output.pickle") is None


def test_a_damaged_seed_is_found_out_in_the_blob_and_the_payload_index(
    cache: ArtifactCache, tmp_path: Path
) -> None:
    """The writer's payload, its blob and its payload index are one inode (hard links):
    damage through any of them is found out by both entries."""
    source = tmp_path / "written.pickle"
    source.write_bytes(b"payload")
    cache.seed_blob(DIGEST, "output.pickle", source)
    cache.seed_blob("artifact-digest", "output.pickle", source, PAYLOADS)
    blob = cache.blob_path(DIGEST, "output.pickle")
    index = cache.blob_path("artifact-digest", "output.pickle", PAYLOADS)
    assert blob is not None and index is not None
    assert not writable(source)  # linked: the writer's file is sealed too
    damage(source, "same_size_edit")
    assert cache.blob_path(DIGEST, "output.pickle") is None
    assert cache.blob_path("artifact-digest", "output.pickle", PAYLOADS) is None


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A directory an unprivileged user can own (pytest's tmp_path is root's alone)."""
    directory = Path(tempfile.mkdtemp(prefix="cache-owner-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_users_cannot_write_cached_files_and_eviction_removes_them(private_dir: Path) -> None:
    """As an ordinary user (root writes anyway: there the verification on hit protects)."""
    root = private_dir / "cache"
    cache = ArtifactCache(root, ttl_minutes=TTL_MINUTES)
    _, fill = entry_download(b"rows", "data/train.csv")
    handed_out = cache.blob(DIGEST, "data/train.csv", fill)
    cache.artifact_dir(DIGEST, fill_artifact)
    if os.geteuid() == 0:  # an unprivileged user owning the cache
        for path in [private_dir, *private_dir.rglob("*")]:
            os.chown(path, NOBODY, -1, follow_symlinks=False)
    report = private_dir / "report"
    pid = os.fork()
    if pid == 0:  # the child: the user's process, then a later step's teardown
        code = 1
        try:
            if os.geteuid() == 0:
                os.setuid(NOBODY)
            try:
                open(handed_out, "w").close()
                outcome = "written"
            except PermissionError:
                outcome = "refused"
            removed = ArtifactCache(root, ttl_minutes=TTL_MINUTES).evict_expired(now=1e12)
            report.write_text(f"{outcome} {removed}")
            code = 0
        except BaseException as error:
            with suppress(OSError):
                report.write_text(repr(error))
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert report.read_text() == "refused 2"
    assert os.waitstatus_to_exitcode(status) == 0
    assert [path for path in root.rglob("*") if path.is_file()] == [root / LAST_EVICTION_MARKER]


def md5_of(content: bytes) -> str:
    return base64.b64encode(hashlib.md5(content).digest()).decode()


def test_entry_md5_only_for_stored_files_hashed_with_md5() -> None:
    """W&B manifest entries: files carry a base64 MD5 unless tagged XXH128; references
    carry an ETag or URI."""
    from wandb.sdk.artifacts.artifact_manifest_entry import ArtifactManifestEntry

    md5 = md5_of(b"")
    assert entry_md5(ArtifactManifestEntry(path="data/a.csv", digest=md5, size=0)) == md5
    xxh = ArtifactManifestEntry(path="a", digest="x" * 22 + "==", extra={"alg": "XXH128"})
    assert entry_md5(xxh) is None
    reference = ArtifactManifestEntry(path="a", digest="etag", ref="s3://bucket/key")
    assert entry_md5(reference) is None


def test_a_cached_file_replaced_by_a_symlink_is_filled_again(
    cache: ArtifactCache, tmp_path: Path
) -> None:
    calls, fill = entry_download(b"rows", "data/train.csv")
    path = cache.blob(DIGEST, "data/train.csv", fill)
    impostor = tmp_path / "impostor.csv"
    impostor.write_bytes(b"ROWS")
    os.utime(impostor, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
    path.unlink()
    path.symlink_to(impostor)
    again = cache.blob(DIGEST, "data/train.csv", fill)
    assert not again.is_symlink()
    assert again.read_bytes() == b"rows"
    assert len(calls) == 2


def _hashed_fill(content: bytes, md5: str) -> Callable[[Path], HashedFile]:
    """A fill that hashed what it wrote on the way (a streamed download), claiming ``md5``."""

    def fill(directory: Path) -> HashedFile:
        target = directory / "elsewhere.part"
        target.write_bytes(content)
        return HashedFile(target, md5)

    return fill


@pytest.mark.parametrize("ttl", [TTL_MINUTES, 0])
def test_a_fill_that_hashed_its_file_is_not_read_again(
    tmp_path: Path, hashed_by_the_cache: list[Path], ttl: int
) -> None:
    cache = ArtifactCache(tmp_path / "cache", ttl_minutes=ttl)
    md5 = md5_of(b"streamed")
    fill = _hashed_fill(b"streamed", md5)
    path = cache.blob(DIGEST, "data/output.pickle", fill, expected_md5=md5)
    assert path.name == "output.pickle" and path.read_bytes() == b"streamed"
    assert hashed_by_the_cache == []
    if ttl:
        assert cache.recorded_digest(DIGEST, "data/output.pickle") == FileDigest.of(path, md5)


@pytest.mark.parametrize("ttl", [TTL_MINUTES, 0])
def test_a_fill_that_hashed_other_bytes_than_w_and_b_has_is_refused(
    tmp_path: Path, hashed_by_the_cache: list[Path], ttl: int
) -> None:
    cache = ArtifactCache(tmp_path / "cache", ttl_minutes=ttl)
    fill = _hashed_fill(b"damaged", md5_of(b"damaged"))
    with pytest.raises(CacheIntegrityError, match="W&B's manifest says"):
        cache.blob(DIGEST, "output.pickle", fill, expected_md5=md5_of(b"logged"))
    assert hashed_by_the_cache == []
    assert cache.blob_path(DIGEST, "output.pickle") is None
    assert not blob_entry(cache).exists()
    assert [name for name in tmp_leftovers(cache) if not name.startswith("scratch-")] == []
