"""Artifacts through the real wandb SDK: versions, dedupe, aliases, lineage, downloads,
registry links, and not-found errors."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
import wandb


def _fresh_api(server: Any) -> Any:
    return wandb.Api(
        api_key=server.api_key, overrides={"base_url": server.base_url, "entity": server.entity}
    )


def _build(tmp_path: Path, version: str) -> wandb.Artifact:
    """An artifact using every way of adding content; ``version`` changes one file."""
    src = tmp_path / f"src-{version}"
    (src / "dir" / "sub").mkdir(parents=True, exist_ok=True)
    (src / "model.bin").write_bytes(b"\x00\x01" * 100)
    (src / "dir" / "one.txt").write_text("one")
    (src / "dir" / "sub" / "two.txt").write_text("two")
    art = wandb.Artifact("dataset", type="dataset", metadata={"v": version})
    with art.new_file("notes.txt") as f:
        f.write(f"notes {version}")
    art.add_file(str(src / "model.bin"), name="weights/model.bin")
    art.add_dir(str(src / "dir"), name="tree")
    (src / "remote.csv").write_text("a,b\n1,2\n")
    art.add_reference((src / "remote.csv").as_uri(), name="remote.csv")
    art.add(wandb.Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]]), "table")
    return art


def _aliases(api: Any, path: str) -> set[str]:
    return set(api.artifact(path).aliases)


def test_versions_dedupe_aliases_and_latest(wandb_env: Any, project: str, tmp_path: Path) -> None:
    entity = wandb_env.entity
    run = wandb.init(entity=entity, project=project)
    first = _build(tmp_path, "1")
    run.log_artifact(first, aliases=["best"])
    first.wait()
    assert first.version == "v0"
    assert first.id
    assert first.size > 200

    same = _build(tmp_path, "1")
    run.log_artifact(same, aliases=["again"])
    same.wait()
    assert same.version == "v0", "identical content must dedupe to the existing version"
    assert same.id == first.id
    assert same.digest == first.digest

    second = _build(tmp_path, "2")
    run.log_artifact(second, aliases=["best"])
    second.wait()
    assert second.version == "v1"
    assert second.digest != first.digest
    run.finish()

    api = _fresh_api(wandb_env)
    base = f"{entity}/{project}/dataset"
    assert _aliases(api, f"{base}:v0") == {"again"}, "'best' moved to v1, 'latest' too"
    assert _aliases(api, f"{base}:v1") == {"latest", "best"}
    latest = api.artifact(f"{base}:latest")
    assert latest.version == "v1"
    assert latest.digest == second.digest
    assert latest.metadata == {"v": "2"}
    assert api.artifact(f"{base}:best").id == second.id
    assert api.artifact(f"{base}:again").id == first.id
    assert api.artifact(f"{base}:v0").size == first.size

    manifest = latest.manifest.entries
    assert manifest["remote.csv"].ref == (tmp_path / "src-2" / "remote.csv").as_uri()
    assert {"notes.txt", "weights/model.bin", "tree/one.txt", "tree/sub/two.txt"} <= set(manifest)


def test_use_artifact_download_get_and_verify(
    wandb_env: Any, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entity = wandb_env.entity
    writer = wandb.init(entity=entity, project=project, id="writer")
    art = _build(tmp_path, "1")
    writer.log_artifact(art, aliases=["prod"])
    art.wait()
    writer.finish()
    # Read through an empty SDK cache, so every byte read below came from the server
    # (the writer's cache is filled by the SDK itself, not downloaded). Not
    # ``download(skip_cache=True)``: in wandb 0.29-0.31 it shares one override path
    # between download threads and can write one file's bytes under another's name.
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "reader-cache"))

    reader = wandb.init(entity=entity, project=project, id="reader", job_type="eval")
    used = reader.use_artifact(f"{entity}/{project}/dataset:prod")
    assert used.version == "v0"
    root = Path(used.download(root=str(tmp_path / "dl")))
    assert (root / "notes.txt").read_text() == "notes 1"
    assert (root / "weights" / "model.bin").read_bytes() == b"\x00\x01" * 100
    assert (root / "tree" / "sub" / "two.txt").read_text() == "two"
    assert (root / "remote.csv").read_text() == "a,b\n1,2\n", "fetched from its reference"
    used.verify(root=str(root))

    table = used.get("table")
    assert isinstance(table, wandb.Table)
    assert table.data == [[1, "x"], [2, "y"]]

    reader.finish()

    api = _fresh_api(wandb_env)
    fetched = api.artifact(f"{entity}/{project}/dataset:prod")
    entry = fetched.get_entry("tree/one.txt")
    entry_path = entry.download(root=str(tmp_path / "entry"))
    assert Path(entry_path).read_text() == "one"
    used_names = [a.name for a in api.run(f"{entity}/{project}/reader").used_artifacts()]
    assert used_names == ["dataset:v0"]
    logged = [a.name for a in api.run(f"{entity}/{project}/writer").logged_artifacts()]
    assert logged == ["dataset:v0"]


def test_artifact_exists_and_not_found_errors(wandb_env: Any, project: str) -> None:
    entity = wandb_env.entity
    run = wandb.init(entity=entity, project=project)
    art = wandb.Artifact("present", type="model")
    with art.new_file("a.txt") as f:
        f.write("a")
    run.log_artifact(art)
    art.wait()
    run.finish()

    api = _fresh_api(wandb_env)
    assert api.artifact_exists(f"{entity}/{project}/present:v0")
    assert api.artifact_exists(f"{entity}/{project}/present:latest")
    assert not api.artifact_exists(f"{entity}/{project}/present:v7")
    assert not api.artifact_exists(f"{entity}/{project}/present:no-such-alias")
    assert not api.artifact_exists(f"{entity}/{project}/absent:latest")
    assert not api.artifact_exists(f"{entity}/no-such-project/present:latest")

    start = time.monotonic()
    with pytest.raises((wandb.errors.CommError, ValueError), match="not found"):
        api.artifact(f"{entity}/{project}/present:missing")
    assert time.monotonic() - start < 10, "a missing artifact must fail fast, not hang"


def test_link_to_registry_and_read_back(wandb_env: Any, project: str) -> None:
    entity = wandb_env.entity
    org = wandb_env.org_entity
    run = wandb.init(entity=entity, project=project)
    art = wandb.Artifact("my-model", type="model")
    with art.new_file("weights.txt") as f:
        f.write("w1")
    run.log_artifact(art)
    art.wait()
    collection = f"coll-{project}"[:60]
    art.link(f"wandb-registry-model/{collection}", aliases=["production"])
    run.finish()

    api = _fresh_api(wandb_env)
    linked = api.artifact(f"{org}/wandb-registry-model/{collection}:production")
    assert linked.version == "v0"
    assert linked.digest == art.digest
    assert "production" in linked.aliases
    assert api.artifact(f"{org}/wandb-registry-model/{collection}:latest").digest == art.digest
    # The source version is unchanged by the link.
    assert api.artifact(f"{entity}/{project}/my-model:latest").version == "v0"


def test_upload_survives_injected_faults(wandb_env: Any, project: str) -> None:
    """Dropped uploads and 503s are retried by the SDK; the content arrives intact."""
    wandb_env.faults.drop_next("upload", times=1)
    wandb_env.faults.fail_next("CommitArtifact", times=1, status=503)
    try:
        run = wandb.init(entity=wandb_env.entity, project=project)
        art = wandb.Artifact("flaky", type="dataset")
        payload = b"payload" * 1000
        with art.new_file("blob.bin", mode="wb") as f:
            f.write(payload)
        run.log_artifact(art)
        art.wait()
        run.finish()
    finally:
        wandb_env.faults.clear()
    md5 = hashlib.md5(payload).hexdigest()
    assert wandb_env.storage.blobs.path(md5).read_bytes() == payload
    assert any(r.operation == "CommitArtifact" and r.status == 503 for r in wandb_env.requests)
    assert _fresh_api(wandb_env).artifact(f"{wandb_env.entity}/{project}/flaky:v0").size == len(
        payload
    )
