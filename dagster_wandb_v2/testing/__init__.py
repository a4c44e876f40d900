"""Test helpers for projects using dagster_wandb_v2: a fake W&B client and a local W&B-compatible server."""
