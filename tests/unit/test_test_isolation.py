"""The suite's own isolation: what one test leaves behind must not break the next."""

import os

import pytest
import wandb

from tests.conftest import forget_stale_service_address


def test_a_service_address_restored_after_teardown_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wandb.teardown()
    with monkeypatch.context() as patch:
        # What monkeypatch restores after a test that tore wandb down: an address of a
        # service that no longer runs.
        patch.setenv("WANDB_SERVICE", "unix-/tmp/wandb-gone/socket")
        assert forget_stale_service_address()
        assert "WANDB_SERVICE" not in os.environ
        assert not forget_stale_service_address()


def test_a_running_service_keeps_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb.sdk import wandb_setup

    monkeypatch.setenv("WANDB_MODE", "offline")
    wandb.setup()
    try:
        assert wandb_setup._singleton is not None
        monkeypatch.setenv("WANDB_SERVICE", "unix-/tmp/wandb-alive/socket")
        assert not forget_stale_service_address()
        assert os.environ["WANDB_SERVICE"] == "unix-/tmp/wandb-alive/socket"
    finally:
        monkeypatch.delenv("WANDB_SERVICE")
        wandb.teardown()
