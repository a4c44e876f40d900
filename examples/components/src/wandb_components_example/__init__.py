"""A minimal dg project: W&B declared in ``defs/wandb_resources/defs.yaml``, assets in ``defs/``."""
