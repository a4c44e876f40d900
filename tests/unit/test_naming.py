"""Artifact names from asset keys and partition keys."""

from __future__ import annotations

import doctest
import hashlib
import itertools
import string
from pathlib import Path

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
    shorten,
)
from dagster_wandb_v2.wandb_rules import max_name_length


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


# --- every derived name is a valid W&B name ------------------------------------------------


def _sdk_accepts(name: str) -> bool:
    from wandb.sdk.artifacts._validators import validate_artifact_name

    try:
        validate_artifact_name(name)
    except ValueError:
        return False
    return ARTIFACT_NAME_PATTERN.match(name) is not None


S3_KEY = "s3://my-bucket/raw/" + "year=2024/month=01/day=01/" * 5 + "part-00000.parquet"


@pytest.mark.parametrize(
    "name",
    [
        partition_artifact_name("raw", S3_KEY),
        partition_artifact_name("x" * 128, "2024-01-01"),
        partition_artifact_name("x", MultiPartitionKey({"a": S3_KEY, "b": S3_KEY + "/2"})),
        asset_artifact_name(AssetKey(["team_" + "x" * 130, "table"])),
        asset_artifact_name(AssetKey(["s3://bucket", "a b", "é"])),
        legacy_partition_artifact_name("raw", S3_KEY),
        legacy_partition_artifact_name("x" * 128, "a|b"),
    ],
)
def test_derived_names_are_valid_for_the_sdk_and_the_server(name: str) -> None:
    assert _sdk_accepts(name), name


def test_a_long_name_keeps_its_head_and_tail_around_a_hash_of_the_whole() -> None:
    name = partition_artifact_name("raw", S3_KEY)
    full = "raw." + sanitize_segment(S3_KEY)
    assert len(full) > 128 and len(name) == 128
    digest = hashlib.sha1(full.encode()).hexdigest()[:12]
    assert name == f"{full[:64]}-{digest}-{full[-50:]}"
    assert name == partition_artifact_name("raw", S3_KEY)  # deterministic


def test_long_names_that_share_head_and_tail_stay_apart() -> None:
    keys = [f"s3://bucket/{index:04d}/" + "folder/" * 30 + "file.parquet" for index in range(500)]
    names = {partition_artifact_name("raw", key) for key in keys}
    assert len(names) == len(keys)


def test_names_that_fit_are_unchanged() -> None:
    assert shorten("x" * 128) == "x" * 128
    assert partition_artifact_name("x" * 120, "2024-01") == "x" * 120 + ".2024-01"
    assert asset_artifact_name(AssetKey(["my-team", "model.v1"])) == "my-team__model.v1"


def test_asset_key_components_are_sanitized_one_by_one() -> None:
    assert asset_artifact_name(AssetKey(["s3://bucket", "raw"])) == (
        f"{sanitize_segment('s3://bucket')}__raw"
    )


def test_dots_inside_one_dimension_keep_multi_dimensional_keys_apart() -> None:
    first = MultiPartitionKey({"model": "a.b", "version": "c"})
    second = MultiPartitionKey({"model": "a", "version": "b.c"})
    assert partition_artifact_name("x", first) != partition_artifact_name("x", second)
    assert (
        partition_artifact_name("x", first) == f"x.{sanitize_segment('a.b', dots_allowed=False)}.c"
    )
    # A single-dimension key keeps its dots (the legacy package's names).
    assert partition_artifact_name("x", "v1.2") == "x.v1.2"


def test_the_length_limit_is_the_sdks() -> None:
    from wandb.sdk.artifacts._validators import NAME_MAXLEN

    assert max_name_length() == NAME_MAXLEN == 128


def test_the_readme_example_of_a_long_name_is_right() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"`{partition_artifact_name('raw', S3_KEY)}`" in readme
    assert '`"s3://my-bucket/raw/" + "year=2024/month=01/day=01/" * 5 + "part-00000.parquet"`' in (
        readme
    )
