"""The local artifact cache: fills once, atomic publishing, TTL eviction."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dagster_wandb_v2 import cache as cache_module
from dagster_wandb_v2.cache import LAST_EVICTION_MARKER, ArtifactCache, safe_key

DIGEST = "md5:1B2M2Y8AsgTpgAmY7PhCfg=="
TTL_MINUTES = 60


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


def test_safe_key() -> None:
    assert safe_key("md5:ab/c+d==") == "md5_ab_c-d"
    assert safe_key("1B2M2Y8AsgTpgAmY7PhCfg==") == "1B2M2Y8AsgTpgAmY7PhCfg"


# --- blobs -----------------------------------------------------------------------------


def test_blob_fills_once_then_hits(cache: ArtifactCache) -> None:
    calls, fill = counting_fill(b"payload")
    first = cache.blob(DIGEST, "output.pickle", fill)
    second = cache.blob(DIGEST, "output.pickle", fill)
    assert len(calls) == 1
    assert first == second == cache.root / "blobs" / safe_key(DIGEST) / "output.pickle"
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
    path = cache.blob(DIGEST, "output.pickle", fill)
    set_mtime(path.parent, 1_000)
    cache.blob(DIGEST, "output.pickle", fill)
    assert path.parent.stat().st_mtime > time.time() - 60


def test_failing_fill_leaves_no_entry_and_no_leftover(cache: ArtifactCache) -> None:
    def fill(directory: Path) -> Path:
        (directory / "output.pickle").write_bytes(b"half")
        raise ConnectionError("download interrupted")

    with pytest.raises(ConnectionError, match="download interrupted"):
        cache.blob(DIGEST, "output.pickle", fill)
    assert cache.blob_path(DIGEST, "output.pickle") is None
    assert not (cache.root / "blobs" / safe_key(DIGEST)).exists()
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
    assert not (cache.root / "artifacts" / safe_key(DIGEST)).exists()
    assert tmp_leftovers(cache) == []


def test_fill_sees_a_staging_directory_not_the_entry(cache: ArtifactCache) -> None:
    calls, fill = counting_fill(b"payload")
    path = cache.blob(DIGEST, "output.pickle", fill)
    assert calls[0].parent == cache.root / "tmp"
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
    entry = root / "blobs" / safe_key(DIGEST)
    assert sorted(p.name for p in entry.iterdir()) == ["output.pickle"]
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
        assert result == root / "artifacts" / safe_key(DIGEST)
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
    assert first == second == cache.root / "artifacts" / safe_key(DIGEST)
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
    set_mtime(path.parent, old)
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
