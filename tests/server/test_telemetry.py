"""W&B's OpenTelemetry proxy (``/sdk/otel/v1/...``): the local server stores no telemetry,
and says so the way the wandb SDK understands (404), so the SDK sends none. Answering 200
or 401 made the SDK keep exporting, which ended every script run against a stopped local
server with exporter errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from wandb.analytics.opentelemetry.opentelemetry_proxy import (
    _check_server_supports_open_telemetry_proxy,
)


@pytest.mark.parametrize("path", ["/sdk/otel/v1/metrics", "/sdk/otel/v1/logs"])
@pytest.mark.parametrize("with_key", [True, False])
def test_the_telemetry_proxy_is_refused_as_unsupported(
    wandb_server: Any, path: str, with_key: bool
) -> None:
    headers = {"Content-Type": "application/x-protobuf"}
    if with_key:
        token = base64.b64encode(f"api:{wandb_server.api_key}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    response = requests.post(
        wandb_server.base_url + path, data=b"\x0a\x00", headers=headers, timeout=10
    )
    assert response.status_code == 404
    assert "OpenTelemetry proxy is not supported" in response.json()["error"]


def test_the_wandb_sdk_sees_no_telemetry_proxy(wandb_server: Any) -> None:
    """The SDK's own probe (also in wandb-core) reads 404 and 405 as unsupported."""
    with requests.Session() as session:
        url = wandb_server.base_url + "/sdk/otel/v1/metrics"
        assert _check_server_supports_open_telemetry_proxy(session, url) is False
