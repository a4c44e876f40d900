"""Connections as W&B's servers handle them: requests on a kept-alive one answer at once,
a client resetting one is no error.

Without ``TCP_NODELAY`` a response's body (a second small write after its headers) is held
back until the client acknowledges the headers, and Linux delays that ACK by at least
40 ms: every request on a reused connection then took ~44 ms, on the SDK's GraphQL calls
as on its uploads (a 100 ms round trip became ~145 ms in the chain benchmark).
"""

import base64
import http.client
import json
import socket
import statistics
import struct
import time
from pathlib import Path

import pytest

from dagster_wandb_v2.testing.server import LocalWandbServer

_DELAYED_ACK_SECONDS = 0.040
"""Linux's minimum delayed-ACK time (``TCP_DELACK_MIN``)."""


def _round_trips(server: LocalWandbServer, count: int) -> list[float]:
    """Seconds per GraphQL request, ``count`` of them over one kept-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    token = base64.b64encode(f"api:{server.api_key}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    body = json.dumps({"query": "query Viewer { viewer { id entity } }"}).encode()
    seconds = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            connection.request("POST", "/graphql", body=body, headers=headers)
            response = connection.getresponse()
            assert response.status == 200, response.read()
            assert json.loads(response.read())["data"]["viewer"]["entity"] == server.entity
            seconds.append(time.perf_counter() - start)
    finally:
        connection.close()
    return seconds


def test_a_kept_alive_connection_is_not_held_back_by_delayed_acks(tmp_path: Path) -> None:
    with LocalWandbServer(data_dir=tmp_path) as server:
        seconds = _round_trips(server, 21)
    # The first request opens the connection; every later one would wait >= 40 ms.
    assert statistics.median(seconds[1:]) < _DELAYED_ACK_SECONDS / 2, seconds


def test_a_record_says_when_its_request_arrived(tmp_path: Path) -> None:
    with LocalWandbServer(data_dir=tmp_path) as server:
        before = time.time()
        _round_trips(server, 3)
        after = time.time()
        deadline = time.monotonic() + 10
        while server.request_count < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        records = server.requests
    arrivals = [record.started_at for record in records]
    assert len(arrivals) == 3
    assert arrivals == sorted(arrivals)
    assert before <= arrivals[0] and arrivals[-1] <= after


def test_a_client_resetting_its_connection_prints_no_traceback(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with LocalWandbServer(data_dir=tmp_path) as server:
        before = server.connections_opened
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers unfinished
        deadline = time.monotonic() + 10
        while server.connections_opened == before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # the server is reading the headers
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # an RST, as from a client that died
        time.sleep(0.2)
        _round_trips(server, 1)  # still serving
    assert "Traceback" not in capfd.readouterr().err
