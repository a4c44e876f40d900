"""Lineage: which run logged a version (``logged_by``), which runs used it (``used_by``)."""

from __future__ import annotations

import pytest
from wandb.errors import UsageError

from tests.behaviour.backends import Backend, log


def test_logged_by_and_used_by(backend: Backend) -> None:
    writer = backend.start_run(run_id="writer")
    log(writer, backend.draft("ds", "A"))
    log(writer, backend.draft("other", "A"))
    writer.finish()
    for reader_id in ("reader-1", "reader-2"):
        reader = backend.start_run(run_id=reader_id)
        reader.use_artifact(backend.path("ds:latest"))
        reader.finish()
    assert backend.logged_by("ds:v0") == "writer"
    assert backend.used_by("ds:v0") == ["reader-1", "reader-2"]
    assert backend.used_by("other:v0") == []
    assert backend.logged_artifacts("writer") == ["ds:v0", "other:v0"]
    assert backend.used_artifacts("writer") == []
    assert backend.used_artifacts("reader-1") == ["ds:v0"]
    assert backend.logged_artifacts("reader-1") == []


def test_a_version_used_twice_by_a_run_is_recorded_once(backend: Backend) -> None:
    run = backend.start_run(run_id="twice")
    log(run, backend.draft("ds", "A"), ["best"])
    run.use_artifact(backend.path("ds:latest"))
    run.use_artifact(backend.path("ds:best"))
    run.finish()
    assert backend.used_by("ds:v0") == ["twice"]
    assert backend.used_artifacts("twice") == ["ds:v0"]


def test_a_version_logged_twice_by_a_run_is_recorded_once(backend: Backend) -> None:
    run = backend.start_run(run_id="relog")
    log(run, backend.draft("ds", "A"))
    log(run, backend.draft("ds", "B"))
    log(run, backend.draft("ds", "A"))
    run.finish()
    assert backend.logged_artifacts("relog") == ["ds:v0", "ds:v1"]


def test_used_versions_are_the_resolved_ones(backend: Backend) -> None:
    writer = backend.start_run(run_id="writer")
    log(writer, backend.draft("ds", "A"))
    log(writer, backend.draft("ds", "B"))
    writer.finish()
    reader = backend.start_run(run_id="reader")
    reader.use_artifact(backend.path("ds:v0"))
    reader.use_artifact(backend.path("ds:latest"))
    reader.finish()
    assert backend.used_artifacts("reader") == ["ds:v0", "ds:v1"]


@pytest.mark.parametrize("call", ["log_artifact", "use_artifact"])
def test_a_finished_run_refuses_artifacts(backend: Backend, call: str) -> None:
    run = backend.start_run()
    log(run, backend.draft("ds", "A"))
    run.finish()
    with pytest.raises(UsageError, match=f"is finished. The call to `{call}` will be ignored"):
        if call == "log_artifact":
            log(run, backend.draft("ds", "B"))
        else:
            run.use_artifact(backend.path("ds:latest"))
    assert backend.aliases("ds") == {"v0": ["latest"]}


def test_a_logged_version_used_without_a_lookup_is_recorded_as_by_name(
    backend: Backend,
) -> None:
    """``use_logged_artifact``: what the IO manager uses for a version an earlier step of
    the same process logged (W&B's ``Run.use_artifact`` with the logged artifact)."""
    writer = backend.start_run(run_id="writer")
    first = log(writer, backend.draft("ds", "A"))
    second = log(writer, backend.draft("ds", "B"))
    writer.finish()
    reader = backend.start_run(run_id="reader")
    used = reader.use_logged_artifact(first)
    reader.use_logged_artifact(first)  # recorded once
    reader.finish()
    assert (used.version, used.digest) == ("v0", first.digest)
    assert backend.used_by("ds:v0") == ["reader"]
    assert backend.used_by("ds:v1") == []
    assert backend.used_artifacts("reader") == ["ds:v0"]
    assert second.version == "v1"
