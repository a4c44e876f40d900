"""Signed payloads: HMAC-SHA256 on write, refused on read when missing or wrong."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import AssetIn, AssetSpec, asset, materialize

from dagster_wandb_v2 import WandbSerializationError
from dagster_wandb_v2.serialization import SIGNATURE_METADATA_KEY
from dagster_wandb_v2.testing import FakeWandb

IO = "wandb_artifacts_manager"
KEY = "test-signing-key-0123456789"


@asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key=IO)
def payload() -> dict[str, int]:
    return {"answer": 42}


@asset(ins={"payload": AssetIn(input_manager_key=IO)})
def consumer(payload: dict[str, int]) -> int:
    return payload["answer"]


def _resources(fake: FakeWandb, tmp_path: Path, key: str | None, name: str) -> dict[str, Any]:
    return fake.resources(base_dir=str(tmp_path / name), signing_key=key)


def test_signed_round_trip(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    resources = _resources(fake_wandb, tmp_path, KEY, "writer")
    result = materialize([payload, consumer], resources=resources)
    assert result.output_for_node("consumer") == 42
    metadata = fake_wandb.artifact("payload:latest").metadata
    assert len(metadata[SIGNATURE_METADATA_KEY]) == 64
    assert KEY not in str(metadata)


def test_unsigned_payload_is_refused_when_a_key_is_configured(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    materialize([payload], resources=_resources(fake_wandb, tmp_path, None, "writer"))
    reader = _resources(fake_wandb, tmp_path, KEY, "reader")
    with pytest.raises(WandbSerializationError) as error:
        materialize([payload, consumer], resources=reader, selection=[consumer])
    assert str(error.value) == (
        "asset 'consumer', input 'payload': refusing to unpickle artifact 'payload:latest': it "
        f"carries no payload signature ('{SIGNATURE_METADATA_KEY}' missing from its metadata) "
        "and a signing_key is configured; it was not written by a signing IO manager"
    )


def test_wrong_key_is_refused(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    materialize([payload], resources=_resources(fake_wandb, tmp_path, KEY, "writer"))
    reader = _resources(fake_wandb, tmp_path, "another-key", "reader")
    with pytest.raises(WandbSerializationError, match="payload signature mismatch"):
        materialize([payload, consumer], resources=reader, selection=[consumer])


def test_tampered_payload_is_refused_before_unpickling(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    materialize([payload], resources=_resources(fake_wandb, tmp_path, KEY, "writer"))
    signed = fake_wandb.artifact("payload:latest")
    loaded: list[str] = []

    class Malicious:
        def __reduce__(self) -> Any:
            return (loaded.append, ("code ran",))

    # Plain wandb code: a new version with another payload and the old signature.
    tampered = wandb.Artifact("payload", "dataset", metadata=dict(signed.metadata))
    with tampered.new_file("output.pickle", "wb") as file:
        pickle.dump(Malicious(), file)
    fake_wandb.store(tampered)
    upstream = AssetSpec("payload").with_io_manager_key(IO)

    @asset
    def victim(payload: Any) -> Any:
        return payload

    reader = _resources(fake_wandb, tmp_path, KEY, "reader")
    with pytest.raises(WandbSerializationError, match="payload signature mismatch"):
        materialize([upstream, victim], resources=reader)
    assert loaded == []  # refused before any unpickling


def test_signed_payload_reads_without_a_key(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    materialize([payload], resources=_resources(fake_wandb, tmp_path, KEY, "writer"))
    reader = _resources(fake_wandb, tmp_path, None, "reader")
    result = materialize([payload, consumer], resources=reader, selection=[consumer])
    assert result.output_for_node("consumer") == 42


def test_signing_key_is_hidden_from_repr(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    io_manager = _resources(fake_wandb, tmp_path, KEY, "writer")["wandb_artifacts_manager"]
    assert KEY not in repr(io_manager)
