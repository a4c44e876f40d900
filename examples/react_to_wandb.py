"""Reacting to W&B from Dagster: a model trained and promoted outside Dagster.

``train_and_promote`` plays the outside world (plain wandb code): it logs a ``classifier``
version, gives it the ``production`` alias and links it to the Registry collection
``wandb-registry-model/<collection>``. Dagster learns about it through the sensor, which
reports a materialization of the external assets (the W&B digest as data version):

- ``evaluation`` reads ``classifier:production`` through the IO manager and has
  ``AutomationCondition.eager()``: declarative automation re-runs it on each new version;
- ``deployment`` follows the Registry collection and is run by the sensor's run request;
- the asset check compares both external assets with W&B (version, digest, files).

In a deployment, ``dagster dev`` runs the sensor and the automation daemon; ``run_example``
below does their work by hand, one tick at a time, so it can be followed in a terminal.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import wandb
from dagster import (
    AssetIn,
    AssetSelection,
    AssetSpec,
    AutomationCondition,
    DagsterInstance,
    Definitions,
    SensorResult,
    asset,
    build_sensor_context,
    define_asset_job,
    evaluate_automation_conditions,
    materialize,
)

from dagster_wandb_v2 import WandbResource, build_wandb_artifact_checks, build_wandb_artifact_sensor

IO = "wandb_artifacts_manager"
COLLECTION = "dagster-examples-classifier"
REGISTRY_PATH = f"wandb-registry-model/{COLLECTION}"

classifier = AssetSpec(
    "classifier", description="Trained outside Dagster; its production version"
).with_io_manager_key(IO)
registered_classifier = AssetSpec(
    "registered_classifier", description=f"The production version in {REGISTRY_PATH}"
).with_io_manager_key(IO)


@asset(
    ins={
        "model": AssetIn(
            key="classifier", metadata={"wandb_artifact_configuration": {"alias": "production"}}
        )
    },
    automation_condition=AutomationCondition.eager(),
)
def evaluation(model: wandb.Artifact) -> float:
    """Scores the production model (here: reads its weights file)."""
    return float((Path(model.download()) / "weights.txt").read_text().split()[0])


@asset(deps=[registered_classifier])
def deployment(wandb: WandbResource) -> str:
    """Deploys what the Registry collection's ``production`` alias points to."""
    model = wandb.get_api().artifact(f"{REGISTRY_PATH}:production")
    return f"deployed {model.qualified_name} ({model.digest})"


wandb_models_sensor = build_wandb_artifact_sensor(
    {"classifier:production": classifier, f"{REGISTRY_PATH}:production": registered_classifier},
    name="wandb_models_sensor",
    asset_selection=[deployment],
    minimum_interval_seconds=30,
)
wandb_model_checks = build_wandb_artifact_checks([classifier, registered_classifier])
check_job = define_asset_job(
    "wandb_model_checks",
    selection=AssetSelection.checks_for_assets(classifier.key, registered_classifier.key),
)
assets = [classifier, registered_classifier, evaluation, deployment]


def definitions(resources: dict[str, Any]) -> Definitions:
    """Everything above, for ``dagster dev`` (``defs = definitions(wandb_resources())``)."""
    return Definitions(
        assets=assets,
        sensors=[wandb_models_sensor],
        asset_checks=[wandb_model_checks],
        jobs=[check_job],
        resources=resources,
    )


def train_and_promote(wandb_resource: WandbResource, score: float) -> wandb.Artifact:
    """Outside Dagster: train, log, promote to ``production`` and link to the Registry."""
    with wandb_resource.init_run(job_type="train", config={"learning_rate": 0.01}) as run:
        run.summary["score"] = score
        model = wandb.Artifact("classifier", "model", metadata={"score": score})
        with model.new_file("weights.txt") as weights:
            weights.write(f"{score}\ntrained {uuid.uuid4()}")  # new content on every run
        logged = run.log_artifact(model, aliases=["production"])
        logged.wait()
        run.link_artifact(logged, REGISTRY_PATH, aliases=["production"])
    return logged


def sensor_tick(defs: Definitions, instance: DagsterInstance, cursor: str | None) -> SensorResult:
    """One tick of the sensor, stored as the sensor daemon stores it."""
    sensor = defs.get_sensor_def("wandb_models_sensor")
    resources = {"wandb": defs.resources["wandb"]}
    with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = sensor(context)
    assert isinstance(result, SensorResult)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return result


def run_example(instance: DagsterInstance, resources: dict[str, Any]) -> dict[str, Any]:
    """Two promotions, each seen by the sensor and followed by automation; then the checks.

    Returns what happened: the materialized versions, their URLs and the check results.
    """
    defs = definitions(resources)
    automation = evaluate_automation_conditions(defs, instance)  # the daemon's first tick
    cursor: str | None = None
    scores, urls = [], []
    for attempt in range(2):
        train_and_promote(resources["wandb"], score=0.8 + attempt / 10)
        tick = sensor_tick(defs, instance, cursor)
        cursor = tick.cursor
        for event in tick.asset_events:
            metadata = getattr(event, "metadata", {})
            urls += [metadata[key].value for key in ("wandb_artifact_url", "wandb_run_url")]
        if tick.run_requests:  # the sensor asks for a run of ``deployment``
            materialize(assets, selection=[deployment], instance=instance, resources=resources)
        automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
        if automation.get_requested_partitions(evaluation.key):  # eager: a dependency changed
            result = materialize(
                assets, selection=[evaluation], instance=instance, resources=resources
            )
            scores.append(result.output_for_node("evaluation"))
            # The automation daemon's next tick sees the run done (nothing more to request).
            automation = evaluate_automation_conditions(defs, instance, cursor=automation.cursor)
    checks = defs.resolve_job_def("wandb_model_checks").execute_in_process(instance=instance)
    results = {
        evaluation_.asset_key.to_user_string(): (evaluation_.passed, evaluation_.description)
        for evaluation_ in checks.get_asset_check_evaluations()
    }
    return {"scores": scores, "urls": urls, "checks": results}
