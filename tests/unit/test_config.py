"""Validation of ``wandb_artifact_configuration`` into write and read specs."""

from __future__ import annotations

import importlib.util
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dagster_wandb_v2 import config as config_module
from dagster_wandb_v2._location import Location
from dagster_wandb_v2.config import (
    PartitionReadSpec,
    ReadSpec,
    SerializationSpec,
    WriteSpec,
    parse_read_config,
    parse_write_config,
)
from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.read_path import ReadPath

ASSET_OUT = Location("asset", "my_model", "output", "result")
ASSET_IN = Location("asset", "my_model", "input", "data")
OP_OUT = Location("op", "train", "output", "result")
OP_IN = Location("op", "train", "input", "data")

WHERE_OUT = "asset 'my_model', output 'result': wandb_artifact_configuration"
WHERE_IN = "asset 'my_model', input 'data': wandb_artifact_configuration"


def write_problems(
    raw: object, *, location: Location = ASSET_OUT, from_key: bool = True
) -> list[str]:
    with pytest.raises(WandbConfigurationError) as info:
        parse_write_config(raw, location, names_artifact_from_asset_key=from_key)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def read_problems(
    raw: object,
    *,
    location: Location = ASSET_IN,
    from_key: bool = True,
    partitioned: bool | None = None,
) -> list[str]:
    with pytest.raises(WandbConfigurationError) as info:
        parse_read_config(
            raw, location, names_artifact_from_asset_key=from_key, partitioned=partitioned
        )
    return info.value.problems


# --- unknown keys and wrong types -------------------------------------------------------


def test_unknown_key_names_location_key_and_suggestion() -> None:
    assert write_problems({"alises": ["x"]}) == [
        "asset 'my_model', output 'result': wandb_artifact_configuration.alises: "
        "unknown key (did you mean 'aliases'?)"
    ]


def test_unknown_key_without_close_match_lists_known_keys() -> None:
    [problem] = write_problems({"serialization_module": {"zzzzzz": 1}})
    assert problem == (
        f"{WHERE_OUT}.serialization_module.zzzzzz: unknown key (known keys: name, parameters)"
    )


def test_nested_unknown_key_in_serialization_module() -> None:
    assert write_problems({"serialization_module": {"nmae": "dill"}}) == [
        f"{WHERE_OUT}.serialization_module.nmae: unknown key (did you mean 'name'?)"
    ]


def test_nested_unknown_key_in_a_partition() -> None:
    assert read_problems({"partitions": {"2024-01-01": {"gett": "table"}}}) == [
        f"{WHERE_IN}.partitions.2024-01-01.gett: unknown key (did you mean 'get'?)"
    ]


def test_wrong_types_name_the_key() -> None:
    problems = write_problems({"aliases": "x", "type": 3})
    assert sorted(problems) == sorted(
        [
            f"{WHERE_OUT}.aliases: input should be a valid list (got str)",
            f"{WHERE_OUT}.type: input should be a valid string (got int)",
        ]
    )


def test_wrong_type_of_an_alias_item_names_its_index() -> None:
    assert write_problems({"aliases": ["ok", 7]}) == [
        f"{WHERE_OUT}.aliases.1: input should be a valid string (got int)"
    ]


def test_configuration_must_be_a_dict() -> None:
    [problem] = write_problems(["type", "dataset"])
    assert problem.startswith("asset 'my_model', output 'result': wandb_artifact_configuration: ")
    assert "(got list)" in problem


def test_unknown_serialization_module_lists_allowed_values() -> None:
    assert write_problems({"serialization_module": {"name": "yaml"}}) == [
        f"{WHERE_OUT}.serialization_module.name: got 'yaml', expected one of "
        "'pickle', 'dill', 'cloudpickle' or 'joblib'"
    ]


def test_serialization_module_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "dill" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(config_module.importlib.util, "find_spec", find_spec)
    assert write_problems({"serialization_module": {"name": "dill"}}) == [
        f"{WHERE_OUT}.serialization_module.name: module 'dill' is not installed "
        "(pip install 'dagster-wandb-v2[dill]' or pip install dill)"
    ]
    # Other modules are still accepted.
    spec = parse_write_config(
        {"serialization_module": {"name": "joblib"}},
        ASSET_OUT,
        names_artifact_from_asset_key=True,
    )
    assert spec.serialization.module == "joblib"


# --- name -------------------------------------------------------------------------------


def test_name_is_forbidden_on_an_asset_output() -> None:
    assert write_problems({"name": "other", "type": "model"}) == [
        f"{WHERE_OUT}.name: not allowed here, the artifact is named after the asset key; "
        "remove 'name'"
    ]


def test_name_is_forbidden_on_an_asset_input() -> None:
    assert read_problems({"name": "other"}) == [
        f"{WHERE_IN}.name: not allowed here, the artifact is named after the asset key; "
        "remove 'name', or give 'entity/project/name' or a registry path "
        "'wandb-registry-<registry>/<collection>' to read it from there"
    ]


def test_an_asset_input_may_read_from_a_registry_or_another_project() -> None:
    registry = parse_read_config(
        {"name": "wandb-registry-model/iris:production", "get_path": "model.pkl"},
        ASSET_IN,
        names_artifact_from_asset_key=True,
        partitioned=False,
    )
    assert registry.path == ReadPath("iris", "wandb-registry-model", None, "production")
    assert (registry.alias, registry.version, registry.qualifier) == (
        "production",
        None,
        "production",
    )
    assert registry.path.artifact_path("me", "proj") == "wandb-registry-model/iris"
    other = parse_read_config(
        {"name": "team/shared/scores:v3"},
        ASSET_IN,
        names_artifact_from_asset_key=True,
        partitioned=True,
    )
    assert other.for_partition("a").qualifier == "v3"
    assert other.path is not None
    assert other.path.artifact_path("me", "proj", "scores.a") == "team/shared/scores.a"
    org = parse_read_config(
        {"name": "acme/wandb-registry-model/iris", "version": "v1"},
        OP_IN,
        names_artifact_from_asset_key=False,
    )
    assert org.path is not None and org.path.registry == "model"
    assert org.path.artifact_path("me", "proj") == "acme/wandb-registry-model/iris"
    assert org.qualifier == "v1"


def test_name_is_required_on_an_op_output() -> None:
    assert write_problems({"type": "model"}, location=OP_OUT, from_key=False) == [
        "op 'train', output 'result': wandb_artifact_configuration.name: required for an "
        "output that is not an asset (there is no asset key to name the artifact after)"
    ]


def test_name_is_required_on_an_op_output_without_any_configuration() -> None:
    assert write_problems(None, location=OP_OUT, from_key=False) == [
        "op 'train', output 'result': wandb_artifact_configuration.name: required for an "
        "output that is not an asset (there is no asset key to name the artifact after)"
    ]


def test_name_is_required_on_an_op_input() -> None:
    assert read_problems({"alias": "best"}, location=OP_IN, from_key=False) == [
        "op 'train', input 'data': wandb_artifact_configuration.name: required for an "
        "input that is not an asset (there is no asset key to name the artifact after)"
    ]


@pytest.mark.parametrize("bad_name", ["a/b", "my model", "model:v1"])
def test_invalid_artifact_name(bad_name: str) -> None:
    assert write_problems({"name": bad_name}, location=OP_OUT, from_key=False) == [
        f"op 'train', output 'result': wandb_artifact_configuration.name: invalid artifact "
        f"name '{bad_name}': W&B allows only letters, digits, '-', '_' and '.'"
    ]


def test_empty_and_too_long_artifact_names() -> None:
    assert write_problems({"name": ""}, location=OP_OUT, from_key=False) == [
        "op 'train', output 'result': wandb_artifact_configuration.name: artifact name must "
        "not be empty"
    ]
    long_name = "a" * 129
    assert write_problems({"name": long_name}, location=OP_OUT, from_key=False) == [
        f"op 'train', output 'result': wandb_artifact_configuration.name: artifact name "
        f"'{long_name}' is longer than 128 characters"
    ]
    spec = parse_write_config({"name": "a" * 128}, OP_OUT, names_artifact_from_asset_key=False)
    assert spec.name == "a" * 128


# --- selectors and aliases -------------------------------------------------------------


def test_version_and_alias_together() -> None:
    assert read_problems({"version": "v1", "alias": "best"}) == [
        f"{WHERE_IN}: 'version' and 'alias' both given; use only one (neither means 'latest')"
    ]


def test_get_and_get_path_together() -> None:
    assert read_problems({"get": "table", "get_path": "file.csv"}) == [
        f"{WHERE_IN}: 'get' and 'get_path' both given; use only one "
        "(neither returns the whole artifact)"
    ]


@pytest.mark.parametrize("version", ["3", "latest", "V3", "v3a", "v"])
def test_version_must_look_like_vn(version: str) -> None:
    assert read_problems({"version": version}) == [
        f"{WHERE_IN}.version: '{version}' is not a version; W&B versions look like 'v0', 'v3'"
    ]


def test_output_aliases_with_slash_or_colon() -> None:
    assert write_problems({"aliases": ["ok", "a/b", "c:d", "e/f:g", ""]}) == [
        f"{WHERE_OUT}.aliases: invalid alias 'a/b': W&B aliases cannot contain '/'",
        f"{WHERE_OUT}.aliases: invalid alias 'c:d': W&B aliases cannot contain ':'",
        f"{WHERE_OUT}.aliases: invalid alias 'e/f:g': W&B aliases cannot contain '/' or ':'",
        f"{WHERE_OUT}.aliases: an alias must not be empty",
    ]


def test_input_alias_with_colon() -> None:
    assert read_problems({"alias": "best:v1"}) == [
        f"{WHERE_IN}.alias: invalid alias 'best:v1': W&B aliases cannot contain ':'"
    ]


# --- SDK keyword arguments -------------------------------------------------------------


def test_add_files_unknown_kwarg_suggests_the_right_one() -> None:
    assert write_problems({"add_files": [{"local_path": "a.txt", "nmae": "a"}]}) == [
        f"{WHERE_OUT}.add_files.0.nmae: unknown argument of wandb.Artifact.add_file "
        "(did you mean 'name'?)"
    ]


def test_add_files_misspelled_required_kwarg_reports_both() -> None:
    assert write_problems({"add_files": [{"local_pth": "a.txt"}]}) == [
        f"{WHERE_OUT}.add_files.0.local_pth: unknown argument of wandb.Artifact.add_file "
        "(did you mean 'local_path'?)",
        f"{WHERE_OUT}.add_files.0: missing required argument(s) of wandb.Artifact.add_file: "
        "local_path",
    ]


def test_add_references_missing_uri_names_the_index() -> None:
    config = {"add_references": [{"uri": "s3://bucket/a"}, {"name": "b"}]}
    assert write_problems(config) == [
        f"{WHERE_OUT}.add_references.1: missing required argument(s) of "
        "wandb.Artifact.add_reference: uri"
    ]


def test_add_dirs_missing_local_path() -> None:
    assert write_problems({"add_dirs": [{"name": "d"}]}) == [
        f"{WHERE_OUT}.add_dirs.0: missing required argument(s) of wandb.Artifact.add_dir: "
        "local_path"
    ]


# --- side of the configuration ---------------------------------------------------------


def test_read_only_key_on_an_output() -> None:
    assert write_problems({"type": "model", "get": "table"}) == [
        f"{WHERE_OUT}.get: only used when reading (on an input), not on an output"
    ]


def test_write_key_on_an_input() -> None:
    assert read_problems({"type": "model"}) == [
        f"{WHERE_IN}.type: only used when writing (on an output), not on an input"
    ]


# --- partitions ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["get", "get_path"])
def test_partitioned_read_rejects_top_level_get(key: str) -> None:
    assert read_problems({key: "x"}, partitioned=True) == [
        f"{WHERE_IN}.{key}: not allowed at the top level of a partitioned read; set it per "
        f"partition under 'partitions' (e.g. {{'partitions': {{'*': {{'{key}': ...}}}}}})"
    ]


def test_partitions_on_an_unpartitioned_read() -> None:
    assert read_problems({"partitions": {"*": {"get": "t"}}}, partitioned=False) == [
        f"{WHERE_IN}.partitions: only allowed when reading a partitioned asset; this input "
        "is not partitioned"
    ]


def test_partition_rules_are_skipped_when_partitioning_is_unknown() -> None:
    spec = parse_read_config(
        {"get": "t", "partitions": {"*": {"get": "u"}}},
        ASSET_IN,
        names_artifact_from_asset_key=True,
        partitioned=None,
    )
    assert spec.get == "t"
    assert spec.for_partition("any").get == "u"


def test_per_partition_version_and_alias_names_the_partition_key() -> None:
    assert read_problems(
        {"partitions": {"2024-01-02": {"version": "v1", "alias": "best"}}}, partitioned=True
    ) == [
        f"{WHERE_IN}.partitions.2024-01-02: 'version' and 'alias' both given for partition "
        "'2024-01-02'; use only one (neither means 'latest')"
    ]


def test_per_partition_bad_version_and_alias() -> None:
    assert read_problems(
        {"partitions": {"a": {"version": "1"}, "b": {"alias": "x/y"}}}, partitioned=True
    ) == [
        f"{WHERE_IN}.partitions.a.version: '1' is not a version; W&B versions look like 'v0', 'v3'",
        f"{WHERE_IN}.partitions.b.alias: invalid alias 'x/y': W&B aliases cannot contain '/'",
    ]


def test_empty_partition_configuration() -> None:
    assert read_problems({"partitions": {"red": {}}}, partitioned=True) == [
        f"{WHERE_IN}.partitions.red: empty configuration for partition 'red'"
    ]


# --- several problems at once ----------------------------------------------------------


def test_every_problem_of_a_write_config_is_reported() -> None:
    problems = write_problems(
        {
            "name": "bad/name",
            "get": "t",
            "aliases": ["a:b"],
            "add_references": [{}],
        },
        location=OP_OUT,
        from_key=False,
    )
    where = "op 'train', output 'result': wandb_artifact_configuration"
    assert problems == [
        f"{where}.get: only used when reading (on an input), not on an output",
        f"{where}.name: invalid artifact name 'bad/name': W&B allows only letters, digits, "
        "'-', '_' and '.'",
        f"{where}.aliases: invalid alias 'a:b': W&B aliases cannot contain ':'",
        f"{where}.add_references.0: missing required argument(s) of "
        "wandb.Artifact.add_reference: uri",
    ]


def test_every_shape_problem_is_reported() -> None:
    problems = write_problems(
        {"alises": [], "type": 1, "serialization_module": {"name": "yaml", "nmae": "x"}}
    )
    assert sorted(problems) == sorted(
        [
            f"{WHERE_OUT}.alises: unknown key (did you mean 'aliases'?)",
            f"{WHERE_OUT}.type: input should be a valid string (got int)",
            f"{WHERE_OUT}.serialization_module.name: got 'yaml', expected one of "
            "'pickle', 'dill', 'cloudpickle' or 'joblib'",
            f"{WHERE_OUT}.serialization_module.nmae: unknown key (did you mean 'name'?)",
        ]
    )


def test_every_problem_of_a_read_config_is_reported() -> None:
    problems = read_problems(
        {
            "type": "model",
            "get": "t",
            "version": "v1",
            "alias": "a",
            "partitions": {"k": {}},
        },
        partitioned=True,
    )
    assert problems == [
        f"{WHERE_IN}.type: only used when writing (on an output), not on an input",
        f"{WHERE_IN}: 'version' and 'alias' both given; use only one (neither means 'latest')",
        f"{WHERE_IN}.partitions.k: empty configuration for partition 'k'",
        f"{WHERE_IN}.get: not allowed at the top level of a partitioned read; set it per "
        "partition under 'partitions' (e.g. {'partitions': {'*': {'get': ...}}})",
    ]


# --- valid configurations --------------------------------------------------------------


def test_no_configuration_gives_defaults() -> None:
    assert parse_write_config(None, ASSET_OUT, names_artifact_from_asset_key=True) == WriteSpec()
    read = parse_read_config(None, ASSET_IN, names_artifact_from_asset_key=True)
    assert read == ReadSpec()
    assert read.qualifier == "latest"


def test_valid_write_config_gives_the_expected_spec() -> None:
    spec = parse_write_config(
        {
            "name": "my-model.v2",
            "type": "model",
            "description": "# Model",
            "aliases": ["best", "prod"],
            "add_files": [{"local_path": "a.txt", "name": "b.txt"}],
            "add_dirs": [{"local_path": "d"}],
            "add_references": [{"uri": "s3://bucket/key"}],
            "serialization_module": {"name": "joblib", "parameters": {"compress": 3}},
        },
        OP_OUT,
        names_artifact_from_asset_key=False,
    )
    assert spec == WriteSpec(
        name="my-model.v2",
        type="model",
        description="# Model",
        aliases=("best", "prod"),
        add_dirs=({"local_path": "d"},),
        add_files=({"local_path": "a.txt", "name": "b.txt"},),
        add_references=({"uri": "s3://bucket/key"},),
        serialization=SerializationSpec("joblib", {"compress": 3}, explicit=True),
    )
    assert isinstance(spec.aliases, tuple)


def test_serialization_defaults() -> None:
    spec = parse_write_config({"type": "t"}, ASSET_OUT, names_artifact_from_asset_key=True)
    assert spec.serialization == SerializationSpec("pickle", {}, explicit=False)
    spec = parse_write_config(
        {"serialization_module": {"parameters": {"protocol": 4}}},
        ASSET_OUT,
        names_artifact_from_asset_key=True,
    )
    assert spec.serialization == SerializationSpec("pickle", {"protocol": 4}, explicit=True)
    assert pickle.HIGHEST_PROTOCOL >= 4


def test_valid_read_config_gives_the_expected_spec() -> None:
    spec = parse_read_config(
        {"name": "dataset", "get_path": "data.csv", "version": "v12"},
        OP_IN,
        names_artifact_from_asset_key=False,
    )
    assert spec == ReadSpec(
        name="dataset", path=ReadPath("dataset"), get_path="data.csv", version="v12"
    )
    assert spec.qualifier == "v12"
    alias = parse_read_config({"alias": "best"}, ASSET_IN, names_artifact_from_asset_key=True)
    assert alias.qualifier == "best"


def test_for_partition_prefers_exact_key_then_star_then_default() -> None:
    spec = parse_read_config(
        {
            "partitions": {
                "2024-01-01": {"get": "table", "version": "v2"},
                "*": {"get_path": "data.csv", "alias": "best"},
            }
        },
        ASSET_IN,
        names_artifact_from_asset_key=True,
        partitioned=True,
    )
    exact = spec.for_partition("2024-01-01")
    assert exact == PartitionReadSpec(get="table", version="v2")
    assert exact.qualifier == "v2"
    other = spec.for_partition("2024-01-05")
    assert other == PartitionReadSpec(get_path="data.csv", alias="best")
    assert other.qualifier == "best"

    without_star = parse_read_config(
        {"partitions": {"a": {"get": "t"}}},
        ASSET_IN,
        names_artifact_from_asset_key=True,
        partitioned=True,
    )
    assert without_star.for_partition("a") == PartitionReadSpec(get="t")
    assert without_star.for_partition("b") == PartitionReadSpec()
    assert without_star.for_partition("b").qualifier == "latest"


def test_specs_are_frozen() -> None:
    spec = parse_write_config({"aliases": ["x"]}, ASSET_OUT, names_artifact_from_asset_key=True)
    with pytest.raises(AttributeError):
        spec.aliases = ("y",)  # type: ignore[misc]


# --- mypy ------------------------------------------------------------------------------


SAMPLE = Path(__file__).parent / "mypy_samples" / "config_sample.py"
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_mypy_reports_typos_and_wrong_types_in_annotated_configs() -> None:
    expected = {
        number: line.rsplit("# E: ", 1)[1].strip()
        for number, line in enumerate(SAMPLE.read_text().splitlines(), start=1)
        if "# E: " in line
    }
    assert sorted(expected.values()) == [
        "typeddict-item",
        "typeddict-item",
        "typeddict-unknown-key",
    ]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            # A cache of its own (ignored by git) makes reruns take seconds.
            "--cache-dir",
            str(REPO_ROOT / ".mypy_cache" / "config_sample"),
            str(SAMPLE.relative_to(REPO_ROOT)),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    output = result.stdout + result.stderr
    reported = {
        int(match[1]): match[2]
        for match in re.finditer(r"config_sample\.py:(\d+): error: .*\[([a-z-]+)\]$", output, re.M)
    }
    assert reported == expected, output
    assert 'Extra key "alises" for TypedDict "WandbArtifactConfiguration"' in output
    assert 'TypedDict item "aliases" has type "list[str]"' in output
    assert result.returncode == 1, output


# --- W&B's alias, type and registry rules, at load time ----------------------------------


@pytest.mark.parametrize("alias", ["v0", "v2", "v10"])
def test_an_output_alias_that_looks_like_a_version_is_refused(alias: str) -> None:
    assert write_problems({"type": "model", "aliases": [alias]}) == [
        f"{WHERE_OUT}.aliases: invalid alias '{alias}': W&B reserves 'v<number>' for the version "
        "numbers it gives itself (v0, v1, ...)"
    ]


def test_latest_and_version_like_words_are_fine_aliases() -> None:
    spec = parse_write_config(
        {"type": "model", "aliases": ["latest", "v2-candidate", "version2"]},
        ASSET_OUT,
        names_artifact_from_asset_key=True,
    )
    assert spec.aliases == ("latest", "v2-candidate", "version2")


def test_aliases_differing_only_in_case_are_refused() -> None:
    assert write_problems({"type": "model", "aliases": ["Best", "best", "LATEST"]}) == [
        f"{WHERE_OUT}.aliases: 'Best' and 'best' differ only in letter case; W&B keeps one "
        "alias per letter case in a collection",
        f"{WHERE_OUT}.aliases: 'LATEST' and 'latest' differ only in letter case; W&B keeps one "
        "alias per letter case in a collection",
    ]


def test_an_alias_longer_than_128_characters_is_refused() -> None:
    assert write_problems({"type": "model", "aliases": ["a" * 129]}) == [
        f"{WHERE_OUT}.aliases: alias '{'a' * 20}...' is longer than 128 characters"
    ]


def test_an_input_alias_that_is_a_version_says_to_use_version() -> None:
    assert read_problems({"alias": "v3"}) == [
        f"{WHERE_IN}.alias: 'v3' is a version, not an alias; use 'version': 'v3'"
    ]
    assert read_problems({"partitions": {"red": {"alias": "v1"}}}) == [
        f"{WHERE_IN}.partitions.red.alias: 'v1' is a version, not an alias; use 'version': 'v1'"
    ]


@pytest.mark.parametrize(
    ("artifact_type", "reason"),
    [
        (
            "my dataset",
            "invalid artifact type 'my dataset': W&B allows only letters, digits, '-', '_' and '.'",
        ),
        (
            "wandb-history",
            "Artifact type 'wandb-history' is reserved for internal use. Please "
            "use a different type.",
        ),
        ("job", "Artifact type 'job' is reserved for internal use. Please use a different type."),
    ],
)
def test_artifact_types_w_and_b_refuses(artifact_type: str, reason: str) -> None:
    assert write_problems({"type": artifact_type}) == [f"{WHERE_OUT}.type: {reason}"]


def test_registry_link_collection_and_registry_names_are_checked() -> None:
    problems = write_problems(
        {
            "type": "model",
            "link_to": [
                {"target_path": "wandb-registry-model/" + "c" * 129},
                {"target_path": "wandb-registry-" + "r" * 120 + "/ok"},
                {"target_path": "wandb-registry-model/ok", "aliases": ["v1"]},
            ],
        }
    )
    assert problems == [
        f"{WHERE_OUT}.link_to.0.target_path: registry collection: artifact name "
        f"'{'c' * 129}' is longer than 128 characters",
        f"{WHERE_OUT}.link_to.1.target_path: Invalid registry name '{'r' * 120}', must be 113 "
        "characters or less",
        f"{WHERE_OUT}.link_to.2.aliases: invalid alias 'v1': W&B reserves 'v<number>' for the "
        "version numbers it gives itself (v0, v1, ...)",
    ]
