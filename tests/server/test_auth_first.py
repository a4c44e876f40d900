"""The server authenticates from the headers alone, before any work: a request without a
valid key is refused before its body is read, decompressed or parsed, and consumes no
fault rule; an authenticated body is bounded as sent, once decompressed, and as a GraphQL
document (characters and tokens)."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
from typing import Any

import pytest


def _auth(server: Any) -> str:
    token = base64.b64encode(f"api:{server.api_key}".encode()).decode()
    return f"Authorization: Basic {token}\r\n"


def _exchange(server: Any, head: str, body: bytes = b"", timeout: float = 10) -> tuple[int, str]:
    """Send ``head`` (CRLF lines, no blank line) and ``body``; the response's status and
    text. Nothing more than the headers and ``body`` is ever sent."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read().decode()


def test_a_keyless_request_is_refused_before_its_body_is_read(wandb_server: Any) -> None:
    # 12 MB announced and never sent: a server reading the body first would wait for it
    head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 12000000\r\n"
    status, text = _exchange(wandb_server, head)
    assert status == 401
    assert "missing or invalid API key" in text


def test_a_keyless_gzip_bomb_is_refused_without_inflating(wandb_server: Any) -> None:
    bomb = gzip.compress(b"\0" * (256 << 20), 9)  # ~255 KiB that inflate to 256 MiB
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(bomb)}\r\n"
    )
    status, _ = _exchange(wandb_server, head, bomb)
    assert status == 401


def test_a_gzip_bomb_with_a_key_stops_at_the_body_limit(wandb_server: Any) -> None:
    bomb = gzip.compress(b"\0" * (256 << 20), 9)
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: x\r\n{_auth(wandb_server)}Content-Encoding: gzip\r\n"
        f"Content-Length: {len(bomb)}\r\n"
    )
    status, text = _exchange(wandb_server, head, bomb)
    assert status == 413
    assert "once decompressed" in json.loads(text)["error"]


def test_expect_continue_without_a_key_gets_401_not_100(wandb_server: Any) -> None:
    head = (
        "PUT /blobs/" + "0" * 32 + " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        "Content-Length: 500000000\r\n"
    )
    with socket.create_connection((wandb_server.host, wandb_server.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n")
        first_line = sock.makefile("rb").readline()
    assert first_line.startswith(b"HTTP/1.1 401"), first_line


def test_a_keyless_request_consumes_no_fault_rule(wandb_server: Any) -> None:
    query = json.dumps({"query": "query V { viewer { id } }"}).encode()
    head = f"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: {len(query)}\r\n"
    wandb_server.faults.fail_next("graphql", times=1, status=503)
    try:
        assert _exchange(wandb_server, head, query)[0] == 401
        assert _exchange(wandb_server, head + _auth(wandb_server), query)[0] == 503
        assert _exchange(wandb_server, head + _auth(wandb_server), query)[0] == 200
    finally:
        wandb_server.faults.clear()


def test_open_routes_still_answer_without_a_key(wandb_server: Any) -> None:
    assert _exchange(wandb_server, "GET /healthz HTTP/1.1\r\nHost: x\r\n") == (200, "ok")
    status, text = _exchange(wandb_server, "GET /nobody/nothing/runs/none HTTP/1.1\r\nHost: x\r\n")
    assert status == 404 and "<html" in text.lower()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("query Q { " + "viewer { id } " * 20_000 + "}", "exceeds the limit of"),
        ("query Q { " + "viewer { id } " * 6_000 + "}", "more than 10000 tokens"),
    ],
    ids=["characters", "tokens"],
)
def test_a_document_beyond_the_query_limits_is_a_400(
    wandb_server: Any, query: str, expected: str
) -> None:
    body = json.dumps({"query": query}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: x\r\n{_auth(wandb_server)}Content-Length: {len(body)}\r\n"
    )
    status, text = _exchange(wandb_server, head, body)
    assert status == 400
    assert expected in json.loads(text)["errors"][0]["message"]


def test_only_short_documents_are_kept_in_the_parse_cache(
    wandb_server: Any, server_package: Any
) -> None:
    cache = server_package.graphql_api._prepare_cached
    long_query = "# " + "x" * (64 << 10) + "\nquery Long { viewer { id } }"
    short_query = "query Short%d { viewer { id } }"
    head = f"POST /graphql HTTP/1.1\r\nHost: x\r\n{_auth(wandb_server)}"
    cache.cache_clear()
    for index in range(3):
        body = json.dumps({"query": long_query + " " * index}).encode()
        assert _exchange(wandb_server, head + f"Content-Length: {len(body)}\r\n", body)[0] == 200
    assert cache.cache_info().currsize == 0, "a long document is parsed and dropped"
    limit = server_package.graphql_api.PARSE_CACHE_SIZE
    for index in range(limit + 10):
        server_package.graphql_api.prepare_query(short_query % index)
    assert cache.cache_info().currsize == limit
