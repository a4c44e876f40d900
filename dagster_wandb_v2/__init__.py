"""Dagster <-> Weights & Biases integration on Dagster's Pythonic API."""

from dagster_wandb_v2._version import __version__

__all__ = ["__version__"]
