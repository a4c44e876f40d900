"""The guide's custom serialization: a function pickled with joblib, used downstream.

Pickle-family modules run code when loading: only read artifacts you trust.
"""

from typing import Any

from dagster import AssetExecutionContext, AssetIn, asset

IO_MANAGER = "wandb_artifacts_manager"


def add(x: int, y: int) -> int:
    return x + y


@asset(
    name="my_joblib_serialized_model",
    metadata={
        "wandb_artifact_configuration": {
            "type": "model",
            "serialization_module": {"name": "joblib", "parameters": {"compress": 3}},
        }
    },
    io_manager_key=IO_MANAGER,
)
def create_model_serialized_with_joblib() -> Any:
    # Not a real ML model, but a function is already more than some formats can hold.
    return add


@asset(
    name="inference_result_from_joblib_serialized_model",
    ins={"my_joblib_serialized_model": AssetIn(input_manager_key=IO_MANAGER)},
    metadata={"wandb_artifact_configuration": {"type": "results"}},
    io_manager_key=IO_MANAGER,
)
def use_model_serialized_with_joblib(
    context: AssetExecutionContext, my_joblib_serialized_model: Any
) -> int:
    inference_result: int = my_joblib_serialized_model(1, 2)
    context.log.info(inference_result)  # 3
    return inference_result


assets = [create_model_serialized_with_joblib, use_model_serialized_with_joblib]
