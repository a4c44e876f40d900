"""Runs the local W&B server and the workers, and collects what they report.

The server is ours (:class:`dagster_wandb_v2.testing.server.SubprocessServer`), started once
from the ``ours`` environment, with a request log so that downloads can be counted. Its
latency is changed between workloads over HTTP (``POST /_local/faults``), on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.worker import ERROR_PREFIX, RESULT_PREFIX

if TYPE_CHECKING:
    from dagster_wandb_v2.testing.server import SubprocessServer

WORKER = Path(__file__).with_name("worker.py")


def wandb_environment(base_url: str, api_key: str, root: Path) -> dict[str, str]:
    """``WANDB_*`` variables for one worker: quiet, offline from everything but the server.

    The same environment the test fixtures use (``NETRC`` included: the legacy
    ``wandb.login`` writes credentials there), with its directories created.
    """
    from dagster_wandb_v2.testing.server import DIRECTORY_VARIABLES, sdk_environment

    environment = sdk_environment(base_url, api_key, root)
    for key in DIRECTORY_VARIABLES:
        Path(environment[key]).mkdir(parents=True, exist_ok=True)
    return environment


def start_server(python: Path, directory: Path) -> SubprocessServer:
    """The local W&B server run by ``python``, its data, request log and log in ``directory``."""
    from dagster_wandb_v2.testing.server import SubprocessServer

    return SubprocessServer.start(
        directory / "server-data",
        timeout=60,
        python=python,
        request_log=directory / "server-requests.jsonl",
        log_file=directory / "server.log",
    )


def server_info(server: SubprocessServer) -> dict[str, str]:
    """What a worker needs to know of the server (its spec's ``server``)."""
    return {
        "base_url": server.base_url,
        "api_key": server.api_key,
        "entity": server.entity,
        "request_log": str(server.request_log),
        "blobs_dir": str(server.data_dir / "blobs"),
    }


class WorkerError(RuntimeError):
    """A worker failed; its log is kept."""


class Runner:
    """Runs worker tasks in the benchmark environments against one server.

    Each task runs in a fresh process, unless ``persistent`` (``--quick``): then one
    process per environment runs every task, which saves the imports and the SDK's
    service start each time.
    """

    def __init__(
        self,
        pythons: dict[str, Path],
        server: SubprocessServer,
        work_dir: Path,
        verbose: bool = False,
        persistent: bool = False,
    ) -> None:
        self.pythons = pythons
        self.server = server
        self.work_dir = work_dir
        self.verbose = verbose
        self.persistent = persistent
        # The workers run a copy: editing the checkout during a run changes nothing.
        self.worker = work_dir / WORKER.name
        shutil.copyfile(WORKER, self.worker)
        self._count = 0
        self._workers: dict[str, subprocess.Popen[str]] = {}

    def has(self, env: str) -> bool:
        return env in self.pythons

    def new_project(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def _base_environment(self) -> dict[str, str]:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("WANDB_", "DAGSTER_", "PYTEST_")) and key != "NETRC"
        }
        environment["PYTHONUNBUFFERED"] = "1"
        return environment

    def run(
        self,
        env: str,
        task: str,
        side: str,
        params: dict[str, Any],
        project: str,
        root: Path | None = None,
    ) -> dict[str, Any]:
        """Run ``task`` for ``side`` with the Python of environment ``env``; its JSON result."""
        self._count += 1
        label = f"{self._count:04d}-{task}-{side}"
        root = root or self.work_dir / "runs" / label
        root.mkdir(parents=True, exist_ok=True)
        environment = wandb_environment(self.server.base_url, self.server.api_key, root / "env")
        spec = {
            "task": task,
            "side": side,
            "params": params,
            "project": project,
            "root": str(root),
            "nonce": uuid.uuid4().hex,
            "server": server_info(self.server),
            "environment": environment,
        }
        spec_path = root / "spec.json"
        spec_path.write_text(json.dumps(spec))
        if self.verbose:
            print(f"  {label} ({env})", flush=True)
        if self.persistent:
            return self._run_in_worker(env, spec_path, label)
        log = root / "worker.log"
        with log.open("w") as stderr:
            completed = subprocess.run(
                [str(self.pythons[env]), str(self.worker), str(spec_path)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**self._base_environment(), **environment},
                cwd=root,
            )
        lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if completed.returncode != 0 or not lines:
            tail = log.read_text()[-3000:]
            raise WorkerError(f"worker {label} ({env}) failed; log {log}:\n{tail}")
        result: dict[str, Any] = json.loads(lines[-1][len(RESULT_PREFIX) :])
        return result

    def _run_in_worker(self, env: str, spec_path: Path, label: str) -> dict[str, Any]:
        worker = self._workers.get(env)
        log = self.work_dir / f"worker-{env}.log"
        if worker is None:
            with log.open("a") as stderr:
                worker = subprocess.Popen(
                    [str(self.pythons[env]), str(self.worker), "--serve"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    env=self._base_environment(),
                    cwd=self.work_dir,
                )
            self._workers[env] = worker
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(f"{spec_path}\n")
        worker.stdin.flush()
        for line in worker.stdout:
            if line.startswith(RESULT_PREFIX):
                found: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
                return found
            if line.startswith(ERROR_PREFIX):
                break
        tail = log.read_text()[-3000:] if log.exists() else ""
        raise WorkerError(f"worker {label} ({env}) failed; log {log}:\n{tail}")

    def close(self) -> None:
        """Stop the persistent workers."""
        for worker in self._workers.values():
            if worker.stdin is not None:
                worker.stdin.close()
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self._workers.clear()
