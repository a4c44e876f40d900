"""``python -m benchmarks``: legacy ``dagster-wandb`` and ours, side by side.

Builds (or reuses) the two environments under ``--cache-dir``, starts the local W&B server
from ours, runs every workload alternating legacy and ours, and writes the JSON results,
a table on stdout and a chart of the ratios.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import envs
from benchmarks.report import text_table
from benchmarks.runner import Runner, start_server
from benchmarks.workloads import FULL, QUICK, WORKLOAD_IDS, Context, run_all

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of dagster_wandb_v2 side by side with the legacy dagster-wandb.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and 1 repetition (checks the harness, not speed)",
    )
    parser.add_argument(
        "--only",
        choices=("both", "ours", "legacy"),
        default="both",
        help="which integration to measure (default: both)",
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOAD_IDS),
        help=f"comma-separated subset of {','.join(WORKLOAD_IDS)}",
    )
    parser.add_argument(
        "--reps", type=int, default=None, help="repetitions per workload (default 5, --quick 1)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=REPO / ".bench",
        help="environments and scratch space (default: .bench/)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("bench-results.json"),
        help="JSON results (default: bench-results.json)",
    )
    parser.add_argument(
        "--chart",
        type=Path,
        default=None,
        help="PNG chart of the ratios (default: <cache dir>/bench-ratios.png)",
    )
    parser.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    parser.add_argument(
        "--ours-python",
        type=Path,
        default=None,
        help="use this Python (with dagster_wandb_v2 installed) for ours "
        "instead of building .bench/envs/ours",
    )
    parser.add_argument(
        "--legacy-python",
        type=Path,
        default=None,
        help="use this Python (with dagster-wandb) instead of building one",
    )
    parser.add_argument(
        "--dagster",
        default=envs.DEFAULT_DAGSTER,
        help=f"Dagster version of both environments ({envs.DEFAULT_DAGSTER})",
    )
    parser.add_argument(
        "--ours-wandb",
        default=None,
        help="wandb requirement for ours, e.g. 'wandb==0.29.*' (default: newest "
        "our package allows)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the server data and run directories of this run"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="name every worker run")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so that the server and workers are stopped


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sizes = QUICK if args.quick else FULL
    if args.reps is not None:
        sizes = type(sizes)(**{**sizes.__dict__, "reps": max(1, args.reps)})
    selected = [name.strip() for name in args.workloads.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(WORKLOAD_IDS))
    if unknown:
        log(f"unknown workloads: {', '.join(unknown)} (known: {', '.join(WORKLOAD_IDS)})")
        return 2
    cache_dir = args.cache_dir.resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    pythons: dict[str, Path] = {}
    pip_log = cache_dir / "pip.log"
    if args.only in ("both", "ours"):
        pythons["ours"] = args.ours_python or envs.ensure_env(
            envs.ours_spec(REPO, args.dagster, args.ours_wandb), cache_dir / "envs", pip_log
        )
    # The server always runs from an environment that has our package.
    server_python = (
        pythons.get("ours")
        or args.ours_python
        or envs.ensure_env(
            envs.ours_spec(REPO, args.dagster, args.ours_wandb), cache_dir / "envs", pip_log
        )
    )
    if args.only in ("both", "legacy"):
        pythons["legacy"] = args.legacy_python or envs.ensure_env(
            envs.legacy_spec(args.dagster), cache_dir / "envs", pip_log
        )
    if "ours" not in pythons:
        # Setups (artifacts logged with the bare SDK) and floors run in ours' environment.
        pythons["ours"] = server_python
    env_seconds = time.monotonic() - started
    versions = {name: _versions(python) for name, python in pythons.items()}
    measured = (
        ["legacy"] if args.only == "legacy" else [n for n in ("legacy", "ours") if n in pythons]
    )
    log(f"environments ready in {env_seconds:.0f} s: {json.dumps(versions)}")

    run_dir = cache_dir / "runs" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    bench_started = time.monotonic()
    try:
        with start_server(server_python, run_dir) as server:
            runner = Runner(pythons, server, run_dir, verbose=args.verbose, persistent=args.quick)
            excluded = {"ours"} if args.only == "legacy" else set()
            context = Context(runner, sizes, log, excluded_sides=excluded)
            try:
                workloads = run_all(context, selected)
            finally:
                runner.close()
    finally:
        if not args.keep:
            shutil.rmtree(run_dir / "server-data", ignore_errors=True)
            shutil.rmtree(run_dir / "runs", ignore_errors=True)
    bench_seconds = time.monotonic() - bench_started

    results: dict[str, Any] = {
        "meta": {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "mode": "quick" if args.quick else "full",
            "reps": sizes.reps,
            "sizes": sizes.__dict__,
            "measured": measured,
            "workloads": selected,
            "environment_seconds": env_seconds,
            "benchmark_seconds": bench_seconds,
            "machine": {
                "platform": platform.platform(),
                "processor": platform.machine(),
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
            },
            "versions": versions,
        },
        "workloads": [workload.as_json() for workload in workloads],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(text_table(results["workloads"]))
    print(
        f"\nresults: {args.output}  ({bench_seconds:.0f} s of benchmarks, "
        f"{env_seconds:.0f} s preparing environments)"
    )
    if not args.no_chart:
        _chart(args.output, args.chart or cache_dir / "bench-ratios.png", pythons.get("ours"))
    return 0


def _versions(python: Path) -> dict[str, str]:
    from benchmarks.runner import WORKER

    spec = {"task": "versions"}
    spec_file = python.parent.parent / ".bench-versions-spec.json"
    if not spec_file.parent.is_dir() or not os.access(spec_file.parent, os.W_OK):
        spec_file = Path(os.environ.get("TMPDIR", "/tmp")) / ".bench-versions-spec.json"
    spec_file.write_text(json.dumps(spec))
    completed = subprocess.run(
        [str(python), str(WORKER), str(spec_file)], capture_output=True, text=True, check=True
    )
    line = next(line for line in completed.stdout.splitlines() if line.startswith("BENCH-RESULT "))
    found: dict[str, str] = json.loads(line.split(" ", 1)[1])
    return found


def _chart(results: Path, chart: Path, ours_python: Path | None) -> None:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is not None:
        from benchmarks.chart import main as draw

        draw([str(results), str(chart)])
    elif (
        ours_python is not None
        and subprocess.run(
            [str(ours_python), "-c", "import matplotlib"], capture_output=True
        ).returncode
        == 0
    ):
        subprocess.run(
            [str(ours_python), "-m", "benchmarks.chart", str(results), str(chart)],
            check=True,
            cwd=REPO,
        )
    else:
        print("no chart: matplotlib is not installed (nox -s bench installs it)")
        return
    print(f"chart: {chart}")
