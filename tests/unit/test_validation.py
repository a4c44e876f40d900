"""``validate_definitions``: every W&B configuration of a ``Definitions``, before any run."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import (
    AssetIn,
    AssetOut,
    AssetSpec,
    DailyPartitionsDefinition,
    Definitions,
    In,
    InMemoryIOManager,
    MultiPartitionsDefinition,
    Out,
    SourceAsset,
    StaticPartitionsDefinition,
    asset,
    job,
    multi_asset,
    op,
)

from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.testing import FakeWandb
from dagster_wandb_v2.validation import definition_problems, validate_definitions

IO = "wandb_artifacts_manager"
KEY = "wandb_artifact_configuration"


def _config(**config: Any) -> dict[str, Any]:
    return {KEY: config}


@pytest.fixture
def resources(fake_wandb: FakeWandb, tmp_path: Any) -> dict[str, Any]:
    return fake_wandb.resources(base_dir=str(tmp_path / "storage"))


# --- a Definitions with a mistake in every kind of place -------------------------------


@asset(metadata=_config(alises=["best"]), io_manager_key=IO)
def typo_asset() -> int:
    return 1


@asset(metadata=_config(type="model"), io_manager_key=IO)
def model() -> int:
    return 1


@asset(ins={"model": AssetIn(metadata=_config(type="model", alias="a:b"))})
def evaluation(model: int) -> int:
    return model


@multi_asset(
    outs={
        "first": AssetOut(io_manager_key=IO, metadata=_config(name="renamed", type="t")),
        "second": AssetOut(io_manager_key=IO, metadata=_config(type="t")),
    }
)
def two_assets() -> tuple[int, int]:
    return 1, 2


daily = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=daily, metadata=_config(type="t"), io_manager_key=IO)
def daily_data() -> int:
    return 1


@asset(
    partitions_def=daily,
    ins={"daily_data": AssetIn(metadata=_config(get="table"))},
)
def daily_report(daily_data: int) -> int:
    return daily_data


@asset(ins={"model": AssetIn(input_manager_key=IO, metadata=_config(partitions={"*": {}}))})
def explicit_reader(model: int) -> int:
    return model


@op(out=Out(io_manager_key=IO, metadata=_config(type="model")))
def op_without_name() -> int:
    return 1


@op(ins={"value": In(input_manager_key=IO, metadata=_config(name="m", version="3"))})
def op_bad_version(value: int) -> None:
    del value


@op(ins={"value": In(input_manager_key=IO)})
def op_input_without_name(value: int) -> None:
    del value


@job
def bad_job() -> None:
    op_without_name()
    op_bad_version()
    op_input_without_name()


def test_every_problem_is_reported_once_with_its_location(resources: dict[str, Any]) -> None:
    defs = Definitions(
        assets=[
            typo_asset,
            model,
            evaluation,
            two_assets,
            daily_data,
            daily_report,
            explicit_reader,
        ],
        jobs=[bad_job],
        resources=resources,
    )
    with pytest.raises(WandbConfigurationError) as info:
        validate_definitions(defs)
    expected = [
        f"asset 'typo_asset', output 'result': {KEY}.alises: unknown key (did you mean 'aliases'?)",
        f"asset 'evaluation', input 'model': {KEY}.type: only used when writing "
        "(on an output), not on an input",
        f"asset 'evaluation', input 'model': {KEY}.alias: invalid alias 'a:b': W&B aliases "
        "cannot contain ':'",
        f"asset 'first', output 'first': {KEY}.name: not allowed here, the artifact is named "
        "after the asset key; remove 'name'",
        f"asset 'daily_report', input 'daily_data': {KEY}.get: not allowed at the top level "
        "of a partitioned read; set it per partition under 'partitions' "
        "(e.g. {'partitions': {'*': {'get': ...}}})",
        f"asset 'explicit_reader', input 'model': {KEY}.partitions.*: empty configuration "
        "for partition '*'",
        f"asset 'explicit_reader', input 'model': {KEY}.partitions: only allowed when "
        "reading a partitioned asset; this input is not partitioned",
        f"op 'op_without_name', output 'result': {KEY}.name: required for an output that is "
        "not an asset (there is no asset key to name the artifact after)",
        f"op 'op_bad_version', input 'value': {KEY}.version: '3' is not a version; W&B "
        "versions look like 'v0', 'v3'",
        f"op 'op_input_without_name', input 'value': {KEY}.name: required for an input that "
        "is not an asset (there is no asset key to name the artifact after)",
    ]
    assert sorted(info.value.problems) == sorted(expected)
    assert len(info.value.problems) == len(set(info.value.problems))
    assert str(info.value) == "\n".join(info.value.problems)


def test_problems_of_the_legacy_metadata_key_are_reported(resources: dict[str, Any]) -> None:
    @asset(metadata={"wandb_artifact_arguments": {"tpye": "model"}}, io_manager_key=IO)
    def legacy() -> int:
        return 1

    assert definition_problems(Definitions(assets=[legacy], resources=resources)) == [
        f"asset 'legacy', output 'result': {KEY}.tpye: unknown key (did you mean 'type'?)"
    ]


def test_prefixed_asset_key_names_the_location_with_its_user_string(
    resources: dict[str, Any],
) -> None:
    @asset(key_prefix=["team"], metadata=_config(name="x"), io_manager_key=IO)
    def prefixed() -> int:
        return 1

    assert definition_problems(Definitions(assets=[prefixed], resources=resources)) == [
        f"asset 'team/prefixed', output 'result': {KEY}.name: not allowed here, the artifact "
        "is named after the asset key; remove 'name'"
    ]


# --- valid definitions -----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Class `SourceAsset` is deprecated")
def test_valid_definitions_pass(resources: dict[str, Any]) -> None:
    external = AssetSpec("ext").with_io_manager_key(IO)
    legacy_external = SourceAsset("legacy_ext", io_manager_key=IO)
    colors = StaticPartitionsDefinition(["red", "blue"])

    @asset(
        metadata=_config(
            type="model",
            aliases=["best"],
            serialization_module={"name": "joblib", "parameters": {"compress": 3}},
        ),
        io_manager_key=IO,
    )
    def trained() -> int:
        return 1

    @asset(
        ins={
            "ext": AssetIn(metadata=_config(get="table", version="v2")),
            "legacy_ext": AssetIn(metadata=_config(get_path="data.csv")),
            "trained": AssetIn(metadata=_config(alias="best")),
        }
    )
    def combined(ext: Any, legacy_ext: Any, trained: int) -> int:
        return trained

    @asset(partitions_def=colors, metadata=_config(type="t"), io_manager_key=IO)
    def by_color() -> int:
        return 1

    @asset(
        ins={
            "by_color": AssetIn(
                metadata=_config(partitions={"red": {"version": "v0"}, "*": {"get": "x"}})
            )
        },
    )
    def all_colors(by_color: dict[str, int]) -> int:
        return len(by_color)

    @multi_asset(
        outs={
            "left": AssetOut(io_manager_key=IO, metadata=_config(type="t")),
            "right": AssetOut(io_manager_key=IO, metadata=_config(type="t")),
        }
    )
    def pair() -> tuple[int, int]:
        return 1, 2

    @op(out=Out(io_manager_key=IO, metadata=_config(name="op_model", type="model")))
    def produce() -> int:
        return 1

    @op(ins={"value": In(input_manager_key=IO, metadata=_config(name="op_model", alias="a"))})
    def consume(value: int) -> None:
        del value

    @job
    def ops_job() -> None:
        produce()
        consume()

    defs = Definitions(
        assets=[external, legacy_external, trained, combined, by_color, all_colors, pair],
        jobs=[ops_job],
        resources=resources,
    )
    assert definition_problems(defs) == []
    validate_definitions(defs)


@pytest.mark.filterwarnings("ignore:Class `SourceAsset` is deprecated")
def test_inputs_from_external_artifacts_are_checked(resources: dict[str, Any]) -> None:
    external = AssetSpec("ext").with_io_manager_key(IO)
    legacy_external = SourceAsset("legacy_ext", io_manager_key=IO)

    @asset(
        ins={
            "ext": AssetIn(metadata=_config(get="a", get_path="b")),
            "legacy_ext": AssetIn(metadata=_config(name="legacy_ext")),
        }
    )
    def reader(ext: Any, legacy_ext: Any) -> None:
        del ext, legacy_ext

    defs = Definitions(assets=[external, legacy_external, reader], resources=resources)
    assert definition_problems(defs) == [
        f"asset 'reader', input 'ext': {KEY}: 'get' and 'get_path' both given; use only one "
        "(neither returns the whole artifact)",
        f"asset 'reader', input 'legacy_ext': {KEY}.name: not allowed here, the artifact is "
        "named after the asset key; remove 'name', or give 'entity/project/name' or a "
        "registry path 'wandb-registry-<registry>/<collection>' to read it from there",
    ]


def test_outputs_and_inputs_on_other_io_managers_are_ignored(resources: dict[str, Any]) -> None:
    bad = _config(alises=["x"], get="t", name="a/b")

    @asset(metadata=bad, io_manager_key="memory")
    def elsewhere() -> int:
        return 1

    @asset(metadata=bad)
    def on_default_io_manager() -> int:
        return 1

    @asset(ins={"elsewhere": AssetIn(metadata=bad)}, metadata=bad)
    def reads_elsewhere(elsewhere: int) -> int:
        return elsewhere

    @op(out=Out(io_manager_key="memory", metadata=bad))
    def op_elsewhere() -> int:
        return 1

    @op(ins={"value": In(input_manager_key="memory")})
    def op_reads_elsewhere(value: int) -> None:
        del value

    @job
    def other_job() -> None:
        op_reads_elsewhere(op_elsewhere())

    defs = Definitions(
        assets=[elsewhere, on_default_io_manager, reads_elsewhere],
        jobs=[other_job],
        resources={**resources, "memory": InMemoryIOManager()},
    )
    assert definition_problems(defs) == []


def test_without_a_wandb_io_manager_nothing_is_checked() -> None:
    @asset(metadata=_config(alises=["x"]), io_manager_key=IO)
    def typo() -> int:
        return 1

    defs = Definitions(assets=[typo], resources={IO: InMemoryIOManager()})
    assert definition_problems(defs) == []


def test_io_manager_under_another_key_is_recognised(fake_wandb: FakeWandb, tmp_path: Any) -> None:
    manager = fake_wandb.resources(base_dir=str(tmp_path))[IO]

    @asset(metadata=_config(alises=["x"]), io_manager_key="artifacts")
    def typo() -> int:
        return 1

    defs = Definitions(assets=[typo], resources={"artifacts": manager})
    assert definition_problems(defs) == [
        f"asset 'typo', output 'result': {KEY}.alises: unknown key (did you mean 'aliases'?)"
    ]


# --- static partitions whose artifact names coincide -------------------------------------


def test_static_partitions_sharing_an_artifact_name_are_reported(
    resources: dict[str, Any],
) -> None:
    keys = StaticPartitionsDefinition(["a b", "a-b-7dbde9", "c"])

    @asset(partitions_def=keys, metadata=_config(type="dataset"), io_manager_key=IO)
    def clashing() -> int:
        return 1

    assert definition_problems(Definitions(assets=[clashing], resources=resources)) == [
        "asset 'clashing', output 'result': partitions 'a b' and 'a-b-7dbde9' would both be "
        "written to the W&B artifact 'clashing.a-b-7dbde9'; rename one of the partition keys"
    ]


def test_static_partitions_with_distinct_names_and_other_partitions_pass(
    resources: dict[str, Any],
) -> None:
    dims = MultiPartitionsDefinition(
        {
            "model": StaticPartitionsDefinition(["a", "a.b"]),
            "version": StaticPartitionsDefinition(["b.c", "c"]),
        }
    )

    @asset(partitions_def=dims, metadata=_config(type="dataset"), io_manager_key=IO)
    def scores() -> int:
        return 1

    @asset(
        partitions_def=DailyPartitionsDefinition("2024-01-01"),
        metadata=_config(type="dataset"),
        io_manager_key=IO,
    )
    def daily() -> int:
        return 1

    assert definition_problems(Definitions(assets=[scores, daily], resources=resources)) == []


def test_assets_sharing_an_artifact_name_are_reported(resources: dict[str, Any]) -> None:
    @multi_asset(
        outs={
            "nested": AssetOut(
                key=["team", "model"], metadata=_config(type="model"), io_manager_key=IO
            ),
            "flat": AssetOut(
                key=["team__model"], metadata=_config(type="model"), io_manager_key=IO
            ),
        }
    )
    def both() -> tuple[int, int]:
        return 1, 2

    assert definition_problems(Definitions(assets=[both], resources=resources)) == [
        "asset 'team__model', output 'flat': assets 'team/model' and 'team__model' would both "
        "be written to the W&B artifact 'team__model'; rename one of the assets"
    ]
