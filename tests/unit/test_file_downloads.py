"""Who gets the API key when a stored file is downloaded (``SdkWandbClient.open_file``):
W&B's own host does (a file W&B serves itself), a storage bucket's signed URL on another
host never does. Served by a small HTTP server on 127.0.0.1 that records the headers."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from dagster_wandb_v2.client import SdkWandbClient, StoredFile

CONTENT = b"stored bytes"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.send_header("Content-Length", str(len(CONTENT)))
        self.end_headers()
        self.wfile.write(CONTENT)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    _Recorder.seen = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _read(client: SdkWandbClient, url: str) -> bytes:
    stream = client.open_file(StoredFile("output.pickle", len(CONTENT), "", url))
    try:
        return stream.read(1 << 20)
    finally:
        stream.close()


def test_the_key_goes_to_the_wandb_host_only(server: http.server.HTTPServer) -> None:
    port = server.server_address[1]
    on_wandb = SdkWandbClient(api_key="k" * 40, host=f"http://127.0.0.1:{port}")
    elsewhere = SdkWandbClient(api_key="k" * 40, host=f"http://localhost:{port}")
    assert _read(on_wandb, f"http://127.0.0.1:{port}/artifacts/output.pickle") == CONTENT
    assert _read(elsewhere, f"http://127.0.0.1:{port}/bucket/output.pickle?sig=1") == CONTENT
    assert _Recorder.seen[0] is not None and _Recorder.seen[0].startswith("Basic ")
    assert _Recorder.seen[1] is None


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://wandb.example.com:443/artifacts/x", "https://wandb.example.com"),
        ("https://wandb.example.com/artifacts/x", "https://wandb.example.com:443"),
        ("http://wandb.example.com:80/artifacts/x", "http://WANDB.example.com/"),
    ],
)
def test_a_default_port_written_out_is_the_same_origin(url: str, host: str) -> None:
    """W&B Server may write its host with or without the scheme's default port."""
    from dagster_wandb_v2.client import _same_origin

    assert _same_origin(url, host)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://wandb.example.com/artifacts/x", "https://wandb.example.com"),
        ("https://wandb.example.com:8443/artifacts/x", "https://wandb.example.com"),
        ("https://bucket.example.com/x?sig=1", "https://wandb.example.com"),
    ],
)
def test_another_scheme_port_or_host_is_not_the_same_origin(url: str, host: str) -> None:
    from dagster_wandb_v2.client import _same_origin

    assert not _same_origin(url, host)
