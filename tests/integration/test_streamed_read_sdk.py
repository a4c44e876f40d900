"""Stored files are read as one streamed request, through the real SDK and local server.

A payload or a ``get_path`` file is found without the manifest (``Artifact.files``) and
fetched with one ``GET`` of its ``directUrl`` into the cache, hashed meanwhile; from
``unpickle_while_receiving_from_bytes`` (lowered here to 1 MiB) a payload is unpickled while
it arrives. The value is handed out only once the MD5 matched W&B's. The SDK's
``entry.download`` would leave a copy in the SDK's own file cache (``WANDB_CACHE_DIR``): a
streamed read leaves none, which is one way these tests see which path was taken; the
server's request records are the other.
"""

import hashlib
import os
import pickle
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    StaticPartitionsDefinition,
    asset,
    materialize,
)

from dagster_wandb_v2 import WandbArtifactsIOManagerError, WandbSerializationError
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer

IO = "wandb_artifacts_manager"
STREAM_FROM = 1 << 20
KEY = "streamed-signing-key-0123456789"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


UNPICKLED: list[str] = []


class Witness:
    """Records in :data:`UNPICKLED` that it was unpickled (in this process: the steps run
    in-process)."""

    def __init__(self) -> None:
        self.name = "witness"  # a state, so that unpickling calls __setstate__

    def __setstate__(self, state: dict[str, Any]) -> None:
        UNPICKLED.append(state["name"])


def _value() -> dict[str, Any]:
    """About 6 MiB (several 4 MiB chunks) of this test's own bytes (the server
    deduplicates blobs by digest across projects), with a NumPy array as P3 has."""
    seed = uuid.uuid4().int % (1 << 32)
    return {
        "array": np.random.default_rng(seed).random(640 * 1024),
        "blob": uuid.uuid4().bytes * (64 << 10),
        "name": f"value-{seed}",
    }


def _value_of(value: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in value.items() if key != "witness"}


def _equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a.keys() == b.keys()
        and bool(np.array_equal(a["array"], b["array"]))
        and a["blob"] == b["blob"]
        and a["name"] == b["name"]
    )


def _assets(value: dict[str, Any], module: str = "pickle") -> tuple[AssetsDefinition, ...]:
    @asset(
        metadata=_config(type="dataset", serialization_module={"name": module}),
        io_manager_key=IO,
    )
    def big() -> dict[str, Any]:
        return value

    @asset(ins={"big": AssetIn(input_manager_key=IO)})
    def same(big: dict[str, Any]) -> bool:
        return _equal(big, value)

    return big, same


def _sdk_copies(size: int) -> list[Path]:
    """Files of ``size`` bytes in the SDK's own file cache (``entry.download`` puts one)."""
    root = Path(os.environ["WANDB_CACHE_DIR"])
    return [p for p in root.rglob("*") if p.is_file() and p.stat().st_size == size]


def _payload_files(root: Path) -> list[Path]:
    """The cached payload files under ``root`` (a blob and its payload index link)."""
    return [p for p in root.rglob("output.*") if p.is_file()]


def _payload_size(root: Path) -> int:
    (size,) = {path.stat().st_size for path in _payload_files(root)}
    return size


def _stored_blob(server: LocalWandbServer, content: bytes) -> Path:
    md5_hex = hashlib.md5(content).hexdigest()
    return Path(server.data_dir, "blobs", md5_hex[:2], md5_hex)


@pytest.mark.parametrize("module", ["pickle", "cloudpickle", "joblib"])
def test_a_large_payload_is_streamed_and_gives_the_same_object(
    local_wandb: LocalWandbProject, tmp_path: Path, module: str
) -> None:
    """joblib is streamed into the cache too, then loaded from the file (it seeks)."""
    value = _value()
    big, same = _assets(value, module)
    assert materialize([big], resources=local_wandb.resources()).success
    cold = local_wandb.resources(
        base_dir=str(tmp_path / "reader"), unpickle_while_receiving_from_bytes=STREAM_FROM
    )
    result = materialize([big, same], resources=cold, selection=[same])
    assert result.output_for_node("same") is True
    size = _payload_size(tmp_path / "reader")
    assert size > STREAM_FROM
    assert _sdk_copies(size) == []
    # A re-read is served by the cache.
    again = materialize([big, same], resources=cold, selection=[same])
    assert again.output_for_node("same") is True


def test_a_large_get_path_file_is_streamed(local_wandb: LocalWandbProject, tmp_path: Path) -> None:
    content = uuid.uuid4().bytes * (128 << 10)  # 2 MiB

    @asset(io_manager_key=IO)
    def files() -> Any:
        import wandb

        artifact = wandb.Artifact("files", "dataset")
        with artifact.new_file("data/big.bin", "wb") as file:
            file.write(content)
        return artifact

    @asset(ins={"files": AssetIn(input_manager_key=IO, metadata=_config(get_path="data/big.bin"))})
    def digest(files: str) -> str:
        return hashlib.md5(Path(files).read_bytes()).hexdigest()

    assert materialize([files], resources=local_wandb.resources()).success
    cold = local_wandb.resources(
        base_dir=str(tmp_path / "reader"), unpickle_while_receiving_from_bytes=STREAM_FROM
    )
    result = materialize([files, digest], resources=cold, selection=[digest])
    assert result.output_for_node("digest") == hashlib.md5(content).hexdigest()
    assert _sdk_copies(len(content)) == []


def test_a_damaged_stored_payload_is_refused_not_cached_and_read_after_repair(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    """Damaged inside the array's bytes: it unpickles, to a wrong value, which must never
    be handed out."""
    value = _value()
    big, same = _assets(value)
    assert materialize([big], resources=local_wandb.resources()).success
    content = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stored = _stored_blob(local_wandb_server, content)
    damaged = bytearray(content)
    damaged[len(content) // 3] ^= 0xFF  # same size, other bytes: only the MD5 tells
    stored.write_bytes(bytes(damaged))
    cold = local_wandb.resources(
        base_dir=str(tmp_path / "reader"), unpickle_while_receiving_from_bytes=STREAM_FROM
    )
    with pytest.raises(WandbArtifactsIOManagerError, match=r"asset 'same'.*MD5") as refused:
        materialize([big, same], resources=cold, selection=[same])
    assert "big" in str(refused.value)
    assert _payload_files(tmp_path / "reader") == []
    assert _sdk_copies(len(content)) == []

    stored.write_bytes(content)
    result = materialize([big, same], resources=cold, selection=[same])
    assert result.output_for_node("same") is True


def test_a_signed_large_payload_is_verified_before_it_is_unpickled(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    value = {**_value(), "witness": Witness()}
    big, _ = _assets(value)

    @asset(ins={"big": AssetIn(input_manager_key=IO)})
    def same(big: dict[str, Any]) -> bool:
        return _equal(_value_of(big), _value_of(value))

    assert materialize([big], resources=local_wandb.resources(signing_key=KEY)).success
    UNPICKLED.clear()
    unsigned = _value()

    def reader(name: str, key: str) -> dict[str, Any]:
        return local_wandb.resources(
            base_dir=str(tmp_path / name),
            signing_key=key,
            unpickle_while_receiving_from_bytes=STREAM_FROM,
        )

    with pytest.raises(WandbSerializationError, match="signature mismatch"):
        materialize([big, same], resources=reader("wrong", "another-key"), selection=[same])
    assert UNPICKLED == []  # refused before anything was unpickled
    result = materialize([big, same], resources=reader("right", KEY), selection=[same])
    assert result.output_for_node("same") is True
    assert UNPICKLED == ["witness"]
    assert _sdk_copies(_payload_size(tmp_path / "right")) == []

    # An unsigned payload (written without a key) is refused by a reader with one.
    @asset(name="big", metadata=_config(type="dataset"), io_manager_key=IO)
    def big_unsigned() -> dict[str, Any]:
        return unsigned

    assert materialize([big_unsigned], resources=local_wandb.resources()).success
    with pytest.raises(WandbSerializationError, match="carries no payload signature"):
        materialize([big_unsigned, same], resources=reader("unsigned", KEY), selection=[same])


def test_partitions_of_a_large_payload_are_streamed(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    values = {"a": _value(), "b": _value()}
    parts = StaticPartitionsDefinition(["a", "b"])

    @asset(partitions_def=parts, metadata=_config(type="dataset"), io_manager_key=IO)
    def big(context: AssetExecutionContext) -> dict[str, Any]:
        return values[context.partition_key]

    @asset(ins={"big": AssetIn(input_manager_key=IO)})
    def same(big: dict[str, dict[str, Any]]) -> list[str]:
        return sorted(key for key, value in big.items() if _equal(value, values[key]))

    for key in ("a", "b"):
        assert materialize([big], resources=local_wandb.resources(), partition_key=key).success
    cold = local_wandb.resources(
        base_dir=str(tmp_path / "reader"), unpickle_while_receiving_from_bytes=STREAM_FROM
    )
    result = materialize([big, same], resources=cold, selection=[same])
    assert result.output_for_node("same") == ["a", "b"]
    cached = _payload_files(tmp_path / "reader")
    assert cached
    assert all(_sdk_copies(path.stat().st_size) == [] for path in cached)


def test_a_download_cut_mid_transfer_is_an_error_and_leaves_nothing_cached(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    tmp_path: Path,
) -> None:
    """The server closes the connection after half of the file (its ``drop`` fault): the
    only download of a cold read is the payload's."""
    value = _value()
    big, same = _assets(value)
    assert materialize([big], resources=local_wandb.resources()).success
    cold = local_wandb.resources(
        base_dir=str(tmp_path / "reader"), unpickle_while_receiving_from_bytes=STREAM_FROM
    )
    local_wandb_server.faults.drop_next("download")
    with pytest.raises(WandbArtifactsIOManagerError, match=r"asset 'same'.*could not download"):
        materialize([big, same], resources=cold, selection=[same])
    leftovers = [p for p in (tmp_path / "reader").rglob("*") if p.is_file()]
    assert [p for p in leftovers if p.stat().st_size > STREAM_FROM // 2] == []
    assert _payload_files(tmp_path / "reader") == []

    result = materialize([big, same], resources=cold, selection=[same])
    assert result.output_for_node("same") is True
