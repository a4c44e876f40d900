"""Wire-level behaviour: authentication, unsupported operations, bad input, commits."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

CREATE = """
mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { id state } }
}
"""


def _create_input(entity: str, project: str, name: str, alias: str = "x") -> dict[str, Any]:
    return {
        "artifactTypeName": "dataset",
        "artifactCollectionNames": [name],
        "entityName": entity,
        "projectName": project,
        "digest": "d" * 32,
        "aliases": [{"artifactCollectionName": name, "alias": alias}],
    }


def test_requests_without_valid_key_get_401(wandb_server: Any, gql: Any) -> None:
    status, _ = gql("query Viewer { viewer { id } }", api_key=None)
    assert status == 401
    status, _ = gql("query Viewer { viewer { id } }", api_key="local-" + "z" * 40)
    assert status == 401
    status, body = gql("query Viewer { viewer { id entity } }")
    assert status == 200
    assert body["data"]["viewer"]["entity"] == wandb_server.entity

    req = urllib.request.Request(
        f"{wandb_server.base_url}/blobs/{'0' * 32}", data=b"x", method="PUT"
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401, "unsigned upload URLs need the API key"


def test_unknown_operation_names_the_operation(gql: Any) -> None:
    status, body = gql("query FancyNewThing { viewer { noSuchField } }")
    assert status == 200
    assert body["data"] is None
    assert "FancyNewThing" in body["errors"][0]["message"]
    assert "noSuchField" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("name", "alias", "expected"),
    [
        ("bad/name", "ok", "Invalid artifact name"),
        ("bad name", "ok", "Invalid artifact name"),
        ("n" * 129, "ok", "Invalid artifact name"),
        ("good-name_1.0", "bad:alias", "Invalid alias"),
        ("good-name_1.0", "bad/alias", "Invalid alias"),
    ],
)
def test_invalid_names_and_aliases_are_graphql_errors(
    wandb_server: Any, gql: Any, name: str, alias: str, expected: str
) -> None:
    status, body = gql(
        CREATE, {"input": _create_input(wandb_server.entity, "bad-input", name, alias)}
    )
    assert status == 200
    assert body["data"]["createArtifact"] is None
    assert expected in body["errors"][0]["message"]


def test_partial_upload_never_becomes_a_version(wandb_server: Any, gql: Any) -> None:
    entity, project = wandb_server.entity, "partial-upload"
    _, body = gql(CREATE, {"input": _create_input(entity, project, "half")})
    art_id = body["data"]["createArtifact"]["artifact"]["id"]
    assert body["data"]["createArtifact"]["artifact"]["state"] == "PENDING"

    content = b"never uploaded"
    md5_b64 = base64.b64encode(hashlib.md5(content).digest()).decode()
    manifest = {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {},
        "contents": {"file.txt": {"digest": md5_b64, "size": len(content)}},
    }
    _, body = gql(
        """mutation M($a: ID!) { createArtifactManifest(input: {artifactID: $a,
        name: "wandb_manifest.json", digest: "x", type: FULL}) {
        artifactManifest { id file { uploadUrl } } } }""",
        {"a": art_id},
    )
    upload_url = body["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    put = urllib.request.Request(upload_url, data=json.dumps(manifest).encode(), method="PUT")
    with urllib.request.urlopen(put, timeout=10) as resp:
        assert resp.status == 200  # the signed URL needs no API key

    commit = "mutation C($a: ID!) { commitArtifact(input: {artifactID: $a}) { artifact { id } } }"
    _, body = gql(commit, {"a": art_id})
    assert "not uploaded" in body["errors"][0]["message"]

    membership = """query Q($e: String!, $p: String!, $n: String!) {
      project(entityName: $e, name: $p) { artifactCollectionMembership(name: $n) { id } } }"""
    _, body = gql(membership, {"e": entity, "p": project, "n": "half:latest"})
    assert body["data"]["project"]["artifactCollectionMembership"] is None

    # Once the file arrives, the same version commits as v0 and gets 'latest'.
    _, body = gql(
        """mutation F($a: ID!, $md5: String!) { createArtifactFiles(input: {artifactFiles: [
        {artifactID: $a, name: "file.txt", md5: $md5}]}) { files { edges { node {
        uploadUrl } } } } }""",
        {"a": art_id, "md5": md5_b64},
    )
    file_url = body["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(
            urllib.request.Request(file_url, data=b"corrupted!", method="PUT"), timeout=10
        )
    assert err.value.code == 400, "a body not matching its MD5 is refused"
    put = urllib.request.Request(file_url, data=content, method="PUT")
    with urllib.request.urlopen(put, timeout=10) as resp:
        assert resp.status == 200
    _, body = gql(commit, {"a": art_id})
    assert "errors" not in body, body
    membership = membership.replace("{ id }", "{ versionIndex aliases { alias } }")
    _, body = gql(membership, {"e": entity, "p": project, "n": "half:latest"})
    found = body["data"]["project"]["artifactCollectionMembership"]
    assert found["versionIndex"] == 0
    assert {a["alias"] for a in found["aliases"]} == {"latest", "x"}
