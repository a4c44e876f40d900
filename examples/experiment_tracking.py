"""The guide's best practice 7: metrics and artifacts of a training step in one W&B run.

``step_run(context)`` is the W&B run the IO manager logs the step's artifacts to, whatever
the executor and the run's id. The guide's own form, ``wandb.init(id=context.run.run_id,
resume="allow")``, returns that same run (see README, "W&B runs").
"""

from dagster import AssetExecutionContext, AssetIn, asset

from dagster_wandb_v2 import step_run

IO_MANAGER = "wandb_artifacts_manager"


@asset(
    metadata={"wandb_artifact_configuration": {"type": "dataset"}},
    io_manager_key=IO_MANAGER,
)
def training_data() -> list[tuple[float, float]]:
    return [(x / 10, 2 * x / 10 + 1) for x in range(10)]


@asset(
    ins={"training_data": AssetIn(input_manager_key=IO_MANAGER)},
    metadata={"wandb_artifact_configuration": {"type": "model"}},
    io_manager_key=IO_MANAGER,
)
def linear_model(
    context: AssetExecutionContext, training_data: list[tuple[float, float]]
) -> dict[str, float]:
    run = step_run(context)  # the run that records training_data and logs linear_model
    learning_rate, epochs = 0.5, 100
    run.config.update({"learning_rate": learning_rate, "epochs": epochs})
    slope = intercept = 0.0
    for epoch in range(epochs):
        errors = [(slope * x + intercept - y, x) for x, y in training_data]
        loss = sum(error * error for error, _ in errors) / len(errors)
        slope -= learning_rate * 2 * sum(error * x for error, x in errors) / len(errors)
        intercept -= learning_rate * 2 * sum(error for error, _ in errors) / len(errors)
        run.log({"loss": loss, "epoch": epoch})
    return {"slope": slope, "intercept": intercept}


assets = [training_data, linear_model]
