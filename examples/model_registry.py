"""The guide's model-registry example on the W&B Registry: ``link_to`` and ``ttl``.

Three candidate models are trained (one partition each) and linked to the registry
collection ``wandb-registry-model/iris_classifier``; the best one is promoted with the
alias ``production``. Candidates expire after 30 days (``ttl``); the production model
keeps the team's default policy (``"inherit"``). ``served_model`` reads whatever version the
registry's ``production`` alias points to (moved by this pipeline or by hand in W&B), by its
registry path.
"""

from typing import Any

from dagster import AssetExecutionContext, AssetIn, StaticPartitionsDefinition, asset

IO_MANAGER = "wandb_artifacts_manager"
REGISTRY_COLLECTION = "wandb-registry-model/iris_classifier"
LEARNING_RATES = StaticPartitionsDefinition(["lr_0.1", "lr_0.01", "lr_0.001"])


@asset(
    partitions_def=LEARNING_RATES,
    metadata={
        "wandb_artifact_configuration": {
            "type": "model",
            "ttl": "30d",
            "link_to": [{"target_path": REGISTRY_COLLECTION, "aliases": ["candidate"]}],
        }
    },
    io_manager_key=IO_MANAGER,
)
def candidate_model(context: AssetExecutionContext) -> dict[str, Any]:
    learning_rate = float(context.partition_key.removeprefix("lr_"))
    # Stand-in for training: the middle learning rate wins.
    accuracy = round(0.95 - abs(learning_rate - 0.01) * 2, 4)
    return {"learning_rate": learning_rate, "accuracy": accuracy}


@asset(
    ins={"candidate_model": AssetIn(input_manager_key=IO_MANAGER)},
    metadata={
        "wandb_artifact_configuration": {
            "type": "model",
            "ttl": "inherit",
            "link_to": [{"target_path": REGISTRY_COLLECTION, "aliases": ["production"]}],
        }
    },
    io_manager_key=IO_MANAGER,
)
def production_model(candidate_model: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The best candidate, promoted with the registry alias ``production``."""
    return max(candidate_model.values(), key=lambda model: model["accuracy"])


@asset(
    ins={
        "production_model": AssetIn(
            input_manager_key=IO_MANAGER,
            metadata={
                "wandb_artifact_configuration": {"name": f"{REGISTRY_COLLECTION}:production"}
            },
        )
    }
)
def served_model(production_model: dict[str, Any]) -> float:
    """The registry's ``production`` model, as a deployment would consume it."""
    return float(production_model["accuracy"])


assets = [candidate_model, production_model, served_model]
