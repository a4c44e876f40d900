"""Pytest plugin running the wandb SDK's own system tests against the local W&B server.

The SDK's system tests (``tests/system_tests`` in github:wandb/wandb) reach their backend
through two seams of ``tests/system_tests/backend_fixtures.py``:
``connect_to_local_wandb_backend`` (the address of a W&B server in a container) and
``BackendFixtureFactory`` (creates users, orgs and teams in it over a fixture service).
This plugin replaces both before the SDK's ``conftest.py`` imports them, so the tests run
unchanged against :class:`~dagster_wandb_v2.testing.server.LocalWandbServer` on 127.0.0.1:

- one server (a background thread) serves the session; each ``user`` / ``module_user`` is
  a new user of it with its own API key and personal entity, so tests stay isolated;
- organizations, teams and members do not exist on the local server: a test asking the
  factory for them is skipped with a reason starting ``needs teams/orgs``;
- nothing leaves the machine: name lookups and connections to anything but loopback fail
  at once with an error starting ``needs internet`` (tests using public buckets).

Loaded by ``run.py`` with ``-p wandb_conformance_plugin`` (this directory on ``PYTHONPATH``).
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import socket
import sys
import tempfile
import types
from typing import Any

import pytest
from wandb import __version__ as wandb_version

from dagster_wandb_v2.testing.server import LocalWandbServer

#: Prefix of the skip reason of tests needing W&B organizations, teams or members.
NEEDS_TEAMS = "needs teams/orgs"

_server: LocalWandbServer | None = None


def _local_server() -> LocalWandbServer:
    global _server
    if _server is None:
        _server = LocalWandbServer(data_dir=tempfile.mkdtemp(prefix="wandb-conformance-"))
        _server.start()
    return _server


class LocalBackendFixtureFactory:
    """Stands in for the SDK tests' ``BackendFixtureFactory`` (same methods)."""

    def __init__(self, service_url: str, worker_id: str = "master") -> None:
        self.worker_id = worker_id
        self._server = _local_server()

    def __enter__(self) -> LocalBackendFixtureFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def make_user(self, name: str | None = None, admin: bool = False) -> str:
        """A new user of the local server; its name is also its API key and entity."""
        from tests.system_tests.backend_fixtures import random_string

        if admin:
            pytest.skip(f"{NEEDS_TEAMS}: admin users")
        name = name or f"user_{self.worker_id}-{random_string('0123456789abcdef', 40)}"
        self._server.add_user(name)
        return name

    def make_org(self, name: str | None = None, *, username: str) -> str:
        pytest.skip(f"{NEEDS_TEAMS}: the local server has one organization and no fixtures")

    def add_org_user(self, org: str, *, role: str) -> str:
        pytest.skip(f"{NEEDS_TEAMS}: organization members")

    def make_team(self, name: str | None = None, **_: Any) -> Any:
        pytest.skip(f"{NEEDS_TEAMS}: teams")

    def send_cmds(self, *cmds: Any) -> None:
        pytest.skip(f"{NEEDS_TEAMS}: fixture service commands {cmds!r}")

    def cleanup(self) -> None:
        return None


def _connect(name: str) -> Any:
    from tests.system_tests.backend_fixtures import LocalWandbBackendAddress

    server = _local_server()
    return LocalWandbBackendAddress(host=server.host, base_port=server.port, fixture_port=0)


#: Modules the tests import that the installed SDK no longer has -> the name they used.
#: Each is replaced by a module whose attributes fail with "SDK skew", so the tests that
#: need them fail with that reason and the rest of their file still runs.
REMOVED_SDK_MODULES = {
    "wandb.sdk.internal.sender": "_manifest_json_from_proto",
}


def _removed_module(name: str, attribute: str) -> types.ModuleType:
    module = types.ModuleType(name)

    def removed(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"SDK skew: {name}.{attribute} is not in wandb {wandb_version}")

    setattr(module, attribute, removed)
    return module


def _install_removed_modules() -> None:
    for name, attribute in REMOVED_SDK_MODULES.items():
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            parent, _, child = name.rpartition(".")
            module = _removed_module(name, attribute)
            sys.modules[name] = module
            setattr(importlib.import_module(parent), child, module)


#: Prefix of the error of a test trying to reach anything but loopback.
NEEDS_INTERNET = "needs internet"


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard_network() -> None:
    """Refuse name lookups and connections to anything but loopback (or a local socket)."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(f"{NEEDS_INTERNET}: {host!r} (only 127.0.0.1 is reachable)")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(f"{NEEDS_INTERNET}: {address[0]!r} is not loopback")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


def _swap_seams() -> None:
    """Point the container seams at the local server (before the SDK's conftest imports)."""
    from tests.system_tests import backend_fixtures

    backend_fixtures.connect_to_local_wandb_backend = _connect  # type: ignore[assignment]
    backend_fixtures.BackendFixtureFactory = LocalBackendFixtureFactory  # type: ignore[assignment,misc]


# At import: ``-p`` plugins are imported before any conftest, ``pytest_configure`` after.
_install_removed_modules()
_swap_seams()
_guard_network()
# The SDK's Go core makes its own connections: a dead loopback proxy stops any that is not
# for the local server (plain-HTTP loopback stays direct).
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ[_name] = "http://127.0.0.1:9"
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests that need the internet before they try to reach it."""
    from categories import NEEDS_INTERNET_TESTS

    for item in items:
        for fragment, reason in NEEDS_INTERNET_TESTS.items():
            if fragment in item.nodeid:
                item.add_marker(pytest.mark.skip(reason=f"{NEEDS_INTERNET}: {reason}"))


def pytest_unconfigure(config: pytest.Config) -> None:
    global _server
    if _server is not None:
        data_dir = _server.data_dir
        _server.stop()
        _server = None
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
