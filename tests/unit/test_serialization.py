"""The pickle family: dump/load with the legacy file names and the metadata recorded."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import dill
import joblib
import pytest

from dagster_wandb_v2.errors import WandbSerializationError
from dagster_wandb_v2.serialization import (
    MODULES,
    SerializationModule,
    find_payload,
    get_module,
    payload_file_names,
)

ALL = ["pickle", "dill", "cloudpickle", "joblib"]
VERSIONS = {
    "dill": dill.__version__,
    "cloudpickle": cloudpickle.__version__,
    "joblib": joblib.__version__,
}
VALUE = {"weights": [0.5, 1.5], "name": "model", "nested": ({"a": 1}, {2, 3})}


def _pickle_protocol_of(path: Path) -> int:
    """The protocol a pickle stream was written with (its PROTO opcode)."""
    data = path.read_bytes()
    assert data[0] == 0x80, "stream does not start with PROTO"
    return data[1]


@pytest.mark.parametrize("name", ALL)
def test_round_trip_with_the_legacy_file_name(name: str, tmp_path: Path) -> None:
    module = get_module(name)
    assert module == SerializationModule(name, f"output.{name}")
    path = tmp_path / module.file_name
    metadata = module.dump(VALUE, path, {})
    assert path.is_file()
    assert module.load(path) == VALUE
    expected: dict[str, Any] = {
        "source_serialization_module": name,
        "source_pickle_protocol_used": pickle.HIGHEST_PROTOCOL,
    }
    if name != "pickle":
        expected[f"source_{name}_version_used"] = VERSIONS[name]
    assert metadata == expected


@pytest.mark.parametrize("name", ["pickle", "dill", "cloudpickle"])
def test_highest_protocol_by_default_and_the_given_one_otherwise(name: str, tmp_path: Path) -> None:
    module = get_module(name)
    default_path = tmp_path / "default"
    assert module.dump(VALUE, default_path, {})["source_pickle_protocol_used"] == (
        pickle.HIGHEST_PROTOCOL
    )
    assert _pickle_protocol_of(default_path) == pickle.HIGHEST_PROTOCOL

    given_path = tmp_path / "given"
    metadata = module.dump(VALUE, given_path, {"protocol": 4})
    assert metadata["source_pickle_protocol_used"] == 4
    assert _pickle_protocol_of(given_path) == 4
    assert module.load(given_path) == VALUE


def test_joblib_records_the_given_protocol(tmp_path: Path) -> None:
    metadata = get_module("joblib").dump(VALUE, tmp_path / "out", {"protocol": 4})
    assert metadata == {
        "source_serialization_module": "joblib",
        "source_pickle_protocol_used": 4,
        "source_joblib_version_used": joblib.__version__,
    }


def test_joblib_compress_is_honoured(tmp_path: Path) -> None:
    module = get_module("joblib")
    data = ["the same line over and over"] * 20_000
    plain = tmp_path / "plain.joblib"
    compressed = tmp_path / "compressed.joblib"
    module.dump(data, plain, {})
    module.dump(data, compressed, {"compress": 3})
    assert compressed.stat().st_size * 10 < plain.stat().st_size
    assert module.load(compressed) == data


def test_dill_and_cloudpickle_handle_what_pickle_cannot(tmp_path: Path) -> None:
    def square(x: int) -> int:
        return x * x

    for name in ("dill", "cloudpickle"):
        module = get_module(name)
        path = tmp_path / module.file_name
        module.dump(square, path, {})
        assert module.load(path)(7) == 49


def _generator() -> Iterator[int]:
    yield 1


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (lambda x: x, "function"),
        (_generator(), "generator"),
    ],
)
def test_unpicklable_object_names_its_type_and_suggests_other_modules(
    value: Any, type_name: str, tmp_path: Path
) -> None:
    with pytest.raises(WandbSerializationError) as info:
        get_module("pickle").dump(value, tmp_path / "output.pickle", {"protocol": 4})
    message = str(info.value)
    assert message.startswith(
        f"could not serialize an object of type '{type_name}' "
        "with 'pickle' (parameters={'protocol': 4}): "
    )
    assert message.endswith(
        "Try another serialization_module (dill, cloudpickle, joblib), or return a wandb "
        "object or a wandb.Artifact."
    )
    assert isinstance(info.value.__cause__, Exception)


def test_generator_with_dill_suggests_the_others(tmp_path: Path) -> None:
    with pytest.raises(WandbSerializationError) as info:
        get_module("dill").dump(_generator(), tmp_path / "output.dill", {})
    message = str(info.value)
    assert "object of type 'generator' with 'dill' (parameters={})" in message
    assert "(pickle, cloudpickle, joblib)" in message


def test_unknown_dump_parameter_is_a_serialization_error(tmp_path: Path) -> None:
    with pytest.raises(WandbSerializationError) as info:
        get_module("pickle").dump(VALUE, tmp_path / "output.pickle", {"compress": 3})
    assert "with 'pickle' (parameters={'compress': 3})" in str(info.value)


def test_missing_module_is_reported_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fail(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr("dagster_wandb_v2.serialization.importlib.import_module", fail)
    with pytest.raises(WandbSerializationError) as info:
        get_module("dill").dump(VALUE, tmp_path / "output.dill", {})
    assert str(info.value) == (
        "serialization module 'dill' is not installed "
        "(pip install 'dagster-wandb-v2[dill]' or pip install dill)"
    )


def test_unknown_module_lists_the_supported_ones() -> None:
    with pytest.raises(WandbSerializationError) as info:
        get_module("yaml")
    assert str(info.value) == (
        "unknown serialization module 'yaml'; supported: pickle, dill, cloudpickle, joblib"
    )


def test_payload_file_names() -> None:
    assert payload_file_names() == {
        "output.pickle",
        "output.dill",
        "output.cloudpickle",
        "output.joblib",
    }
    assert list(MODULES) == ALL


@pytest.mark.parametrize("name", ALL)
def test_find_payload_finds_each_file_name(name: str, tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("not a payload")
    module = get_module(name)
    module.dump(VALUE, tmp_path / module.file_name, {})
    found = find_payload(tmp_path)
    assert found == (module, tmp_path / f"output.{name}")
    assert found is not None
    assert found[0].load(found[1]) == VALUE


def test_find_payload_without_a_payload(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n")
    (tmp_path / "output.pickle").mkdir()  # a directory is not a payload
    assert find_payload(tmp_path) is None


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("size", [100, 3 << 20], ids=["small", "large"])
def test_the_md5_computed_while_dumping_is_the_files(name: str, size: int, tmp_path: Path) -> None:
    """Every byte written is hashed once, small writes inline and large buffers (a NumPy
    array, written whole) on another thread."""
    import hashlib

    import numpy as np

    value = {"array": np.arange(size // 8, dtype=np.float64), "tail": b"x" * 10}
    path = tmp_path / MODULES[name].file_name
    md5 = hashlib.md5()
    MODULES[name].dump(value, path, {}, md5)
    assert md5.hexdigest() == hashlib.md5(path.read_bytes()).hexdigest()
    assert np.array_equal(MODULES[name].load(path)["array"], value["array"])
