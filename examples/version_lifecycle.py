"""The version lifecycle from Dagster: promote, update, link after an evaluation, clean up.

A classifier is trained (each materialization a new W&B version), evaluated, and then:

- ``classifier_notes`` writes the evaluation into the version's description and metadata;
- ``production_classifier`` promotes it with the alias ``production`` (moved from the
  version that held it);
- ``registered_classifier`` links it to the W&B Registry collection
  ``wandb-registry-model/lifecycle_classifier`` with the alias ``staging``;
- the ``clean_up_classifier`` job (scheduled nightly) deletes the versions no alias or
  Registry link protects, keeping the 2 newest; the op is a dry run unless the run sets
  ``dry_run: false`` (as the schedule does).
"""

from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetIn,
    MaterializeResult,
    RunConfig,
    ScheduleDefinition,
    asset,
    job,
)

from dagster_wandb_v2 import (
    CleanUpVersions,
    LinkVersion,
    PromoteVersion,
    UpdateVersion,
    WandbResource,
    build_wandb_lifecycle_asset,
    build_wandb_lifecycle_op,
    run_lifecycle_step,
)

IO_MANAGER = "wandb_artifacts_manager"


@asset(
    metadata={"wandb_artifact_configuration": {"type": "model"}},
    io_manager_key=IO_MANAGER,
    config_schema={"epochs": int},
)
def classifier(context: AssetExecutionContext) -> dict[str, Any]:
    epochs = context.op_execution_context.op_config["epochs"]
    return {"epochs": epochs, "weights": [0.1 * epochs, 0.2]}


@asset(ins={"classifier": AssetIn(input_manager_key=IO_MANAGER)})
def evaluation(classifier: dict[str, Any]) -> float:
    """Stand-in for an evaluation: more epochs, better accuracy."""
    return round(min(0.99, 0.8 + 0.02 * classifier["epochs"]), 3)


@asset
def classifier_notes(wandb: WandbResource, evaluation: float) -> MaterializeResult:
    """The lifecycle from asset code: the evaluated version gets its score."""
    report = run_lifecycle_step(
        wandb,
        UpdateVersion(
            asset="classifier",
            description=f"Accuracy {evaluation} on the held-out set",
            metadata={"accuracy": evaluation},
        ),
    )
    return MaterializeResult(metadata=report.metadata)


production_classifier = build_wandb_lifecycle_asset(
    PromoteVersion(asset="classifier", aliases=["production"]),
    name="production_classifier",
    deps=[classifier_notes],
)

registered_classifier = build_wandb_lifecycle_asset(
    LinkVersion(
        asset="classifier",
        target_path="wandb-registry-model/lifecycle_classifier",
        aliases=["staging"],
    ),
    name="registered_classifier",
    deps=[evaluation],
)

clean_up_op = build_wandb_lifecycle_op(
    CleanUpVersions(asset="classifier", keep_last=2), name="clean_up_classifier_versions"
)


@job
def clean_up_classifier() -> None:
    clean_up_op()


NIGHTLY_CLEAN_UP = RunConfig(ops={"clean_up_classifier_versions": {"config": {"dry_run": False}}})

nightly_clean_up = ScheduleDefinition(
    job=clean_up_classifier, cron_schedule="0 3 * * *", run_config=NIGHTLY_CLEAN_UP
)

assets = [classifier, evaluation, classifier_notes, production_classifier, registered_classifier]
jobs = [clean_up_classifier]
schedules = [nightly_clean_up]


def run_example(instance: Any, resources: dict[str, Any]) -> dict[str, Any]:
    """Train four versions (each evaluated and promoted, the last one linked to the
    Registry), then clean up: a dry run, then for real. Returns the cleanup reports'
    metadata."""
    from dagster import materialize

    for epochs in (1, 2, 3, 5):
        config = {"ops": {"classifier": {"config": {"epochs": epochs}}}}
        selection = assets if epochs == 5 else [a for a in assets if a != registered_classifier]
        materialize(
            assets, resources=resources, instance=instance, run_config=config, selection=selection
        )
    dry_run = clean_up_classifier.execute_in_process(resources=resources, instance=instance)
    done = clean_up_classifier.execute_in_process(
        resources=resources, instance=instance, run_config=NIGHTLY_CLEAN_UP
    )
    return {
        "dry_run": _output_metadata(dry_run),
        "deleted": _output_metadata(done),
    }


def _output_metadata(result: Any) -> dict[str, Any]:
    (event,) = [
        event
        for event in result.events_for_node("clean_up_classifier_versions")
        if event.event_type_value == "STEP_OUTPUT"
    ]
    return {key: value.value for key, value in event.step_output_data.metadata.items()}
