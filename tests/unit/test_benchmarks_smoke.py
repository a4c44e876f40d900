"""The benchmark harness still runs: ``--quick --only ours`` on this environment's Python.

No legacy environment is built and no timing is asserted: only that every workload ran
and reported well-formed, positive numbers.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.workloads import WORKLOAD_IDS

#: ``python -m benchmarks`` runs from the repository root, where the package lives.
REPOSITORY = Path(__file__).resolve().parents[2]


def _numbers(workload: dict[str, Any]) -> list[tuple[str, str, float]]:
    found = []
    for name, metric in workload["metrics"].items():
        for value in metric["samples"]:
            found.append((name, metric["unit"], value))
    return found


def test_quick_benchmarks_of_ours(tmp_path: Path) -> None:
    output = tmp_path / "bench-results.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "ours",
            "--no-chart",
            "--ours-python",
            sys.executable,
            "--cache-dir",
            str(tmp_path / "bench"),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stderr[-5000:]
    assert "P1" in completed.stdout  # the table

    results = json.loads(output.read_text())
    meta = results["meta"]
    assert meta["mode"] == "quick"
    assert meta["reps"] == 1
    assert meta["measured"] == ["ours"]
    assert "dagster-wandb-v2" in meta["versions"]["ours"]
    assert [workload["id"] for workload in results["workloads"]] == list(WORKLOAD_IDS)
    (fan_in,) = [workload for workload in results["workloads"] if workload["id"] == "P4"]
    assert "ours_load_20ms" in fan_in["metrics"]  # read again with latency, as W&B is remote
    for name in ("sdk_load", "sdk_per_partition", "sdk_load_20ms"):  # the bare SDK's reads
        samples = fan_in["metrics"][name]["samples"]
        assert samples and all(value > 0 for value in samples), (name, samples)
    sdk_rows = [row for row in fan_in["rows"] if row["reference_label"] == "bare SDK"]
    assert len(sdk_rows) == 2 and all(row["ratio"] > 0 for row in sdk_rows), sdk_rows

    for workload in results["workloads"]:
        assert workload["title"] and workload["rows"] and workload["metrics"]
        assert workload["duration_s"] > 0
        numbers = _numbers(workload)
        assert numbers, workload["id"]
        for name, unit, value in numbers:
            assert isinstance(value, (int, float)), (workload["id"], name)
            if unit == "B":  # bytes downloaded: none is the goal
                assert value >= 0, (workload["id"], name, value)
            else:
                assert value > 0, (workload["id"], name, value)
        for row in workload["rows"]:
            assert set(row) >= {"measure", "reference", "ours", "ratio", "target", "met"}
            if row["reference_label"] == "legacy":
                assert row["reference"] is None  # legacy was not measured
            else:
                assert row["ours"] is not None and row["ours"] >= 0, row
