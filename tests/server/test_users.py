"""Several users on one local server: each API key is a user with its own entity."""

from __future__ import annotations

from typing import Any

import wandb


def test_each_added_user_has_its_own_key_and_entity(wandb_env: Any, gql: Any) -> None:
    name = "user_test-" + "0123456789abcdef" * 3
    key = wandb_env.add_user(name)
    assert key == name

    api = wandb.Api(api_key=key, overrides={"base_url": wandb_env.base_url})
    assert api.default_entity == name
    assert api.viewer.username == name

    default = wandb.Api(api_key=wandb_env.api_key, overrides={"base_url": wandb_env.base_url})
    assert default.default_entity == wandb_env.entity

    status, _ = gql("{ viewer { id } }", api_key="local-" + "x" * 40)
    assert status == 401, "a key the server never issued is refused"
