"""Upload and download throughput of the local W&B server, against a raw loopback copy.

``python -m benchmarks.server_throughput --size-mib 1024`` starts the
server in a child process and times, for one payload of ``size`` bytes over 127.0.0.1:

- ``upload``: ``PUT /blobs/<md5>`` (the server hashes and writes while it streams in);
- ``upload_chunked``: the same with ``Transfer-Encoding: chunked``;
- ``download``: ``GET /blobs/<md5>``;
- ``raw_upload`` / ``raw_download``: the floor: a bare TCP socket copying the same bytes
  into / out of a file in the same data directory, no HTTP, no hashing.

Rates are MiB/s; ``server_rss_growth_mib`` is the growth of the server's peak resident
memory (``VmHWM``, Linux) over the whole run, which streaming keeps near zero whatever
the payload. Prints one JSON object. Example::

    {"size_mib": 1024.0, "upload_mib_s": 610.2, ..., "server_rss_growth_mib": 1.3}
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_CHUNK = 1 << 20
_MIB = float(1 << 20)


def vm_status(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory field (``VmRSS``, ``VmHWM``, ``RssAnon``) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(f"{field} not in /proc/{pid}/status")


def payload(size: int, seed: bytes = b"payload") -> Iterator[bytes]:
    """``size`` pseudo-random bytes in 1 MiB chunks, generated on the fly (never held)."""
    block = hashlib.sha512(seed).digest() * (_CHUNK // 64)
    sent = 0
    counter = 0
    while sent < size:
        n = min(_CHUNK, size - sent)
        counter += 1
        yield counter.to_bytes(8, "big") + block[8:n] if n > 8 else block[:n]
        sent += n


def payload_md5(size: int) -> str:
    md5 = hashlib.md5()
    for chunk in payload(size):
        md5.update(chunk)
    return md5.hexdigest()


def _auth(api_key: str) -> dict[str, str]:
    token = base64.b64encode(f"api:{api_key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def upload(base_url: str, api_key: str, size: int, md5_hex: str, chunked: bool) -> float:
    """PUT the payload to ``/blobs/<md5>``; returns seconds. Raises on a non-200 answer."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=600)
    headers = _auth(api_key)
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(size)
    start = time.perf_counter()
    conn.request("PUT", f"/blobs/{md5_hex}", body=payload(size), headers=headers,
                 encode_chunked=chunked)  # fmt: skip
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"upload answered {response.status}: {body[:200]!r}")
    return elapsed


def download(base_url: str, api_key: str, md5_hex: str) -> tuple[float, int]:
    """GET ``/blobs/<md5>``, discarding the bytes (like the raw copy); returns (seconds,
    bytes received)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=600)
    received = 0
    start = time.perf_counter()
    conn.request("GET", f"/blobs/{md5_hex}", headers=_auth(api_key))
    response = conn.getresponse()
    while chunk := response.read(_CHUNK):
        received += len(chunk)
    elapsed = time.perf_counter() - start
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"download answered {response.status}")
    return elapsed, received


def raw_copy(size: int, directory: Path) -> tuple[float, float]:
    """The floor: bytes over a bare loopback TCP socket into a file, then out of it.

    Returns (upload seconds, download seconds).
    """
    target = directory / "raw-copy.bin"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    done = threading.Event()

    def receive() -> None:
        conn, _ = listener.accept()
        with conn, target.open("wb") as out:
            while data := conn.recv(_CHUNK):
                out.write(data)
        done.set()

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for chunk in payload(size):
            sock.sendall(chunk)
    done.wait()
    up = time.perf_counter() - start

    def send() -> None:
        conn, _ = listener.accept()
        with conn, target.open("rb") as src:
            conn.sendfile(src)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        while sock.recv(_CHUNK):
            pass
    down = time.perf_counter() - start
    listener.close()
    target.unlink()
    return up, down


def measure(size: int, data_dir: Path, repeat: int = 1) -> dict[str, Any]:
    """Run every measurement ``repeat`` times (keeping the best rate of each) against a
    fresh server child process storing in ``data_dir``."""
    from dagster_wandb_v2.testing.server import LocalWandbServer

    md5_hex = payload_md5(size)
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(seconds, best.get(name, seconds))

    server = LocalWandbServer.start_subprocess(data_dir=data_dir / "server")
    blob = data_dir / "server" / "blobs" / md5_hex[:2] / md5_hex
    try:
        pid = server.process.pid
        hwm_before = vm_status(pid, "VmHWM")
        for _ in range(repeat):
            for chunked in (False, True):
                blob.unlink(missing_ok=True)  # each upload stores the file anew
                seconds = upload(server.base_url, server.api_key, size, md5_hex, chunked)
                keep("upload_chunked" if chunked else "upload", seconds)
            seconds, received = download(server.base_url, server.api_key, md5_hex)
            if received != size:
                raise RuntimeError(f"downloaded {received} bytes of {size}")
            keep("download", seconds)
        hwm_after = vm_status(pid, "VmHWM")
    finally:
        server.stop()
    for _ in range(repeat):
        raw_up, raw_down = raw_copy(size, data_dir)
        keep("raw_upload", raw_up)
        keep("raw_download", raw_down)
    mib = size / _MIB
    result: dict[str, Any] = {"size_mib": round(mib, 1), "repeat": repeat}
    result.update({f"{name}_mib_s": round(mib / seconds, 1) for name, seconds in best.items()})
    result["upload_vs_raw"] = round(best["raw_upload"] / best["upload"], 2)
    result["download_vs_raw"] = round(best["raw_download"] / best["download"], 2)
    result["server_rss_growth_mib"] = round((hwm_after - hwm_before) / _MIB, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="payload size (MiB)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the best is kept")
    parser.add_argument("--data-dir", help="where the server and the raw copy write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.data_dir) as directory:
        print(json.dumps(measure(args.size_mib << 20, Path(directory), args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
