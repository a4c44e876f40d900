"""Large payloads stream between disk and W&B: a step's memory does not grow with them.

A 384 MiB file (returned in a ``wandb.Artifact``, read back with ``get_path``) must go
through a step process whose anonymous memory grows by less than a 64 MiB budget; a
256 MiB NumPy array must cost its own size once, on write and on read, and never a second
serialized copy. The step process is measured in a subprocess (see
``large_payload_pipeline.py`` for how); its wandb-core child is reported beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

REPO_ROOT = Path(__file__).resolve().parents[2]
FILE_MIB = 384
ARRAY_MIB = 256
BUDGET_MIB = 64
"""How much a step may grow beyond what the user's own value needs."""


def _big_file(path: Path, mib: int) -> str:
    """Write ``mib`` MiB of incompressible bytes, one MiB at a time; returns the SHA-256."""
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with path.open("wb") as file:
        for index in range(mib):
            chunk = block[:-8] + index.to_bytes(8, "big")
            digest.update(chunk)
            file.write(chunk)
    return digest.hexdigest()


def test_large_payloads_stream_through_a_step_within_the_memory_budget(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    sha256 = _big_file(big, FILE_MIB)
    environment = {
        # Its own wandb-core, a child of the measured process.
        **{key: value for key, value in os.environ.items() if key != "WANDB_SERVICE"},
        "LARGE_PROJECT": local_wandb.project,
        "LARGE_STORAGE": str(tmp_path / "storage"),
        "LARGE_FILE": str(big),
        "LARGE_ARRAY_MIB": str(ARRAY_MIB),
    }
    try:
        process = subprocess.run(
            [sys.executable, "-m", "tests.integration.large_payload_pipeline"],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert process.returncode == 0, process.stderr[-3000:]
        phases = json.loads(process.stdout.strip().splitlines()[-1])
        print(json.dumps(phases, indent=1))  # the measurements, for the record (-s)

        # The file never enters the step's memory, neither on write nor on read...
        assert phases["write_file"]["anon_peak_growth_mib"] < BUDGET_MIB
        assert phases["get_path"]["anon_peak_growth_mib"] < BUDGET_MIB
        # ...and what get_path returns is the very file that was written.
        assert phases["get_path"]["result"]["sha256"] == sha256
        assert Path(phases["get_path"]["result"]["path"]).stat().st_size == FILE_MIB << 20

        # The array costs its own size (the sampler sees it) and nothing more.
        for phase in ("write_array", "read_array"):
            growth = phases[phase]["anon_peak_growth_mib"]
            assert ARRAY_MIB * 0.9 < growth < ARRAY_MIB + BUDGET_MIB, (phase, growth)
        elements = (ARRAY_MIB << 20) // 8
        expected = np.arange(elements, dtype=np.float64)
        assert phases["read_array"]["result"] == [
            float(elements),
            float(elements - 1),
            float(expected[:: 1 << 12].sum()),
        ]
    finally:
        for copies in (big, tmp_path / "storage", tmp_path / "local-wandb" / "wandb-cache"):
            shutil.rmtree(copies, ignore_errors=True) if copies.is_dir() else copies.unlink()
