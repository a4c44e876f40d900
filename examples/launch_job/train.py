"""The training job W&B Launch runs: logs a metric and the trained model as an artifact.

Run by a launch agent, it gets its W&B run (id, entity, project, server, and the run
config overrides) from the ``WANDB_*`` variables the agent sets.
"""

import pickle

import wandb

with wandb.init(config={"learning_rate": 0.1, "epochs": 3}) as run:
    weight = 0.0
    for epoch in range(run.config["epochs"]):
        weight += run.config["learning_rate"] * (1.0 - weight)
        run.log({"epoch": epoch, "loss": 1.0 - weight})
    model = wandb.Artifact("trained_model", type="model")
    with model.new_file("output.pickle", "wb") as file:  # the IO manager's file name
        pickle.dump({"weight": weight, "config": dict(run.config)}, file)
    run.log_artifact(model)
