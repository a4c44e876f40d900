"""The guide's partitioned ``@op`` job: one artifact per partition, ``<name>.<key>``."""

from dagster import OpExecutionContext, Out, StaticPartitionsDefinition, job, op

REGIONS = StaticPartitionsDefinition(["eu", "us", "asia"])


@op(
    out=Out(
        metadata={"wandb_artifact_configuration": {"name": "regional_sales", "type": "dataset"}},
        io_manager_key="wandb_artifacts_manager",
    )
)
def regional_sales(context: OpExecutionContext) -> dict[str, int]:
    return {"region_length": len(context.partition_key)}


@job(partitions_def=REGIONS)
def partitioned_job_example() -> None:
    regional_sales()


jobs = [partitioned_job_example]
