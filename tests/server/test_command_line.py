"""``python -m dagster_wandb_v2.testing.server``: errors and warnings a user sees."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from dagster_wandb_v2.testing.server.__main__ import beyond_loopback_warning


def test_a_port_in_use_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "dagster_wandb_v2.testing.server"]
        result = subprocess.run(
            [*command, "--port", str(port), "--data-dir", str(tmp_path / "data")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use; choose another --port" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_serving_beyond_loopback_is_warned_of() -> None:
    assert beyond_loopback_warning("127.0.0.1") is None
    assert beyond_loopback_warning("::1") is None
    assert beyond_loopback_warning("localhost") is None
    for host in ("0.0.0.0", "192.0.2.10", "my-host.example"):
        warning = beyond_loopback_warning(host)
        assert warning is not None and f"listening on {host}: anyone who can reach" in warning
        assert "pages" in warning and "plain HTTP" in warning
