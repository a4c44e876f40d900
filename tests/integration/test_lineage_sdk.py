"""W&B's lineage graph of a pipeline mirrors Dagster's asset lineage.

Dagster's side comes from the ``Definitions`` (parents, partition mappings) and the
instance (which partitions were materialized into which W&B version); W&B's side from the
real SDK against the local server: each version's ``logged_by()`` run and that run's
``used_artifacts()``.
"""

from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    EventRecordsFilter,
    execute_job,
    reconstructable,
)

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from tests.integration import lineage_pipeline
from tests.integration.lineage_pipeline import featurize_job, prepare_job, train_job

Node = tuple[str, str | None]
"""An asset partition: (asset key, partition key or None)."""


def _materialized(instance: DagsterInstance, keys: list[AssetKey]) -> dict[Node, str]:
    """Asset partition -> the W&B version (``collection:vN``) Dagster recorded for it."""
    versions = {}
    for key in keys:
        records = instance.get_event_records(
            EventRecordsFilter(DagsterEventType.ASSET_MATERIALIZATION, asset_key=key)
        )
        for record in records:
            materialization = record.asset_materialization
            assert materialization is not None
            metadata = materialization.metadata
            node = (key.to_user_string(), materialization.partition)
            versions[node] = (
                f"{metadata['wandb_artifact_name'].value}:{metadata['wandb_artifact_version'].value}"
            )
    return versions


def dagster_lineage(defs: Definitions, nodes: list[Node]) -> dict[Node, set[Node]]:
    """Each asset partition's parents in Dagster's asset graph (partition mappings applied)."""
    graph = defs.resolve_asset_graph()
    lineage: dict[Node, set[Node]] = {}
    for key_string, partition in nodes:
        key = AssetKey.from_user_string(key_string)
        parents: set[Node] = set()
        for parent in graph.get(key).parent_keys:
            if graph.get(parent).partitions_def is None:
                parents.add((parent.to_user_string(), None))
                continue
            mapped = graph.get_parent_partition_keys_for_child(partition, parent, key)
            for parent_partition in mapped.partitions_subset.get_partition_keys():
                parents.add((parent.to_user_string(), parent_partition))
        lineage[(key_string, partition)] = parents
    return lineage


def wandb_lineage(
    api: Any, project: LocalWandbProject, versions: dict[Node, str]
) -> dict[Node, set[Node]]:
    """Each version's parents in W&B: what the run that logged it used."""
    node_of = {version: node for node, version in versions.items()}
    lineage: dict[Node, set[Node]] = {}
    for node, version in versions.items():
        run = api.artifact(project.path(version)).logged_by()
        used = [artifact.source_name for artifact in run.used_artifacts()]
        lineage[node] = {node_of[name] for name in used}
    return lineage


def _run_pipeline(
    executor: str,
    project: LocalWandbProject,
    tmp_path: Path,
    monkeypatch: Any,
    run_per_step: bool = False,
) -> tuple[Definitions, dict[Node, str]]:
    monkeypatch.setenv("LINEAGE_TEST_PROJECT", project.project)
    monkeypatch.setenv("LINEAGE_TEST_STORAGE", str(tmp_path / "storage"))
    (tmp_path / "instance").mkdir()
    defs = lineage_pipeline.definitions(executor, run_per_step)
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        stages = [
            (prepare_job, None),
            (featurize_job, "red"),
            (featurize_job, "blue"),
            (train_job, None),
        ]
        for job_fn, partition in stages:
            if executor == "multiprocess":
                result = execute_job(
                    reconstructable(job_fn),
                    instance=instance,
                    tags={"dagster/partition": partition} if partition else None,
                )
            else:
                job = defs.resolve_job_def(job_fn.__name__.removesuffix("_job"))
                result = job.execute_in_process(instance=instance, partition_key=partition)
            assert result.success
        keys = [key for a in lineage_pipeline.ASSETS for key in a.keys]
        versions = _materialized(instance, keys)
    return defs, versions


def test_each_steps_wandb_run_mirrors_dagster_lineage(
    local_wandb: LocalWandbProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Multiprocess executor: a W&B run per step, so the graphs match edge for edge."""
    defs, versions = _run_pipeline("multiprocess", local_wandb, tmp_path, monkeypatch)
    assert sorted(versions) == [
        ("features", "blue"),
        ("features", "red"),
        ("model", None),
        ("raw", None),
        ("report", None),
        ("test", None),
        ("train", None),
    ]
    expected = dagster_lineage(defs, list(versions))
    assert expected[("model", None)] == {("features", "red"), ("features", "blue"), ("test", None)}
    assert wandb_lineage(local_wandb.api(), local_wandb, versions) == expected


def test_run_per_step_mirrors_dagster_lineage_in_process(
    local_wandb: LocalWandbProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process executor with ``run_per_step=True``: the graphs match edge for edge."""
    defs, versions = _run_pipeline("in_process", local_wandb, tmp_path, monkeypatch, True)
    assert len(versions) == 7
    expected = dagster_lineage(defs, list(versions))
    assert expected[("report", None)] == {("model", None), ("raw", None)}
    assert wandb_lineage(local_wandb.api(), local_wandb, versions) == expected
    api = local_wandb.api()
    runs = list(api.runs(f"{local_wandb.entity}/{local_wandb.project}"))
    assert {run.state for run in runs} == {"finished"}
    # one run per step: prepare (raw, split), featurize red and blue, train (model, report)
    assert len(runs) == 6


def test_in_process_runs_record_every_dagster_edge(
    local_wandb: LocalWandbProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process executor, default: one W&B run per Dagster run, so W&B has every Dagster
    edge (none missing), plus the inputs of the run's other steps (README, "W&B runs")."""
    defs, versions = _run_pipeline("in_process", local_wandb, tmp_path, monkeypatch)
    expected = dagster_lineage(defs, list(versions))
    recorded = wandb_lineage(local_wandb.api(), local_wandb, versions)
    for node, parents in expected.items():
        assert parents <= recorded[node], node
    # Steps alone in their Dagster run match exactly (the partitions of `features`).
    assert recorded[("features", "red")] == expected[("features", "red")] == {("train", None)}
