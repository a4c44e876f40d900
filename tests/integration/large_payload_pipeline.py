"""Large payloads written and read in one process whose peak memory is measured, phase by
phase (``python -m tests.integration.large_payload_pipeline``).

Environment: ``LARGE_PROJECT`` (W&B project), ``LARGE_STORAGE`` (Dagster storage
directory), ``LARGE_FILE`` (a big file on disk, made by the caller), ``LARGE_ARRAY_MIB``
(size of the NumPy array to write and read), ``WANDB_BASE_URL``/``WANDB_API_KEY``.

During each phase a thread samples the anonymous RSS (``RssAnon``: heap, arrays, bytes
objects) of this process and of its wandb-core child every few milliseconds; the peak minus
the value at the start of the phase is what the phase needed. ``VmHWM`` (reset before each
phase) is reported beside it: it also counts file pages the SDK maps to hash a file
(``mmap``), which the kernel reclaims at will, so it overstates memory use. One JSON line
is printed: ``{phase: {"anon_peak_growth_mib", "hwm_growth_mib",
"core_anon_peak_growth_mib", "result"}}``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import wandb
from dagster import AssetIn, AssetSpec, asset, materialize

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource

IO = "wandb_artifacts_manager"
DATASET = {"wandb_artifact_configuration": {"type": "dataset"}}


def _status_kib(field: str, pid: int | str = "self") -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the process is gone
        return 0
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _children() -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                children.append(int(entry.name))
    return children


class _Sampler:
    """The peak ``RssAnon`` of some processes, sampled every 2 ms in a thread."""

    def __init__(self, pids: list[int | str]) -> None:
        self.pids = pids
        self.start = [_status_kib("RssAnon", pid) for pid in pids]
        self.peak = list(self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            for index, pid in enumerate(self.pids):
                self.peak[index] = max(self.peak[index], _status_kib("RssAnon", pid))

    def growth_mib(self) -> list[float]:
        self._stop.set()
        self._thread.join()
        return [(peak - start) / 1024 for peak, start in zip(self.peak, self.start, strict=True)]


def _array_elements() -> int:
    return int(os.environ["LARGE_ARRAY_MIB"]) * (1 << 20) // 8


@asset(metadata=DATASET, io_manager_key=IO)
def warm_up() -> list[int]:
    return [1, 2, 3]


@asset(io_manager_key=IO)
def big_file() -> wandb.Artifact:
    artifact = wandb.Artifact("big_file", "dataset")
    artifact.add_file(os.environ["LARGE_FILE"], name="big.bin")
    return artifact


@asset(
    ins={
        "big_file": AssetIn(
            input_manager_key=IO,
            metadata={"wandb_artifact_configuration": {"get_path": "big.bin"}},
        )
    }
)
def big_file_path(big_file: str) -> str:
    return big_file


@asset(metadata=DATASET, io_manager_key=IO)
def big_array() -> np.ndarray:
    return np.arange(_array_elements(), dtype=np.float64)


@asset(ins={"big_array": AssetIn(input_manager_key=IO)})
def big_array_summary(big_array: np.ndarray) -> list[float]:
    return [float(big_array.size), float(big_array[-1]), float(big_array[:: 1 << 12].sum())]


def _resources(base_dir: str) -> dict[str, Any]:
    wandb_resource = WandbResource(
        api_key=os.environ["WANDB_API_KEY"],
        host=os.environ["WANDB_BASE_URL"],
        project=os.environ["LARGE_PROJECT"],
    )
    return {IO: WandbArtifactsIOManager(wandb=wandb_resource, base_dir=base_dir)}


def _measured(assets: list[Any], node: str, base_dir: str) -> dict[str, Any]:
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
    hwm_start = _status_kib("VmRSS")
    sampler = _Sampler(["self", *_children()])
    result = materialize(assets, resources=_resources(base_dir), selection=[node])
    growth = sampler.growth_mib()
    assert result.success, node
    value = result.output_for_node(node)
    if isinstance(value, (np.ndarray, wandb.Artifact)):
        value = None
    del result
    gc.collect()
    return {
        "anon_peak_growth_mib": growth[0],
        "hwm_growth_mib": (_status_kib("VmHWM") - hwm_start) / 1024,
        "core_anon_peak_growth_mib": max(growth[1:], default=0.0),
        "result": value,
    }


def main() -> int:
    storage = os.environ["LARGE_STORAGE"]
    reader = str(Path(storage) / "reader")  # another machine: everything is downloaded
    external_file = AssetSpec("big_file").with_io_manager_key(IO)
    external_array = AssetSpec("big_array").with_io_manager_key(IO)
    phases = {
        "warm_up": _measured([warm_up], "warm_up", storage),
        "write_file": _measured([big_file], "big_file", storage),
        "get_path": _measured([external_file, big_file_path], "big_file_path", reader),
        "write_array": _measured([big_array], "big_array", storage),
        "read_array": _measured([external_array, big_array_summary], "big_array_summary", reader),
    }
    path = phases["get_path"]["result"]
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    phases["get_path"]["result"] = {"sha256": digest.hexdigest(), "path": path}
    print(json.dumps(phases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
