"""Reference entries through the real wandb SDK: ``file://`` and loopback ``http://``
references and artifact-to-artifact (``wandb-artifact://``) references are listed with
the version's files and downloaded by the SDK's storage handlers; a referenced file that
is gone raises the handler's error, as against W&B."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import wandb
from wandb.sdk.lib.hashutil import b64_to_hex_id


class _ETagFiles(BaseHTTPRequestHandler):
    """Serves ``root`` with an MD5 ``ETag``, like an object store (the SDK checks it)."""

    root: Path
    disable_nagle_algorithm = True  # no ~40 ms wait for a delayed ACK per response

    def do_GET(self) -> None:
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served on 127.0.0.1: ``(directory, base URL)``."""
    root = tmp_path / "web"
    root.mkdir()
    handler = type("Handler", (_ETagFiles,), {"root": root})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _fresh_api(server: Any) -> Any:
    return wandb.Api(
        api_key=server.api_key, overrides={"base_url": server.base_url, "entity": server.entity}
    )


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


def _log(project: str, artifact: wandb.Artifact) -> wandb.Artifact:
    with wandb.init(project=project) as run:
        run.log_artifact(artifact)
    artifact.wait()
    return artifact


def test_file_and_http_references_are_listed_and_downloaded(
    wandb_env: Any,
    project: str,
    tmp_path: Path,
    web_root: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("alpha")
    (local / "sub" / "b.txt").write_text("beta")
    web, base_url = web_root
    (web / "w.txt").write_text("webby")

    artifact = wandb.Artifact("refs", type="dataset")
    artifact.add_reference(local.as_uri(), name="local")
    artifact.add_reference(f"{base_url}/w.txt", name="remote/w.txt")
    _log(project, artifact)

    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "reader-cache"))
    fetched = _fresh_api(wandb_env).artifact(f"{wandb_env.entity}/{project}/refs:latest")
    expected = {
        "local/a.txt": "alpha",
        "local/sub/b.txt": "beta",
        "remote/w.txt": "webby",
    }
    assert sorted(f.name for f in fetched.files()) == sorted(expected)
    assert fetched.manifest.entries["remote/w.txt"].ref == f"{base_url}/w.txt"
    root = Path(fetched.download(root=str(tmp_path / "dl")))
    assert _files(root) == expected
    fetched.verify(root=str(root))
    one = fetched.get_entry("local/sub/b.txt").download(root=str(tmp_path / "one"))
    assert Path(one).read_text() == "beta"


def test_artifact_references_download_the_referenced_file(
    wandb_env: Any, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain of wandb's ``test_artifact_add_reference_via_url``: a reference to a
    reference resolves to the first artifact's file."""
    source = tmp_path / "source.txt"
    source.write_text("Luke, I am your Father")
    upstream = wandb.Artifact("upstream", type="database")
    upstream.add_file(str(source), "up/file.txt")
    _log(project, upstream)

    with wandb.init(project=project) as run:
        used = run.use_artifact("upstream:latest")
        middle = wandb.Artifact("middle", type="database")
        middle.add_reference(f"wandb-artifact://{b64_to_hex_id(used.id)}/up/file.txt", "mid.txt")
        run.log_artifact(middle)
    with wandb.init(project=project) as run:
        used = run.use_artifact("middle:latest")
        downstream = wandb.Artifact("downstream", type="database")
        downstream.add_reference(used.get_entry("mid.txt"), "down/file.txt")
        run.log_artifact(downstream)

    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "reader-cache"))
    last = _fresh_api(wandb_env).artifact(f"{wandb_env.entity}/{project}/downstream:latest")
    assert [f.name for f in last.files()] == ["down/file.txt"]
    assert last.manifest.entries["down/file.txt"].ref.startswith("wandb-artifact://")
    root = Path(last.download(root=str(tmp_path / "dl")))
    assert (root / "down" / "file.txt").read_text() == "Luke, I am your Father"
    assert last.download(root=str(tmp_path / "dl")) == str(root), "a second download works"


def test_missing_referenced_files_raise(
    wandb_env: Any,
    project: str,
    tmp_path: Path,
    web_root: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gone = tmp_path / "gone.txt"
    gone.write_text("here for now")
    web, base_url = web_root
    (web / "gone.txt").write_text("served for now")
    local_art = wandb.Artifact("local-ref", type="dataset")
    local_art.add_reference(gone.as_uri())
    _log(project, local_art)
    web_art = wandb.Artifact("web-ref", type="dataset")
    web_art.add_reference(f"{base_url}/gone.txt")
    _log(project, web_art)
    gone.unlink()
    (web / "gone.txt").unlink()

    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "reader-cache"))
    api = _fresh_api(wandb_env)
    path = f"{wandb_env.entity}/{project}"
    with pytest.raises(ValueError, match="Failed to find file"):
        api.artifact(f"{path}/local-ref:latest").download(root=str(tmp_path / "a"))
    with pytest.raises(requests.HTTPError, match="404"):
        api.artifact(f"{path}/web-ref:latest").download(root=str(tmp_path / "b"))
