"""``python -m dagster_wandb_v2.testing.server``: errors and warnings a user sees."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from dagster_wandb_v2.testing.server.__main__ import public_key_warning


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


def test_serving_beyond_loopback_with_the_public_key_is_warned_of() -> None:
    assert public_key_warning("127.0.0.1", None) is None
    assert public_key_warning("::1", None) is None
    assert public_key_warning("localhost", None) is None
    assert public_key_warning("0.0.0.0", "a-secret-key") is None
    for host in ("0.0.0.0", "192.0.2.10", "my-host.example"):
        warning = public_key_warning(host, None)
        assert warning is not None and f"listening on {host} with the default API key" in warning
