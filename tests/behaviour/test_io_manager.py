"""End to end through Dagster: what a materialization reports is what a reader gets."""

from __future__ import annotations

from typing import Any

from dagster import AssetIn, AssetKey, asset, materialize

from tests.behaviour.backends import Backend, server_disagrees

IO = "wandb_artifacts_manager"


def _written_version(result: Any, key: str) -> str:
    (event,) = [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key == AssetKey(key)
    ]
    return str(event.materialization.metadata["wandb_artifact_version"].value)


@server_disagrees("server: latest not moved on dedupe (fixed on the server branch)")
def test_rewriting_earlier_content_is_what_the_reader_gets(backend: Backend) -> None:
    """A, B, then A again: the last write reports v0, and a reader of the asset gets it."""
    content = {"value": "A"}

    @asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key=IO)
    def table() -> str:
        return content["value"]

    @asset(ins={"table": AssetIn(input_manager_key=IO)})
    def reader(table: str) -> str:
        return table

    resources = backend.resources()
    written = []
    for value in ("A", "B", "A"):
        content["value"] = value
        written.append(_written_version(materialize([table], resources=resources), "table"))
    assert written == ["v0", "v1", "v0"]

    result = materialize([table, reader], resources=resources, selection=[reader])
    assert result.output_for_node("reader") == "A"
    assert backend.used_artifacts(result.run_id) == [f"table:{written[-1]}"]


def test_each_write_reports_the_version_a_reader_gets(backend: Backend) -> None:
    content = {"value": "A"}

    @asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key=IO)
    def table() -> str:
        return content["value"]

    @asset(ins={"table": AssetIn(input_manager_key=IO)})
    def reader(table: str) -> str:
        return table

    resources = backend.resources()
    for value, version in (("A", "v0"), ("B", "v1")):
        content["value"] = value
        written = materialize([table], resources=resources)
        assert _written_version(written, "table") == version
        assert backend.logged_artifacts(written.run_id) == [f"table:{version}"]
        read = materialize([table, reader], resources=resources, selection=[reader])
        assert read.output_for_node("reader") == value
        assert backend.used_artifacts(read.run_id) == [f"table:{version}"]
