"""The local server's read-only HTML pages at the URLs Dagster records, through the real
wandb SDK (content) and a plain HTTP client or headless Chromium (reading)."""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import wandb
from dagster import asset, materialize

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

IO = "wandb_artifacts_manager"


def _materialize_model(local_wandb: LocalWandbProject, tmp_path: Path) -> dict[str, str]:
    """Write ``model`` through the IO manager (a run config and summary set), read it back."""
    (tmp_path / "notes.txt").write_text("hello <b>page</b>")

    @asset(
        metadata={
            "wandb_artifact_configuration": {
                "type": "model",
                "aliases": ["candidate"],
                "description": "the model",
                "add_files": [{"local_path": str(tmp_path / "notes.txt"), "name": "notes.txt"}],
            }
        },
        io_manager_key=IO,
    )
    def model() -> dict[str, float]:
        with wandb.init(
            entity=local_wandb.entity,
            project=local_wandb.project,
            config={"learning_rate": 0.01},
            job_type="train",
        ) as run:
            run.summary["accuracy"] = 0.93
            run_url = run.url
        model.run_url = run_url  # type: ignore[attr-defined]
        return {"weights": 1.5}

    @asset(metadata={"wandb_artifact_configuration": {"type": "score"}}, io_manager_key=IO)
    def evaluation(model: dict[str, float]) -> float:
        return model["weights"]

    result = materialize([model, evaluation], resources=local_wandb.resources())
    [written] = [
        e.event_specific_data.materialization  # type: ignore[union-attr]
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["model"]
    ]
    return {
        "artifact_url": str(written.metadata["wandb_artifact_url"].value),
        "run_url": str(written.metadata["wandb_run_url"].value),
        "run_id": str(written.metadata["wandb_run_id"].value),
        "training_run_url": model.run_url,  # type: ignore[attr-defined]
    }


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_artifact_and_run_pages_at_the_recorded_urls(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    urls = _materialize_model(local_wandb, tmp_path)
    assert urls["artifact_url"].startswith(local_wandb.base_url + "/")

    status, page = _get(urls["artifact_url"])  # no API key: a browser's request
    assert status == 200
    assert "<h1>Artifact model:v0</h1>" in page
    for expected in (
        "candidate",
        "latest",
        "the model",
        "source_integration",
        "notes.txt",
        "output.pickle",
        "Logged by",
        urls["run_id"],
    ):
        assert expected in page, expected
    assert "hello <b>page</b>" not in page  # file content is linked, not inlined
    [download] = [line for line in page.split("<tr>") if "notes.txt" in line]
    href = download.split("href='")[1].split("'")[0].replace("&amp;", "&")
    assert _get(href) == (200, "hello <b>page</b>")
    assert f"<td class='num'>{len('hello <b>page</b>')}</td>" in download

    status, run_page = _get(urls["run_url"])
    assert status == 200
    assert "Run dagster-run-" in run_page
    assert "model:v0" in run_page.split("id='logged'")[1]

    status, training = _get(urls["training_run_url"])
    assert status == 200
    assert "learning_rate" in training and "0.01" in training
    assert "accuracy" in training and "0.93" in training

    assert _get(urls["artifact_url"].replace("/v0", "/v9"))[0] == 404
    assert _get(urls["run_url"] + "nope")[0] == 404


def test_pages_in_headless_chromium(local_wandb: LocalWandbProject, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium)")
    urls = _materialize_model(local_wandb, tmp_path)
    for url, expected in ((urls["artifact_url"], "notes.txt"), (urls["run_url"], "model:v0")):
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert expected in dom
        assert "local W&amp;B-compatible server (read-only)" in dom
