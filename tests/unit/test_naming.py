"""Artifact names from asset keys and partition keys."""

from __future__ import annotations

import doctest
import itertools
import string

import pytest
from dagster import AssetKey, MultiPartitionKey

from dagster_wandb_v2 import naming
from dagster_wandb_v2.config import ARTIFACT_NAME_PATTERN
from dagster_wandb_v2.naming import (
    asset_artifact_name,
    legacy_partition_artifact_name,
    partition_artifact_name,
    partition_segments,
    sanitize_segment,
)


def test_docstring_examples_are_right() -> None:
    result = doctest.testmod(naming, raise_on_error=False, verbose=False)
    assert result.attempted >= 3
    assert result.failed == 0


def test_module_docstring_example_of_a_sanitized_segment_is_right() -> None:
    assert "``a/b`` -> ``a-b-3ec69c``" in (naming.__doc__ or "")
    assert sanitize_segment("a/b") == "a-b-3ec69c"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (AssetKey("my_asset"), "my_asset"),
        (AssetKey(["a", "b"]), "a__b"),
        (AssetKey(["team", "ml", "model"]), "team__ml__model"),
    ],
)
def test_asset_artifact_name(key: AssetKey, expected: str) -> None:
    assert asset_artifact_name(key) == expected


def test_partition_artifact_name() -> None:
    assert partition_artifact_name("my_asset", "2024-01-01") == "my_asset.2024-01-01"
    assert partition_artifact_name("a__b", "red") == "a__b.red"


def test_multi_partition_key_segments_follow_dimension_name_order() -> None:
    key = MultiPartitionKey({"date": "2024-01-01", "color": "blue"})
    assert partition_segments(key) == ["blue", "2024-01-01"]
    assert partition_artifact_name("x", key) == "x.blue.2024-01-01"
    other_order = MultiPartitionKey({"zone": "eu", "area": "north", "month": "jan"})
    assert partition_artifact_name("x", other_order) == "x.north.jan.eu"


def test_multi_partition_segments_are_sanitized_one_by_one() -> None:
    key = MultiPartitionKey({"date": "2024-01-01", "color": "dark blue"})
    assert partition_artifact_name("x", key) == (f"x.{sanitize_segment('dark blue')}.2024-01-01")
    assert partition_artifact_name("x", key).startswith("x.dark-blue-")


def test_plain_key_is_one_segment() -> None:
    assert partition_segments("2024-01-01") == ["2024-01-01"]


def test_valid_segment_is_kept_as_is() -> None:
    for segment in ["2024-01-01", "a_b", "v1.2", "A-Z"]:
        assert sanitize_segment(segment) == segment


def test_sanitize_is_deterministic_and_valid() -> None:
    assert sanitize_segment("a b") == "a-b-7dbde9"
    assert sanitize_segment("a b") == sanitize_segment("a b")
    assert sanitize_segment("2024-01-01T00:00") == sanitize_segment("2024-01-01T00:00")
    assert ARTIFACT_NAME_PATTERN.match(sanitize_segment("a/b:c d|é"))


def test_sanitize_avoids_collisions_between_different_invalid_keys() -> None:
    # All of these would become "a-b" if invalid characters were only replaced.
    keys = ["a/b", "a:b", "a b", "a|b", "a?b", "a\\b", "a%b", "a*b"]
    names = [partition_artifact_name("x", key) for key in keys]
    assert len(set(names)) == len(keys)
    for name in names:
        assert ARTIFACT_NAME_PATTERN.match(name), name
        assert name.startswith("x.a-b-")


def test_sanitized_names_are_valid_for_many_keys() -> None:
    alphabet = "ab/: |é-_."
    keys = ["".join(chars) for chars in itertools.product(alphabet, repeat=3)]
    names = {partition_artifact_name("x", key) for key in keys}
    assert len(names) == len(keys)
    for name in names:
        assert ARTIFACT_NAME_PATTERN.match(name), name


def test_sanitize_keeps_the_allowed_characters() -> None:
    allowed = string.ascii_letters + string.digits + "-_."
    assert sanitize_segment(allowed) == allowed


def test_legacy_partition_artifact_name() -> None:
    assert legacy_partition_artifact_name("my_asset", "2024-01-01") == "my_asset.2024-01-01"
    key = MultiPartitionKey({"date": "2024-01-01", "color": "blue"})
    assert legacy_partition_artifact_name("my_asset", key) == "my_asset.blue-2024-01-01"
    assert legacy_partition_artifact_name("my_asset", "a|b|c") == "my_asset.a-b-c"
