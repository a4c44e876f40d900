"""Nothing is dropped silently: what the server does not act on is refused, by name."""

from __future__ import annotations

from typing import Any

import wandb

UPDATE = (
    "mutation($input: UpdateArtifactInput!) { updateArtifact(input: $input) { artifact { id } } }"
)


def _logged(entity: str, project: str) -> wandb.Artifact:
    with wandb.init(entity=entity, project=project) as run:
        art = wandb.Artifact("dataset", type="dataset")
        with art.new_file("data.txt") as f:
            f.write("x")
        run.log_artifact(art).wait()
    return art


def test_an_input_field_the_server_ignores_is_an_error_naming_it(
    wandb_env: Any, project: str, gql: Any
) -> None:
    art = _logged(wandb_env.entity, project)
    _, body = gql(UPDATE, {"input": {"artifactID": art.id, "labels": {"team": "a"}}})
    assert "'labels'" in body["errors"][0]["message"]
    assert body["data"]["updateArtifact"] is None

    # Unset fields (null, empty) are what SDKs send for "not given": accepted.
    _, body = gql(UPDATE, {"input": {"artifactID": art.id, "labels": None, "tagsToAdd": []}})
    assert "errors" not in body, body


def test_a_value_the_server_does_not_implement_is_an_error(
    wandb_env: Any, project: str, gql: Any
) -> None:
    art = _logged(wandb_env.entity, project)
    _, body = gql(
        "mutation($input: CreateArtifactManifestInput!) { createArtifactManifest(input: $input) "
        "{ artifactManifest { id } } }",
        {"input": {"artifactID": art.id, "name": "m.json", "digest": "d", "type": "DELTA"}},
    )
    message = body["errors"][0]["message"]
    assert "'type'" in message and "DELTA" in message and "'PATCH'" in message


def test_an_unknown_filter_is_an_error_naming_it(wandb_env: Any, project: str, gql: Any) -> None:
    _logged(wandb_env.entity, project)
    _, body = gql(
        "query($e: String!, $p: String!) { project(entityName: $e, name: $p) { "
        'artifactType(name: "dataset") { artifactCollection(name: "dataset") { '
        'artifacts(filters: "{\\"alias\\": \\"best\\"}") { edges { version } } } } } }',
        {"e": wandb_env.entity, "p": project},
    )
    assert "'alias'" in body["errors"][0]["message"]
