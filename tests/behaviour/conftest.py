"""One behaviour suite, two backends: the in-memory fake and the real SDK + local server.

Every test in this package takes the ``backend`` fixture and runs twice: against
:class:`~dagster_wandb_v2.testing.FakeWandb` (``fake``) and against the unmodified wandb SDK
talking to :mod:`dagster_wandb_v2.testing.server` on 127.0.0.1 (``local_server``). Tests
act through the client protocol of :mod:`dagster_wandb_v2.client` (the seam the IO manager
uses) and read back what W&B recorded through a :class:`Backend`: ``wandb.Api()`` for the
server, the fake's own state for the fake. A behaviour the local server does not have yet is
marked ``@server_disagrees("...")``: a strict xfail on the server case only, which fails as
soon as the server is fixed (then drop the mark).

Example::

    def test_first_version_is_v0(backend: Backend) -> None:
        run = backend.start_run()
        assert run.log_artifact(backend.draft("ds", "A"), ["latest"]).version == "v0"
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import wandb

from dagster_wandb_v2.client import WandbRun
from dagster_wandb_v2.testing.server import DIRECTORY_VARIABLES, LocalWandbServer, sdk_environment
from tests.behaviour.backends import Backend, FakeBackend, ServerBackend

BACKENDS = ("fake", "local_server")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "server_disagrees(reason): the local server does not do this yet (xfail)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("server_disagrees")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None:
            continue
        if callspec.params.get("backend") == "local_server":
            item.add_marker(pytest.mark.xfail(strict=True, reason=marker.kwargs["reason"]))


@pytest.fixture(scope="module")
def behaviour_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWandbServer]:
    """One local server per test module, with the SDK's environment pointed at it.

    The SDK's files stay under the module's temporary directory; the environment and the
    SDK's process-wide state are restored when the module is done.
    """
    root = tmp_path_factory.mktemp("behaviour-server")
    server = LocalWandbServer(data_dir=root / "data")
    server.start()
    environment = sdk_environment(server.base_url, server.api_key, root / "sdk")
    with pytest.MonkeyPatch.context() as patch:
        for key in [key for key in os.environ if key.startswith("WANDB_")]:
            patch.delenv(key)
        for key, value in environment.items():
            patch.setenv(key, value)
        for key in DIRECTORY_VARIABLES:
            Path(environment[key]).mkdir(parents=True, exist_ok=True)
        wandb.teardown()
        try:
            yield server
        finally:
            wandb.teardown()
            server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The W&B of this test: ``fake`` or ``local_server`` (a fresh project on either)."""
    if request.param == "fake":
        fake_backend = FakeBackend(tmp_path)
        try:
            yield fake_backend
        finally:
            fake_backend.fake.close()
        return
    server: LocalWandbServer = request.getfixturevalue("behaviour_server")
    yield ServerBackend(tmp_path, server)


@pytest.fixture
def run(backend: Backend) -> Iterator[WandbRun]:
    """A run on ``backend``, finished after the test."""
    opened = backend.start_run()
    yield opened
    with contextlib.suppress(Exception):  # a test may have finished it already
        opened.finish()
