"""A corpus of invalid configurations: where each one is caught, and the exact error.

Every case names the asset or op, the input or output, and the key in its error text.
``LOAD`` cases surface at ``validate_definitions(Definitions(...))``, before any run;
``RUN`` cases cannot be known then (they depend on the returned value, on files or W&B
content at run time, or on the run's environment): ``validate_definitions`` accepts them
and the run fails with the text. ``CONSTRUCTION`` cases are rejected when the resource
object itself is built.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
import wandb
from dagster import (
    AssetIn,
    AssetOut,
    AssetsDefinition,
    BackfillPolicy,
    DagsterInvalidDefinitionError,
    Definitions,
    EnvVar,
    In,
    JobDefinition,
    Out,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
    job,
    materialize,
    multi_asset,
    op,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from pydantic import ValidationError

from dagster_wandb_v2 import (
    WandbArtifactNotFoundError,
    WandbArtifactsIOManager,
    WandbArtifactsIOManagerError,
    WandbResource,
    validate_definitions,
)
from dagster_wandb_v2.testing import FakeWandb

IO = "wandb_artifacts_manager"
KEY = "wandb_artifact_configuration"
LEGACY_KEY = "wandb_artifact_arguments"
OUT = "asset 'my_asset', output 'result'"
IN = "asset 'reader', input 'my_asset'"
COLORS = StaticPartitionsDefinition(["red", "blue"])
ABSENT = object()
"""No configuration at all in the metadata."""


# --- builders ----------------------------------------------------------------------------


def writer(
    config: Any = ABSENT,
    *,
    value: Callable[[], Any] = lambda: [1, 2],
    returns: Any = Any,
    metadata: Mapping[str, Any] | None = None,
    partitions_def: PartitionsDefinition | None = None,
    name: str = "my_asset",
) -> AssetsDefinition:
    """An asset writing ``value()`` through the W&B IO manager with ``config``."""

    def compute() -> Any:
        return value()

    compute.__annotations__ = {"return": returns}
    if metadata is None:
        metadata = {} if config is ABSENT else {KEY: config}
    return asset(
        name=name,
        metadata=dict(metadata),
        io_manager_key=IO,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run() if partitions_def else None,
    )(compute)


def reader(
    config: Any,
    *,
    partitions_def: PartitionsDefinition | None = None,
) -> AssetsDefinition:
    """An asset ``reader`` reading ``my_asset`` through the W&B IO manager with ``config``."""

    @asset(
        name="reader",
        ins={"my_asset": AssetIn(metadata={KEY: config}, input_manager_key=IO)},
        partitions_def=partitions_def,
    )
    def compute(my_asset: Any) -> Any:
        return my_asset

    return compute


UPSTREAM = writer({"type": "dataset"})
UPSTREAM_COLORS = writer({"type": "dataset"}, partitions_def=COLORS)


def op_job(out_config: Any = ABSENT, in_config: Any = ABSENT) -> JobDefinition:
    """A job of ops writing and/or reading through the W&B IO manager."""
    out_metadata = {} if out_config is ABSENT else {KEY: out_config}
    in_metadata = {} if in_config is ABSENT else {KEY: in_config}

    @op(name="my_op", out=Out(io_manager_key=IO, metadata=out_metadata))
    def my_op() -> list[int]:
        return [1]

    @op(name="my_reader", ins={"value": In(input_manager_key=IO, metadata=in_metadata)})
    def my_reader(value: Any) -> None:
        del value

    @job(name="my_job")
    def my_job() -> None:
        if out_config is not ABSENT:
            my_op()
        if in_config is not ABSENT:
            my_reader()

    return my_job


@multi_asset(
    outs={
        "first": AssetOut(io_manager_key=IO, metadata={KEY: {"name": "renamed", "type": "t"}}),
        "second": AssetOut(io_manager_key=IO, metadata={KEY: {"type": "t"}}),
    }
)
def two_assets() -> tuple[int, int]:
    return 1, 2


# --- the corpus --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One invalid configuration, where it is caught, and the exact problems reported."""

    assets: list[Any]
    problems: list[str]
    when: Literal["load", "run"] = "load"
    jobs: list[Any] = field(default_factory=list)
    run: Callable[[dict[str, Any], FakeWandb], Any] | None = None
    """For ``run`` cases: what to execute (default: materialize every asset)."""
    error: type[Exception] = WandbArtifactsIOManagerError


def _materialize_all(case: Case) -> Callable[[dict[str, Any], FakeWandb], Any]:
    return lambda resources, fake: materialize(case.assets, resources=resources)


def _read_after_write(
    upstream: AssetsDefinition, downstream: AssetsDefinition
) -> Callable[[dict[str, Any], FakeWandb], Any]:
    def run(resources: dict[str, Any], fake: FakeWandb) -> Any:
        assert materialize([upstream], resources=resources).success
        return materialize([upstream, downstream], resources=resources, selection=["reader"])

    return run


def _two_partitions(resources: dict[str, Any], fake: FakeWandb) -> Any:
    tags = {ASSET_PARTITION_RANGE_START_TAG: "red", ASSET_PARTITION_RANGE_END_TAG: "blue"}
    return materialize(
        [writer({"type": "dataset"}, partitions_def=COLORS, value=lambda: [1])],
        resources=resources,
        tags=tags,
    )


def _table() -> wandb.Table:
    return wandb.Table(columns=["a"], data=[[1]])


def _logged_artifact() -> wandb.Artifact:
    artifact = wandb.Artifact("my_asset", "dataset", description="mine")
    with artifact.new_file("notes.txt") as file:
        file.write("hello")
    return artifact


PICKLE_SUGGESTION = (
    "Try another serialization_module (dill, cloudpickle, joblib), or return a wandb "
    "object or a wandb.Artifact."
)

CASES: dict[str, Case] = {
    # --- outputs: shape and types (load) -----------------------------------------------
    "unknown_key": Case(
        [writer({"type": "dataset", "alises": ["best"]})],
        [f"{OUT}: {KEY}.alises: unknown key (did you mean 'aliases'?)"],
    ),
    "config_not_a_dict": Case(
        [writer(["type", "dataset"])],
        [f"{OUT}: {KEY}: input should be a valid dictionary (got list)"],
    ),
    "aliases_not_a_list": Case(
        [writer({"type": "dataset", "aliases": "best"})],
        [f"{OUT}: {KEY}.aliases: input should be a valid list (got str)"],
    ),
    "type_not_a_string": Case(
        [writer({"type": 3})],
        [f"{OUT}: {KEY}.type: input should be a valid string (got int)"],
    ),
    "read_key_on_an_output": Case(
        [writer({"type": "dataset", "get": "Table"})],
        [f"{OUT}: {KEY}.get: only used when reading (on an input), not on an output"],
    ),
    "both_metadata_keys": Case(
        [writer(metadata={KEY: {"type": "dataset"}, LEGACY_KEY: {"type": "dataset"}})],
        [f"{OUT}: both '{KEY}' and '{LEGACY_KEY}' are set in metadata; keep only '{KEY}'"],
    ),
    # --- outputs: names and aliases W&B rejects (load) ----------------------------------
    "name_on_an_asset": Case(
        [writer({"type": "dataset", "name": "other"})],
        [
            f"{OUT}: {KEY}.name: not allowed here, the artifact is named after the asset "
            "key; remove 'name'"
        ],
    ),
    "name_on_a_multi_asset_output": Case(
        [two_assets],
        [
            f"asset 'first', output 'first': {KEY}.name: not allowed here, the artifact is "
            "named after the asset key; remove 'name'"
        ],
    ),
    "op_output_without_name": Case(
        [],
        [
            f"op 'my_op', output 'result': {KEY}.name: required for an output that is not "
            "an asset (there is no asset key to name the artifact after)"
        ],
        jobs=[op_job(out_config={"type": "dataset"})],
    ),
    "name_with_a_slash": Case(
        [],
        [
            f"op 'my_op', output 'result': {KEY}.name: invalid artifact name 'team/model': "
            "W&B allows only letters, digits, '-', '_' and '.'"
        ],
        jobs=[op_job(out_config={"type": "dataset", "name": "team/model"})],
    ),
    "name_too_long": Case(
        [],
        [
            f"op 'my_op', output 'result': {KEY}.name: artifact name '{'m' * 129}' is "
            "longer than 128 characters"
        ],
        jobs=[op_job(out_config={"type": "dataset", "name": "m" * 129})],
    ),
    "empty_name": Case(
        [],
        [f"op 'my_op', output 'result': {KEY}.name: artifact name must not be empty"],
        jobs=[op_job(out_config={"type": "dataset", "name": ""})],
    ),
    "alias_with_a_colon": Case(
        [writer({"type": "dataset", "aliases": ["best:1"]})],
        [f"{OUT}: {KEY}.aliases: invalid alias 'best:1': W&B aliases cannot contain ':'"],
    ),
    "alias_with_a_slash": Case(
        [writer({"type": "dataset", "aliases": ["a/b"]})],
        [f"{OUT}: {KEY}.aliases: invalid alias 'a/b': W&B aliases cannot contain '/'"],
    ),
    "empty_alias": Case(
        [writer({"type": "dataset", "aliases": [""]})],
        [f"{OUT}: {KEY}.aliases: an alias must not be empty"],
    ),
    # --- outputs: serialization (load) --------------------------------------------------
    "unknown_serialization_module": Case(
        [writer({"type": "dataset", "serialization_module": {"name": "yaml"}})],
        [
            f"{OUT}: {KEY}.serialization_module.name: got 'yaml', expected one of 'pickle', "
            "'dill', 'cloudpickle' or 'joblib'"
        ],
    ),
    "serialization_module_typo": Case(
        [writer({"type": "dataset", "serialization_module": {"name": "dill", "params": {}}})],
        [f"{OUT}: {KEY}.serialization_module.params: unknown key (did you mean 'parameters'?)"],
    ),
    "serialization_module_not_installed": Case(
        [writer({"type": "dataset", "serialization_module": {"name": "joblib"}})],
        [
            f"{OUT}: {KEY}.serialization_module.name: module 'joblib' is not installed "
            "(pip install 'dagster-wandb-v2[joblib]' or pip install joblib)"
        ],
    ),
    "unknown_dump_parameter": Case(
        [
            writer(
                {
                    "type": "dataset",
                    "serialization_module": {"name": "joblib", "parameters": {"compresss": 3}},
                }
            )
        ],
        [
            f"{OUT}: {KEY}.serialization_module.parameters.compresss: unknown argument of "
            "joblib.dump (did you mean 'compress'?)"
        ],
    ),
    # --- outputs: add_files/add_dirs/add_references (load) ------------------------------
    "add_files_wrong_argument": Case(
        [writer({"type": "dataset", "add_files": [{"path": "data.csv"}]})],
        [
            f"{OUT}: {KEY}.add_files.0.path: unknown argument of wandb.Artifact.add_file",
            f"{OUT}: {KEY}.add_files.0: missing required argument(s) of "
            "wandb.Artifact.add_file: local_path",
        ],
    ),
    "add_references_without_uri": Case(
        [writer({"type": "dataset", "add_references": [{"name": "ref"}]})],
        [
            f"{OUT}: {KEY}.add_references.0: missing required argument(s) of "
            "wandb.Artifact.add_reference: uri"
        ],
    ),
    "add_dirs_not_a_list": Case(
        [writer({"type": "dataset", "add_dirs": {"local_path": "data"}})],
        [f"{OUT}: {KEY}.add_dirs: input should be a valid list (got dict)"],
    ),
    # --- outputs: W&B Registry and TTL (load) -------------------------------------------
    "link_to_not_a_registry_path": Case(
        [writer({"type": "model", "link_to": [{"target_path": "model-registry/best"}]})],
        [
            f"{OUT}: {KEY}.link_to.0.target_path: 'model-registry/best' is not a registry "
            "path; expected 'wandb-registry-<registry>/<collection>' (e.g. "
            "'wandb-registry-model/my_model'), optionally prefixed by '<org>/'"
        ],
    ),
    "link_to_without_target_path": Case(
        [writer({"type": "model", "link_to": [{"aliases": ["production"]}]})],
        [f"{OUT}: {KEY}.link_to.0.target_path: required key missing"],
    ),
    "link_to_alias_with_a_colon": Case(
        [
            writer(
                {
                    "type": "model",
                    "link_to": [{"target_path": "wandb-registry-model/m", "aliases": ["p:1"]}],
                }
            )
        ],
        [f"{OUT}: {KEY}.link_to.0.aliases: invalid alias 'p:1': W&B aliases cannot contain ':'"],
    ),
    "ttl_not_a_duration": Case(
        [writer({"type": "model", "ttl": "30 days"})],
        [
            f"{OUT}: {KEY}.ttl: '30 days' is not a duration; use e.g. '30d', '12h', "
            "'1d12h', a number of seconds, or 'inherit'"
        ],
    ),
    "ttl_zero": Case(
        [writer({"type": "model", "ttl": 0})],
        [f"{OUT}: {KEY}.ttl: must be a positive duration, got 0"],
    ),
    # --- outputs: missing resources (load, Dagster's own check) -------------------------
    "io_manager_resource_missing": Case(
        [writer({"type": "dataset"}, name="orphan")],
        [
            "io manager with key 'wandb_artifacts_manager' required by output 'result' of "
            "op 'orphan'' was not provided."
        ],
        error=DagsterInvalidDefinitionError,
    ),
    # --- inputs (load) ------------------------------------------------------------------
    "version_and_alias": Case(
        [UPSTREAM, reader({"version": "v1", "alias": "best"})],
        [f"{IN}: {KEY}: 'version' and 'alias' both given; use only one (neither means 'latest')"],
    ),
    "get_and_get_path": Case(
        [UPSTREAM, reader({"get": "Table", "get_path": "a.csv"})],
        [
            f"{IN}: {KEY}: 'get' and 'get_path' both given; use only one (neither returns "
            "the whole artifact)"
        ],
    ),
    "version_not_vN": Case(
        [UPSTREAM, reader({"version": "3"})],
        [f"{IN}: {KEY}.version: '3' is not a version; W&B versions look like 'v0', 'v3'"],
    ),
    "input_key_typo": Case(
        [UPSTREAM, reader({"versoin": "v1"})],
        [f"{IN}: {KEY}.versoin: unknown key (did you mean 'version'?)"],
    ),
    "input_alias_with_a_slash": Case(
        [UPSTREAM, reader({"alias": "team/best"})],
        [f"{IN}: {KEY}.alias: invalid alias 'team/best': W&B aliases cannot contain '/'"],
    ),
    "write_key_on_an_input": Case(
        [UPSTREAM, reader({"type": "dataset"})],
        [f"{IN}: {KEY}.type: only used when writing (on an output), not on an input"],
    ),
    "name_on_an_asset_input": Case(
        [UPSTREAM, reader({"name": "other"})],
        [
            f"{IN}: {KEY}.name: not allowed here, the artifact is named after the asset key; "
            "remove 'name', or give 'entity/project/name' or a registry path "
            "'wandb-registry-<registry>/<collection>' to read it from there"
        ],
    ),
    # --- inputs: registry paths and other projects (load) -------------------------------
    "registry_path_with_an_alias_key_too": Case(
        [UPSTREAM, reader({"name": "wandb-registry-model/iris:production", "alias": "best"})],
        [
            f"{IN}: {KEY}.name: 'wandb-registry-model/iris:production' ends in ':production' "
            "and 'alias' is given too; use only one"
        ],
    ),
    "registry_path_read_per_partition": Case(
        [
            UPSTREAM_COLORS,
            reader({"name": "wandb-registry-model/iris"}, partitions_def=COLORS),
        ],
        [
            f"{IN}: {KEY}.name: 'wandb-registry-model/iris' is a W&B Registry collection, "
            "which holds versions, not partitions: it cannot be read per partition; read it "
            "from an unpartitioned input, or read the partitions from their project "
            "('entity/project/name')"
        ],
    ),
    "registry_path_with_partitions_on_an_op_input": Case(
        [],
        [
            f"op 'my_reader', input 'value': {KEY}.name: 'wandb-registry-model/iris' is a W&B "
            "Registry collection, which holds versions, not partitions: it cannot be read per "
            "partition (remove partitions); read it from an unpartitioned input, or read the "
            "partitions from their project ('entity/project/name')"
        ],
        jobs=[
            op_job(
                in_config={"name": "wandb-registry-model/iris", "partitions": {"*": {"get": "t"}}}
            )
        ],
    ),
    "read_path_with_too_many_parts": Case(
        [],
        [
            f"op 'my_reader', input 'value': {KEY}.name: 'a/b/c/d' has 4 parts; expected "
            "'name', 'project/name', 'entity/project/name' or a registry path "
            "'wandb-registry-<registry>/<collection>' (optionally '<org>/' before it), each "
            "with an optional ':alias' or ':v<N>'"
        ],
        jobs=[op_job(in_config={"name": "a/b/c/d"})],
    ),
    "read_path_with_a_bad_collection_and_alias": Case(
        [UPSTREAM, reader({"name": "wandb-registry-model/my model:a/b"})],
        [
            f"{IN}: {KEY}.name: registry collection: invalid artifact name 'my model': W&B "
            "allows only letters, digits, '-', '_' and '.'",
            f"{IN}: {KEY}.name: invalid alias 'a/b': W&B aliases cannot contain '/'",
        ],
    ),
    "read_path_with_a_bad_project": Case(
        [UPSTREAM, reader({"name": "team/my project#1/scores"})],
        [
            f"{IN}: {KEY}.name: Invalid project/registry name 'my project#1', cannot contain "
            "characters: '#'"
        ],
    ),
    "op_input_without_name": Case(
        [],
        [
            f"op 'my_reader', input 'value': {KEY}.name: required for an input that is not "
            "an asset (there is no asset key to name the artifact after)"
        ],
        jobs=[op_job(in_config={"alias": "best"})],
    ),
    # --- inputs: partitions misuse (load) -----------------------------------------------
    "partitions_on_an_unpartitioned_input": Case(
        [UPSTREAM, reader({"partitions": {"*": {"get": "Table"}}})],
        [
            f"{IN}: {KEY}.partitions: only allowed when reading a partitioned asset; this "
            "input is not partitioned"
        ],
    ),
    "legacy_partition_names_on_an_unpartitioned_input": Case(
        [UPSTREAM, reader({"legacy_partition_names": True})],
        [
            f"{IN}: {KEY}.legacy_partition_names: only allowed when reading a partitioned "
            "asset; this input is not partitioned"
        ],
    ),
    "legacy_partition_names_not_a_bool": Case(
        [UPSTREAM_COLORS, reader({"legacy_partition_names": "yes"})],
        [f"{IN}: {KEY}.legacy_partition_names: input should be a valid boolean (got str)"],
    ),
    "get_at_the_top_of_a_partitioned_read": Case(
        [UPSTREAM_COLORS, reader({"get": "Table"})],
        [
            f"{IN}: {KEY}.get: not allowed at the top level of a partitioned read; set it "
            "per partition under 'partitions' (e.g. {'partitions': {'*': {'get': ...}}})"
        ],
    ),
    "empty_partition_configuration": Case(
        [UPSTREAM_COLORS, reader({"partitions": {"*": {}}})],
        [f"{IN}: {KEY}.partitions.*: empty configuration for partition '*'"],
    ),
    "partition_configuration_typo": Case(
        [UPSTREAM_COLORS, reader({"partitions": {"*": {"gett": "Table"}}})],
        [f"{IN}: {KEY}.partitions.*.gett: unknown key (did you mean 'get'?)"],
    ),
    "partition_version_and_alias": Case(
        [UPSTREAM_COLORS, reader({"partitions": {"blue": {"version": "v1", "alias": "a"}}})],
        [
            f"{IN}: {KEY}.partitions.blue: 'version' and 'alias' both given for partition "
            "'blue'; use only one (neither means 'latest')"
        ],
    ),
    "unknown_partition_key": Case(
        [UPSTREAM_COLORS, reader({"partitions": {"bleu": {"alias": "best"}}})],
        [
            f"{IN}: {KEY}.partitions.bleu: asset 'my_asset' has no partition 'bleu' "
            "(its partitions: red, blue)"
        ],
    ),
    # The return annotation tells whether the value will be a wandb.Artifact.
    "type_missing_for_an_annotated_output": Case(
        [writer({}, returns=list[int])],
        [
            f"{OUT}: {KEY}.type: required when the output is not a wandb.Artifact (it is "
            "annotated as 'list[int]'); give e.g. 'dataset' or 'model'"
        ],
    ),
    "type_given_for_an_output_annotated_as_an_artifact": Case(
        [writer({"type": "model"}, returns=wandb.Artifact)],
        [
            f"{OUT}: {KEY}.type: not allowed when the output is a wandb.Artifact (annotated "
            "as returning one, which has its own type); remove 'type'"
        ],
    ),
    # --- known only at run time ---------------------------------------------------------
    # Without a return annotation, whether the value will be a wandb.Artifact is known
    # when it is returned.
    "type_missing": Case(
        [writer({})],
        [
            f"{OUT}: {KEY}.type: required when the output is not a wandb.Artifact "
            "(e.g. 'dataset' or 'model')"
        ],
        when="run",
    ),
    "type_given_for_a_returned_artifact": Case(
        [writer({"type": "model"}, value=lambda: wandb.Artifact("my_asset", "dataset"))],
        [
            f"{OUT}: {KEY}.type: not allowed when the output is a wandb.Artifact (its type "
            "is 'dataset'); remove 'type'"
        ],
        when="run",
    ),
    "description_twice": Case(
        [writer({"description": "theirs"}, value=_logged_artifact)],
        [
            f"{OUT}: {KEY}.description: the returned wandb.Artifact already has a "
            "description; set it in one place only"
        ],
        when="run",
    ),
    "add_files_path_missing": Case(
        [writer({"type": "dataset", "add_files": [{"local_path": "/nonexistent/data.csv"}]})],
        [f"{OUT}: {KEY}.add_files.0: Path is not a file: '/nonexistent/data.csv'"],
        when="run",
    ),
    "unpicklable_value": Case(
        [writer({"type": "model"}, value=lambda: lambda x: x)],
        [
            f"{OUT}: could not serialize an object of type 'function' with 'pickle' "
            "(parameters={}): Can't pickle local object "
            "'<lambda>.<locals>.<lambda>'. " + PICKLE_SUGGESTION
        ],
        when="run",
    ),
    "pickle_protocol_too_high": Case(
        [
            writer(
                {
                    "type": "dataset",
                    "serialization_module": {"name": "pickle", "parameters": {"protocol": 99}},
                }
            )
        ],
        [
            f"{OUT}: could not serialize an object of type 'list' with 'pickle' "
            "(parameters={'protocol': 99}): pickle protocol must be <= 5. " + PICKLE_SUGGESTION
        ],
        when="run",
    ),
    "several_partitions_but_not_a_dict": Case(
        [writer({"type": "dataset"}, partitions_def=COLORS)],
        [
            f"{OUT}: this run materializes 2 partitions, so the output must be a dict keyed "
            "by partition key; got list"
        ],
        when="run",
        run=_two_partitions,
    ),
    "get_names_no_object": Case(
        [writer({"type": "dataset"}, value=_table), reader({"get": "Tabel"})],
        [
            f"{IN}: {KEY}.get: no W&B object named 'Tabel' in artifact 'my_asset:latest'. Did you "
            "mean 'Table'? W&B objects in it (names for get): Table; files (paths for get_path): "
            "Table.table.json"
        ],
        when="run",
        run=_read_after_write(writer({"type": "dataset"}, value=_table), reader({"get": "Tabel"})),
    ),
    "get_path_names_no_file": Case(
        [UPSTREAM, reader({"get_path": "data.csv"})],
        [
            f"{IN}: {KEY}.get_path: no file 'data.csv' in artifact 'my_asset:latest'. W&B objects "
            "in it (names for get): none; files (paths for get_path): output.pickle"
        ],
        when="run",
        run=_read_after_write(UPSTREAM, reader({"get_path": "data.csv"})),
    ),
    "alias_not_found": Case(
        [UPSTREAM, reader({"alias": "gold"})],
        [
            f"{IN}: W&B artifact 'fake-entity/fake-project/my_asset:gold' was not found. Check "
            "that asset 'my_asset' was materialized to W&B (an asset made outside Dagster: "
            "logged as 'my_asset'), that WandbResource's entity and project are the ones it "
            "went to ('fake-entity/fake-project') and that one of its versions has the alias "
            "'gold'"
        ],
        when="run",
        run=_read_after_write(UPSTREAM, reader({"alias": "gold"})),
        error=WandbArtifactNotFoundError,
    ),
}


# --- the tests -------------------------------------------------------------------------


@pytest.fixture
def hide_joblib(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """``serialization_module_not_installed``: joblib as if it were not installed."""
    if request.node.callspec.id == "serialization_module_not_installed":
        monkeypatch.setitem(sys.modules, "joblib", None)


LOAD = {name: case for name, case in CASES.items() if case.when == "load"}
RUN = {name: case for name, case in CASES.items() if case.when == "run"}


def test_the_corpus_is_large_and_every_case_distinct() -> None:
    assert len(CASES) >= 30
    reported = [(case.when, problem) for case in CASES.values() for problem in case.problems]
    assert len(reported) == len(set(reported))


@pytest.mark.parametrize("name", list(LOAD), ids=list(LOAD))
@pytest.mark.usefixtures("hide_joblib")
def test_caught_at_load_time(name: str, fake_wandb_resources: dict[str, Any]) -> None:
    case = LOAD[name]
    resources = dict(fake_wandb_resources)
    if case.error is DagsterInvalidDefinitionError:
        resources.pop(IO)
        resources["other"] = fake_wandb_resources[IO]  # a W&B IO manager, not under IO
    with pytest.raises(case.error) as error:
        validate_definitions(Definitions(assets=case.assets, jobs=case.jobs, resources=resources))
    if isinstance(error.value, WandbArtifactsIOManagerError):
        assert error.value.problems == case.problems  # type: ignore[attr-defined]
    else:
        (problem,) = case.problems
        assert str(error.value).startswith(problem)


@pytest.mark.parametrize("name", list(RUN), ids=list(RUN))
def test_caught_at_run_time(
    name: str, fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    case = RUN[name]
    defs = Definitions(assets=case.assets, jobs=case.jobs, resources=fake_wandb_resources)
    validate_definitions(defs)  # nothing to see before the run
    run = case.run or _materialize_all(case)
    with pytest.raises(case.error) as error:
        run(fake_wandb_resources, fake_wandb)
    assert str(error.value) == "\n".join(case.problems)


def test_an_unset_api_key_variable_fails_the_run_naming_it(tmp_path: Any) -> None:
    """Run time: the variable may be set where runs execute but not where code loads."""
    resource = WandbResource(api_key=EnvVar("DAGSTER_WANDB_V2_UNSET_API_KEY"), project="p")
    resources = {IO: WandbArtifactsIOManager(wandb=resource, base_dir=str(tmp_path))}
    validate_definitions(Definitions(assets=[UPSTREAM], resources=resources))
    with pytest.raises(Exception) as error:
        materialize([UPSTREAM], resources=resources)
    assert "root:config:api_key" in str(error.value)
    assert (
        'You have attempted to fetch the environment variable "DAGSTER_WANDB_V2_UNSET_API_KEY" '
        "which is not set" in str(error.value)
    )


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        (
            lambda: WandbResource(api_key="k", project="p", max_retries=-1),
            "max_retries",
            "Input should be greater than or equal to 0",
        ),
        (
            lambda: WandbResource(api_key="k", project="p", retry_wait_max_seconds=0),
            "retry_wait_max_seconds",
            "Input should be greater than or equal to 1",
        ),
        (
            # (no project is not a build error: WANDB_PROJECT is read when a run starts)
            lambda: WandbResource(api_key="k", request_timeout_seconds=0),
            "request_timeout_seconds",
            "Input should be greater than or equal to 1",
        ),
        (
            lambda: WandbArtifactsIOManager(
                wandb=WandbResource(api_key="k", project="p"), cache_duration_in_minutes=-5
            ),
            "cache_duration_in_minutes",
            "Input should be greater than or equal to 0",
        ),
        (
            lambda: WandbArtifactsIOManager(
                wandb=WandbResource(api_key="k", project="p"), max_concurrent_reads=0
            ),
            "max_concurrent_reads",
            "Input should be greater than or equal to 1",
        ),
    ],
    ids=[
        "negative_max_retries",
        "zero_retry_wait",
        "zero_request_timeout",
        "negative_cache_duration",
        "no_concurrent_reads",
    ],
)
def test_caught_when_the_resource_is_built(
    build: Callable[[], Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as error:
        build()
    (detail,) = error.value.errors()
    assert detail["loc"] == (field,)
    assert detail["msg"] == message
