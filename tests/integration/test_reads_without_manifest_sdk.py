"""A payload or a ``get_path`` file is read without the artifact's manifest, through the
real SDK and local server: W&B lists the file (``Artifact.files(names=[...])``: its MD5
and ``directUrl``) and one ``GET`` fetches it. The manifest (a query and a download, as
large as the artifact has files) is fetched only for what W&B lists no stored file for:
references, missing paths, artifacts without a payload.
"""

import logging
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    StaticPartitionsDefinition,
    asset,
    materialize,
)

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer

IO = "wandb_artifacts_manager"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _read_by(server: LocalWandbServer, since: int) -> tuple[list[str | None], list[str]]:
    """The GraphQL operations and the paths of the downloads since ``since``."""
    records = server.requests_since(since)
    operations = [record.operation for record in records if record.route == "graphql"]
    downloads = [record.path for record in records if record.route == "download"]
    return operations, downloads


def _no_manifest(operations: list[str | None], downloads: list[str]) -> bool:
    return "FetchArtifactManifest" not in operations and not any(
        "manifest" in path for path in downloads
    )


def test_a_cold_read_of_a_payload_fetches_one_file_and_no_manifest(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    value = {"rows": [1, 2, 3], "id": uuid.uuid4().hex}  # unique: blobs are shared

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def numbers() -> dict[str, Any]:
        return value

    @asset(ins={"numbers": AssetIn(input_manager_key=IO)})
    def same(numbers: dict[str, Any]) -> bool:
        return numbers == value

    assert materialize([numbers], resources=local_wandb.resources()).success
    since = local_wandb_server.request_count
    cold = local_wandb.resources(base_dir=str(tmp_path / "reader"))  # nothing cached
    result = materialize([numbers, same], resources=cold, selection=[same])
    assert result.output_for_node("same") is True
    operations, downloads = _read_by(local_wandb_server, since)
    assert _no_manifest(operations, downloads), (operations, downloads)
    assert [path.rsplit("/", 1)[-1].split("?")[0] for path in downloads] == ["output.pickle"]


def test_get_path_of_one_file_fetches_that_file_only(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex

    @asset(io_manager_key=IO)
    def files() -> Any:
        import wandb

        artifact = wandb.Artifact("files", "dataset")
        for name in ("a", "b", "c"):
            with artifact.new_file(f"data/{name}.csv") as file:
                file.write(f"{name},{nonce}\n")
        return artifact

    @asset(ins={"files": AssetIn(input_manager_key=IO, metadata=_config(get_path="data/b.csv"))})
    def b_text(files: str) -> str:
        return Path(files).read_text()

    assert materialize([files], resources=local_wandb.resources()).success
    since = local_wandb_server.request_count
    cold = local_wandb.resources(base_dir=str(tmp_path / "reader"))
    result = materialize([files, b_text], resources=cold, selection=[b_text])
    assert result.output_for_node("b_text") == f"b,{nonce}\n"
    operations, downloads = _read_by(local_wandb_server, since)
    assert _no_manifest(operations, downloads), (operations, downloads)
    assert [path.split("?")[0].rsplit("/", 1)[-1] for path in downloads] == ["b.csv"]


def _written_partitions(
    project: LocalWandbProject, keys: list[str], nonce: str
) -> tuple[AssetsDefinition, AssetsDefinition]:
    """``part`` (one version per partition key, ``<key>-<nonce>``), written to ``project``,
    and ``joined``, which reads all its partitions in one input."""

    @asset(
        partitions_def=StaticPartitionsDefinition(keys),
        metadata=_config(type="dataset"),
        io_manager_key=IO,
    )
    def part(context: AssetExecutionContext) -> str:
        return f"{context.partition_key}-{nonce}"

    @asset(ins={"part": AssetIn(input_manager_key=IO)})
    def joined(part: dict[str, str]) -> str:
        return ",".join(part[key] for key in sorted(part))

    for key in keys:
        assert materialize([part], resources=project.resources(), partition_key=key).success
    return part, joined


def test_partitions_are_read_with_one_download_each(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    keys = ["a", "b", "c"]
    nonce = uuid.uuid4().hex

    part, joined = _written_partitions(local_wandb, keys, nonce)
    since = local_wandb_server.request_count
    cold = local_wandb.resources(base_dir=str(tmp_path / "reader"))
    result = materialize([part, joined], resources=cold, selection=[joined])
    assert result.output_for_node("joined") == ",".join(f"{key}-{nonce}" for key in keys)
    operations, downloads = _read_by(local_wandb_server, since)
    assert _no_manifest(operations, downloads), (operations, downloads)
    assert len(downloads) == len(keys)
    assert operations.count("UseArtifact") == len(keys)  # lineage, partition by partition


def test_a_payload_held_as_a_reference_is_read_through_the_manifest(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    """W&B stores no bytes for a reference, so lists no file to fetch: the manifest says
    where it is, and the SDK fetches it (here a ``file://`` reference)."""
    value = {"kept": "elsewhere", "id": uuid.uuid4().hex}
    referenced = tmp_path / "store" / "output.pickle"
    referenced.parent.mkdir()
    referenced.write_bytes(pickle.dumps(value))

    @asset(io_manager_key=IO)
    def by_reference() -> Any:
        import wandb

        artifact = wandb.Artifact("by_reference", "dataset")
        artifact.add_reference(referenced.as_uri(), name="output.pickle")
        return artifact

    @asset(ins={"by_reference": AssetIn(input_manager_key=IO)})
    def same(by_reference: dict[str, Any]) -> bool:
        return by_reference == value

    assert materialize([by_reference], resources=local_wandb.resources()).success
    since = local_wandb_server.request_count
    cold = local_wandb.resources(base_dir=str(tmp_path / "reader"))
    result = materialize([by_reference, same], resources=cold, selection=[same])
    assert result.output_for_node("same") is True
    operations, _ = _read_by(local_wandb_server, since)
    assert "FetchArtifactManifest" in operations
    since = local_wandb_server.request_count  # a re-read: the payload index answers it
    result = materialize([by_reference, same], resources=cold, selection=[same])
    assert result.output_for_node("same") is True
    operations, downloads = _read_by(local_wandb_server, since)
    assert _no_manifest(operations, downloads), (operations, downloads)
    assert downloads == []


def test_partitions_read_at_once_keep_their_connections(
    local_wandb: LocalWandbProject, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Eight partitions downloaded at once (``max_concurrent_reads``) go through one pool
    that keeps all their connections for the next reads, as the SDK's 64 per host do:
    none is discarded (urllib3 warns "Connection pool is full" for each one that is)."""
    keys = [f"k{i}" for i in range(8)]
    nonce = uuid.uuid4().hex

    part, joined = _written_partitions(local_wandb, keys, nonce)
    cold = local_wandb.resources(base_dir=str(tmp_path / "reader"), max_concurrent_reads=8)
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        result = materialize([part, joined], resources=cold, selection=[joined])
    assert result.output_for_node("joined") == ",".join(f"{key}-{nonce}" for key in keys)
    discarded = [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()]
    assert discarded == []
