"""End to end through Dagster: what a materialization reports is what a reader gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import wandb
from dagster import AssetIn, AssetKey, AssetSpec, asset, materialize

from tests.behaviour.backends import Backend, log

IO = "wandb_artifacts_manager"


def _written_version(result: Any, key: str) -> str:
    (event,) = [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key == AssetKey(key)
    ]
    return str(event.materialization.metadata["wandb_artifact_version"].value)


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


def _external_artifact(backend: Backend) -> AssetSpec:
    """An artifact made outside Dagster, with files and a W&B Table in folders."""
    writer = backend.start_run()
    draft = backend.draft("external", "x,y\n1,2\n", **{"data/train/part-0.csv": "p"})
    draft.add(wandb.Table(columns=["a"], data=[[7]]), "tables/scores")
    log(writer, draft)
    writer.finish()
    return AssetSpec("external").with_io_manager_key(IO)


def _reader(name: str, **config: str) -> Any:
    """An asset returning what the IO manager gives for ``external`` read with ``config``."""
    ins = {"value": AssetIn(key="external", metadata={"wandb_artifact_configuration": config})}

    @asset(name=name, ins=ins)
    def reader(value: Any) -> Any:
        if isinstance(value, wandb.Table):
            return value.get_column("a")
        return Path(value).read_text()

    return reader


def test_get_path_reads_files_in_folders(backend: Backend) -> None:
    external = _external_artifact(backend)
    readers = [
        _reader("train", get_path="data/train.csv"),
        _reader("part", get_path="data/train/part-0.csv"),
    ]
    result = materialize([external, *readers], resources=backend.resources())
    assert result.output_for_node("train") == "x,y\n1,2\n"
    assert result.output_for_node("part") == "p"
    assert backend.used_artifacts(result.run_id) == ["external:v0"]


def test_get_reads_a_wandb_object_in_a_folder(backend: Backend) -> None:
    external = _external_artifact(backend)
    result = materialize(
        [external, _reader("scores", get="tables/scores")], resources=backend.resources()
    )
    assert result.output_for_node("scores") == [7]
    assert backend.used_artifacts(result.run_id) == ["external:v0"]
