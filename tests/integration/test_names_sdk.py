"""Derived artifact names, W&B's name and alias rules, and read error texts, through the
real wandb SDK against the local W&B-compatible server.

- every name the IO manager derives (asset key path, partition segments, multi-dimensional
  keys, ``name`` given in configuration plus a partition) is accepted by W&B, and the
  reader derives the same one;
- our load-time verdict on a name or alias is the SDK's and the server's;
- a misspelled ``get`` or ``get_path`` and a missing artifact each give one message that
  says what to use or check.
"""

from typing import Any

import pytest
import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetSpec,
    DagsterInstance,
    Definitions,
    DynamicPartitionsDefinition,
    ExecuteInProcessResult,
    In,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    Out,
    StaticPartitionsDefinition,
    asset,
    job,
    materialize,
    op,
)

from dagster_wandb_v2 import (
    WandbArtifactNotFoundError,
    WandbConfigurationError,
    validate_definitions,
)
from dagster_wandb_v2.naming import asset_artifact_name, partition_artifact_name
from dagster_wandb_v2.testing import FakeWandb
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.wandb_rules import alias_problem, artifact_name_problem

IO = "wandb_artifacts_manager"
S3_KEY = "s3://my-bucket/raw/" + "year=2024/month=01/day=01/" * 5 + "part-00000.parquet"
"""A partition key as a sensor on S3 would add it: 149 characters, with '/', ':' and '='."""


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _collections(project: LocalWandbProject) -> set[str]:
    """The artifact (collection) names W&B holds in the test's project."""
    api = project.api()
    return {
        collection.name
        for artifact_type in api.artifact_types(f"{project.entity}/{project.project}")
        for collection in artifact_type.collections()
    }


def _error_of(result: ExecuteInProcessResult) -> Any:
    """The IO manager's error of the failed step (below Dagster's wrapper)."""
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    while not error.message.startswith("dagster_wandb_v2.errors.") and error.cause is not None:
        error = error.cause
    return error


# --- derived names ----------------------------------------------------------------------


def test_a_dynamic_partition_keyed_by_a_long_s3_path_is_written_and_read_back(
    local_wandb: LocalWandbProject,
) -> None:
    files = DynamicPartitionsDefinition(name="files")

    @asset(partitions_def=files, metadata=_config(type="dataset"), io_manager_key=IO)
    def raw(context: AssetExecutionContext) -> str:
        return f"content of {context.partition_key}"

    @asset(ins={"raw": AssetIn(input_manager_key=IO)})
    def parsed(raw: dict[str, str]) -> dict[str, str]:
        return raw

    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("files", [S3_KEY, "short"])
    resources = local_wandb.resources()
    for key in (S3_KEY, "short"):
        materialize([raw], resources=resources, instance=instance, partition_key=key)
    result = materialize([raw.to_source_asset(), parsed], resources=resources, instance=instance)
    assert result.output_for_node("parsed") == {
        key: f"content of {key}" for key in (S3_KEY, "short")
    }

    name = partition_artifact_name("raw", S3_KEY)
    assert len(name) == 128
    assert name.startswith("raw.s3---my-bucket-raw-year-2024-month-01-day-01-")
    assert name.endswith("-part-00000.parquet-" + name.rsplit("-", 1)[1])
    assert _collections(local_wandb) == {name, "raw.short"}
    stored = local_wandb.api().artifact(local_wandb.path(f"{name}:latest"))
    assert stored.metadata["source_integration"] == "dagster_wandb_v2"


def test_a_long_key_prefix_names_a_valid_artifact_that_the_reader_finds(
    local_wandb: LocalWandbProject,
) -> None:
    prefix = ["warehouse", "team_" + "x" * 130]

    @asset(key_prefix=prefix, metadata=_config(type="dataset"), io_manager_key=IO)
    def table() -> list[int]:
        return [1, 2, 3]

    @asset(ins={"table": AssetIn(key=AssetKey([*prefix, "table"]), input_manager_key=IO)})
    def total(table: list[int]) -> int:
        return sum(table)

    result = materialize([table, total], resources=local_wandb.resources())
    assert result.output_for_node("total") == 6
    name = asset_artifact_name(AssetKey([*prefix, "table"]))
    assert len(name) == 128 and name.startswith("warehouse__team_xxx")
    assert _collections(local_wandb) == {name}


def test_multi_dimensional_keys_with_dots_get_one_artifact_each(
    local_wandb: LocalWandbProject,
) -> None:
    dims = MultiPartitionsDefinition(
        {
            "model": StaticPartitionsDefinition(["a", "a.b"]),
            "version": StaticPartitionsDefinition(["b.c", "c"]),
        }
    )
    first = MultiPartitionKey({"model": "a.b", "version": "c"})
    second = MultiPartitionKey({"model": "a", "version": "b.c"})

    @asset(partitions_def=dims, metadata=_config(type="dataset"), io_manager_key=IO)
    def scores(context: AssetExecutionContext) -> str:
        return str(context.partition_key)

    @asset(ins={"scores": AssetIn(input_manager_key=IO)})
    def every(scores: dict[str, str]) -> dict[str, str]:
        return scores

    resources = local_wandb.resources()
    for key in (first, second):
        materialize([scores], resources=resources, partition_key=key)
    names = {partition_artifact_name("scores", key) for key in (first, second)}
    assert len(names) == 2
    assert names <= _collections(local_wandb)

    @asset(
        partitions_def=dims,
        ins={"scores": AssetIn(input_manager_key=IO)},
    )
    def same(scores: str) -> str:
        return scores

    for key in (first, second):
        read = materialize(
            [scores.to_source_asset(), same], resources=resources, partition_key=key
        ).output_for_node("same")
        assert read == str(key)


def test_an_op_output_named_in_configuration_with_a_long_partition_key(
    local_wandb: LocalWandbProject,
) -> None:
    keys = StaticPartitionsDefinition([S3_KEY])

    @op(out=Out(io_manager_key=IO, metadata=_config(name="model_" + "m" * 100, type="model")))
    def train() -> dict[str, float]:
        return {"accuracy": 0.9}

    @op(ins={"model": In(input_manager_key=IO, metadata=_config(name="model_" + "m" * 100))})
    def evaluate(model: dict[str, float]) -> float:
        return model["accuracy"]

    @job(partitions_def=keys)
    def pipeline() -> None:
        evaluate(train())

    defs = Definitions(jobs=[pipeline], resources=local_wandb.resources())
    validate_definitions(defs)
    result = defs.get_job_def("pipeline").execute_in_process(partition_key=S3_KEY)
    assert result.output_for_node("evaluate") == 0.9
    assert _collections(local_wandb) == {partition_artifact_name("model_" + "m" * 100, S3_KEY)}


# --- W&B's rules, at load time ----------------------------------------------------------


def test_load_time_reports_what_would_fail_at_run_time(local_wandb: LocalWandbProject) -> None:
    keys = StaticPartitionsDefinition(["a b", "a-b-7dbde9", S3_KEY])

    @asset(
        partitions_def=keys,
        metadata=_config(type="dataset", aliases=["v2", "Best", "best"]),
        io_manager_key=IO,
    )
    def clashing() -> int:
        return 1

    @asset(
        metadata=_config(
            type="model",
            link_to=[{"target_path": "wandb-registry-model/" + "c" * 129}],
        ),
        io_manager_key=IO,
    )
    def linked() -> int:
        return 1

    @asset(ins={"linked": AssetIn(input_manager_key=IO, metadata=_config(alias="v1"))})
    def reader(linked: int) -> int:
        return linked

    defs = Definitions(assets=[clashing, linked, reader], resources=local_wandb.resources())
    with pytest.raises(WandbConfigurationError) as error:
        validate_definitions(defs)
    out = "wandb_artifact_configuration"
    assert error.value.problems == [
        f"asset 'clashing', output 'result': {out}.aliases: invalid alias 'v2': W&B reserves "
        "'v<number>' for the version numbers it gives itself (v0, v1, ...)",
        f"asset 'clashing', output 'result': {out}.aliases: 'Best' and 'best' differ only in "
        "letter case; W&B keeps one alias per letter case in a collection",
        "asset 'clashing', output 'result': partitions 'a b' and 'a-b-7dbde9' would both be "
        "written to the W&B artifact 'clashing.a-b-7dbde9'; rename one of the partition keys",
        f"asset 'linked', output 'result': {out}.link_to.0.target_path: registry collection: "
        f"artifact name '{'c' * 129}' is longer than 128 characters",
        f"asset 'reader', input 'linked': {out}.alias: 'v1' is a version, not an alias; use "
        "'version': 'v1'",
    ]


NAMES = ["ok-name_1.0", "x" * 128, "x" * 129, "a b", "a|b", "é"]
ALIASES = ["best", "latest", "prod-2024.01", "v2", "v10", "v2-candidate", "a b", "x" * 129]


def test_our_verdict_on_names_and_aliases_is_the_sdk_and_servers(
    local_wandb: LocalWandbProject, fake_wandb: FakeWandb
) -> None:
    """Each name and alias is logged with the plain SDK (and into the fake); W&B takes it
    (a name: the version is logged; an alias: the version carries it) exactly when our
    load-time check finds no problem, and so does the fake. W&B ignores a ``v<number>``
    alias instead of refusing it (docs: "Alias limits"), so it is never set."""
    api = wandb.Api(api_key=local_wandb.api_key, overrides={"base_url": local_wandb.base_url})
    run = wandb.init(entity=local_wandb.entity, project=local_wandb.project, reinit="create_new")
    prefix = f"{local_wandb.entity}/{local_wandb.project}"

    def on_server(artifact: wandb.Artifact, aliases: list[str]) -> list[str]:
        run.log_artifact(artifact, aliases=aliases).wait()
        return list(api.artifact(f"{prefix}/{artifact.name.split(':')[0]}:latest").aliases)

    def in_fake(artifact: wandb.Artifact, aliases: list[str]) -> list[str]:
        return list(fake_wandb.store(artifact, aliases=aliases).aliases)

    try:
        for index, value in enumerate([*NAMES, *ALIASES]):
            is_name = index < len(NAMES)
            verdicts = []
            for log in (on_server, in_fake):
                try:
                    name = value if is_name else f"alias-case-{index}"
                    artifact = wandb.Artifact(name, "dataset")
                    with artifact.new_file("x.txt") as file:
                        file.write(str(index))
                    aliases = log(artifact, ["latest"] if is_name else [value])
                    verdicts.append(is_name or value in aliases)
                except (ValueError, wandb.Error):
                    verdicts.append(False)
            problem = artifact_name_problem(value) if is_name else alias_problem(value)
            assert verdicts == [problem is None] * 2, (value, problem)
    finally:
        run.finish()


# --- read error texts -------------------------------------------------------------------


CONTENTS = (
    "W&B objects in it (names for get): Table; files (paths for get_path): Table.table.json, "
    "data.csv"
)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"get": "Tabel"},
            "wandb_artifact_configuration.get: no W&B object named 'Tabel' in artifact "
            f"'scores:latest'. Did you mean 'Table'? {CONTENTS}",
        ),
        (
            {"get": "data.csv"},
            "wandb_artifact_configuration.get: no W&B object named 'data.csv' in artifact "
            f"'scores:latest'. 'data.csv' is a file, not a W&B object: use get_path. {CONTENTS}",
        ),
        (
            {"get_path": "dta.csv"},
            "wandb_artifact_configuration.get_path: no file 'dta.csv' in artifact "
            f"'scores:latest'. Did you mean 'data.csv'? {CONTENTS}",
        ),
    ],
)
def test_a_misspelled_get_or_get_path_says_what_to_use(
    local_wandb: LocalWandbProject, config: dict[str, str], expected: str
) -> None:
    @asset(io_manager_key=IO)
    def scores() -> wandb.Artifact:
        artifact = wandb.Artifact("scores", "dataset")
        artifact.add(wandb.Table(columns=["a"], data=[[1]]), "Table")
        with artifact.new_file("data.csv") as file:
            file.write("a\n1\n")
        return artifact

    @asset(ins={"scores": AssetIn(input_manager_key=IO, metadata=_config(**config))})
    def reader(scores: Any) -> Any:
        return scores

    resources = local_wandb.resources()
    materialize([scores], resources=resources)
    result = materialize(
        [scores.to_source_asset(), reader], resources=resources, raise_on_error=False
    )
    error = _error_of(result)
    assert error.message.strip() == (
        "dagster_wandb_v2.errors.WandbArtifactsIOManagerError: asset 'reader', input "
        f"'scores': {expected}"
    )


def test_a_missing_artifact_is_one_message_saying_what_to_check(
    local_wandb: LocalWandbProject,
) -> None:
    missing = AssetSpec(["lake", "labels"]).with_io_manager_key(IO)

    @asset(ins={"labels": AssetIn(key=["lake", "labels"], metadata=_config(alias="gold"))})
    def reader(labels: Any) -> Any:
        return labels

    result = materialize([missing, reader], resources=local_wandb.resources(), raise_on_error=False)
    error = _error_of(result)
    where = f"{local_wandb.entity}/{local_wandb.project}"
    assert error.message.strip() == (
        "dagster_wandb_v2.errors.WandbArtifactNotFoundError: asset 'reader', input 'labels': "
        f"W&B artifact '{where}/lake__labels:gold' was not found. Check that asset "
        "'lake/labels' was materialized to W&B (an asset made outside Dagster: logged as "
        "'lake__labels'), that WandbResource's entity and project are the ones it went to "
        f"('{where}') and that one of its versions has the alias 'gold'"
    )
    assert error.cause is None and error.context is None  # said once, not once per layer


def test_a_missing_partition_names_the_partition(local_wandb: LocalWandbProject) -> None:
    colors = StaticPartitionsDefinition(["red", "blue"])
    missing = AssetSpec("paint", partitions_def=colors).with_io_manager_key(IO)

    @asset(partitions_def=colors, ins={"paint": AssetIn(metadata=_config(version="v3"))})
    def mixed(paint: Any) -> Any:
        return paint

    with pytest.raises(WandbArtifactNotFoundError) as error:
        materialize([missing, mixed], resources=local_wandb.resources(), partition_key="blue")
    where = f"{local_wandb.entity}/{local_wandb.project}"
    assert str(error.value) == (
        f"asset 'mixed', input 'paint': W&B artifact '{where}/paint.blue:v3' was not found. "
        "Check that partition 'blue' of asset 'paint' was materialized to W&B (an asset made "
        "outside Dagster: logged as 'paint.blue'), that WandbResource's entity and project are "
        f"the ones it went to ('{where}') and that it has a version 'v3'"
    )
