"""One benchmark measurement, run by a benchmark environment's own Python.

Executed by path (``<venv>/bin/python worker.py SPEC.json``), so it imports nothing from
``dagster_wandb_v2`` at module level: the legacy environment has only ``dagster-wandb``.
It prints one line ``BENCH-RESULT {json}`` on stdout; everything else goes to stderr.
With ``--serve`` it runs every spec file named on its stdin in the same process (``--quick``
mode: no import or service start per measurement, so its timings mean less).

A spec is ``{"task": ..., "side": ..., "params": {...}, "server": {...}, "root": ...}``:

- ``side``: ``legacy`` (``dagster-wandb``), ``ours`` (``dagster_wandb_v2``), ``sdk`` (the
  bare wandb SDK doing the same W&B calls in one run), ``dagster`` (Dagster with its
  default IO manager) or ``raw`` (plain sockets over loopback);
- ``task``: see :data:`TASKS`.

Timings exclude the process start and the imports (see :func:`warm_up`), and include the
first ``wandb.init`` of the process (which starts the SDK's service process), as a real
Dagster run pays it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import importlib
import json
import os
import pickle
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "
ERROR_PREFIX = "BENCH-ERROR "
IO_KEY = "wandb_artifacts_manager"
CHUNK = 1 << 20

Spec = dict[str, Any]
Result = dict[str, Any]


# --- measuring ------------------------------------------------------------------------


class Timings:
    """Durations of named calls, in seconds, in call order."""

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float) -> None:
        self.calls.setdefault(name, []).append(seconds)

    @contextlib.contextmanager
    def measure(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        """Time every call of ``owner.attribute`` (a function on a class) as ``name``."""
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - start)

        setattr(owner, attribute, timed)


def _status_kib(field: str, pid: int | str = "self") -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_bytes() -> int:
    """Current resident set size of this process."""
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size of this process since the last :func:`reset_peak_rss`."""
    return _status_kib("VmHWM") * 1024


def _children() -> list[int]:
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            found.append(int(entry.name))
    return found


def reset_peak_rss() -> None:
    """Reset the peak RSS of this process and its children (Linux ``clear_refs``)."""
    for pid in ["self", *map(str, _children())]:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as file:
            file.write("5")


class AnonymousPeak:
    """Samples this process's anonymous RSS (``RssAnon``: not file pages) every 5 ms.

    ``VmHWM`` also counts the pages of files mapped in memory, e.g. by the SDK's MD5 of a
    file it ``mmap``s whole; this tells the two apart.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, _status_kib("RssAnon") * 1024)
            if self._stop.wait(0.005):
                return

    def __enter__(self) -> AnonymousPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def anonymous_rss_bytes() -> int:
    return _status_kib("RssAnon") * 1024


def children_peak_rss_bytes() -> int:
    """Sum of the peak RSS of this process's children (the SDK's service process)."""
    return sum(_status_kib("VmHWM", pid) * 1024 for pid in _children())


# --- the server's request log: what was downloaded ------------------------------------


class DownloadCounter:
    """Bytes the server sent for downloads, from its JSON-lines request log."""

    def __init__(self, log_path: str | None, blobs_dir: str | None) -> None:
        self.log = Path(log_path) if log_path else None
        self.blobs = Path(blobs_dir) if blobs_dir else None

    def mark(self) -> int:
        return self.log.stat().st_size if self.log and self.log.exists() else 0

    def since(self, offset: int, payload_md5: str | None = None) -> dict[str, int]:
        """Downloads since ``offset``: ``{"bytes", "payload_bytes", "requests"}``."""
        time.sleep(0.2)  # the server logs a request after answering it
        counts = {"bytes": 0, "payload_bytes": 0, "requests": 0}
        if self.log is None or self.blobs is None or not self.log.exists():
            return counts
        with self.log.open("rb") as file:
            file.seek(offset)
            lines = file.read().splitlines()
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("route") != "download" or record.get("method") != "GET":
                continue
            md5 = _digest_in_path(str(record["path"]))
            blob = self.blobs / md5[:2] / md5
            size = blob.stat().st_size if md5 and blob.exists() else 0
            counts["requests"] += 1
            counts["bytes"] += size
            if payload_md5 is not None and md5 == payload_md5:
                counts["payload_bytes"] += size
        return counts


def _digest_in_path(path: str) -> str:
    """The MD5 a download path names: ``/blobs/<md5>/...`` (wandb 0.29) or the last MD5
    segment of ``/artifactsV2/.../<md5>/...`` (wandb 0.30+), as the server resolves it."""
    parts = [part for part in path.split("/") if part]

    def is_md5(value: str) -> bool:
        return len(value) == 32 and all(c in "0123456789abcdef" for c in value.lower())

    if parts and parts[0] == "blobs":
        return parts[1].lower() if len(parts) > 1 and is_md5(parts[1]) else ""
    return next((part.lower() for part in reversed(parts[1:]) if is_md5(part)), "")


# --- the two integrations behind one interface ----------------------------------------


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


class Side:
    """How one integration is wired into Dagster for a benchmark run."""

    name = ""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        server = spec["server"]
        self.base_url: str = server["base_url"]
        self.api_key: str = server["api_key"]
        self.entity: str = server["entity"]
        self.project: str = spec["project"]
        self.root = Path(spec["root"])

    def resources(self, **io_config: Any) -> dict[str, Any]:
        raise NotImplementedError

    def instrument(self, timings: Timings) -> None:
        raise NotImplementedError


class LegacySide(Side):
    """``dagster-wandb``: ``wandb_resource``, ``wandb_config``, ``wandb_artifacts_io_manager``."""

    name = "legacy"

    def resources(self, **io_config: Any) -> dict[str, Any]:
        from dagster import make_values_resource

        legacy = importlib.import_module("dagster_wandb")
        io_config.pop("max_concurrent_reads", None)  # the legacy reads one at a time
        io_config.setdefault("base_dir", str(self.root / "dagster-storage"))
        return {
            "wandb_resource": legacy.wandb_resource.configured(
                {"api_key": self.api_key, "host": self.base_url}
            ),
            "wandb_config": make_values_resource(entity=str, project=str).configured(
                {"entity": self.entity, "project": self.project}
            ),
            IO_KEY: legacy.wandb_artifacts_io_manager.configured(io_config),
        }

    def instrument(self, timings: Timings) -> None:
        manager = importlib.import_module("dagster_wandb.io_manager").ArtifactsIOManager
        timings.wrap(manager, "handle_output", "output")
        timings.wrap(manager, "load_input", "input")
        timings.wrap(manager, "_clean_local_storage_path", "eviction")


class OursSide(Side):
    """``dagster_wandb_v2``: ``WandbResource`` and ``WandbArtifactsIOManager``."""

    name = "ours"

    def resources(self, **io_config: Any) -> dict[str, Any]:
        v2 = importlib.import_module("dagster_wandb_v2")
        resource = v2.WandbResource(
            api_key=self.api_key, host=self.base_url, entity=self.entity, project=self.project
        )
        io_config.setdefault("base_dir", str(self.root / "dagster-storage"))
        return {"wandb": resource, IO_KEY: v2.WandbArtifactsIOManager(wandb=resource, **io_config)}

    def instrument(self, timings: Timings) -> None:
        manager = importlib.import_module("dagster_wandb_v2.io_manager").WandbArtifactsIOManager
        client = importlib.import_module("dagster_wandb_v2.client")
        cache = importlib.import_module("dagster_wandb_v2.cache").ArtifactCache
        timings.wrap(manager, "handle_output", "output")
        timings.wrap(manager, "load_input", "input")
        timings.wrap(manager, "teardown_after_execution", "teardown")
        timings.wrap(client.SdkWandbClient, "start_run", "run_start")
        timings.wrap(client._SdkRun, "finish", "run_finish")
        timings.wrap(cache, "evict_expired", "eviction")


SIDES: dict[str, type[Side]] = {"legacy": LegacySide, "ours": OursSide}


def _side(spec: Spec) -> Side:
    return SIDES[spec["side"]](spec)


def _instance(root: Path) -> Any:
    from dagster import DagsterInstance

    directory = root / "dagster-instance"
    directory.mkdir(parents=True, exist_ok=True)
    return DagsterInstance.ephemeral(tempdir=str(directory))


def _materialize(assets: list[Any], resources: dict[str, Any], root: Path, **kwargs: Any) -> Any:
    from dagster import materialize

    with _instance(root) as instance:
        result = materialize(assets, resources=resources, instance=instance, **kwargs)
    if not result.success:
        raise RuntimeError("the benchmark run failed")
    return result


# --- P0/P1: a chain of small assets ----------------------------------------------------


def chain_value(nonce: str, index: int, previous: list[Any] | None) -> list[Any]:
    """What asset ``index`` of the chain returns: small, and unique to this repetition."""
    carried = previous[2] if previous else 0
    return [nonce, index, carried + index, list(range(100))]


def chain_name(index: int) -> str:
    return f"chain_{index:02d}"


def chain_assets(n_assets: int, nonce: str, io_key: str | None) -> list[Any]:
    """``chain_00 -> chain_01 -> ...``: each asset reads the previous one and writes its own."""
    from dagster import AssetIn, asset

    metadata = _config(type="dataset") if io_key else None
    extra: dict[str, Any] = {"io_manager_key": io_key} if io_key else {}

    def first() -> Any:
        def _first() -> list[Any]:
            return chain_value(nonce, 0, None)

        decorate: Any = asset(name=chain_name(0), metadata=metadata, **extra)
        return decorate(_first)

    def following(index: int) -> Any:
        def _following(previous: list[Any]) -> list[Any]:
            if previous[0] != nonce or previous[1] != index - 1:
                raise AssertionError(f"{chain_name(index)} read a wrong value: {previous[:3]}")
            return chain_value(nonce, index, previous)

        decorate: Any = asset(
            name=chain_name(index),
            ins={"previous": AssetIn(key=chain_name(index - 1))},
            metadata=metadata,
            **extra,
        )
        return decorate(_following)

    return [first(), *(following(index) for index in range(1, n_assets))]


def task_chain(spec: Spec) -> Result:
    """A Dagster run of the chain (legacy, ours or default IO manager), or the bare SDK."""
    params = spec["params"]
    n_assets = int(params["n_assets"])
    nonce = spec["nonce"]
    root = Path(spec["root"])
    timings = Timings()
    if spec["side"] == "sdk":
        return sdk_chain(spec, n_assets, nonce, timings)
    if spec["side"] == "dagster":
        assets = chain_assets(n_assets, nonce, None)
        with timings.measure("total"):
            _materialize(assets, {}, root)
        return {"total_s": timings.calls["total"][0], "calls": timings.calls}
    side = _side(spec)
    side.instrument(timings)
    assets = chain_assets(n_assets, nonce, IO_KEY)
    resources = side.resources()
    with timings.measure("total"):
        _materialize(assets, resources, root)
    return {"total_s": timings.calls["total"][0], "calls": timings.calls}


def sdk_settings(spec: Spec) -> Any:
    """The settings the IO manager's own client uses (quiet, no system metrics)."""
    import wandb

    server = spec["server"]
    try:
        return wandb.Settings(
            api_key=server["api_key"],
            base_url=server["base_url"],
            silent=True,
            console="off",
            disable_git=True,
            disable_code=True,
            save_code=False,
            x_disable_stats=True,
            x_disable_machine_info=True,
            x_save_requirements=False,
        )
    except Exception:  # an SDK without some of these settings: the environment sets them
        return wandb.Settings(api_key=server["api_key"], base_url=server["base_url"])


def sdk_chain(spec: Spec, n_assets: int, nonce: str, timings: Timings) -> Result:
    """The same W&B work as the chain, in one run: log+wait each output, use+download each input."""
    import wandb

    root = Path(spec["root"])
    server = spec["server"]
    prefix = f"{server['entity']}/{spec['project']}"
    start = time.perf_counter()
    with timings.measure("run_start"):
        run = wandb.init(
            id=f"sdk-{nonce}",
            project=spec["project"],
            entity=server["entity"],
            dir=str(root / "sdk-run"),
            settings=sdk_settings(spec),
        )
    previous: list[Any] | None = None
    for index in range(n_assets):
        if index > 0:
            with timings.measure("input"):
                used = run.use_artifact(f"{prefix}/{chain_name(index - 1)}:latest")
                directory = used.download(root=str(root / "downloads" / chain_name(index - 1)))
                with open(os.path.join(directory, "output.pickle"), "rb") as file:
                    previous = pickle.load(file)
            assert previous is not None and previous[0] == nonce
        value = chain_value(nonce, index, previous)
        with timings.measure("output"):
            staging = root / "staging" / chain_name(index)
            staging.mkdir(parents=True, exist_ok=True)
            payload = staging / "output.pickle"
            with payload.open("wb") as file:
                pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
            artifact = wandb.Artifact(chain_name(index), "dataset")
            artifact.add_file(str(payload), name="output.pickle", policy="immutable")
            run.log_artifact(artifact, aliases=["latest", f"dagster-run-{nonce[:8]}"]).wait()
        previous = value
    with timings.measure("run_finish"):
        run.finish()
    timings.add("total", time.perf_counter() - start)
    return {"total_s": timings.calls["total"][0], "calls": timings.calls}


# --- setup: artifacts logged with the bare SDK, read by both integrations ---------------


def task_setup_artifacts(spec: Spec) -> Result:
    """Log ``params["artifacts"]``: ``[{"name", "size"}]`` as pickled random bytes."""
    import wandb

    root = Path(spec["root"])
    run = wandb.init(
        project=spec["project"],
        entity=spec["server"]["entity"],
        dir=str(root / "setup-run"),
        settings=sdk_settings(spec),
    )
    digests = {}
    for item in spec["params"]["artifacts"]:
        staging = root / "setup" / item["name"]
        staging.mkdir(parents=True, exist_ok=True)
        payload = staging / "output.pickle"
        with payload.open("wb") as file:
            pickle.dump(os.urandom(int(item["size"])), file, protocol=pickle.HIGHEST_PROTOCOL)
        artifact = wandb.Artifact(item["name"], "dataset")
        artifact.add_file(str(payload), name="output.pickle")
        run.log_artifact(artifact, aliases=["latest"]).wait()
        digests[item["name"]] = _md5_file(payload)
    run.finish()
    return {"md5": digests}


def _md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _external_reader(name: str, io_key: str, partitions: Any = None) -> list[Any]:
    """An external asset ``name`` read through ``io_key``, and an asset reading it."""
    from dagster import AssetIn, AssetSpec, asset

    source = AssetSpec(name, partitions_def=partitions).with_io_manager_key(io_key)

    @asset(name=f"read_{name}", ins={"source": AssetIn(key=name)})
    def reader(source: Any) -> int:
        if isinstance(source, dict):
            return sum(len(value) for value in source.values())
        return int(getattr(source, "nbytes", None) or len(source))

    return [source, reader]


# --- P2: re-reading an unchanged artifact in a new run ----------------------------------


def task_reread(spec: Spec) -> Result:
    """Read an artifact in a first run (cold), then again in a new run on the same machine."""
    params = spec["params"]
    side = _side(spec)
    timings = Timings()
    side.instrument(timings)
    counter = DownloadCounter(spec["server"].get("request_log"), spec["server"].get("blobs_dir"))
    root = Path(spec["root"])
    runs = []
    for label in ("first", "reread"):
        assets = _external_reader(params["name"], IO_KEY)
        mark = counter.mark()
        start = time.perf_counter()
        _materialize(assets, side.resources(), root / label, selection=[f"read_{params['name']}"])
        elapsed = time.perf_counter() - start
        downloads = counter.since(mark, params["md5"])
        runs.append({"label": label, "total_s": elapsed, **downloads})
    first, reread = runs
    return {
        "first_s": first["total_s"],
        "first_bytes": first["bytes"],
        "first_payload_bytes": first["payload_bytes"],
        "reread_s": reread["total_s"],
        "reread_bytes": reread["bytes"],
        "reread_payload_bytes": reread["payload_bytes"],
        "reread_requests": reread["requests"],
        "calls": timings.calls,
    }


# --- P3: a large NumPy array -----------------------------------------------------------


def big_array(size_bytes: int, seed: float) -> Any:
    import numpy as np

    return np.full(size_bytes // 8, seed, dtype=np.float64)


def task_bigarray_write(spec: Spec) -> Result:
    """Write the array (one run), then read it back in a new run on the same machine."""
    params = spec["params"]
    size = int(params["size_bytes"])
    side = _side(spec)
    root = Path(spec["root"])
    baseline = rss_bytes()
    holder = {"array": big_array(size, float(params["seed"]))}

    from dagster import asset

    @asset(name="big_array", metadata=_config(type="dataset"), io_manager_key=IO_KEY)
    def big_array_asset() -> Any:
        return holder["array"]

    timings = Timings()
    side.instrument(timings)
    resources = side.resources()
    anonymous_baseline = anonymous_rss_bytes() - size  # the array is anonymous memory
    reset_peak_rss()
    start = time.perf_counter()
    with AnonymousPeak() as anonymous:
        result = _materialize([big_array_asset], resources, root / "write")
    write_s = time.perf_counter() - start
    write_io_s = _io_seconds(timings, "output")
    write_peak = peak_rss_bytes()
    write_service_peak = children_peak_rss_bytes()
    del result, big_array_asset
    holder.clear()
    gc.collect()

    read_baseline = rss_bytes()
    timings.calls.clear()
    reset_peak_rss()
    start = time.perf_counter()
    _materialize(
        _external_reader("big_array", IO_KEY),
        side.resources(),
        root / "read",
        selection=["read_big_array"],
    )
    warm_read_s = time.perf_counter() - start
    return {
        "size_bytes": size,
        "write_s": write_s,
        "write_io_s": write_io_s,
        "warm_read_io_s": _io_seconds(timings, "input"),
        "write_peak_rss_over_baseline": max(0, write_peak - baseline),
        "write_peak_anonymous_rss_over_baseline": max(0, anonymous.peak - anonymous_baseline),
        "write_peak_rss": write_peak,
        "write_service_peak_rss": write_service_peak,
        "warm_read_s": warm_read_s,
        "warm_read_peak_rss_over_baseline": max(0, peak_rss_bytes() - read_baseline),
    }


def task_bigarray_read(spec: Spec) -> Result:
    """Read the array in a fresh place (nothing cached: as on another machine)."""
    side = _side(spec)
    root = Path(spec["root"])
    timings = Timings()
    side.instrument(timings)
    gc.collect()
    baseline = rss_bytes()
    anonymous_baseline = anonymous_rss_bytes()
    reset_peak_rss()
    start = time.perf_counter()
    with AnonymousPeak() as anonymous:
        _materialize(
            _external_reader("big_array", IO_KEY),
            side.resources(),
            root / "read",
            selection=["read_big_array"],
        )
    read_s = time.perf_counter() - start
    return {
        "size_bytes": int(spec["params"]["size_bytes"]),
        "read_s": read_s,
        "read_io_s": _io_seconds(timings, "input"),
        "read_peak_rss_over_baseline": max(0, peak_rss_bytes() - baseline),
        "read_peak_anonymous_rss_over_baseline": max(0, anonymous.peak - anonymous_baseline),
        "read_peak_rss": peak_rss_bytes(),
        "read_service_peak_rss": children_peak_rss_bytes(),
    }


def _pickled_array(size: int, seed: float, path: Path) -> str:
    """Pickle the benchmark array to ``path`` as the IO manager does; its MD5 hex."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = big_array(size, seed)
    with path.open("wb") as file:
        pickle.dump(array, file, protocol=pickle.HIGHEST_PROTOCOL)
    del array
    return _md5_file(path)


def task_bigarray_sdk_write(spec: Spec) -> Result:
    """The bare SDK logging the pickled array, already on disk: ``add_file`` (the SDK's
    MD5; ``policy="immutable"``, no copy), ``log_artifact`` + ``wait`` (the upload)."""
    import wandb

    params = spec["params"]
    root = Path(spec["root"])
    payload = root / "staging" / "output.pickle"
    _pickled_array(int(params["size_bytes"]), float(params["seed"]), payload)
    run = wandb.init(
        project=spec["project"],
        entity=spec["server"]["entity"],
        dir=str(root / "sdk-run"),
        settings=sdk_settings(spec),
    )
    gc.collect()
    baseline = rss_bytes()
    anonymous_baseline = anonymous_rss_bytes()
    reset_peak_rss()
    with AnonymousPeak() as anonymous:
        start = time.perf_counter()
        artifact = wandb.Artifact("big_array", "dataset")
        artifact.add_file(str(payload), name="output.pickle", policy="immutable")
        hashed = time.perf_counter()
        run.log_artifact(artifact, aliases=["latest"]).wait()
        done = time.perf_counter()
    result = {
        "size_bytes": payload.stat().st_size,
        "write_s": done - start,
        "write_hash_s": hashed - start,
        "write_log_s": done - hashed,
        "write_peak_rss_over_baseline": max(0, peak_rss_bytes() - baseline),
        "write_peak_anonymous_rss_over_baseline": max(0, anonymous.peak - anonymous_baseline),
        "write_service_peak_rss": children_peak_rss_bytes(),
    }
    run.finish()
    return result


def task_bigarray_sdk_read(spec: Spec) -> Result:
    """The bare SDK reading it in a fresh place: ``use_artifact`` + ``download`` (the
    SDK's cache is empty: a fresh directory), then unpickling the file apart."""
    import wandb

    root = Path(spec["root"])
    run = wandb.init(
        project=spec["project"],
        entity=spec["server"]["entity"],
        dir=str(root / "sdk-run"),
        settings=sdk_settings(spec),
    )
    gc.collect()
    baseline = rss_bytes()
    anonymous_baseline = anonymous_rss_bytes()
    reset_peak_rss()
    with AnonymousPeak() as anonymous:
        start = time.perf_counter()
        used = run.use_artifact(f"{spec['server']['entity']}/{spec['project']}/big_array:latest")
        directory = used.download(root=str(root / "download"))
        downloaded = time.perf_counter()
        with open(os.path.join(directory, "output.pickle"), "rb") as file:
            value = pickle.load(file)
        loaded = time.perf_counter()
    result = {
        "size_bytes": int(value.nbytes),
        "read_s": downloaded - start,
        "read_load_s": loaded - downloaded,
        "read_peak_rss_over_baseline": max(0, peak_rss_bytes() - baseline),
        "read_peak_anonymous_rss_over_baseline": max(0, anonymous.peak - anonymous_baseline),
        "read_service_peak_rss": children_peak_rss_bytes(),
    }
    del value
    run.finish()
    return result


def task_server_direct(spec: Spec) -> Result:
    """The local server alone: the pickled array ``PUT`` to ``/blobs/<md5>`` (it hashes and
    stores while receiving) and ``GET`` back into a file, one HTTP/1.1 request each over
    127.0.0.1, 1 MiB buffers on the client side."""
    import base64
    import http.client
    from urllib.parse import urlsplit

    params = spec["params"]
    root = Path(spec["root"])
    server = spec["server"]
    payload = root / "staging" / "output.pickle"
    md5_hex = _pickled_array(int(params["size_bytes"]), float(params["seed"]), payload)
    size = payload.stat().st_size
    parts = urlsplit(server["base_url"])
    token = base64.b64encode(f"api:{server['api_key']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=600, blocksize=CHUNK
        )

    connection = connect()
    start = time.perf_counter()
    with payload.open("rb") as file:
        connection.request(
            "PUT",
            f"/blobs/{md5_hex}",
            body=file,
            headers={**headers, "Content-Length": str(size)},
        )
        response = connection.getresponse()
        response.read()
    upload_s = time.perf_counter() - start
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"PUT /blobs answered {response.status}")

    connection = connect()
    received = 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    start = time.perf_counter()
    connection.request("GET", f"/blobs/{md5_hex}", headers=headers)
    response = connection.getresponse()
    with (root / "down.bin").open("wb") as out:
        while count := response.readinto(buffer):
            out.write(view[:count])
            received += count
    download_s = time.perf_counter() - start
    connection.close()
    if response.status != 200 or received != size:
        raise RuntimeError(f"GET /blobs answered {response.status}, {received} of {size} bytes")
    return {"size_bytes": size, "upload_s": upload_s, "download_s": download_s}


def _io_seconds(timings: Timings, kind: str) -> float:
    """Time in the IO manager's ``kind`` calls, less opening the W&B run (once a process)."""
    return sum(timings.calls.get(kind, [])) - sum(timings.calls.get("run_start", []))


def task_raw_copy(spec: Spec) -> Result:
    """The same bytes up and down a plain TCP connection on 127.0.0.1, file to file."""
    params = spec["params"]
    size = int(params["size_bytes"])
    root = Path(spec["root"])
    root.mkdir(parents=True, exist_ok=True)
    source, received, downloaded = root / "source.bin", root / "received.bin", root / "down.bin"
    array = big_array(size, float(params["seed"]))
    with source.open("wb") as file:
        file.write(memoryview(array).cast("B"))
    del array

    def receive(connection: socket.socket, target: Path) -> None:
        with target.open("wb") as file:
            buffer = bytearray(CHUNK)
            view = memoryview(buffer)
            while count := connection.recv_into(buffer):
                file.write(view[:count])

    def send(connection: socket.socket, path: Path) -> None:
        with path.open("rb") as file:
            connection.sendfile(file)
        connection.shutdown(socket.SHUT_WR)

    def copy(
        sender: Callable[[socket.socket], None], receiver: Callable[[socket.socket], None]
    ) -> float:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            done = threading.Event()

            def serve() -> None:
                connection, _ = listener.accept()
                with connection:
                    receiver(connection)
                done.set()

            thread = threading.Thread(target=serve)
            thread.start()
            start = time.perf_counter()
            with socket.create_connection(("127.0.0.1", port)) as client:
                sender(client)
                done.wait()
            thread.join()
            return time.perf_counter() - start

    upload_s = copy(lambda c: send(c, source), lambda c: receive(c, received))
    download_s = copy(lambda c: send(c, received), lambda c: receive(c, downloaded))
    return {"size_bytes": size, "upload_s": upload_s, "download_s": download_s}


# --- P4: fan-in read of many partitions -------------------------------------------------


def task_fanin(spec: Spec) -> Result:
    """One run reading every partition of an external partitioned artifact (side ``sdk``:
    :func:`task_fanin_sdk`)."""
    from dagster import StaticPartitionsDefinition

    if spec["side"] == "sdk":
        return task_fanin_sdk(spec)
    params = spec["params"]
    keys = list(params["keys"])
    side = _side(spec)
    timings = Timings()
    side.instrument(timings)
    assets = _external_reader(params["name"], IO_KEY, StaticPartitionsDefinition(keys))
    io_config = {}
    if params.get("max_concurrent_reads"):
        io_config["max_concurrent_reads"] = int(params["max_concurrent_reads"])
    resources = side.resources(**io_config)
    start = time.perf_counter()
    _materialize(assets, resources, Path(spec["root"]), selection=[f"read_{params['name']}"])
    total = time.perf_counter() - start
    return _fanin_result(total, timings, len(keys))


def _fanin_result(total: float, timings: Timings, partitions: int) -> Result:
    """A fan-in's figures: the whole run, the reads (the ``input`` calls) and per partition."""
    load = sum(timings.calls.get("input", [0.0]))
    return {
        "total_s": total,
        "load_s": load,
        "per_partition_s": load / partitions,
        "partitions": partitions,
        "calls": timings.calls,
    }


def task_fanin_sdk(spec: Spec) -> Result:
    """The bare SDK reading the same partitions in one run, one after another, as an SDK
    user reads one: ``use_artifact("<entity>/<project>/<name>.<key>:latest")``,
    ``download`` into a fresh directory per key, ``pickle.load`` of ``output.pickle``.

    Nothing is cached at the start: the SDK's file cache is under this task's own
    ``WANDB_CACHE_DIR`` (a fresh directory per measurement, as for the integrations).
    ``load_s`` times the reads only; ``total_s`` adds ``wandb.init`` and ``finish``.
    """
    import wandb

    params = spec["params"]
    keys = list(params["keys"])
    root = Path(spec["root"])
    prefix = f"{spec['server']['entity']}/{spec['project']}/{params['name']}"
    cache = wandb.env.get_cache_dir() / "artifacts"
    if cache.is_dir() and any(path.is_file() for path in cache.rglob("*")):
        raise AssertionError(f"the SDK's file cache {cache} is not empty: the reads would hit it")
    timings = Timings()
    start = time.perf_counter()
    with timings.measure("run_start"):
        run = wandb.init(
            project=spec["project"],
            entity=spec["server"]["entity"],
            dir=str(root / "sdk-run"),
            settings=sdk_settings(spec),
        )
    for key in keys:
        with timings.measure("input"):
            used = run.use_artifact(f"{prefix}.{key}:latest")
            directory = used.download(root=str(root / "sdk-downloads" / key))
            with open(os.path.join(directory, "output.pickle"), "rb") as file:
                value = pickle.load(file)
        if not isinstance(value, bytes) or not value:
            raise AssertionError(f"partition {key} read a wrong value: {type(value)}")
    with timings.measure("run_finish"):
        run.finish()
    total = time.perf_counter() - start
    return _fanin_result(total, timings, len(keys))


# --- P5: cache eviction at teardown ---------------------------------------------------


def task_eviction(spec: Spec) -> Result:
    """Eviction over a cache of N files, none expired: ours at teardown, the legacy's sweep."""
    params = spec["params"]
    root = Path(spec["root"])
    inner = int(params.get("inner_repeats", 5))
    out: dict[str, Any] = {}
    for n_files in params["n_files"]:
        base = root / f"cache-{n_files}"
        storage = base / "storage" / "wandb_artifacts_manager"
        if spec["side"] == "ours":
            cache_module = importlib.import_module("dagster_wandb_v2.cache")
            cache = cache_module.ArtifactCache(storage, ttl_minutes=60 * 24 * 30)
            for index in range(n_files):
                entry = storage / "blobs" / f"{index:032x}"
                entry.mkdir(parents=True)
                (entry / "output.pickle").write_bytes(b"x" * 64)
            marker = storage / cache_module.LAST_EVICTION_MARKER

            def full_scan(cache: Any = cache, marker: Path = marker) -> Any:
                marker.unlink(missing_ok=True)
                return cache.evict_expired()

            scans = _repeat(full_scan, inner)
            teardowns = _repeat(cache.evict_expired, inner)  # marker fresh: the usual case
            out[str(n_files)] = {"teardown_s": _median(teardowns), "full_scan_s": _median(scans)}
        else:
            legacy = importlib.import_module("dagster_wandb.io_manager")
            manager = legacy.ArtifactsIOManager(
                None,
                {
                    "dagster_run_id": "0" * 36,
                    "wandb_host": "",
                    "wandb_entity": "",
                    "wandb_project": "",
                    "wandb_run_name": None,
                    "wandb_run_id": None,
                    "wandb_run_tags": None,
                    "base_dir": str(base),
                    "cache_duration_in_minutes": 60 * 24 * 30,
                },
            )
            for index in range(n_files):
                entry = storage / "artifacts" / f"artifact_{index}.v0"
                entry.mkdir(parents=True)
                (entry / "output.pickle").write_bytes(b"x" * 64)
            sweeps = _repeat(manager._clean_local_storage_path, inner)
            # The legacy sweeps after every input and output; there is no other path.
            out[str(n_files)] = {"teardown_s": _median(sweeps), "full_scan_s": _median(sweeps)}
        remaining = sum(1 for _ in storage.rglob("output.pickle"))
        if remaining != n_files:
            raise AssertionError(f"eviction removed unexpired files: {remaining}/{n_files}")
    return {"by_size": out}


def _repeat(function: Callable[[], Any], times: int) -> list[float]:
    durations = []
    for _ in range(times):
        start = time.perf_counter()
        function()
        durations.append(time.perf_counter() - start)
    return durations


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# --- entry point ----------------------------------------------------------------------


TASKS: dict[str, Callable[[Spec], Result]] = {
    "chain": task_chain,
    "setup_artifacts": task_setup_artifacts,
    "reread": task_reread,
    "bigarray_write": task_bigarray_write,
    "bigarray_read": task_bigarray_read,
    "raw_copy": task_raw_copy,
    "bigarray_sdk_write": task_bigarray_sdk_write,
    "bigarray_sdk_read": task_bigarray_sdk_read,
    "server_direct": task_server_direct,
    "fanin": task_fanin,
    "eviction": task_eviction,
}


def versions() -> dict[str, str]:
    from importlib import metadata

    found = {"python": sys.version.split()[0]}
    for name in ("dagster", "wandb", "dagster-wandb", "dagster-wandb-v2", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def run_spec(spec: Spec) -> Result:
    if spec["task"] == "versions":
        return versions()
    os.environ.update(spec.get("environment", {}))
    Path(spec["root"]).mkdir(parents=True, exist_ok=True)
    warm_up(Path(spec["root"]))
    return TASKS[spec["task"]](spec)


_WARM = False
WARM_UP_IMPORTS = (
    "numpy",
    "wandb",
    "wandb.apis.public",
    "wandb.sdk.launch",
    "wandb.sdk.launch.inputs.internal",
    "wandb.sdk.launch.inputs.files",
    "wandb.sdk.launch.inputs.schema",
    "wandb.sdk.artifacts._internal_artifact",
    "wandb.sdk.artifacts._models.pagination",
    "wandb.sdk.artifacts._generated.artifact_by_id",
    "wandb.sdk.artifacts._generated.artifact_membership_by_name",
    "wandb.sdk.artifacts._generated.artifact_type",
    "wandb.sdk.artifacts._generated.fetch_artifact_manifest",
    "wandb.sdk.artifacts._generated.operations",
    "requests",
    "urllib.request",
    "http.cookiejar",
    "mimetypes",
    "encodings.idna",
    "sentry_sdk",
)
"""What the integrations and the SDK import lazily on first use (found by diffing
``sys.modules`` around a measured run), in either environment's wandb."""


def warm_up(root: Path) -> None:
    """Import what every side imports on first use, before any clock starts.

    Dagster imports its instance and execution machinery lazily, and ``wandb.init`` imports
    the SDK's public API and launch modules on its first call; every side pays that once
    per process, whatever the integration, so it is left out of the measurements.
    """
    global _WARM
    if _WARM:
        return
    from dagster import asset

    for module in WARM_UP_IMPORTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    for module in ("dagster_wandb", "dagster_wandb_v2"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)

    @asset(name="warm_up")
    def warm_up_asset() -> int:
        return 1

    _materialize([warm_up_asset], {}, root / "warm-up")
    _WARM = True


def serve() -> int:
    """Run the spec files named on stdin, one per line, in this process (``--quick``)."""
    for line in sys.stdin:
        try:
            answer = RESULT_PREFIX + json.dumps(
                run_spec(json.loads(Path(line.strip()).read_text()))
            )
        except Exception as error:
            import traceback

            traceback.print_exc()
            answer = ERROR_PREFIX + json.dumps({"error": repr(error)})
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    if argv[1:] == ["--serve"]:
        return serve()
    result = run_spec(json.loads(Path(argv[1]).read_text()))
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
