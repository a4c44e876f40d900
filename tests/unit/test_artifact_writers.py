"""Which writers share a W&B artifact (derived names must be injective)."""

from __future__ import annotations

from dagster import (
    AssetKey,
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
)

from dagster_wandb_v2.artifact_writers import AssetWriter, OpWriter, claimants, clashes


def _asset(*path: str, partitions_def: object = None, target: str = "p") -> AssetWriter:
    return AssetWriter(AssetKey(list(path)), partitions_def, target)


def test_a_nested_key_and_its_joined_spelling_share_an_artifact() -> None:
    nested, flat = _asset("team", "scores"), _asset("team__scores")
    assert clashes([nested, flat]) == [
        (
            flat,
            "assets 'team/scores' and 'team__scores' would both be written to the W&B "
            "artifact 'team__scores'; rename one of the assets",
        )
    ]


def test_writers_on_different_projects_never_clash() -> None:
    assert clashes([_asset("team", "scores", target="a"), _asset("team__scores", target="b")]) == []


def test_two_ops_may_name_one_artifact_but_not_an_assets() -> None:
    train = OpWriter("train", "result", "model", None, "p")
    retrain = OpWriter("retrain", "result", "model", None, "p")
    assert clashes([train, retrain]) == []
    (found,) = clashes([_asset("model"), train])
    assert found[0] == train


def test_time_and_multi_dimensional_partitions_are_named_key_by_key() -> None:
    daily = _asset(
        "x", partitions_def=DailyPartitionsDefinition("2024-01-01", end_date="2024-01-03")
    )
    assert clashes([daily, _asset("x.2024-01-02")])[0][1].startswith(
        "partition '2024-01-02' of asset 'x' and asset 'x.2024-01-02'"
    )
    assert clashes([daily, _asset("x.2024-02-01")]) == []
    multi = MultiPartitionsDefinition(
        {"a": StaticPartitionsDefinition(["p"]), "b": StaticPartitionsDefinition(["q"])}
    )
    assert claimants("y.p.q", [_asset("y", partitions_def=multi)]) == [
        "partition 'p|q' of asset 'y'"
    ]


def test_dynamic_partitions_claim_every_name_under_their_asset() -> None:
    raw = _asset("raw", partitions_def=DynamicPartitionsDefinition(name="files"))
    assert claimants("raw.anything", [raw]) == ["the dynamic partitions of asset 'raw'"]
    assert claimants("rawx", [raw]) == []
    assert clashes([raw, _asset("raw", "v2")]) == []  # 'raw__v2': not under 'raw.'
    (found,) = clashes([raw, _asset("raw.v2")])
    assert found[1].startswith("the dynamic partitions of asset 'raw' and asset 'raw.v2'")
