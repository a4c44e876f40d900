"""The values of an open W&B run: id, name, entity, project, path, url."""

from __future__ import annotations

import pytest

from tests.behaviour.backends import Backend, log


def test_run_values(backend: Backend) -> None:
    run = backend.start_run(run_id="abc123", name="dagster-run-abc123", entity=backend.entity)
    try:
        assert (run.id, run.name) == ("abc123", "dagster-run-abc123")
        assert (run.entity, run.project) == (backend.entity, backend.project)
        assert run.path == f"{backend.entity}/{backend.project}/abc123"
        assert run.url == f"{backend.client.app_url}/{backend.entity}/{backend.project}/runs/abc123"
        assert all(isinstance(value, str) for value in (run.id, run.name, run.path, run.url))
    finally:
        run.finish()


def test_run_without_entity_is_in_the_default_entity(backend: Backend) -> None:
    run = backend.start_run(run_id="no-entity")
    try:
        assert run.entity == backend.entity
        assert run.path == f"{backend.entity}/{backend.project}/no-entity"
    finally:
        run.finish()


@pytest.mark.parametrize(("exit_code", "state"), [(0, "finished"), (1, "failed")])
def test_exit_code_gives_the_run_state(backend: Backend, exit_code: int, state: str) -> None:
    run = backend.start_run(run_id="ending", tags=("dagster_wandb", "nightly"), group="g-1")
    run.finish(exit_code=exit_code)
    assert backend.run_record("ending") == (state, ["dagster_wandb", "nightly"], "g-1")


def test_starting_a_run_id_again_resumes_that_run(backend: Backend) -> None:
    """The IO manager opens runs with ``resume="allow"``: one W&B run per run id."""
    first = backend.start_run(run_id="resumed")
    log(first, backend.draft("ds", "A"))
    first.finish()
    second = backend.start_run(run_id="resumed")
    assert second.path == first.path
    log(second, backend.draft("ds", "B"))
    second.finish()
    assert backend.logged_artifacts("resumed") == ["ds:v0", "ds:v1"]
    assert backend.logged_by("ds:v0") == backend.logged_by("ds:v1") == "resumed"
