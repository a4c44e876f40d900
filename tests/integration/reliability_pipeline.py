"""Jobs the reliability tests run in separate processes (killed, or racing each other).

Everything comes from the environment, so ``python -m tests.integration.reliability_pipeline``
can be started by a test and killed at any moment:

- ``RELIABILITY_PROJECT``, ``RELIABILITY_STORAGE``: the W&B project and the Dagster
  storage (cache) directory; ``WANDB_BASE_URL``/``WANDB_API_KEY`` point at the server;
- ``RELIABILITY_VALUE``: the text the ``payload`` asset returns (repeated
  ``RELIABILITY_REPEAT`` times, to make the upload as large as needed);
- ``RELIABILITY_BARRIER``, ``RELIABILITY_PARTIES``: a directory where racing processes
  check in; each one returns its value only once all parties have, so their writes start
  together.

It prints one JSON line: the Dagster run id, success, and the SHA-256 of what a downstream
read got.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from dagster import AssetIn, asset, materialize

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource

IO = "wandb_artifacts_manager"


@asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key=IO)
def payload() -> str:
    _wait_for_the_other_parties()
    return os.environ["RELIABILITY_VALUE"] * int(os.environ.get("RELIABILITY_REPEAT", "1"))


def _wait_for_the_other_parties(timeout: float = 60.0) -> None:
    barrier = os.environ.get("RELIABILITY_BARRIER")
    if not barrier:
        return
    parties = int(os.environ["RELIABILITY_PARTIES"])
    (Path(barrier) / str(os.getpid())).touch()
    deadline = time.monotonic() + timeout
    while len(list(Path(barrier).iterdir())) < parties and time.monotonic() < deadline:
        time.sleep(0.01)


@asset(ins={"payload": AssetIn(input_manager_key=IO)})
def echo(payload: str) -> str:
    return payload


def resources() -> dict[str, Any]:
    wandb = WandbResource(
        api_key=os.environ["WANDB_API_KEY"],
        host=os.environ["WANDB_BASE_URL"],
        project=os.environ["RELIABILITY_PROJECT"],
        max_retries=2,
        retry_wait_max_seconds=1,
    )
    return {IO: WandbArtifactsIOManager(wandb=wandb, base_dir=os.environ["RELIABILITY_STORAGE"])}


def main() -> int:
    result = materialize([payload, echo], resources=resources(), raise_on_error=False)
    echoed = result.output_for_node("echo") if result.success else None
    digest = hashlib.sha256(echoed.encode()).hexdigest() if echoed is not None else None
    print(json.dumps({"run_id": result.run_id, "success": result.success, "echo_sha256": digest}))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
