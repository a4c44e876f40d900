"""Partitions: one artifact per partition, single-run backfills, fan-in reads."""

import pickle
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetSpec,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MultiPartitionsDefinition,
    Out,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
    job,
    materialize,
    op,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dagster_wandb_v2 import WandbArtifactsIOManagerError, WandbConfigurationError
from dagster_wandb_v2.naming import sanitize_segment
from dagster_wandb_v2.testing import FakeRun, FakeWandb

IO = "wandb_artifacts_manager"
DAILY = DailyPartitionsDefinition(start_date="2023-01-01", end_date="2023-01-06")
COLORS = StaticPartitionsDefinition(["red", "blue"])
MULTI = MultiPartitionsDefinition({"date": DAILY, "color": COLORS})


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


@asset(
    partitions_def=DAILY,
    metadata=_config(type="dataset"),
    io_manager_key=IO,
    backfill_policy=BackfillPolicy.single_run(),
)
def daily(context: AssetExecutionContext) -> Any:
    keys = context.partition_keys
    if len(keys) == 1:
        return f"value-{keys[0]}"
    return {key: f"value-{key}" for key in keys}


def _materialize_range(
    assets: list[Any], resources: dict[str, Any], start: str, end: str, **kwargs: Any
) -> Any:
    tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
    return materialize(assets, resources=resources, tags=tags, **kwargs)


def _store_pickled(fake: FakeWandb, name: str, value: Any, aliases: tuple[str, ...] = ()) -> None:
    artifact = wandb.Artifact(name, "dataset")
    with artifact.new_file("output.pickle", "wb") as file:
        pickle.dump(value, file)
    fake.store(artifact, aliases=aliases)


# --- writing ------------------------------------------------------------------------


def test_one_artifact_per_daily_partition(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    for key in ("2023-01-01", "2023-01-02"):
        assert materialize([daily], resources=fake_wandb_resources, partition_key=key).success
    assert fake_wandb.collections() == ["daily.2023-01-01", "daily.2023-01-02"]


def test_multi_partitions_render_one_segment_per_dimension_in_name_order(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(partitions_def=MULTI, metadata=_config(type="dataset"), io_manager_key=IO)
    def multi(context: AssetExecutionContext) -> str:
        return str(context.partition_key)

    assert materialize(
        [multi], resources=fake_wandb_resources, partition_key="blue|2023-01-02"
    ).success
    assert fake_wandb.collections() == ["multi.blue.2023-01-02"]


def test_keys_with_characters_wandb_rejects_are_sanitized(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    odd = StaticPartitionsDefinition(["a b", "a/b", "c:d"])

    @asset(partitions_def=odd, metadata=_config(type="dataset"), io_manager_key=IO)
    def oddly(context: AssetExecutionContext) -> str:
        return str(context.partition_key)

    for key in ("a b", "a/b", "c:d"):
        assert materialize([oddly], resources=fake_wandb_resources, partition_key=key).success
    names = fake_wandb.collections()
    assert names == sorted(f"oddly.{sanitize_segment(key)}" for key in ("a b", "a/b", "c:d"))
    assert len(set(names)) == 3
    assert all(name.startswith("oddly.a-b-") or name.startswith("oddly.c-d-") for name in names)


def test_dynamic_partitions(fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]) -> None:
    models = DynamicPartitionsDefinition(name="models")

    @asset(partitions_def=models, metadata=_config(type="model"), io_manager_key=IO)
    def trained(context: AssetExecutionContext) -> str:
        return str(context.partition_key)

    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("models", ["resnet", "vit"])
    assert materialize(
        [trained], resources=fake_wandb_resources, partition_key="vit", instance=instance
    ).success
    assert fake_wandb.collections() == ["trained.vit"]


def test_partitioned_op_job_uses_name_and_partition(fake_wandb: FakeWandb) -> None:
    @op(out=Out(metadata=_config(name="op_data", type="dataset"), io_manager_key=IO))
    def produce() -> int:
        return 1

    @job(partitions_def=COLORS, resource_defs=fake_wandb.resources())
    def colored() -> None:
        produce()

    assert colored.execute_in_process(partition_key="blue").success
    assert fake_wandb.collections() == ["op_data.blue"]


def test_single_run_backfill_logs_each_partition_from_one_wandb_run(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    result = _materialize_range([daily], fake_wandb_resources, "2023-01-01", "2023-01-03")
    assert result.success
    assert fake_wandb.collections() == [f"daily.2023-01-0{day}" for day in (1, 2, 3)]
    assert len(fake_wandb.runs) == 1
    assert [artifact.name for artifact in fake_wandb.runs[0].logged] == [
        f"daily.2023-01-0{day}:v0" for day in (1, 2, 3)
    ]


def test_single_run_backfill_needs_a_dict_keyed_by_partition(
    fake_wandb_resources: dict[str, Any],
) -> None:
    @asset(
        partitions_def=DAILY,
        metadata=_config(type="dataset"),
        io_manager_key=IO,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def not_a_dict() -> list[int]:
        return [1]

    @asset(
        partitions_def=DAILY,
        metadata=_config(type="dataset"),
        io_manager_key=IO,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def wrong_keys() -> dict[str, int]:
        return {"2023-01-01": 1, "2023-01-09": 2}

    with pytest.raises(WandbArtifactsIOManagerError) as error:
        _materialize_range([not_a_dict], fake_wandb_resources, "2023-01-01", "2023-01-02")
    assert str(error.value) == (
        "asset 'not_a_dict', output 'result': this run materializes 2 partitions, so the "
        "output must be a dict keyed by partition key; got list"
    )
    with pytest.raises(WandbArtifactsIOManagerError) as error:
        _materialize_range([wrong_keys], fake_wandb_resources, "2023-01-01", "2023-01-02")
    assert str(error.value) == (
        "asset 'wrong_keys', output 'result': the output dict must have exactly the partition "
        "keys of this run; missing: ['2023-01-02'], unexpected: ['2023-01-09']"
    )


# --- reading ------------------------------------------------------------------------


def test_unpartitioned_reader_gets_every_partition_in_partition_order(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(ins={"daily": AssetIn(input_manager_key=IO)})
    def everything(daily: dict[str, str]) -> list[Any]:
        return list(daily.items())

    _materialize_range([daily], fake_wandb_resources, "2023-01-01", "2023-01-05")
    result = materialize(
        [daily, everything], resources=fake_wandb_resources, selection=[everything]
    )
    assert result.output_for_node("everything") == [
        (f"2023-01-0{day}", f"value-2023-01-0{day}") for day in range(1, 6)
    ]


def test_partition_order_does_not_depend_on_dagster_order(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.execution.context.input import InputContext

    original = InputContext.asset_partition_keys
    monkeypatch.setattr(
        InputContext,
        "asset_partition_keys",
        property(lambda self: list(reversed(list(original.fget(self))))),  # type: ignore[attr-defined]
    )

    @asset(ins={"daily": AssetIn(input_manager_key=IO)})
    def everything(daily: dict[str, str]) -> list[str]:
        return list(daily)

    _materialize_range([daily], fake_wandb_resources, "2023-01-01", "2023-01-05")
    result = materialize(
        [daily, everything], resources=fake_wandb_resources, selection=[everything]
    )
    assert result.output_for_node("everything") == [f"2023-01-0{day}" for day in range(1, 6)]


def test_one_partition_is_the_value_itself_and_mappings_give_dicts(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(partitions_def=DAILY, ins={"daily": AssetIn(input_manager_key=IO)})
    def same_day(daily: str) -> str:
        return daily

    @asset(
        partitions_def=DAILY,
        ins={
            "daily": AssetIn(
                input_manager_key=IO,
                partition_mapping=TimeWindowPartitionMapping(start_offset=-1),
            )
        },
    )
    def two_days(daily: dict[str, str]) -> dict[str, str]:
        return daily

    _materialize_range([daily], fake_wandb_resources, "2023-01-01", "2023-01-03")
    result = materialize(
        [daily, same_day, two_days],
        resources=fake_wandb_resources,
        partition_key="2023-01-03",
        selection=[same_day, two_days],
    )
    assert result.output_for_node("same_day") == "value-2023-01-03"
    assert result.output_for_node("two_days") == {
        "2023-01-02": "value-2023-01-02",
        "2023-01-03": "value-2023-01-03",
    }


def test_multi_partition_fan_in(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    small = MultiPartitionsDefinition(
        {
            "date": DailyPartitionsDefinition(start_date="2023-01-01", end_date="2023-01-03"),
            "color": COLORS,
        }
    )

    @asset(partitions_def=small, metadata=_config(type="dataset"), io_manager_key=IO)
    def multi(context: AssetExecutionContext) -> str:
        return f"value {context.partition_key}"

    for key in small.get_partition_keys():
        assert materialize([multi], resources=fake_wandb_resources, partition_key=key).success

    @asset(ins={"multi": AssetIn(input_manager_key=IO)})
    def combined(multi: dict[str, str]) -> list[tuple[str, str]]:
        return [(str(key), value) for key, value in multi.items()]

    result = materialize([multi, combined], resources=fake_wandb_resources, selection=[combined])
    expected_keys = [str(key) for key in small.get_partition_keys()]
    assert result.output_for_node("combined") == [(key, f"value {key}") for key in expected_keys]
    assert "multi.red.2023-01-02" in fake_wandb.collections()


def test_per_partition_configuration(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    for day, values in (("2023-01-01", ([1], [2])), ("2023-01-02", ([3], [4]))):
        _store_pickled(fake_wandb, f"daily.{day}", values[0], aliases=("gold",))
        _store_pickled(fake_wandb, f"daily.{day}", values[1])
    table_artifact = wandb.Artifact("daily.2023-01-03", "dataset")
    table_artifact.add(wandb.Table(columns=["x"], data=[[9]]), "custom_table")
    fake_wandb.store(table_artifact)
    upstream = AssetSpec(
        "daily",
        partitions_def=DailyPartitionsDefinition(start_date="2023-01-01", end_date="2023-01-04"),
    ).with_io_manager_key(IO)

    @asset(
        ins={
            "daily": AssetIn(
                metadata=_config(
                    partitions={
                        "2023-01-01": {"alias": "gold"},
                        "2023-01-03": {"get": "custom_table", "version": "v0"},
                        "*": {"version": "v1"},
                    }
                )
            )
        }
    )
    def configured(daily: dict[str, Any]) -> dict[str, Any]:
        return {
            key: value.get_column("x") if isinstance(value, wandb.Table) else value
            for key, value in daily.items()
        }

    result = materialize(
        [upstream, configured], resources=fake_wandb.resources(base_dir=str(tmp_path))
    )
    assert result.output_for_node("configured") == {
        "2023-01-01": [1],
        "2023-01-02": [4],
        "2023-01-03": [9],
    }


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"get": "Table"},
            "wandb_artifact_configuration.get: not allowed at the top level of a partitioned "
            "read; set it per partition under 'partitions'",
        ),
        (
            {"partitions": {"*": {"version": "v1", "alias": "gold"}}},
            "wandb_artifact_configuration.partitions.*: 'version' and 'alias' both given for "
            "partition '*'",
        ),
    ],
)
def test_partitioned_read_misuse(
    fake_wandb_resources: dict[str, Any], config: dict[str, Any], expected: str
) -> None:
    upstream = AssetSpec("daily", partitions_def=DAILY).with_io_manager_key(IO)

    @asset(ins={"daily": AssetIn(metadata=_config(**config))})
    def misuse(daily: Any) -> Any:
        return daily

    with pytest.raises(WandbConfigurationError) as error:
        materialize([upstream, misuse], resources=fake_wandb_resources)
    assert f"asset 'misuse', input 'daily': {expected}" in str(error.value)


def test_partitions_config_on_unpartitioned_read_is_an_error(
    fake_wandb_resources: dict[str, Any],
) -> None:
    upstream = AssetSpec("plain").with_io_manager_key(IO)

    @asset(ins={"plain": AssetIn(metadata=_config(partitions={"*": {"alias": "gold"}}))})
    def misuse(plain: Any) -> Any:
        return plain

    with pytest.raises(WandbConfigurationError, match="this input is not partitioned"):
        materialize([upstream, misuse], resources=fake_wandb_resources)


def test_reads_partitions_written_by_the_legacy_integration(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    # The legacy package named multi-dimensional partitions "<asset>.<key with | -> ->".
    _store_pickled(fake_wandb, "legacy.red-2023-01-01", "red value")
    _store_pickled(fake_wandb, "legacy.blue-2023-01-01", "blue value")
    two_colors = MultiPartitionsDefinition(
        {
            "color": COLORS,
            "date": DailyPartitionsDefinition(start_date="2023-01-01", end_date="2023-01-02"),
        }
    )
    upstream = AssetSpec("legacy", partitions_def=two_colors).with_io_manager_key(IO)

    @asset(ins={"legacy": AssetIn(metadata=_config(legacy_partition_names=True))})
    def modern(legacy: dict[str, str]) -> dict[str, str]:
        return {str(key): value for key, value in legacy.items()}

    result = materialize([upstream, modern], resources=fake_wandb.resources(base_dir=str(tmp_path)))
    assert result.output_for_node("modern") == {
        "blue|2023-01-01": "blue value",
        "red|2023-01-01": "red value",
    }


def test_fan_in_reads_concurrently_within_the_configured_bound(
    fake_wandb: FakeWandb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _materialize_range(
        [daily], fake_wandb.resources(base_dir=str(tmp_path)), "2023-01-01", "2023-01-05"
    )
    bound = 3
    barrier = threading.Barrier(bound, timeout=10)
    active = 0
    peak = 0
    calls = 0
    lock = threading.Lock()
    original = FakeRun.use_artifact

    def slow_use_artifact(self: FakeRun, qualified_name: str) -> Any:
        nonlocal active, peak, calls
        with lock:
            active += 1
            calls += 1
            first_wave = calls <= bound
            peak = max(peak, active)
        try:
            if first_wave:
                barrier.wait()  # broken (test fails) unless `bound` lookups overlap
            time.sleep(0.01)
            return original(self, qualified_name)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(FakeRun, "use_artifact", slow_use_artifact)

    @asset(ins={"daily": AssetIn(input_manager_key=IO)})
    def everything(daily: dict[str, str]) -> int:
        return len(daily)

    resources = fake_wandb.resources(base_dir=str(tmp_path), max_concurrent_reads=bound)
    result = materialize([daily, everything], resources=resources, selection=[everything])
    assert result.output_for_node("everything") == 5
    assert peak == bound


def test_partition_config_is_laid_over_the_wildcard(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    """The guide's example: "*" picks the table, "blue" only picks the version by alias."""
    for color, aliases in (("blue", ("special_alias",)), ("blue", ()), ("red", ())):
        artifact = wandb.Artifact(f"colors.{color}", "dataset")
        rows = [[color, len(aliases)]]
        artifact.add(wandb.Table(columns=["color", "special"], data=rows), "default_table_name")
        fake_wandb.store(artifact, aliases=aliases)
    upstream = AssetSpec("colors", partitions_def=COLORS).with_io_manager_key(IO)

    @asset(
        ins={
            "colors": AssetIn(
                metadata=_config(
                    partitions={
                        "*": {"get": "default_table_name"},
                        "blue": {"alias": "special_alias"},
                    }
                )
            )
        }
    )
    def tables(colors: dict[str, wandb.Table]) -> dict[str, list[Any]]:
        return {key: table.data for key, table in colors.items()}

    result = materialize([upstream, tables], resources=fake_wandb.resources(base_dir=str(tmp_path)))
    assert result.output_for_node("tables") == {"red": [["red", 0]], "blue": [["blue", 1]]}


def test_top_level_alias_is_the_default_of_every_partition(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    for color in ("red", "blue"):
        _store_pickled(fake_wandb, f"shades.{color}", f"{color} gold", aliases=("gold",))
        _store_pickled(fake_wandb, f"shades.{color}", f"{color} newest")
    upstream = AssetSpec("shades", partitions_def=COLORS).with_io_manager_key(IO)

    @asset(
        ins={
            "shades": AssetIn(
                metadata=_config(alias="gold", partitions={"blue": {"version": "v1"}})
            )
        }
    )
    def picked(shades: dict[str, str]) -> dict[str, str]:
        return shades

    result = materialize([upstream, picked], resources=fake_wandb.resources(base_dir=str(tmp_path)))
    assert result.output_for_node("picked") == {"red": "red gold", "blue": "blue newest"}
