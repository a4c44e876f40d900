"""The wandb SDK's silent limits, checked while the IO manager builds an artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import wandb
from wandb.sdk.artifacts.storage_handlers.gcs_handler import GCSHandler

from dagster_wandb_v2._location import Location
from dagster_wandb_v2.config import WriteSpec
from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.limits import metadata_problems, reference_kwargs, table_row_problems
from dagster_wandb_v2.write import WriteRequest, build_artifact

LOCATION = Location("asset", "shards", "output", "result")


class _Blob:
    def __init__(self, name: str) -> None:
        self.name, self.etag, self.size, self.generation = name, f"etag-{name}", 1, 1


class _Bucket:
    """What ``google.cloud.storage.Bucket`` answers for a prefix holding ``count`` objects:
    ``list_blobs`` returns at most ``max_results`` of them, as GCS documents."""

    def __init__(self, count: int) -> None:
        self.blobs = [_Blob(f"shards/{index}.bin") for index in range(count)]

    def get_blob(self, key: str, generation: Any = None) -> None:
        return None  # a prefix, not an object

    def list_blobs(self, prefix: str, max_results: int) -> list[_Blob]:
        return [blob for blob in self.blobs if blob.name.startswith(prefix)][:max_results]


class _Client:
    def __init__(self, count: int) -> None:
        self._bucket = _Bucket(count)

    def bucket(self, name: str) -> _Bucket:
        return self._bucket


def _request(tmp_path: Path, **spec: Any) -> WriteRequest:
    return WriteRequest(
        name="shards",
        spec=WriteSpec(type="dataset", **spec),
        location=LOCATION,
        source_metadata={"source_integration": "dagster_wandb_v2"},
        staging_dir=tmp_path,
        renamed_from_asset_key=True,
    )


@pytest.mark.parametrize(("objects", "cut"), [(3, False), (4, True)])
def test_a_bucket_prefix_cut_at_max_objects_by_the_sdk_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, objects: int, cut: bool
) -> None:
    monkeypatch.setattr(GCSHandler, "init_gcs", lambda self: _Client(objects))
    references = ({"uri": "gs://bucket/shards", "max_objects": 3},)
    request = _request(tmp_path, add_references=references)

    if not cut:
        built = build_artifact([1], request)
        assert sorted(built.artifact.manifest.entries) == [
            "0.bin",
            "1.bin",
            "2.bin",
            "output.pickle",
        ]
        return
    with pytest.raises(WandbConfigurationError) as raised:
        build_artifact([1], request)
    assert str(raised.value) == (
        "asset 'shards', output 'result': wandb_artifact_configuration.add_references.0: "
        "'gs://bucket/shards' holds more than max_objects=3 objects and the wandb SDK would "
        "silently keep only the first ones; raise 'max_objects' above the number of objects"
    )


def test_the_sdk_alone_keeps_max_objects_of_a_bigger_prefix_without_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Why the check exists: the SDK's own 'Exceeded' check cannot fire."""
    monkeypatch.setattr(GCSHandler, "init_gcs", lambda self: _Client(10))
    artifact = wandb.Artifact("shards", type="dataset")
    added = artifact.add_reference("gs://bucket/shards", max_objects=3)
    assert len(added) == 3


def test_reference_kwargs_ask_for_one_object_more_than_the_limit() -> None:
    assert reference_kwargs({"uri": "s3://b/p"}) == (
        {"uri": "s3://b/p", "max_objects": 10_000_001},
        10_000_000,
    )
    assert reference_kwargs({"uri": "s3://b/p", "max_objects": 5})[0]["max_objects"] == 6


def test_table_rows_follow_the_sdk_class_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    table = wandb.Table(columns=["x"], data=[[1], [2], [3]])
    assert table_row_problems(table, "t") == []
    monkeypatch.setattr(wandb.Table, "MAX_ARTIFACT_ROWS", 2)
    (problem,) = table_row_problems(table, "t")
    assert problem.startswith("t has 3 rows but wandb.Artifact.add keeps only the first 2")


def test_metadata_counts_keys_shared_by_the_artifact_and_the_integration_once() -> None:
    user = {f"k{index}": index for index in range(99)}
    assert metadata_problems(user, {"k0": 0}) == []
    (problem,) = metadata_problems(user, {"a": 1, "b": 2})
    assert "101 keys (99 of the returned artifact, 2 added by dagster_wandb_v2: a, b)" in problem
