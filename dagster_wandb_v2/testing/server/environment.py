"""The ``WANDB_*`` environment that points the unmodified wandb SDK at a local server.

Example::

    env = sdk_environment(server.base_url, server.api_key, Path("/tmp/run"))
    os.environ.update(env)
"""

from __future__ import annotations

from pathlib import Path

#: Variables naming directories (create them before the SDK runs).
DIRECTORY_VARIABLES = (
    "WANDB_DIR",
    "WANDB_CACHE_DIR",
    "WANDB_DATA_DIR",
    "WANDB_CONFIG_DIR",
    "WANDB_ARTIFACT_DIR",
)


def sdk_environment(base_url: str, api_key: str, root: Path) -> dict[str, str]:
    """Quiet, fast SDK settings for ``base_url``, with every SDK file kept under ``root``."""
    return {
        "WANDB_BASE_URL": base_url,
        "WANDB_API_KEY": api_key,
        "WANDB_MODE": "online",
        "WANDB_SILENT": "true",
        "WANDB_CONSOLE": "off",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_SAVE_CODE": "false",
        "WANDB_DISABLE_CODE": "true",
        "WANDB__DISABLE_STATS": "true",
        "WANDB__DISABLE_META": "true",
        "WANDB__DISABLE_MACHINE_INFO": "true",
        "WANDB_DIR": str(root / "wandb-dir"),
        "WANDB_CACHE_DIR": str(root / "wandb-cache"),
        "WANDB_DATA_DIR": str(root / "wandb-data"),
        "WANDB_CONFIG_DIR": str(root / "wandb-config"),
        "WANDB_ARTIFACT_DIR": str(root / "wandb-artifacts"),
        "NETRC": str(root / "netrc"),
    }
