"""The pickle family: pickle, dill, cloudpickle and joblib, with the legacy file names.

Pickle runs arbitrary code when loading: only read artifacts you trust.

Each module writes one file into the artifact (``output.pickle``, ``output.dill``,
``output.cloudpickle``, ``output.joblib``, as the legacy integration did), so reading
finds the module from the file name alone.

Example::

    >>> module = get_module("pickle")
    >>> module.file_name
    'output.pickle'
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster_wandb_v2.errors import WandbSerializationError


@dataclass(frozen=True)
class SerializationModule:
    """One member of the pickle family and the file name it uses inside an artifact."""

    name: str
    file_name: str

    def import_module(self) -> Any:
        try:
            return importlib.import_module(self.name)
        except ImportError:
            raise WandbSerializationError(
                f"serialization module '{self.name}' is not installed "
                f"(pip install 'dagster-wandb-v2[{self.name}]' or pip install {self.name})"
            ) from None

    @property
    def version(self) -> str:
        module = self.import_module()
        return str(getattr(module, "__version__", "") or "")

    def dump(self, obj: Any, path: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Serialize ``obj`` to ``path``, streaming to disk; returns the W&B metadata to record."""
        module = self.import_module()
        kwargs = {"protocol": pickle.HIGHEST_PROTOCOL, **parameters}
        try:
            with path.open("wb") as file:
                module.dump(obj, file, **kwargs)
        except Exception as error:
            others = [name for name in MODULES if name != self.name]
            raise WandbSerializationError(
                f"could not serialize an object of type '{type(obj).__qualname__}' with "
                f"'{self.name}' (parameters={dict(parameters)}): {error}. "
                f"Try another serialization_module ({', '.join(others)}), or return a "
                "wandb object or a wandb.Artifact."
            ) from error
        metadata: dict[str, Any] = {
            "source_serialization_module": self.name,
            "source_pickle_protocol_used": kwargs["protocol"],
        }
        if self.name != "pickle":
            metadata[f"source_{self.name}_version_used"] = self.version
        return metadata

    def load(self, path: Path) -> Any:
        module = self.import_module()
        with path.open("rb") as file:
            return module.load(file)


MODULES: dict[str, SerializationModule] = {
    name: SerializationModule(name, f"output.{name}")
    for name in ("pickle", "dill", "cloudpickle", "joblib")
}


def get_module(name: str) -> SerializationModule:
    """The module called ``name``; raises :class:`WandbSerializationError` if unknown."""
    try:
        return MODULES[name]
    except KeyError:
        raise WandbSerializationError(
            f"unknown serialization module '{name}'; supported: {', '.join(MODULES)}"
        ) from None


def find_payload(directory: Path) -> tuple[SerializationModule, Path] | None:
    """The serialized payload stored in a downloaded artifact directory, if any."""
    for module in MODULES.values():
        candidate = directory / module.file_name
        if candidate.is_file():
            return module, candidate
    return None


def payload_file_names() -> set[str]:
    return {module.file_name for module in MODULES.values()}
