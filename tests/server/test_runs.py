"""Runs through the real wandb SDK: login, init, log, finish, resume, failed state."""

from __future__ import annotations

from typing import Any

import pytest
import wandb


def test_login_with_local_key_and_viewer(wandb_env: Any, api: Any) -> None:
    assert wandb.login(key=wandb_env.api_key, host=wandb_env.base_url, relogin=True, verify=True)
    assert api.viewer.entity == wandb_env.entity
    assert api.default_entity == wandb_env.entity


def test_login_with_wrong_key_fails(wandb_env: Any) -> None:
    bad_key = "local-" + "x" * 40
    with pytest.raises(Exception, match=r"(?i)auth|key|401"):
        wandb.login(key=bad_key, host=wandb_env.base_url, relogin=True, verify=True)


def test_init_log_finish_resume_and_fail(wandb_env: Any, api: Any, project: str) -> None:
    entity = wandb_env.entity
    run = wandb.init(
        entity=entity,
        project=project,
        id="run-one",
        name="first name",
        tags=["alpha", "beta"],
        group="grp",
        job_type="train",
        config={"lr": 0.1},
    )
    run.log({"loss": 1.0})
    run.log({"loss": 0.5})
    run.finish()

    public = api.run(f"{entity}/{project}/run-one")
    assert public.state == "finished"
    assert public.name == "first name"
    assert sorted(public.tags) == ["alpha", "beta"]
    assert public.group == "grp"
    assert public.job_type == "train"
    assert public.config["lr"] == 0.1
    assert public.summary["loss"] == 0.5

    resumed = wandb.init(entity=entity, project=project, id="run-one", resume="allow")
    assert resumed.id == "run-one"
    assert resumed.resumed
    resumed.log({"loss": 0.25})
    resumed.finish(exit_code=1)

    public = wandb.Api(api_key=wandb_env.api_key, overrides={"base_url": wandb_env.base_url}).run(
        f"{entity}/{project}/run-one"
    )  # a new client: ``Api.run`` caches runs
    assert public.state == "failed"
    assert public.summary["loss"] == 0.25
    losses = [row["loss"] for row in public.scan_history(keys=["loss"])]
    assert losses == [1.0, 0.5, 0.25]
