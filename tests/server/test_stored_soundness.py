"""What the server stores is sound: no entry path a client could not download to, one
version per content however uploads race, and no scratch file outliving its upload."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import wandb

CONTENT = b"the same bytes, logged twice"
MD5_HEX = hashlib.md5(CONTENT).hexdigest()
MD5_B64 = base64.b64encode(hashlib.md5(CONTENT).digest()).decode()

CREATE = """mutation C($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { id state } } }"""
FILES = """mutation F($a: ID!, $name: String!, $md5: String!) {
  createArtifactFiles(input: {artifactFiles: [{artifactID: $a, name: $name, md5: $md5}]}) {
  files { edges { node { uploadUrl directUrl } } } } }"""
MANIFEST = """mutation M($a: ID!) { createArtifactManifest(input: {artifactID: $a,
  name: "wandb_manifest.json", digest: "x", type: FULL}) {
  artifactManifest { file { uploadUrl } } } }"""
COMMIT = """mutation C($a: ID!) { commitArtifact(input: {artifactID: $a}) {
  artifact { id versionIndex } } }"""


def _put(url: str, body: bytes) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        conn.request("PUT", f"{parts.path}?{parts.query}", body=body)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _create(gql: Any, entity: str, project: str, name: str, digest: str, **extra: Any) -> Any:
    spec = {
        "artifactTypeName": "dataset",
        "artifactCollectionNames": [name],
        "entityName": entity,
        "projectName": project,
        "digest": digest,
        **extra,
    }
    _, body = gql(CREATE, {"input": spec})
    return body["data"]["createArtifact"]["artifact"]


def _manifest(contents: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {},
            "contents": contents,
        }
    ).encode()


def _manifest_digest(paths_to_b64: dict[str, str]) -> str:
    """An artifact's digest as the wandb SDK computes it (``ArtifactManifestV1.digest``)."""
    md5 = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(paths_to_b64):
        md5.update(f"{path}:{paths_to_b64[path]}\n".encode())
    return md5.hexdigest()


# --- entry paths -----------------------------------------------------------------------

BAD_PATHS = ["../../x", "/tmp/x", "a/../../x", "..\\x", "C:\\x", ""]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_a_manifest_with_an_entry_path_the_sdk_refuses_is_a_400_and_never_commits(
    wandb_server: Any, gql: Any, path: str
) -> None:
    entity, project = wandb_server.entity, "entry-paths"
    art = _create(gql, entity, project, "climber", hashlib.md5(path.encode()).hexdigest())
    _, body = gql(FILES, {"a": art["id"], "name": "ok.txt", "md5": MD5_B64})
    upload = body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    assert upload is None or _put(upload, CONTENT)[0] == 200  # None: stored already
    _, body = gql(MANIFEST, {"a": art["id"]})
    url = body["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    status, answer = _put(url, _manifest({path: {"digest": MD5_B64, "size": len(CONTENT)}}))
    assert status == 400
    assert f"Invalid artifact entry path {path!r}" in json.loads(answer)["error"]
    _, body = gql(COMMIT, {"a": art["id"]})
    assert "manifest was never uploaded" in body["errors"][0]["message"]


def test_a_stored_manifest_with_a_bad_entry_path_does_not_commit(
    wandb_server: Any, gql: Any
) -> None:
    """A manifest stored before paths were checked (a data dir of an older server)."""
    entity, project = wandb_server.entity, "entry-paths-stored"
    art = _create(gql, entity, project, "old-climber", "d" * 32)
    storage = wandb_server.storage
    md5_hex = storage.blobs.put_bytes(CONTENT)
    manifest_md5 = storage.blobs.put_bytes(_manifest({"../../x": {"digest": MD5_B64}}))
    _, body = gql(MANIFEST, {"a": art["id"]})
    pk = storage.one("SELECT MAX(id) AS id FROM manifests")["id"]
    with storage.transaction() as db:  # as an older server recorded the upload
        db.execute("UPDATE manifests SET md5=?, uploaded_seq=1 WHERE id=?", (manifest_md5, pk))
    assert storage.blobs.exists(md5_hex)
    _, body = gql(COMMIT, {"a": art["id"]})
    assert "Invalid artifact entry path '../../x'" in body["errors"][0]["message"]
    _, body = gql(
        "query Q($e: String!, $p: String!) { project(entityName: $e, name: $p) "
        '{ artifactCollectionMembership(name: "old-climber:latest") { id } } }',
        {"e": entity, "p": project},
    )
    assert body["data"]["project"]["artifactCollectionMembership"] is None


@pytest.mark.parametrize("path", ["../../x", "/tmp/x"])
def test_file_names_the_sdk_refuses_are_graphql_errors(
    wandb_server: Any, gql: Any, path: str
) -> None:
    art = _create(gql, wandb_server.entity, "entry-names", "named", "e" * 32)
    _, body = gql(FILES, {"a": art["id"], "name": path, "md5": MD5_B64})
    assert f"Invalid artifact entry path {path!r}" in body["errors"][0]["message"]
    _, body = gql(
        """mutation R($input: CreateRunFilesInput!) {
        createRunFiles(input: $input) { files { uploadUrl } } }""",
        {
            "input": {
                "entityName": wandb_server.entity,
                "projectName": "entry-names",
                "runName": "r1",
                "files": ["ok.txt", path],
            }
        },
    )
    assert f"Invalid run file path {path!r}" in body["errors"][0]["message"]


# --- the same content racing ----------------------------------------------------------


def test_the_same_content_uploaded_twice_before_either_commits_is_one_version(
    wandb_env: Any, gql: Any, project: str
) -> None:
    """A client has started uploading content (its version is pending) when the SDK logs
    the same content: W&B makes one version of it, not v0 and v1."""
    entity, name = wandb_env.entity, "raced"
    digest = _manifest_digest({"file.txt": MD5_B64})
    first = _create(
        gql,
        entity,
        project,
        name,
        digest,
        aliases=[{"artifactCollectionName": name, "alias": "from-first"}],
    )
    assert first["state"] == "PENDING"

    run = wandb.init(entity=entity, project=project)
    art = wandb.Artifact(name, type="dataset")
    with art.new_file("file.txt", mode="wb") as f:
        f.write(CONTENT)
    assert art.digest == digest
    run.log_artifact(art, aliases=["from-sdk"])
    art.wait()
    run.finish()

    # The first client goes on as the SDK would: files, manifest, commit.
    _, body = gql(FILES, {"a": first["id"], "name": "file.txt", "md5": MD5_B64})
    upload = body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    assert upload is None or _put(upload, CONTENT)[0] == 200
    _, body = gql(MANIFEST, {"a": first["id"]})
    url = body["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    status, answer = _put(url, _manifest({"file.txt": {"digest": MD5_B64, "size": len(CONTENT)}}))
    assert status == 200, answer
    _, body = gql(COMMIT, {"a": first["id"]})
    assert "errors" not in body, body

    api = wandb.Api(api_key=wandb_env.api_key, overrides={"base_url": wandb_env.base_url})
    versions = [v.version for v in api.artifacts("dataset", f"{entity}/{project}/{name}")]
    assert versions == ["v0"]
    assert art.version == "v0"
    assert body["data"]["commitArtifact"]["artifact"]["id"] == art.id
    both = api.artifact(f"{entity}/{project}/{name}:v0")
    assert {"from-first", "from-sdk", "latest"} <= set(both.aliases)


# --- scratch files of uploads ---------------------------------------------------------


def _scratch(data_dir: Path) -> list[Path]:
    return list((data_dir / "blobs" / ".tmp").iterdir())


def _wait_for(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@contextmanager
def _half_upload(
    graphql_to: Any, base_url: str, api_key: str, total: int
) -> Iterator[socket.socket]:
    """A PUT of ``total`` bytes to a signed blob URL, of which half are sent; yields the
    socket (send the rest, or close it)."""
    _, body = graphql_to(
        base_url,
        api_key,
        CREATE,
        {
            "input": {
                "artifactTypeName": "dataset",
                "artifactCollectionNames": ["half"],
                "entityName": "local-user",
                "projectName": "half",
                "digest": "f" * 32,
            }
        },
    )
    art_id = body["data"]["createArtifact"]["artifact"]["id"]
    payload = bytes(total)
    md5_b64 = base64.b64encode(hashlib.md5(payload).digest()).decode()
    _, body = graphql_to(base_url, api_key, FILES, {"a": art_id, "name": "z.bin", "md5": md5_b64})
    url = urlsplit(body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"])
    sock = socket.create_connection((url.hostname, url.port), timeout=20)
    head = f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n"
    sock.sendall(head.encode() + payload[: total // 2])
    try:
        yield sock
    finally:
        sock.close()


def test_scratch_files_of_a_server_killed_mid_upload_are_removed_at_the_next_start(
    server_package: Any, tmp_path: Path, graphql_to: Any
) -> None:
    if server_package.__name__ != "dagster_wandb_v2.testing.server":
        pytest.skip("the CLI needs dagster_wandb_v2 importable")
    data_dir = tmp_path / "data"
    server = server_package.LocalWandbServer.start_subprocess(data_dir=data_dir)
    try:
        with _half_upload(graphql_to, server.base_url, server.api_key, 4 << 20):
            _wait_for(lambda: _scratch(data_dir), "the upload's scratch file")
            server.process.kill()  # SIGKILL: no clean-up code runs
            server.process.wait(timeout=10)
    finally:
        server.stop()
    assert _scratch(data_dir), "the killed server left its scratch file"
    with server_package.local_wandb_server(data_dir=data_dir):
        assert _scratch(data_dir) == []


def test_a_second_server_on_the_directory_leaves_uploads_in_progress_alone(
    server_package: Any, tmp_path: Path, graphql_to: Any
) -> None:
    data_dir = tmp_path / "data"
    total = 4 << 20
    with server_package.local_wandb_server(data_dir=data_dir) as server:
        with _half_upload(graphql_to, server.base_url, server.api_key, total) as sock:
            _wait_for(lambda: _scratch(data_dir), "the upload's scratch file")
            in_progress = _scratch(data_dir)
            server_package.LocalWandbServer(data_dir=data_dir).stop()  # opens the store
            assert _scratch(data_dir) == in_progress
            sock.sendall(bytes(total - total // 2))
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 200, response.read()
        assert server.storage.blobs.exists(hashlib.md5(bytes(total)).hexdigest())
        assert _scratch(data_dir) == []
