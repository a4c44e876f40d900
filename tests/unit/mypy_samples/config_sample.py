"""Checked by ``mypy --strict`` in test_config.py: lines marked ``# E:`` must be reported.

Not collected by pytest (the name does not start with ``test_``).
"""

from dagster_wandb_v2 import WandbArtifactConfiguration

valid: WandbArtifactConfiguration = {
    "type": "model",
    "aliases": ["best"],
    "serialization_module": {"name": "joblib", "parameters": {"compress": 3}},
    "partitions": {"*": {"get": "table", "alias": "best"}},
}
typo: WandbArtifactConfiguration = {"alises": ["x"]}  # E: typeddict-unknown-key
wrong_type: WandbArtifactConfiguration = {"aliases": "x"}  # E: typeddict-item
nested: WandbArtifactConfiguration = {"serialization_module": {"name": "yaml"}}  # E: typeddict-item
