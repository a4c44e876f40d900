"""The guide's ``@op`` examples: outputs and inputs name their artifact with ``name``."""

from dagster import In, OpExecutionContext, Out, job, op

IO_MANAGER = "wandb_artifacts_manager"


@op(
    out=Out(
        metadata={"wandb_artifact_configuration": {"name": "my_op_artifact", "type": "dataset"}},
        io_manager_key=IO_MANAGER,
    )
)
def create_dataset() -> list[int]:
    return [1, 2, 3]


@op(
    ins={
        "artifact": In(
            metadata={"wandb_artifact_configuration": {"name": "my_op_artifact"}},
            input_manager_key=IO_MANAGER,
        )
    },
    out=Out(
        metadata={"wandb_artifact_configuration": {"name": "my_op_total", "type": "result"}},
        io_manager_key=IO_MANAGER,
    ),
)
def read_artifact(context: OpExecutionContext, artifact: list[int]) -> int:
    context.log.info(f"read {artifact}")
    return sum(artifact)


@job
def simple_job_example() -> None:
    read_artifact(create_dataset())


jobs = [simple_job_example]
