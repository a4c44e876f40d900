"""State survives a restart on the same data dir; the CLI runs as a child process."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import wandb


def test_artifacts_survive_restart(
    server_package: Any, use_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    with server_package.local_wandb_server(data_dir=data_dir) as first:
        use_server(first)
        run = wandb.init(entity=first.entity, project="persist", id="keeper")
        art = wandb.Artifact("kept", type="dataset")
        with art.new_file("kept.txt") as f:
            f.write("still here")
        run.log_artifact(art, aliases=["stable"])
        art.wait()
        run.finish()
        digest = art.digest

    with server_package.local_wandb_server(data_dir=data_dir) as second:
        use_server(second)
        monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "fresh-cache"))  # bytes from disk
        api = wandb.Api(api_key=second.api_key, overrides={"base_url": second.base_url})
        again = api.artifact(f"{second.entity}/persist/kept:stable")
        assert again.version == "v0"
        assert again.digest == digest
        root = Path(again.download(root=str(tmp_path / "dl")))
        assert (root / "kept.txt").read_text() == "still here"
        assert api.run(f"{second.entity}/persist/keeper").state == "finished"


def test_cli_subprocess_serves_and_stops_on_sigterm(
    server_package: Any, use_server: Any, tmp_path: Path
) -> None:
    if server_package.__name__ != "dagster_wandb_v2.testing.server":
        pytest.skip("the CLI needs dagster_wandb_v2 importable")
    server = server_package.LocalWandbServer.start_subprocess(data_dir=tmp_path / "cli")
    try:
        use_server(server)
        api = wandb.Api(api_key=server.api_key, overrides={"base_url": server.base_url})
        assert api.viewer.username
        assert server.base_url.startswith("http://127.0.0.1:")
        assert (tmp_path / "cli" / "wandb-local.sqlite3").exists()
    finally:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0
