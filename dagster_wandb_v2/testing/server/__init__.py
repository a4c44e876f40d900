"""A local W&B-compatible server for tests and examples, in the spirit of moto.

The unmodified wandb SDK talks to it when ``WANDB_BASE_URL`` points at it::

    from dagster_wandb_v2.testing.server import local_wandb_server

    with local_wandb_server() as server:
        wandb.login(key=server.api_key, host=server.base_url)
        run = wandb.init(entity=server.entity, project="demo")

From a shell: ``python -m dagster_wandb_v2.testing.server --port 8080 --data-dir DIR``.
"""

from __future__ import annotations

from .credentials import API_KEY_VARIABLE
from .environment import DIRECTORY_VARIABLES, sdk_environment
from .faults import FaultRule, Faults
from .limits import Limits
from .server import LocalWandbServer, SubprocessServer, local_wandb_server
from .storage import Identity

__all__ = [
    "API_KEY_VARIABLE",
    "DIRECTORY_VARIABLES",
    "FaultRule",
    "Faults",
    "Identity",
    "Limits",
    "LocalWandbServer",
    "SubprocessServer",
    "local_wandb_server",
    "sdk_environment",
]
