"""The guide's Launch example, end to end through the real wandb SDK and the local server:
the queue and the job are made, the agent runs the job as a local process, and the
model the launched run logged is read by a Dagster asset."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from examples import launch


def test_the_launch_example_runs_the_job_on_a_local_agent(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wandb.sdk.launch.agent import agent as agent_module

    monkeypatch.setattr(agent_module, "AGENT_POLLING_INTERVAL", 0.5)  # 10 s in wandb
    outcome = launch.run_example(DagsterInstance.ephemeral(), local_wandb.resources())
    assert outcome["run_state"] == "finished"
    assert outcome["run_url"].startswith(f"{local_wandb.base_url}/{local_wandb.entity}/")
    # three epochs at learning rate 0.1: 1 - 0.9 ** 3
    assert outcome["weight"] == pytest.approx(0.271)
