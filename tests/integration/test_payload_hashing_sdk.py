"""A payload is read whole as few times as possible, through the real SDK and local server.

Writing: the payload is hashed while it is serialized; neither the wandb SDK (which
``Artifact.add_file`` would make read the whole file) nor the cache, seeded with the same
file, reads it again, and the server still checks the MD5 of what it receives. Reading: a
download is hashed once, to check it against W&B's MD5 (a mismatch is refused); its
payload index takes that MD5 rather than hashing the same file again.
"""

from __future__ import annotations

import hashlib
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import AssetIn, AssetsDefinition, asset, materialize

from dagster_wandb_v2 import WandbArtifactsIOManagerError
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer

IO = "wandb_artifacts_manager"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _assets() -> tuple[bytes, AssetsDefinition, AssetsDefinition]:
    """A 4 MiB payload of this test's own (the server is shared), its writer and reader."""
    payload = uuid.uuid4().bytes * (256 << 10)

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def blob() -> bytes:
        return payload

    @asset(ins={"blob": AssetIn(input_manager_key=IO)})
    def blob_size(blob: bytes) -> int:
        return len(blob) if blob == payload else -1

    return payload, blob, blob_size


def test_a_written_payload_is_hashed_while_it_is_serialized_and_never_read_again(
    local_wandb: LocalWandbProject,
    hashed_by_the_cache: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed_by_the_sdk: list[str] = []
    original = wandb.Artifact._calculate_file_digest

    def counting(artifact: wandb.Artifact, file_path: Any) -> str:
        hashed_by_the_sdk.append(str(file_path))
        return original(artifact, file_path)

    monkeypatch.setattr(wandb.Artifact, "_calculate_file_digest", counting)
    payload, blob, blob_size = _assets()
    resources = local_wandb.resources()
    assert materialize([blob], resources=resources).success  # the server checked the MD5
    assert hashed_by_the_sdk == []
    assert hashed_by_the_cache == []
    # Seeded and served: a re-read downloads nothing, and the payload is intact.
    result = materialize([blob, blob_size], resources=resources, selection=[blob_size])
    assert result.output_for_node("blob_size") == len(payload)
    assert hashed_by_the_cache == []


def test_a_cold_read_hashes_the_download_once(
    local_wandb: LocalWandbProject, tmp_path: Path, hashed_by_the_cache: list[Path]
) -> None:
    """Once, while it arrives (the stream is hashed on its way into the cache, checked
    against W&B's MD5), so the cache reads none of it again; the payload index (a hard
    link of the same file) takes the MD5 recorded for it."""
    payload, blob, blob_size = _assets()
    assert materialize([blob], resources=local_wandb.resources()).success
    cold = local_wandb.resources(base_dir=str(tmp_path / "elsewhere"))  # nothing cached
    result = materialize([blob, blob_size], resources=cold, selection=[blob_size])
    assert result.output_for_node("blob_size") == len(payload)
    assert hashed_by_the_cache == []
    assert list((tmp_path / "elsewhere").rglob("output.pickle")), "the download was not cached"


def test_a_download_not_matching_the_manifest_md5_is_refused(
    local_wandb_server: LocalWandbServer, local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    payload, blob, blob_size = _assets()
    assert materialize([blob], resources=local_wandb.resources()).success
    md5_hex = hashlib.md5(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()
    stored = Path(local_wandb_server.data_dir, "blobs", md5_hex[:2], md5_hex)
    damaged = bytearray(stored.read_bytes())
    damaged[-10] ^= 0xFF  # same size, other bytes: only the MD5 tells
    stored.write_bytes(bytes(damaged))
    cold = local_wandb.resources(base_dir=str(tmp_path / "elsewhere"))
    with pytest.raises(WandbArtifactsIOManagerError, match="MD5"):
        materialize([blob, blob_size], resources=cold, selection=[blob_size])
    assert not list((tmp_path / "elsewhere").rglob("output.pickle"))
