"""Credentials: no fixed key, no key in the process list, and signed URLs that expire,
work for one method and one path only, and name the server's own address."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import wandb

CONTENT = b"a file behind a signed URL"
MD5_HEX = hashlib.md5(CONTENT).hexdigest()
MD5_B64 = base64.b64encode(hashlib.md5(CONTENT).digest()).decode()
#: The key every server accepted before keys were generated (published in the source).
FORMER_FIXED_KEY = "local-dagster_wandb_v2_local_server_0123456789abcdef"
VIEWER = "query V { viewer { username } }"


def _request(url: str, method: str, body: bytes | None = None, host: str | None = None) -> Any:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        headers = {"Host": host} if host else {}
        path = f"{parts.path}?{parts.query}" if parts.query else parts.path
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _upload_url(gql: Any, entity: str, name: str, content: bytes) -> tuple[str, str]:
    """A pending version with one file of ``content`` (not stored yet): (artifact id, the
    file's signed upload URL)."""
    _, body = gql(
        """mutation C($input: CreateArtifactInput!) {
        createArtifact(input: $input) { artifact { id } } }""",
        {
            "input": {
                "artifactTypeName": "dataset",
                "artifactCollectionNames": [name],
                "entityName": entity,
                "projectName": "signed-urls",
                "digest": hashlib.md5(name.encode()).hexdigest(),
            }
        },
    )
    art_id = body["data"]["createArtifact"]["artifact"]["id"]
    _, body = gql(
        """mutation F($a: ID!, $md5: String!) { createArtifactFiles(input: {artifactFiles: [
        {artifactID: $a, name: "file.txt", md5: $md5}]}) { files { edges { node {
        uploadUrl } } } } }""",
        {"a": art_id, "md5": base64.b64encode(hashlib.md5(content).digest()).decode()},
    )
    url: str = body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    return art_id, url


def _manifest_upload_url(gql: Any, art_id: str) -> str:
    _, body = gql(
        """mutation M($a: ID!) { createArtifactManifest(input: {artifactID: $a,
        name: "wandb_manifest.json", digest: "x", type: FULL}) {
        artifactManifest { file { uploadUrl } } } }""",
        {"a": art_id},
    )
    url: str = body["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    return url


def _manifest_download_url(gql: Any, art_id: str) -> str:
    _, body = gql(
        "query A($a: ID!) { artifact(id: $a) { currentManifest { file { directUrl } } } }",
        {"a": art_id},
    )
    url: str = body["data"]["artifact"]["currentManifest"]["file"]["directUrl"]
    return url


# --- keys -----------------------------------------------------------------------------


def test_each_server_generates_its_own_key_which_the_sdk_accepts(
    server_package: Any, use_server: Any, tmp_path: Path, graphql_to: Any
) -> None:
    with (
        server_package.local_wandb_server() as one,
        server_package.local_wandb_server(data_dir=tmp_path / "two") as two,
    ):
        assert one.api_key != two.api_key
        assert FORMER_FIXED_KEY not in (one.api_key, two.api_key)
        assert graphql_to(one.base_url, two.api_key, VIEWER)[0] == 401
        assert graphql_to(two.base_url, FORMER_FIXED_KEY, VIEWER)[0] == 401
        use_server(two)
        api = wandb.Api(api_key=two.api_key, overrides={"base_url": two.base_url})
        assert api.viewer.username == "local-user"
    with server_package.local_wandb_server(data_dir=tmp_path / "two") as again:
        assert again.api_key == two.api_key, "a restart on the same data keeps its key"
    assert (tmp_path / "two" / "api-key").stat().st_mode & 0o077 == 0, "owner-only"


def test_a_given_key_is_used_and_not_stored(
    server_package: Any, tmp_path: Path, graphql_to: Any
) -> None:
    key = "local-" + "k" * 40
    with server_package.local_wandb_server(data_dir=tmp_path, api_key=key) as server:
        assert server.api_key == key
        assert graphql_to(server.base_url, key, VIEWER)[0] == 200
    assert not (tmp_path / "api-key").exists()


def _cli_only(server_package: Any) -> None:
    if server_package.__name__ != "dagster_wandb_v2.testing.server":
        pytest.skip("the CLI needs dagster_wandb_v2 importable")


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_the_subprocess_server_keeps_its_key_out_of_the_process_list(
    server_package: Any, tmp_path: Path, graphql_to: Any
) -> None:
    _cli_only(server_package)
    key = "local-" + "s" * 40
    server = server_package.LocalWandbServer.start_subprocess(tmp_path / "data", api_key=key)
    try:
        command_line = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert key.encode() not in command_line
        assert graphql_to(server.base_url, key, VIEWER)[0] == 200
    finally:
        server.stop()


def test_the_command_line_reads_its_key_from_the_environment_and_does_not_echo_it(
    server_package: Any, tmp_path: Path, graphql_to: Any
) -> None:
    _cli_only(server_package)
    key = "local-" + "e" * 40
    environment = {**os.environ, "DAGSTER_WANDB_LOCAL_SERVER_API_KEY": key}
    command = [sys.executable, "-m", "dagster_wandb_v2.testing.server"]
    process = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "data")],
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        base_url = lines[0].strip().removeprefix("WANDB_BASE_URL=")
        assert graphql_to(base_url, key, VIEWER)[0] == 200
        assert graphql_to(base_url, FORMER_FIXED_KEY, VIEWER)[0] == 401
        assert not any(key in line for line in lines)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- signed URLs ----------------------------------------------------------------------


def test_an_upload_url_does_not_download_and_a_download_url_does_not_upload(
    wandb_server: Any, gql: Any
) -> None:
    art_id, upload = _upload_url(gql, wandb_server.entity, "one-method", CONTENT)
    assert _request(upload, "PUT", CONTENT)[0] == 200
    status, body = _request(upload, "GET")
    assert status == 401, "an upload URL must not download"
    assert b"signed for PUT, not for GET" in body

    manifest = b'{"version": 1, "contents": {"file.txt": {"digest": "%s"}}}' % MD5_B64.encode()
    assert _request(_manifest_upload_url(gql, art_id), "PUT", manifest)[0] == 200
    download = _manifest_download_url(gql, art_id)
    assert _request(download, "GET") == (200, manifest)
    assert _request(download, "HEAD")[0] == 200
    status, body = _request(download, "PUT", manifest)
    assert status == 401, "a download URL must not upload"
    assert b"signed for GET, not for PUT" in body


def test_a_signed_url_expires(server_package: Any, wandb_server: Any, gql: Any) -> None:
    data_dir_signing_key = server_package.credentials.data_dir_signing_key
    UrlSigner = server_package.signed_urls.UrlSigner

    content = b"expiring content"
    _, upload = _upload_url(gql, wandb_server.entity, "expiring", content)
    before = time.time()
    _, handed_out = _upload_url(gql, wandb_server.entity, "expiring-2", b"other content")
    expires = int(parse_qs(urlsplit(handed_out).query)["expires"][0])
    ttl = server_package.signed_urls.DEFAULT_TTL_SECONDS
    assert before + ttl - 1 <= expires <= time.time() + ttl

    path = urlsplit(upload).path
    secret = data_dir_signing_key(Path(wandb_server.data_dir))
    yesterday = UrlSigner(secret, ttl_seconds=3600, clock=lambda: time.time() - 86400)
    status, body = _request(
        f"{wandb_server.base_url}{path}?{yesterday.query('PUT', path)}", "PUT", content
    )
    assert status == 401
    assert b"the signed URL has expired" in body
    now = UrlSigner(secret, ttl_seconds=3600)
    assert (
        _request(f"{wandb_server.base_url}{path}?{now.query('PUT', path)}", "PUT", content)[0]
        == 200
    )


def test_signed_urls_name_the_server_not_the_host_header(wandb_server: Any) -> None:
    token = base64.b64encode(f"api:{wandb_server.api_key}".encode()).decode()
    body = (
        b'{"query": "mutation M { createRunFiles(input: {entityName: \\"%s\\", '
        b'projectName: \\"hosts\\", runName: \\"r\\", files: [\\"f.txt\\"]}) '
        b'{ files { uploadUrl } } }"}' % wandb_server.entity.encode()
    )
    conn = http.client.HTTPConnection(wandb_server.host, wandb_server.port, timeout=20)
    try:
        conn.request(
            "POST",
            "/graphql",
            body=body,
            headers={
                "Host": "attacker.example:80",
                "Authorization": f"Basic {token}",
                "Content-Type": "application/json",
            },
        )
        answer = conn.getresponse().read()
    finally:
        conn.close()
    assert b"attacker.example" not in answer
    assert f"{wandb_server.base_url}/runfiles/".encode() in answer


def test_a_public_url_is_the_base_of_signed_urls(
    server_package: Any, tmp_path: Path, graphql_to: Any
) -> None:
    public = "http://wandb.example:9"  # e.g. the address of a port mapping
    with server_package.LocalWandbServer(data_dir=tmp_path, public_url=public + "/") as server:
        _, upload = _upload_url(
            lambda q, v: graphql_to(server.base_url, server.api_key, q, v),
            server.entity,
            "pub",
            CONTENT,
        )
        assert upload.startswith(f"{public}/blobs/")
        assert _request(server.base_url + upload.removeprefix(public), "PUT", CONTENT)[0] == 200
