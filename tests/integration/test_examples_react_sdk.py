"""The "react to W&B" example, end to end through the real wandb SDK and the local server."""

from __future__ import annotations

from dagster import DagsterInstance

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from examples import react_to_wandb


def test_two_promotions_run_evaluation_twice_and_checks_pass(
    local_wandb: LocalWandbProject,
) -> None:
    outcome = react_to_wandb.run_example(DagsterInstance.ephemeral(), local_wandb.resources())
    assert outcome["scores"] == [0.8, 0.9]
    assert all(url.startswith(local_wandb.base_url) for url in outcome["urls"])
    assert len(outcome["urls"]) == 8  # two assets, two versions, artifact and run URL each
    assert outcome["checks"] == {
        key: (True, outcome["checks"][key][1]) for key in ("classifier", "registered_classifier")
    }
