"""Write strategies: what a returned value becomes inside a W&B artifact.

- a ``wandb.Artifact`` the user built: logged as is, renamed after the asset, enriched;
- a W&B object (``wandb.Table``, ``wandb.Image``, any ``WBValue``): added under its class
  name, so a reader can ``get("Table")``;
- any other Python object: serialized with the configured pickle-family module.

Each strategy only builds the artifact; logging it is the IO manager's job.

Example::

    built = build_artifact([1, 2, 3], "my_dataset", WriteSpec(type="dataset"), ...)
    built.artifact.manifest.entries  # {'output.pickle': ...}
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dagster_wandb_v2._location import Location
from dagster_wandb_v2._sdk_private import add_file_with_digest, rename_artifact
from dagster_wandb_v2.cache import FileDigest, entry_md5
from dagster_wandb_v2.config import CONFIG_KEY, WriteSpec
from dagster_wandb_v2.errors import WandbArtifactsIOManagerError, WandbConfigurationError
from dagster_wandb_v2.limits import (
    added_object_problems,
    metadata_problems,
    reference_kwargs,
    reference_problem,
    replaced_entry_problems,
    table_row_problems,
    with_own_content,
)
from dagster_wandb_v2.serialization import (
    SIGNATURE_METADATA_KEY,
    get_module,
    payload_signature,
)

if TYPE_CHECKING:
    import wandb


@dataclass
class BuiltArtifact:
    """An artifact ready to log, and the payload file to seed the local cache with."""

    artifact: wandb.Artifact
    payload: Path | None = None
    payload_name: str | None = None
    warnings: list[str] = field(default_factory=list)
    payload_digest: FileDigest | None = None
    """The payload file's MD5 as the SDK computed it (spares the cache hashing it again)."""


@dataclass(frozen=True)
class WriteRequest:
    """Everything a strategy needs besides the value."""

    name: str
    spec: WriteSpec
    location: Location
    source_metadata: dict[str, Any]
    staging_dir: Path
    renamed_from_asset_key: bool
    base_name: str = ""
    """The name before a partition suffix; a user artifact may use either."""
    signing_key: str | None = field(default=None, repr=False)
    """When set, serialized payloads are signed (HMAC-SHA256) in the artifact metadata."""


class WriteStrategy(Protocol):
    def accepts(self, value: object) -> bool: ...
    def build(self, value: Any, request: WriteRequest) -> BuiltArtifact: ...


def _require_type(request: WriteRequest) -> str:
    if not request.spec.type:
        raise WandbConfigurationError(
            [
                f"{request.location}: {CONFIG_KEY}.type: required when the output is not a "
                "wandb.Artifact (e.g. 'dataset' or 'model')"
            ]
        )
    return request.spec.type


def _new_artifact(request: WriteRequest) -> wandb.Artifact:
    import wandb

    return wandb.Artifact(
        name=request.name,
        type=_require_type(request),
        description=request.spec.description,
        metadata=dict(request.source_metadata),
    )


class UserArtifactStrategy:
    """A ``wandb.Artifact`` returned by the asset: enrich it, keep its content."""

    def accepts(self, value: object) -> bool:
        import wandb

        return isinstance(value, wandb.Artifact)

    def build(self, value: wandb.Artifact, request: WriteRequest) -> BuiltArtifact:
        spec, location = request.spec, request.location
        problems = []
        if value.id is not None:
            problems.append(
                f"{location}: the returned wandb.Artifact '{value.name}' was already logged; "
                "return a new draft artifact (or its new_draft())"
            )
        if spec.type is not None:
            problems.append(
                f"{location}: {CONFIG_KEY}.type: not allowed when the output is a wandb.Artifact "
                f"(its type is '{value.type}'); remove 'type'"
            )
        if spec.description is not None and value.description:
            problems.append(
                f"{location}: {CONFIG_KEY}.description: the returned wandb.Artifact already has "
                "a description; set it in one place only"
            )
        problems += [
            f"{location}: {problem}"
            for problem in added_object_problems(value)
            + metadata_problems(value.metadata, request.source_metadata)
        ]
        if problems:
            raise WandbConfigurationError(problems)
        warnings = []
        if spec.serialization.explicit:
            warnings.append(
                f"{location}: {CONFIG_KEY}.serialization_module is ignored: the output is "
                "already a wandb.Artifact"
            )
        if value.name != request.name:
            if request.renamed_from_asset_key and value.name != request.base_name:
                warnings.append(
                    f"{location}: the returned artifact is named '{value.name}' but is logged "
                    f"as '{request.name}' (artifacts are named after the asset key)"
                )
            rename_artifact(value, request.name)
        value.metadata = {**value.metadata, **request.source_metadata}
        if spec.description is not None:
            value.description = spec.description
        return BuiltArtifact(value, warnings=warnings)


class WandbObjectStrategy:
    """A W&B object (Table, Image, ...): stored under its class name."""

    def accepts(self, value: object) -> bool:
        from wandb.sdk.data_types.base_types.wb_value import WBValue

        return isinstance(value, WBValue)

    def build(self, value: Any, request: WriteRequest) -> BuiltArtifact:
        artifact = _new_artifact(request)
        warnings = []
        if request.spec.serialization.explicit:
            warnings.append(
                f"{request.location}: {CONFIG_KEY}.serialization_module is ignored: the output "
                f"is a W&B object ({type(value).__name__})"
            )
        problems = table_row_problems(value, f"the returned {type(value).__name__}")
        if problems:
            raise WandbArtifactsIOManagerError(f"{request.location}: {problems[0]}")
        artifact.add(with_own_content(value), type(value).__name__)
        return BuiltArtifact(artifact, warnings=warnings)


class PythonObjectStrategy:
    """Any other object: serialized to ``output.<module>`` with the pickle family."""

    def accepts(self, value: object) -> bool:
        return value is not None

    def build(self, value: Any, request: WriteRequest) -> BuiltArtifact:
        artifact = _new_artifact(request)
        serialization = request.spec.serialization
        module = get_module(serialization.module)
        payload = request.staging_dir / module.file_name
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            used = module.dump(value, payload, serialization.parameters, md5)
        except WandbArtifactsIOManagerError as error:
            raise type(error)(f"{request.location}: {error}") from error.__cause__
        if request.signing_key:
            used[SIGNATURE_METADATA_KEY] = payload_signature(payload, request.signing_key)
        artifact.metadata = {**artifact.metadata, **used}
        written = FileDigest.of(payload, base64.b64encode(md5.digest()).decode())
        entry = _add_payload(artifact, payload, module.file_name, written.md5)
        # The SDK hashed it itself (another algorithm): the cache hashes it too.
        known = written if entry_md5(entry) == written.md5 else None
        return BuiltArtifact(
            artifact, payload=payload, payload_name=module.file_name, payload_digest=known
        )


def _add_payload(artifact: wandb.Artifact, payload: Path, name: str, md5: str) -> Any:
    """Add the payload file with the MD5 computed while it was written (no second read,
    nor the SDK's ``mmap`` of the whole file, which counts as resident memory).

    ``add_file`` takes no digest (see :func:`._sdk_private.add_file_with_digest`); an SDK
    without a way to pass it, or an artifact hashing with another algorithm, gets
    ``add_file``. ``immutable``: W&B uploads the file in place instead of copying it to
    its staging directory; ``skip_cache``: wandb-core does not copy and hash it into the
    SDK's cache after the upload (``core/pkg/artifacts/saver.go`` ``cacheEntry``); the IO
    manager's cache keeps it.
    """
    algorithm = getattr(artifact, "digest_algorithm", None)
    if algorithm is None or "MD5" in str(algorithm).upper():
        entry = add_file_with_digest(artifact, name, str(payload), md5)
        if entry is not None:
            return entry
    return artifact.add_file(str(payload), name=name, policy="immutable", skip_cache=True)


STRATEGIES: tuple[WriteStrategy, ...] = (
    UserArtifactStrategy(),
    WandbObjectStrategy(),
    PythonObjectStrategy(),
)


def build_artifact(value: Any, request: WriteRequest) -> BuiltArtifact:
    """Pick the strategy for ``value``, build the artifact, then add configured extras."""
    strategy = next(strategy for strategy in STRATEGIES if strategy.accepts(value))
    built = strategy.build(value, request)
    own_entries = {
        path: str(entry.digest) for path, entry in built.artifact.manifest.entries.items()
    }
    if isinstance(strategy, UserArtifactStrategy):
        own_entries = {}  # the user's own entries: theirs to overwrite
    _add_extras(built.artifact, request, own_entries)
    _set_ttl(built.artifact, request.spec)
    return built


def _set_ttl(artifact: wandb.Artifact, spec: WriteSpec) -> None:
    if spec.ttl_seconds is not None:
        artifact.ttl = timedelta(seconds=spec.ttl_seconds)
    elif spec.ttl_inherit:
        from wandb.sdk.artifacts.artifact_ttl import ArtifactTTL

        artifact.ttl = ArtifactTTL.INHERIT


_ADDERS: dict[str, Callable[[wandb.Artifact], Callable[..., Any]]] = {
    "add_files": lambda artifact: artifact.add_file,
    "add_dirs": lambda artifact: artifact.add_dir,
    "add_references": lambda artifact: artifact.add_reference,
}


def _add_extras(
    artifact: wandb.Artifact, request: WriteRequest, own_entries: Mapping[str, str]
) -> None:
    """Add ``add_files``/``add_dirs``/``add_references``; none may replace ``own_entries``
    (the output's own entries, path -> digest) or be cut by ``max_objects``."""
    for key, adder in _ADDERS.items():
        for index, kwargs in enumerate(getattr(request.spec, key)):
            where = f"{CONFIG_KEY}.{key}.{index}"
            limit = None
            if key == "add_references":
                kwargs, limit = reference_kwargs(kwargs)
            try:
                added = adder(artifact)(**kwargs)
            except Exception as error:
                message = str(error)
                if limit is not None and "Exceeded" in message:  # file:// stops with an error
                    message = reference_problem(kwargs.get("uri"), limit + 1, limit) or message
                problem = f"{request.location}: {where}: {message}"
                raise WandbConfigurationError([problem]) from error
            problems = replaced_entry_problems(
                own_entries, artifact.manifest.entries, request.location, where
            )
            if limit is not None:
                cut = reference_problem(kwargs.get("uri"), len(added), limit)
                problems += [f"{request.location}: {where}: {cut}"] if cut else []
            if problems:
                raise WandbConfigurationError(problems)
