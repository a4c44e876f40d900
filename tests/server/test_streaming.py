"""Large files stream through the server: uploads (plain, chunked) and downloads (whole,
ranged) of 256 MiB keep the server's peak memory flat, and the SDK's multipart download
(ranged GETs) gets the right bytes."""

from __future__ import annotations

import hashlib
import http.client
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import wandb

from benchmarks import server_throughput as bench

PAYLOAD = 256 << 20
#: Allowed growth of the server's peak resident memory over the whole test, far under the
#: payload: a server buffering one whole body would grow by at least PAYLOAD.
BUDGET = 48 << 20


def _ranged(base_url: str, api_key: str, md5_hex: str, first: int, last: int) -> bytes:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    headers = {**bench._auth(api_key), "Range": f"bytes={first}-{last}"}
    conn.request("GET", f"/blobs/{md5_hex}", headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes {first}-{last}/{PAYLOAD}"
    return body


def test_large_uploads_and_downloads_keep_server_memory_flat(
    server_package: Any, tmp_path: Path
) -> None:
    md5_hex = bench.payload_md5(PAYLOAD)
    server = server_package.LocalWandbServer.start_subprocess(data_dir=tmp_path / "server")
    try:
        pid = server.process.pid
        before = bench.vm_status(pid, "VmHWM")
        blob = tmp_path / "server" / "blobs" / md5_hex[:2] / md5_hex
        for chunked in (False, True):
            blob.unlink(missing_ok=True)
            bench.upload(server.base_url, server.api_key, PAYLOAD, md5_hex, chunked)
            assert blob.stat().st_size == PAYLOAD
        _, received = bench.download(server.base_url, server.api_key, md5_hex)
        assert received == PAYLOAD
        tail = _ranged(server.base_url, server.api_key, md5_hex, PAYLOAD - 100, PAYLOAD - 1)
        with blob.open("rb") as f:
            f.seek(PAYLOAD - 100)
            assert tail == f.read()
        growth = bench.vm_status(pid, "VmHWM") - before
    finally:
        server.stop()
    assert growth < BUDGET, f"server peak memory grew by {growth >> 20} MiB"


def test_sdk_multipart_download_gets_every_part(
    wandb_env: Any, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``download(multipart=True)`` fetches 100 MiB parts with ``Range`` requests."""
    big = tmp_path / "big.bin"
    md5 = hashlib.md5()
    with big.open("wb") as out:
        for chunk in bench.payload(150 << 20):
            out.write(chunk)
            md5.update(chunk)
    with wandb.init(project=project) as run:
        artifact = wandb.Artifact("big", type="model")
        artifact.add_file(str(big))
        run.log_artifact(artifact)
    artifact.wait()
    big.unlink()

    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "reader-cache"))
    api = wandb.Api(api_key=wandb_env.api_key, overrides={"base_url": wandb_env.base_url})
    fetched = api.artifact(f"{wandb_env.entity}/{project}/big:latest")
    root = Path(fetched.download(root=str(tmp_path / "dl"), multipart=True))
    got = hashlib.md5()
    with (root / "big.bin").open("rb") as f:
        while chunk := f.read(1 << 20):
            got.update(chunk)
    assert (root / "big.bin").stat().st_size == 150 << 20
    assert got.hexdigest() == md5.hexdigest()
    ranged = [r for r in wandb_env.requests if md5.hexdigest() in r.path and r.status == 206]
    assert len(ranged) == 2, "one ranged request per 100 MiB part"
