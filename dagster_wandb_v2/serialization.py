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

import hashlib
import hmac
import importlib
import pickle
import threading
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

    def dump(
        self,
        obj: Any,
        path: Path,
        parameters: Mapping[str, Any],
        md5: Any = None,
    ) -> dict[str, Any]:
        """Serialize ``obj`` to ``path``, streaming to disk; returns the W&B metadata to record.

        ``md5`` (a ``hashlib.md5()`` object): updated with every byte as it is written, so
        the file's digest needs no second read (see :class:`HashingWriter`).
        """
        module = self.import_module()
        kwargs = {"protocol": pickle.HIGHEST_PROTOCOL, **parameters}
        try:
            with path.open("wb") as file:
                module.dump(obj, file if md5 is None else HashingWriter(file, md5), **kwargs)
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
        with path.open("rb") as file:
            return self.load_file(file)

    def load_file(self, file: Any) -> Any:
        """The object serialized in the binary file ``file`` (read from where it stands)."""
        return self.import_module().load(file)

    @property
    def loads_from_stream(self) -> bool:
        """Whether ``load_file`` takes a file it cannot seek in (read as it arrives):
        pickle, dill and cloudpickle read forward only; joblib seeks to find its format."""
        return self.name != "joblib"


_HASH_ON_A_THREAD_FROM = 1 << 20


class HashingWriter:
    """A binary file whose bytes are hashed as they are written (``write``, ``tell``,
    ``flush``). A large write (a NumPy array's buffer, written whole by pickle protocol 5)
    is hashed on another thread while it is written: ``hashlib`` and file writes release
    the GIL, so the two overlap.

    >>> import hashlib, io
    >>> md5 = hashlib.md5(); _ = HashingWriter(io.BytesIO(), md5).write(b"abc")
    >>> md5.hexdigest() == hashlib.md5(b"abc").hexdigest()
    True
    """

    def __init__(self, file: Any, md5: Any) -> None:
        self._file = file
        self._md5 = md5

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        if view.nbytes < _HASH_ON_A_THREAD_FROM:
            self._md5.update(view)
            return int(self._file.write(view))
        hasher = threading.Thread(target=self._md5.update, args=(view,), name="payload-md5")
        hasher.start()
        try:
            return int(self._file.write(view))
        finally:
            hasher.join()

    def tell(self) -> int:
        return int(self._file.tell())

    def flush(self) -> None:
        self._file.flush()


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


SIGNATURE_METADATA_KEY = "source_payload_hmac_sha256"
"""Artifact metadata key holding the HMAC-SHA256 (hex) of the serialized payload."""


def payload_signature(path: Path, signing_key: str) -> str:
    """HMAC-SHA256 of a payload file, read in chunks (no full copy in memory).

    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "p"; _ = file.write_bytes(b"data")
    >>> payload_signature(file, "key")[:16]
    '5031fe3d989c6d15'
    """
    mac = hmac.new(signing_key.encode(), digestmod=hashlib.sha256)
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            mac.update(chunk)
    return mac.hexdigest()


def verify_payload(path: Path, signing_key: str, expected: object, artifact_name: str) -> None:
    """Refuse (raise) unless ``expected`` is the payload's signature under ``signing_key``."""
    if not isinstance(expected, str) or not expected:
        raise WandbSerializationError(
            f"refusing to unpickle artifact '{artifact_name}': it carries no payload signature "
            f"('{SIGNATURE_METADATA_KEY}' missing from its metadata) and a signing_key is "
            "configured; it was not written by a signing IO manager"
        )
    if not hmac.compare_digest(payload_signature(path, signing_key), expected):
        raise WandbSerializationError(
            f"refusing to unpickle artifact '{artifact_name}': payload signature mismatch "
            "(the payload was changed after signing, or signed with another key)"
        )
