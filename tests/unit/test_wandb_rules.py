"""W&B's rules for names users choose, decided by the wandb SDK's validators where it has them."""

from __future__ import annotations

import doctest

import pytest

from dagster_wandb_v2 import wandb_rules
from dagster_wandb_v2.wandb_rules import (
    alias_problem,
    artifact_name_problem,
    case_clashes,
    registry_problem,
    type_problem,
)


def test_docstring_examples_are_right() -> None:
    result = doctest.testmod(wandb_rules, raise_on_error=False, verbose=False)
    assert result.attempted >= 5
    assert result.failed == 0


@pytest.mark.parametrize("name", ["model", "my-model_1.0", "x" * 128, "a..b"])
def test_valid_artifact_names(name: str) -> None:
    assert artifact_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "artifact name must not be empty"),
        ("a/b", "invalid artifact name 'a/b': W&B allows only letters, digits, '-', '_' and '.'"),
        ("x" * 129, f"artifact name '{'x' * 129}' is longer than 128 characters"),
    ],
)
def test_invalid_artifact_names(name: str, problem: str) -> None:
    assert artifact_name_problem(name) == problem


def test_the_sdk_decides_what_it_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule the SDK adds is ours at once: its validator is called, not copied."""
    from wandb.sdk.artifacts import _validators

    def stricter(aliases: list[str]) -> list[str]:
        if "forbidden" in aliases:
            raise ValueError("Aliases must not be 'forbidden'")
        return aliases

    monkeypatch.setattr(_validators, "validate_aliases", stricter)
    assert alias_problem("forbidden") == (
        "invalid alias 'forbidden': Aliases must not be 'forbidden'"
    )
    assert alias_problem("fine") is None


@pytest.mark.parametrize("alias", ["best", "latest", "prod-2024.01", "v2-rc", "V2x", "a b"])
def test_valid_aliases(alias: str) -> None:
    assert alias_problem(alias) is None


@pytest.mark.parametrize("alias", ["", "a/b", "a:b", "v0", "v12", "x" * 129])
def test_invalid_aliases(alias: str) -> None:
    assert alias_problem(alias) is not None


def test_case_clashes_keep_the_first_spelling() -> None:
    assert case_clashes(["Prod", "best", "prod", "PROD", "best"]) == [
        ("Prod", "prod"),
        ("Prod", "PROD"),
    ]


def test_types_and_registries() -> None:
    assert type_problem("dataset") is None
    assert type_problem("job") is not None
    assert type_problem("wandb-run") is not None
    assert registry_problem("model") is None
    assert registry_problem("r" * 114) is not None
    assert registry_problem("a%b") is not None
