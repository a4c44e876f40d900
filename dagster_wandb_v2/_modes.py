"""The wandb SDK's mode, and why the IO manager refuses the modes that store nothing.

The IO manager stores outputs as W&B artifacts and reads inputs back. The SDK's modes
(W&B: ``wandb.init(mode=...)``, ``WANDB_MODE``, the settings file ``wandb offline`` /
``wandb disabled`` write, ``wandb.setup(settings=...)``):

- ``online`` (also ``shared``, ``run``): stores in W&B; the IO manager works;
- ``disabled``: the SDK stores nothing and returns stand-ins (``_Noop``) for everything;
- ``offline`` (``dryrun``): runs are written to disk for a later ``wandb sync``; a logged
  artifact has no version yet and none can be read.

In the last two a run would lose what it writes or fail on its first read, so the IO
manager refuses them with :class:`~dagster_wandb_v2.errors.WandbConfigurationError`
naming where the mode came from. ``WANDB_DISABLED`` is not read by wandb 0.31: the mode
stays ``online``. W&B's public API (``wandb.Api``) does not depend on the mode.

Example::

    check_mode_stores("WandbArtifactsIOManager")  # raises under WANDB_MODE=disabled
"""

from __future__ import annotations

import os

from dagster_wandb_v2.errors import WandbConfigurationError

MODES_STORING_NOTHING = {
    "disabled": "stores nothing",
    "offline": "writes runs to disk for a later `wandb sync`, so artifacts get no version "
    "and none can be read",
    "dryrun": "writes runs to disk for a later `wandb sync`, so artifacts get no version "
    "and none can be read",
}
"""The SDK's modes in which a W&B run cannot store and read artifacts, and why."""

ENV_MODE = "WANDB_MODE"


def sdk_mode() -> str:
    """The mode ``wandb.init`` uses when not given one: the SDK's global settings
    (``WANDB_MODE`` as read when the SDK was set up, settings files, ``wandb.setup``)."""
    from wandb.sdk import wandb_setup

    return str(wandb_setup.singleton().settings.mode)


def check_mode_stores(user: str, mode: str | None = None, source: str | None = None) -> None:
    """Raise :class:`WandbConfigurationError` if ``mode`` (default: :func:`sdk_mode`) stores
    nothing in W&B. ``user`` names who needs W&B; ``source`` where the mode came from."""
    mode = sdk_mode() if mode is None else mode
    if mode not in MODES_STORING_NOTHING:
        return
    if source is None:
        source = (
            f"environment variable {ENV_MODE}={mode}"
            if os.environ.get(ENV_MODE) == mode
            else f"the wandb settings (a settings file written by `wandb {mode}`, or "
            "wandb.setup(settings=...))"
        )
    raise WandbConfigurationError(
        [
            f"{user}: the wandb SDK is in mode '{mode}' (from {source}), in which W&B "
            f"{MODES_STORING_NOTHING[mode]}; the IO manager stores outputs in W&B and reads "
            f"them back, so it needs mode 'online'. Unset {ENV_MODE} (or set it to online); "
            "to test without W&B, use dagster_wandb_v2.testing (the fake_wandb fixtures or "
            "the local server)"
        ]
    )
