"""``ReadPath``: an input's ``name`` in the forms ``Run.use_artifact`` takes."""

from __future__ import annotations

import pytest

from dagster_wandb_v2.read_path import ReadPath, ReadPathError


@pytest.mark.parametrize(
    ("name", "expected", "use_artifact_path"),
    [
        ("scores", ReadPath("scores"), "me/proj/scores"),
        ("other/scores:best", ReadPath("scores", "other", None, "best"), "me/other/scores"),
        ("team/other/scores:v2", ReadPath("scores", "other", "team", "v2"), "team/other/scores"),
        (
            "wandb-registry-model/iris:production",
            ReadPath("iris", "wandb-registry-model", None, "production"),
            "wandb-registry-model/iris",
        ),
        (
            "acme/wandb-registry-model/iris",
            ReadPath("iris", "wandb-registry-model", "acme"),
            "acme/wandb-registry-model/iris",
        ),
    ],
)
def test_forms(name: str, expected: ReadPath, use_artifact_path: str) -> None:
    path = ReadPath.parse(name)
    assert path == expected
    assert path.artifact_path("me", "proj") == use_artifact_path
    assert path.elsewhere == ("/" in name)


def test_qualifier_is_a_version_or_an_alias() -> None:
    assert (ReadPath.parse("x:v3").version, ReadPath.parse("x:v3").alias) == ("v3", None)
    assert (ReadPath.parse("x:best").version, ReadPath.parse("x:best").alias) == (None, "best")
    assert ReadPath.parse("wandb-registry-dataset/golden").registry == "dataset"
    assert ReadPath.parse("team/proj/x").registry is None


def test_a_partition_name_replaces_the_artifact_name() -> None:
    path = ReadPath.parse("team/other/scores")
    assert path.artifact_path("me", "proj", "scores.red") == "team/other/scores.red"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a/b/c/d", "'a/b/c/d' has 4 parts"),
        ("a//b", "'a//b' has an empty part or a second ':'"),
        ("a:b:c", "'a:b:c' has an empty part or a second ':'"),
        ("scores:", "'scores:' ends in ':'; give an alias or a version after it"),
        ("my scores", "invalid artifact name 'my scores'"),
        ("wandb-registry-/iris", "Registry name cannot be empty"),
        ("wandb-registry-model/ir is", "registry collection: invalid artifact name 'ir is'"),
        ("team/pro#ject/x", "Invalid project/registry name 'pro#ject'"),
        ("x:a/b", "W&B aliases cannot contain '/'"),
    ],
)
def test_what_w_and_b_would_refuse(name: str, problem: str) -> None:
    with pytest.raises(ReadPathError) as raised:
        ReadPath.parse(name)
    assert any(problem in reason for reason in raised.value.problems), raised.value.problems
