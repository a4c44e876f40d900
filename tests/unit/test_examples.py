"""Every example runs on the in-memory fake and leaves the artifacts the guide describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import Definitions, materialize

from dagster_wandb_v2 import validate_definitions
from dagster_wandb_v2.testing import FakeWandb
from examples import (
    advanced,
    experiment_tracking,
    external,
    model_registry,
    multi_asset,
    ops_job,
    partitioned_job,
    partitions,
    serialization,
    simple,
    version_lifecycle,
)


def test_simple(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    result = materialize(simple.assets, resources=fake_wandb_resources)
    assert result.output_for_node("dataset_sum") == 6
    assert result.output_for_node("table_column") == [1]
    assert result.output_for_node("notes") == "built by hand"
    assert result.output_for_node("table_rows") == 2
    assert fake_wandb.collections() == ["my_artifact", "my_dataset", "my_table"]


def test_advanced(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    result = materialize(advanced.assets, resources=fake_wandb_resources)
    assert result.output_for_node("read_advanced_artifact") == 3
    stored = fake_wandb.artifact("my_advanced_artifact:my_second_alias")
    assert stored.description == "My *Markdown* description"
    assert set(stored.manifest.entries) == {
        "output.pickle",
        "validation_dataset",
        "My directory/part-0.csv",
        "My directory/part-1.csv",
        "External HTTP reference to an image",
    }


def test_multi_asset(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    result = materialize(multi_asset.assets, resources=fake_wandb_resources)
    assert result.output_for_node("column_names") == ["a", "b", "c", "d", "e"]
    assert fake_wandb.artifact("second_table:latest").type == "validation_dataset"


def test_ops_job(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    job = ops_job.simple_job_example
    result = job.execute_in_process(resources=fake_wandb.resources(base_dir=str(tmp_path)))
    assert result.success
    assert result.output_for_node("read_artifact") == 6
    assert fake_wandb.artifact("my_op_total:latest").type == "result"


def test_serialization(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    result = materialize(serialization.assets, resources=fake_wandb_resources)
    assert result.output_for_node("inference_result_from_joblib_serialized_model") == 3
    model = fake_wandb.artifact("my_joblib_serialized_model:latest")
    assert list(model.manifest.entries) == ["output.joblib"]


def test_experiment_tracking(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    result = materialize(experiment_tracking.assets, resources=fake_wandb_resources)
    model = result.output_for_node("linear_model")
    assert abs(model["slope"] - 2) < 0.01 and abs(model["intercept"] - 1) < 0.01
    (run,) = fake_wandb.runs  # metrics, the read and the writes in one W&B run
    losses = [row["loss"] for row in run.history]
    assert len(losses) == 100 and losses[-1] < losses[0] / 1000
    assert [artifact.name for artifact in run.logged] == ["training_data:v0", "linear_model:v0"]
    # the SDK names a version looked up by alias after the alias; source_name is name:vN
    assert [artifact.source_name for artifact in run.used] == ["training_data:v0"]
    assert run.state == "finished"


def test_external(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    artifact = wandb.Artifact(external.EXTERNAL_ARTIFACT, "labels")
    artifact.add(wandb.Table(columns=["label"], data=[["cat"], ["dog"]]), "labels")
    fake_wandb.store(artifact)
    result = materialize(external.assets, resources=fake_wandb_resources)
    assert result.output_for_node("label_count") == 2


def test_all_examples_pass_load_time_validation(fake_wandb: FakeWandb) -> None:
    from examples.definitions import all_assets, all_jobs

    defs = Definitions(assets=all_assets, jobs=all_jobs, resources=fake_wandb.resources())
    validate_definitions(defs)


def test_partitions(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    backfill = {
        ASSET_PARTITION_RANGE_START_TAG: "2023-01-01",
        ASSET_PARTITION_RANGE_END_TAG: "2023-01-07",
    }
    daily = partitions.create_my_daily_partitioned_asset
    assert materialize([daily], resources=fake_wandb_resources, tags=backfill).success
    assert len(fake_wandb.runs) == 1  # a 7-partition backfill, one W&B run
    result = materialize(
        partitions.daily_assets,
        resources=fake_wandb_resources,
        selection=[partitions.read_all_partitions],
    )
    assert result.output_for_node("read_all_partitions") == 7
    result = materialize(
        partitions.daily_assets,
        resources=fake_wandb_resources,
        partition_key="2023-01-03",
        selection=[partitions.read_specific_partitions],
    )
    assert result.output_for_node("read_specific_partitions") == ["2023-01-02", "2023-01-03"]

    for key in partitions.MULTI.get_partition_keys():
        materialize(
            [partitions.create_my_multi_partitioned_asset],
            resources=fake_wandb_resources,
            partition_key=key,
        )
    result = materialize(
        partitions.multi_assets,
        resources=fake_wandb_resources,
        selection=[partitions.read_multi_partitions],
    )
    assert result.output_for_node("read_multi_partitions") == [
        str(key) for key in partitions.MULTI.get_partition_keys()
    ]
    assert "my_multi_partitioned_asset.red.2023-01-02" in fake_wandb.collections()

    for color in partitions.COLORS.get_partition_keys():
        materialize(
            [partitions.write_advanced_artifact],
            resources=fake_wandb_resources,
            partition_key=color,
        )
    result = materialize(
        partitions.advanced_assets,
        resources=fake_wandb_resources,
        selection=[partitions.read_objects_directly],
    )
    assert result.output_for_node("read_objects_directly") == [
        "red",
        "orange",
        "yellow",
        "blue",
        "green",
    ]


def test_partitioned_job(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    job = partitioned_job.partitioned_job_example
    for region in ("eu", "asia"):
        result = job.execute_in_process(
            partition_key=region, resources=fake_wandb.resources(base_dir=str(tmp_path))
        )
        assert result.success
    assert fake_wandb.collections() == ["regional_sales.asia", "regional_sales.eu"]


def test_model_registry(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    for key in model_registry.LEARNING_RATES.get_partition_keys():
        materialize(
            [model_registry.candidate_model], resources=fake_wandb_resources, partition_key=key
        )
    result = materialize(
        model_registry.assets,
        resources=fake_wandb_resources,
        selection=[model_registry.production_model],
    )
    assert result.output_for_node("production_model") == {"learning_rate": 0.01, "accuracy": 0.95}
    production = fake_wandb.linked(f"{model_registry.REGISTRY_COLLECTION}:production")
    assert production.name == "production_model:v0"
    assert production.ttl_inherited
    candidate = fake_wandb.artifact("candidate_model.lr_0.1:latest")
    assert candidate.ttl_seconds == 30 * 86400
    assert fake_wandb.linked(f"{model_registry.REGISTRY_COLLECTION}:v0") is not None
    served = materialize(
        model_registry.assets,
        resources=fake_wandb_resources,
        selection=[model_registry.served_model],
    )
    assert served.output_for_node("served_model") == 0.95
    (used,) = next(run for run in fake_wandb.runs if run.id == served.run_id).used
    assert used.source_name == "production_model:v0"


def test_onnx_model(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from examples import onnx_model

    result = materialize(onnx_model.assets, resources=fake_wandb_resources)
    assert result.output_for_node("experiment_results") > 0.8
    model_file = fake_wandb.artifact("my_onnx_model_file:latest")
    assert list(model_file.manifest.entries) == ["model.onnx"]
    assert model_file.metadata["format"] == "onnx"


def test_version_lifecycle(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        reports = version_lifecycle.run_example(instance, fake_wandb_resources)
    assert reports["dry_run"]["wandb_would_delete_versions"] == ["v0", "v1"]
    assert reports["deleted"]["wandb_deleted_versions"] == ["v0", "v1"]
    kept = [(v.version, sorted(v.aliases)) for v in fake_wandb.versions("classifier")]
    assert [
        (version, [a for a in aliases if not a.startswith("dagster-run-")])
        for version, aliases in kept
    ] == [
        ("v2", []),  # one of the 2 newest (keep_last)
        ("v3", ["latest", "production"]),
    ]
    newest = fake_wandb.artifact("classifier:production")
    assert newest.description == "Accuracy 0.9 on the held-out set"
    assert newest.metadata["accuracy"] == 0.9
    ((_, linked, aliases),) = fake_wandb.registry_versions(
        "wandb-registry-model/lifecycle_classifier"
    )
    assert (linked.version, aliases) == ("v3", ["latest", "staging"])


def test_distributed(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    from dagster import DagsterInstance

    from examples import distributed

    with DagsterInstance.ephemeral() as instance:
        outcome = distributed.run_example(instance, fake_wandb_resources)
    assert outcome["shard_sizes"] == {f"2023-02-0{day}": 3 for day in range(1, 8)}
    assert outcome["score_rows"] == 3
    assert outcome["daily_readings_version"] == "v0"
    assert [v.version for v in fake_wandb.versions("daily_shards")] == ["v0"]
    readings = fake_wandb.artifact("daily_readings:latest")
    assert sorted(readings.manifest.entries) == [
        f"partitions/2023-02-0{day}/output.pickle" for day in (1, 2, 3)
    ]


def test_lineage(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    from dagster import DagsterInstance

    from examples import lineage

    with DagsterInstance.ephemeral() as instance:
        step_runs = lineage.run_example(instance, fake_wandb_resources)
    assert sorted(step_runs) == ["raw_text", "tokens", "vocabulary"]
    assert len(set(step_runs.values())) == 3  # a W&B run per step
    runs = {run.id: run for run in fake_wandb.runs}
    vocabulary_run = runs[step_runs["vocabulary"]]
    assert [artifact.source_name for artifact in vocabulary_run.used] == ["tokens:v0"]
    assert [artifact.name for artifact in vocabulary_run.logged] == ["vocabulary:v0"]
    assert len({run.spec.group for run in runs.values()}) == 1
