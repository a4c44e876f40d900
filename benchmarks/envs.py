"""The benchmark environments: one virtualenv per integration, cached under ``.bench/envs``.

- ``legacy``: ``dagster-wandb==0.29.*`` with ``wandb<0.30`` (the newest it imports with);
- ``ours``: this checkout, ``pip install -e .``, plus NumPy and matplotlib for the benchmarks.

Both get the same Dagster version, so Dagster's own cost is the same on both sides. An
environment is rebuilt only when its requirements change (recorded in ``.bench-spec.json``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LEGACY_PACKAGE = "dagster-wandb==0.29.*"
LEGACY_WANDB = "wandb<0.30"
DEFAULT_DAGSTER = "1.13.27"
"""The Dagster that ``dagster-wandb 0.29.27`` pins; ours is installed with the same one."""

SPEC_FILE = ".bench-spec.json"


@dataclass(frozen=True)
class EnvSpec:
    """What one environment holds."""

    name: str
    requirements: tuple[str, ...]
    editable: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "requirements": list(self.requirements),
            "editable": self.editable,
            "python": sys.version.split()[0],
        }


def legacy_spec(dagster_version: str) -> EnvSpec:
    return EnvSpec("legacy", (LEGACY_PACKAGE, LEGACY_WANDB, f"dagster=={dagster_version}", "numpy"))


def ours_spec(repo: Path, dagster_version: str, wandb_requirement: str | None) -> EnvSpec:
    requirements = [f"dagster=={dagster_version}", "numpy", "matplotlib"]
    if wandb_requirement:
        requirements.append(wandb_requirement)
    return EnvSpec("ours", tuple(requirements), editable=str(repo))


def python_of(directory: Path) -> Path:
    return directory / "bin" / "python"


def ensure_env(spec: EnvSpec, envs_dir: Path, log: Path) -> Path:
    """The Python of the environment described by ``spec``, built if missing or stale."""
    directory = envs_dir / spec.name
    marker = directory / SPEC_FILE
    python = python_of(directory)
    if python.exists() and marker.exists():
        try:
            if json.loads(marker.read_text()) == spec.as_json():
                return python
        except ValueError:
            pass
    if directory.exists():
        shutil.rmtree(directory)
    envs_dir.mkdir(parents=True, exist_ok=True)
    print(f"creating the {spec.name} environment in {directory} (log: {log})", flush=True)
    with log.open("a") as output:
        subprocess.run(
            [sys.executable, "-m", "venv", str(directory)],
            check=True,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        command += list(spec.requirements)
        if spec.editable:
            command += ["-e", spec.editable]
        result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f"pip could not build the {spec.name} environment; see {log}")
    marker.write_text(json.dumps(spec.as_json()))
    return python
