"""The values of an open W&B run: id, name, entity, project, path, url."""

from __future__ import annotations

from tests.behaviour.backends import Backend


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
