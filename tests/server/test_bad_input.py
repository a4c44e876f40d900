"""Bad input gets a clear error and leaves nothing half made: malformed GraphQL, a wrong
key or signature, an upload cut short, an oversized or undecodable body, a body not
matching its digest, a manifest that is no manifest."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CONTENT = b"the bytes of one file"
MD5_HEX = hashlib.md5(CONTENT).hexdigest()
MD5_B64 = base64.b64encode(hashlib.md5(CONTENT).digest()).decode()


def _raw(
    server: Any, request_head: str, body: bytes = b"", half_close: bool = False
) -> tuple[int, dict[str, Any]]:
    """Send raw HTTP bytes; returns (status, JSON body) of the response."""
    with socket.create_connection((server.host, server.port), timeout=20) as sock:
        sock.sendall(request_head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read() or b"{}")


def _auth(server: Any) -> str:
    token = base64.b64encode(f"api:{server.api_key}".encode()).decode()
    return f"Authorization: Basic {token}"


def _pending_artifact(gql: Any, entity: str, project: str, name: str) -> tuple[str, str]:
    """A pending version with one file entry; returns (artifact id, signed file URL)."""
    _, body = gql(
        """mutation C($input: CreateArtifactInput!) {
        createArtifact(input: $input) { artifact { id } } }""",
        {
            "input": {
                "artifactTypeName": "dataset",
                "artifactCollectionNames": [name],
                "entityName": entity,
                "projectName": project,
                "digest": "e" * 32,
            }
        },
    )
    art_id = body["data"]["createArtifact"]["artifact"]["id"]
    _, body = gql(
        """mutation F($a: ID!, $md5: String!) { createArtifactFiles(input: {artifactFiles: [
        {artifactID: $a, name: "file.txt", md5: $md5}]}) { files { edges { node {
        uploadUrl } } } } }""",
        {"a": art_id, "md5": MD5_B64},
    )
    url = body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    return art_id, url


def _manifest_url(gql: Any, art_id: str) -> str:
    _, body = gql(
        """mutation M($a: ID!) { createArtifactManifest(input: {artifactID: $a,
        name: "wandb_manifest.json", digest: "x", type: FULL}) {
        artifactManifest { file { uploadUrl } } } }""",
        {"a": art_id},
    )
    url: str = body["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    return url


def _put(server: Any, url: str, body: bytes, extra_headers: str = "") -> tuple[int, dict[str, Any]]:
    parts = urlsplit(url)
    head = f"PUT {parts.path}?{parts.query} HTTP/1.1\nHost: x\nContent-Length: {len(body)}\n"
    return _raw(server, head + extra_headers, body)


def _commit_error(gql: Any, art_id: str) -> str:
    _, body = gql(
        "mutation C($a: ID!) { commitArtifact(input: {artifactID: $a}) { artifact { id } } }",
        {"a": art_id},
    )
    message: str = body["errors"][0]["message"]
    return message


def _no_version(gql: Any, entity: str, project: str, name: str) -> bool:
    _, body = gql(
        """query Q($e: String!, $p: String!, $n: String!) { project(entityName: $e, name: $p)
        { artifactCollectionMembership(name: $n) { id } } }""",
        {"e": entity, "p": project, "n": f"{name}:latest"},
    )
    return body["data"]["project"]["artifactCollectionMembership"] is None


def _leftovers(server: Any) -> list[Path]:
    """Partial upload files in the blob store's scratch directory."""
    return list((Path(server.data_dir) / "blobs" / ".tmp").iterdir())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"query": "query Broken { viewer { id }"}, "Syntax Error"),
        ({"variables": {}}, "no 'query' string"),
        ({"query": "query Q { viewer { id } }", "variables": [1]}, "'variables' must be"),
    ],
)
def test_malformed_graphql_is_a_400_saying_why(
    wandb_server: Any, body: dict[str, Any], expected: str
) -> None:
    payload = json.dumps(body).encode()
    head = (
        f"POST /graphql HTTP/1.1\nHost: x\n{_auth(wandb_server)}\n"
        f"Content-Type: application/json\nContent-Length: {len(payload)}\n"
    )
    status, answer = _raw(wandb_server, head, payload)
    assert status == 400
    assert "malformed GraphQL request" in answer["errors"][0]["message"]
    assert expected in answer["errors"][0]["message"]


def test_wrong_signature_is_refused(wandb_server: Any, gql: Any) -> None:
    _, url = _pending_artifact(gql, wandb_server.entity, "bad-signature", "signed")
    forged = url.replace(MD5_HEX, hashlib.md5(b"other").hexdigest())
    status, answer = _put(wandb_server, forged, b"other")
    assert status == 401, "a signature covers its own path only"
    assert "API key" in answer["error"]


def test_truncated_upload_is_a_400_and_stores_nothing(wandb_server: Any, gql: Any) -> None:
    entity, project = wandb_server.entity, "truncated-upload"
    art_id, url = _pending_artifact(gql, entity, project, "cut")
    parts = urlsplit(url)
    head = f"PUT {parts.path}?{parts.query} HTTP/1.1\nHost: x\nContent-Length: 1000\n"
    status, answer = _raw(wandb_server, head, CONTENT[:10], half_close=True)
    assert status == 400
    assert "ended after 10 of the 1000 bytes announced by Content-Length" in answer["error"]
    assert not (Path(wandb_server.data_dir) / "blobs" / MD5_HEX[:2] / MD5_HEX).exists()
    assert _leftovers(wandb_server) == []

    manifest = {"version": 1, "contents": {"file.txt": {"digest": MD5_B64, "size": 21}}}
    assert _put(wandb_server, _manifest_url(gql, art_id), json.dumps(manifest).encode())[0] == 200
    assert "not uploaded: file.txt" in _commit_error(gql, art_id)
    assert _no_version(gql, entity, project, "cut")


def test_oversized_graphql_body_is_a_413_before_it_is_read(wandb_server: Any) -> None:
    head = f"POST /graphql HTTP/1.1\nHost: x\n{_auth(wandb_server)}\nContent-Length: {1 << 30}\n"
    status, answer = _raw(wandb_server, head)  # 1 GiB announced, nothing sent
    assert status == 413
    assert "exceeds" in answer["error"]


def test_undecodable_gzip_body_is_a_400(wandb_server: Any) -> None:
    body = b"not gzip at all"
    head = (
        f"POST /graphql HTTP/1.1\nHost: x\n{_auth(wandb_server)}\n"
        f"Content-Encoding: gzip\nContent-Length: {len(body)}\n"
    )
    status, answer = _raw(wandb_server, head, body)
    assert status == 400
    assert "gzip" in answer["error"]
    payload = gzip.compress(json.dumps({"query": "query V { viewer { id } }"}).encode())
    head = head.replace(f"Content-Length: {len(body)}", f"Content-Length: {len(payload)}")
    assert _raw(wandb_server, head, payload)[0] == 200, "a good gzip body is served"


def test_digest_mismatch_stores_nothing(wandb_server: Any, gql: Any) -> None:
    entity, project = wandb_server.entity, "digest-mismatch"
    art_id, url = _pending_artifact(gql, entity, project, "mismatch")
    status, answer = _put(wandb_server, url, b"not the announced bytes")
    assert status == 400
    assert f"does not match expected {MD5_HEX}" in answer["error"]
    assert _leftovers(wandb_server) == []
    manifest = {"version": 1, "contents": {"file.txt": {"digest": MD5_B64, "size": 21}}}
    assert _put(wandb_server, _manifest_url(gql, art_id), json.dumps(manifest).encode())[0] == 200
    assert "not uploaded: file.txt" in _commit_error(gql, art_id)
    assert _no_version(gql, entity, project, "mismatch")


@pytest.mark.parametrize(
    "manifest",
    [
        b"{not json",
        b"[]",
        b'{"version": 1}',
        b'{"contents": {"a": 3}}',
        b'{"contents": {"a": {"digest": "not base64 md5", "size": 3}}}',
        b'{"contents": {"a": {"digest": "1B2M2Y8AsgTpgAmY7PhCfg==", "size": "big"}}}',
        b'{"contents": {"a": {"ref": 7, "digest": "x"}}}',
    ],
)
def test_a_manifest_that_is_no_manifest_is_a_400(
    wandb_server: Any, gql: Any, manifest: bytes
) -> None:
    entity, project = wandb_server.entity, "bad-manifest"
    art_id, _ = _pending_artifact(gql, entity, project, "nomanifest")
    status, answer = _put(wandb_server, _manifest_url(gql, art_id), manifest)
    assert status == 400
    assert "manifest" in answer["error"]
    assert "manifest was never uploaded" in _commit_error(gql, art_id)
    assert _no_version(gql, entity, project, "nomanifest")


#: What a Python error's text looks like in a response: none may reach a client.
PYTHON_REPRS = ("Error(", "Traceback", "object has no attribute", "invalid literal", "Exception")


@pytest.mark.parametrize(
    ("request_head", "body", "status", "message"),
    [
        ("POST /graphql\nContent-Length: abc", b"", 400, "Content-Length is not a number"),
        ("POST /graphql\nContent-Length: -1", b"", 400, "Content-Length is negative"),
        ("POST /graphql\nContent-Length: 5\nContent-Length: 6", b"", 400, "several"),
        ("POST /graphql\nTransfer-Encoding: gzip", b"", 415, "Transfer-Encoding 'gzip'"),
        ("POST /graphql\nContent-Encoding: br\nContent-Length: 2", b"{}", 415, "'br'"),
        ("POST /graphql\nTransfer-Encoding: chunked", b"zz\r\n", 400, "bad chunk size"),
        ("POST /graphql\nContent-Length: 4", b"[{}]", 400, "batched requests"),
        ("POST /graphql\nContent-Length: 1", b"3", 400, "must be a JSON object"),
        (
            "POST /graphql\nContent-Length: 50",
            b'{"query": "{ viewer { id } }", "operationName": 3}',
            400,
            "'operationName' must be a string",
        ),
        ("PUT /runfiles/abc/x.txt\nContent-Length: 2", b"hi", 400, "/runfiles/<run number>"),
        ("PUT /runfiles/99999999/x.txt\nContent-Length: 2", b"hi", 404, "no run 99999999"),
        ("PUT /runfiles/1\nContent-Length: 2", b"hi", 400, "/runfiles/<run number>/<name>"),
        ("PUT /manifests/zzz\nContent-Length: 2", b"{}", 404, "no such artifact manifest"),
        ("PUT /blobs/nothex\nContent-Length: 2", b"hi", 400, "bad blob digest"),
        ("POST /files/x/file_stream\nContent-Length: 2", b"{}", 404, "/files/<entity>"),
        ("POST /files/e/p/r/file_stream\nContent-Length: 5", b"{bad}", 400, "not JSON"),
        ("POST /files/e/p/r/file_stream\nContent-Length: 2", b"[]", 400, "not an array"),
        (
            "POST /files/e/p/r/file_stream\nContent-Length: 20",
            b'{"files": {"a": 1}} ',
            400,
            "chunk 'a' must be an object",
        ),
        (
            "POST /files/e/p/r/file_stream\nContent-Length: 42",
            b'{"files": {"a": {"offset": "z"}}}         ',
            400,
            "'offset' must be a line number",
        ),
        (
            "POST /files/e/p/r/file_stream\nContent-Length: 45",
            b'{"files": {"a": {"content": [1, 2]}}}        ',
            400,
            "'content' must be a list of strings",
        ),
        ("POST /_local/faults\nContent-Length: 5", b"{bad}", 400, "fault spec body is not JSON"),
        ("POST /_local/faults\nContent-Length: 2", b"[]", 400, "must be a JSON object"),
        (
            "POST /_local/faults\nContent-Length: 35",
            b'{"operation": "x", "status": "abc"}',
            400,
            "'status' must be a whole number",
        ),
        ("POST /_local/faults\nContent-Length: 12", b'{"delay": 5}', 400, "unknown fault spec"),
        ("GET /nowhere\nContent-Length: 0", b"", 404, "no route for GET /nowhere"),
    ],
)
def test_bad_input_is_a_4xx_naming_what_is_wrong(
    wandb_server: Any, request_head: str, body: bytes, status: int, message: str
) -> None:
    line, _, headers = request_head.partition("\n")
    head = f"{line} HTTP/1.1\nHost: x\n{_auth(wandb_server)}\n{headers}\n"
    got, answer = _raw(wandb_server, head, body, half_close=True)
    assert (got, message in answer["error"]) == (status, True), answer
    assert not any(marker in answer["error"] for marker in PYTHON_REPRS)
    assert wandb_server.faults.take("graphql", None).status is None, "no rule was added"


def test_an_id_in_other_digits_is_no_server_error(gql: Any) -> None:
    status, body = gql('query A { artifact(id: "\u00b2") { id } }')
    assert (status, body.get("errors")) == (200, None)
    assert body["data"]["artifact"] is None


def test_a_range_in_other_digits_is_ignored(wandb_server: Any) -> None:
    blob = hashlib.md5(b"x").hexdigest()
    assert _put(wandb_server, f"/blobs/{blob}?", b"x", _auth(wandb_server) + "\n")[0] == 200
    head = f"GET /blobs/{blob} HTTP/1.1\nHost: x\n{_auth(wandb_server)}\nRange: bytes=\u00b2-\n"
    with socket.create_connection((wandb_server.host, wandb_server.port), timeout=20) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode("utf-8") + b"\r\n")
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert (response.status, response.read()) == (200, b"x"), "the Range is ignored"


def test_an_unexpected_error_is_a_500_without_python_repr(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("secret detail /home/someone/.netrc")

    monkeypatch.setattr(wandb_server.storage, "find_run", broken)
    head = f"POST /files/e/p/r/file_stream HTTP/1.1\nHost: x\n{_auth(wandb_server)}\n"
    status, answer = _raw(wandb_server, head + "Content-Length: 2\n", b"{}")
    assert status == 500
    assert "RuntimeError" in answer["error"]
    assert "secret" not in answer["error"]
    assert "file_stream" in answer["error"]
