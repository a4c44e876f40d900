"""The ``wandb_artifact_configuration`` metadata: typed for mypy, validated by pydantic.

Users put a plain dict in output or input metadata. Annotating it with
:class:`WandbArtifactConfiguration` lets mypy catch unknown keys and wrong types; at run
time (and at load time, see :func:`dagster_wandb_v2.validate_definitions`) the same dict is
validated with extra keys forbidden and turned into a frozen spec the strategies use.

Example::

    from dagster import asset
    from dagster_wandb_v2 import WandbArtifactConfiguration

    config: WandbArtifactConfiguration = {"type": "dataset", "aliases": ["best"]}

    @asset(metadata={"wandb_artifact_configuration": config},
           io_manager_key="wandb_artifacts_manager")
    def my_dataset() -> list[int]:
        return [1, 2, 3]
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args, get_origin, get_type_hints

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config
from typing_extensions import NotRequired, TypedDict

from dagster_wandb_v2._location import Location
from dagster_wandb_v2._unknown_keys import did_you_mean
from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.read_path import ReadPath, ReadPathError
from dagster_wandb_v2.wandb_rules import (
    VALID_NAME,
    VERSION,
    alias_problem,
    artifact_name_problem,
    case_clashes,
    registry_problem,
    type_problem,
)

CONFIG_KEY = "wandb_artifact_configuration"
"""The metadata key under which users put their configuration."""

SerializationModuleName = Literal["pickle", "dill", "cloudpickle", "joblib"]

_FORBID = ConfigDict(extra="forbid")


@with_config(_FORBID)
class SerializationModule(TypedDict):
    """How a Python object is serialized into the artifact.

    Example: ``{"name": "joblib", "parameters": {"compress": 3}}``.
    """

    name: NotRequired[SerializationModuleName]
    """``pickle`` (default), ``dill``, ``cloudpickle`` or ``joblib``."""
    parameters: NotRequired[dict[str, Any]]
    """Keyword arguments for the module's ``dump``; ``protocol`` defaults to the highest."""


@with_config(_FORBID)
class RegistryLink(TypedDict):
    """Where to link the logged version: ``{"target_path": "wandb-registry-model/my_model"}``."""

    target_path: str
    """``wandb-registry-<registry>/<collection>``, optionally prefixed by ``<org>/``."""
    aliases: NotRequired[list[str]]
    """Aliases of the linked version in the registry collection."""


@with_config(_FORBID)
class PartitionReadConfiguration(TypedDict):
    """How one partition (or ``"*"``: every other partition) is read."""

    get: NotRequired[str]
    get_path: NotRequired[str]
    version: NotRequired[str]
    alias: NotRequired[str]


@with_config(_FORBID)
class WandbArtifactConfiguration(TypedDict):
    """Everything the IO manager reads under ``metadata["wandb_artifact_configuration"]``.

    Output (write) keys: ``name``, ``type``, ``description``, ``aliases``, ``add_dirs``,
    ``add_files``, ``add_references``, ``serialization_module``, ``link_to``, ``ttl``,
    ``distributed``.
    Input (read) keys: ``name``, ``get``, ``get_path``, ``version``, ``alias``,
    ``partitions``, ``legacy_partition_names``.
    """

    name: NotRequired[str]
    """The artifact's name (``@op`` outputs and inputs). On an input also where to read:
    ``entity/project/name`` or a registry path ``wandb-registry-<registry>/<collection>``,
    optionally ending in ``:alias`` or ``:vN`` (see :mod:`dagster_wandb_v2.read_path`)."""
    type: NotRequired[str]
    description: NotRequired[str]
    aliases: NotRequired[list[str]]
    add_dirs: NotRequired[list[dict[str, Any]]]
    add_files: NotRequired[list[dict[str, Any]]]
    add_references: NotRequired[list[dict[str, Any]]]
    serialization_module: NotRequired[SerializationModule]
    link_to: NotRequired[list[RegistryLink]]
    """Link the logged version to W&B Registry collections."""
    ttl: NotRequired[str | int]
    """Time to live: ``"30d"``, ``"12h"``, ``"1d12h"``, seconds as an int, or ``"inherit"``."""
    distributed: NotRequired[bool]
    """Partitioned assets only: every partition goes into one artifact version (a W&B
    distributed artifact, see :mod:`dagster_wandb_v2.distributed`)."""
    get: NotRequired[str]
    get_path: NotRequired[str]
    version: NotRequired[str]
    alias: NotRequired[str]
    partitions: NotRequired[dict[str, PartitionReadConfiguration]]
    legacy_partition_names: NotRequired[bool]
    """Read partitions written by the legacy dagster-wandb (``|`` in keys became ``-``)."""


WRITE_KEYS = frozenset(
    {
        "name",
        "type",
        "description",
        "aliases",
        "add_dirs",
        "add_files",
        "add_references",
        "serialization_module",
        "link_to",
        "ttl",
        "distributed",
    }
)
READ_KEYS = frozenset(
    {"name", "get", "get_path", "version", "alias", "partitions", "legacy_partition_names"}
)

_ADAPTER: TypeAdapter[WandbArtifactConfiguration] = TypeAdapter(WandbArtifactConfiguration)

ARTIFACT_NAME_PATTERN = VALID_NAME
"""The characters W&B accepts in an artifact name (see :mod:`dagster_wandb_v2.wandb_rules`)."""
_REGISTRY_PATH_PATTERN = re.compile(
    r"^(?:(?P<org>[A-Za-z0-9_.-]+)/)?wandb-registry-(?P<registry>[A-Za-z0-9_.-]+)/"
    r"(?P<collection>[A-Za-z0-9_.-]+)$"
)
_TTL_PART = re.compile(r"(\d+)([dhms])")
_TTL_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
TTL_INHERIT = "inherit"


# --- validated specs -------------------------------------------------------------------


@dataclass(frozen=True)
class SerializationSpec:
    module: SerializationModuleName = "pickle"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    explicit: bool = False
    """True when the user configured ``serialization_module`` at all."""


@dataclass(frozen=True)
class LinkSpec:
    target_path: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteSpec:
    """A validated output configuration."""

    name: str | None = None
    type: str | None = None
    description: str | None = None
    aliases: tuple[str, ...] = ()
    add_dirs: tuple[Mapping[str, Any], ...] = ()
    add_files: tuple[Mapping[str, Any], ...] = ()
    add_references: tuple[Mapping[str, Any], ...] = ()
    serialization: SerializationSpec = field(default_factory=SerializationSpec)
    link_to: tuple[LinkSpec, ...] = ()
    ttl_seconds: int | None = None
    ttl_inherit: bool = False
    distributed: bool = False


@dataclass(frozen=True)
class PartitionReadSpec:
    get: str | None = None
    get_path: str | None = None
    version: str | None = None
    alias: str | None = None

    @property
    def qualifier(self) -> str:
        """The ``:alias`` or ``:vN`` part of the artifact path (``latest`` by default)."""
        return self.version or self.alias or "latest"


@dataclass(frozen=True)
class ReadSpec(PartitionReadSpec):
    """A validated input configuration."""

    name: str | None = None
    path: ReadPath | None = None
    """``name`` parsed: where to read (another project, a registry collection)."""
    partitions: Mapping[str, PartitionReadSpec] = field(default_factory=dict)
    legacy_partition_names: bool = False

    def for_partition(self, partition_key: str) -> PartitionReadSpec:
        """The read config of one partition: its own key laid over the ``"*"`` wildcard.

        As in the published guide, ``{"*": {"get": "t"}, "blue": {"alias": "x"}}`` reads
        table ``t`` of the version aliased ``x`` for ``blue``. A key's own choice replaces
        the wildcard's in the same group (``get``/``get_path``, ``version``/``alias``); a
        top-level ``version`` or ``alias`` is the default of every partition.
        """
        top_level = PartitionReadSpec(version=self.version, alias=self.alias)
        wildcard = _laid_over(self.partitions.get("*"), top_level)
        return _laid_over(self.partitions.get(partition_key), wildcard)


def _laid_over(own: PartitionReadSpec | None, base: PartitionReadSpec) -> PartitionReadSpec:
    """``own`` completed by ``base``, group by group (``get``/``get_path``, version/alias)."""
    if own is None:
        return base
    if own.get is None and own.get_path is None:
        own = replace(own, get=base.get, get_path=base.get_path)
    if own.version is None and own.alias is None:
        own = replace(own, version=base.version, alias=base.alias)
    return own


# --- validation ------------------------------------------------------------------------


def parse_write_config(
    raw: object,
    location: Location,
    *,
    names_artifact_from_asset_key: bool,
    value_is_artifact: bool = False,
) -> WriteSpec:
    """Validate an output's configuration and return its spec.

    ``value_is_artifact``: the output is a ``wandb.Artifact``, whose own name can name it,
    so an ``@op`` output needs no ``name``.
    Raises :class:`WandbConfigurationError` listing every problem, each naming ``location``
    and the key.
    """
    config = _validate_shape(raw, location)
    problems = _side_problems(config, location, WRITE_KEYS, "reading (on an input)")
    problems += _name_problems(
        config, location, names_artifact_from_asset_key, name_optional=value_is_artifact
    )
    problems += _aliases_problems(config.get("aliases", []), location)
    if config.get("type") is not None:
        type_reason = type_problem(config["type"])
        if type_reason:
            problems.append(f"{location}: {CONFIG_KEY}.type: {type_reason}")
    problems += _sdk_kwargs_problems(config, location)
    serialization = SerializationSpec()
    if "serialization_module" in config:
        module = config["serialization_module"]
        name = module.get("name", "pickle")
        problems += _module_installed_problems(name, location) or _dump_parameter_problems(
            name, module.get("parameters", {}), location
        )
        serialization = SerializationSpec(name, dict(module.get("parameters", {})), True)
    links = []
    for index, link in enumerate(config.get("link_to", [])):
        problems += _link_problems(link, index, location)
        links.append(LinkSpec(link["target_path"], tuple(link.get("aliases", []))))
    ttl_seconds, ttl_problems = _parse_ttl(config.get("ttl"), location)
    problems += ttl_problems
    if problems:
        raise WandbConfigurationError(problems)
    return WriteSpec(
        name=config.get("name"),
        type=config.get("type"),
        description=config.get("description"),
        aliases=tuple(config.get("aliases", [])),
        add_dirs=tuple(config.get("add_dirs", [])),
        add_files=tuple(config.get("add_files", [])),
        add_references=tuple(config.get("add_references", [])),
        serialization=serialization,
        link_to=tuple(links),
        ttl_seconds=ttl_seconds,
        ttl_inherit=config.get("ttl") == TTL_INHERIT,
        distributed=config.get("distributed", False),
    )


def _link_problems(link: RegistryLink, index: int, location: Location) -> list[str]:
    prefix = f"{CONFIG_KEY}.link_to.{index}"
    problems = []
    match = _REGISTRY_PATH_PATTERN.match(link["target_path"])
    if match is None:
        problems.append(
            f"{location}: {prefix}.target_path: '{link['target_path']}' is not a registry path; "
            "expected 'wandb-registry-<registry>/<collection>' (e.g. "
            "'wandb-registry-model/my_model'), optionally prefixed by '<org>/'"
        )
    else:
        registry_reason = registry_problem(match["registry"])
        if registry_reason:
            problems.append(f"{location}: {prefix}.target_path: {registry_reason}")
        collection_reason = artifact_name_problem(match["collection"])
        if collection_reason:
            problems.append(
                f"{location}: {prefix}.target_path: registry collection: {collection_reason}"
            )
    problems += _aliases_problems(link.get("aliases", []), location, prefix=prefix)
    return problems


def _parse_ttl(value: str | int | None, location: Location) -> tuple[int | None, list[str]]:
    """Seconds of a ``ttl`` value (``None`` for no TTL or ``"inherit"``), and problems."""
    if value is None or value == TTL_INHERIT:
        return None, []
    if isinstance(value, int):
        seconds = value
    else:
        compact = value.replace(" ", "")
        parts = _TTL_PART.findall(compact)
        if not parts or "".join(number + unit for number, unit in parts) != compact:
            return None, [
                f"{location}: {CONFIG_KEY}.ttl: '{value}' is not a duration; use e.g. '30d', "
                "'12h', '1d12h', a number of seconds, or 'inherit'"
            ]
        seconds = sum(int(number) * _TTL_SECONDS[unit] for number, unit in parts)
    if seconds <= 0:
        return None, [f"{location}: {CONFIG_KEY}.ttl: must be a positive duration, got {value!r}"]
    return seconds, []


def parse_read_config(
    raw: object,
    location: Location,
    *,
    names_artifact_from_asset_key: bool,
    partitioned: bool | None = None,
) -> ReadSpec:
    """Validate an input's configuration and return its spec.

    ``partitioned`` is whether the input reads asset partitions (``None``: unknown yet,
    partition rules are then checked at run time).
    """
    config = _validate_shape(raw, location)
    problems = _side_problems(config, location, READ_KEYS, "writing (on an output)")
    path, name_problems = _read_name(config, location, names_artifact_from_asset_key, partitioned)
    problems += name_problems
    problems += _selector_problems(config, location, CONFIG_KEY)
    partitions: dict[str, PartitionReadSpec] = {}
    for key, partition_config in config.get("partitions", {}).items():
        prefix = f"{CONFIG_KEY}.partitions.{key}"
        if not partition_config:
            problems.append(f"{location}: {prefix}: empty configuration for partition '{key}'")
        problems += _selector_problems(partition_config, location, prefix, partition_key=key)
        partitions[key] = PartitionReadSpec(**partition_config)
    if partitioned is True:
        for key in ("get", "get_path"):
            if key in config:
                problems.append(
                    f"{location}: {CONFIG_KEY}.{key}: not allowed at the top level of a "
                    f"partitioned read; set it per partition under 'partitions' "
                    f"(e.g. {{'partitions': {{'*': {{'{key}': ...}}}}}})"
                )
    if partitioned is False:
        for key in ("partitions", "legacy_partition_names"):
            if key in config:
                problems.append(
                    f"{location}: {CONFIG_KEY}.{key}: only allowed when reading a partitioned "
                    "asset; this input is not partitioned"
                )
    if problems:
        raise WandbConfigurationError(problems)
    return ReadSpec(
        name=config.get("name"),
        path=path,
        get=config.get("get"),
        get_path=config.get("get_path"),
        version=config.get("version") or (path.version if path else None),
        alias=config.get("alias") or (path.alias if path else None),
        partitions=partitions,
        legacy_partition_names=config.get("legacy_partition_names", False),
    )


def validate_artifact_name(name: str, location: Location, key: str) -> list[str]:
    """Problems with ``name`` as a W&B artifact name (empty list when valid)."""
    problem = artifact_name_problem(name)
    return [f"{location}: {key}: {problem}"] if problem else []


def _validate_shape(raw: object, location: Location) -> WandbArtifactConfiguration:
    if raw is None:
        return {}
    try:
        return _ADAPTER.validate_python(raw, strict=True)
    except ValidationError as error:
        raise WandbConfigurationError(
            [_describe_pydantic_error(err, location) for err in error.errors()]
        ) from None


def _describe_pydantic_error(err: Mapping[str, Any], location: Location) -> str:
    loc = tuple(err["loc"])
    path = ".".join([CONFIG_KEY, *(str(part) for part in loc)])
    if err["type"] == "extra_forbidden":
        message = "unknown key" + did_you_mean(str(loc[-1]), _known_keys_at(loc[:-1]))
        return f"{location}: {path}: {message}"
    if err["type"] == "missing":
        return f"{location}: {path}: required key missing"
    if err["type"] == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{location}: {path}: got {err.get('input')!r}, expected one of {expected}"
    return f"{location}: {path}: {err['msg'].lower()} (got {type(err.get('input')).__name__})"


def _known_keys_at(loc: Sequence[int | str]) -> set[str]:
    """The keys allowed in the nested TypedDict reached by following ``loc``."""
    current: Any = WandbArtifactConfiguration
    for part in loc:
        hints = get_type_hints(current) if _is_typeddict(current) else {}
        if isinstance(part, str) and part in hints:
            current = _unwrap(hints[part])
        elif get_origin(current) is dict:
            current = _unwrap(get_args(current)[1])
        elif get_origin(current) is list and isinstance(part, int):
            current = _unwrap(get_args(current)[0])
        else:
            return set()
    return set(get_type_hints(current)) if _is_typeddict(current) else set()


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is NotRequired:
        annotation = get_args(annotation)[0]
    return annotation


def _is_typeddict(candidate: Any) -> bool:
    return isinstance(candidate, type) and hasattr(candidate, "__total__")


def _side_problems(
    config: Mapping[str, Any], location: Location, allowed: frozenset[str], used_when: str
) -> list[str]:
    return [
        f"{location}: {CONFIG_KEY}.{key}: only used when {used_when}, not on an {location.side}"
        for key in config
        if key not in allowed
    ]


def _name_problems(
    config: Mapping[str, Any],
    location: Location,
    names_artifact_from_asset_key: bool,
    name_optional: bool = False,
) -> list[str]:
    name = config.get("name")
    if names_artifact_from_asset_key and name is not None:
        return [
            f"{location}: {CONFIG_KEY}.name: not allowed here, the artifact is named after the "
            "asset key; remove 'name'"
        ]
    if not names_artifact_from_asset_key and name is None and not name_optional:
        return [
            f"{location}: {CONFIG_KEY}.name: required for an {location.side} that is not an "
            "asset (there is no asset key to name the artifact after)"
        ]
    if name is not None:
        return validate_artifact_name(name, location, f"{CONFIG_KEY}.name")
    return []


def _read_name(
    config: Mapping[str, Any],
    location: Location,
    names_artifact_from_asset_key: bool,
    partitioned: bool | None,
) -> tuple[ReadPath | None, list[str]]:
    """An input's ``name`` parsed as a W&B path (see :mod:`~dagster_wandb_v2.read_path`).

    On an asset's input, ``name`` may only say where else the asset's artifact is read from
    (another project, a registry collection); a registry collection holds versions, not
    partitions, so it cannot be read per partition.
    """
    name = config.get("name")
    key = f"{CONFIG_KEY}.name"
    if name is None:
        return None, _name_problems(config, location, names_artifact_from_asset_key)
    try:
        path = ReadPath.parse(name)
    except ReadPathError as error:
        return None, [f"{location}: {key}: {problem}" for problem in error.problems]
    if names_artifact_from_asset_key and not path.elsewhere:
        return None, [
            f"{location}: {key}: not allowed here, the artifact is named after the asset key; "
            "remove 'name', or give 'entity/project/name' or a registry path "
            "'wandb-registry-<registry>/<collection>' to read it from there"
        ]
    problems = []
    for selector in ("version", "alias"):
        if path.qualifier is not None and selector in config:
            problems.append(
                f"{location}: {key}: '{name}' ends in ':{path.qualifier}' and '{selector}' is "
                "given too; use only one"
            )
    if path.registry is not None:
        per_partition = [k for k in ("partitions", "legacy_partition_names") if k in config]
        if partitioned is True or per_partition:
            problems.append(
                f"{location}: {key}: '{name}' is a W&B Registry collection, which holds "
                "versions, not partitions: it cannot be read per partition"
                + (f" (remove {', '.join(per_partition)})" if per_partition else "")
                + "; read it from an unpartitioned input, or read the partitions from "
                "their project ('entity/project/name')"
            )
    return path, problems


def _selector_problems(
    config: Mapping[str, Any], location: Location, prefix: str, partition_key: str | None = None
) -> list[str]:
    where = f" for partition '{partition_key}'" if partition_key is not None else ""
    problems = []
    if "version" in config and "alias" in config:
        problems.append(
            f"{location}: {prefix}: 'version' and 'alias' both given{where}; use only one "
            "(neither means 'latest')"
        )
    if "get" in config and "get_path" in config:
        problems.append(
            f"{location}: {prefix}: 'get' and 'get_path' both given{where}; use only one "
            "(neither returns the whole artifact)"
        )
    version = config.get("version")
    if version is not None and not VERSION.match(version):
        problems.append(
            f"{location}: {prefix}.version: '{version}' is not a version; W&B versions look "
            "like 'v0', 'v3'"
        )
    alias = config.get("alias")
    if alias is not None and VERSION.match(alias):
        problems.append(
            f"{location}: {prefix}.alias: '{alias}' is a version, not an alias; use "
            f"'version': '{alias}'"
        )
    elif alias is not None:
        problems += _alias_problems(alias, location, "alias", prefix=prefix)
    return problems


def _alias_problems(
    alias: str, location: Location, key: str, prefix: str = CONFIG_KEY
) -> list[str]:
    problem = alias_problem(alias)
    return [f"{location}: {prefix}.{key}: {problem}"] if problem else []


def _aliases_problems(
    aliases: Sequence[str], location: Location, prefix: str = CONFIG_KEY
) -> list[str]:
    """Every alias of a list checked, plus W&B's one alias per letter case per collection
    (``latest`` is always added)."""
    problems = []
    for alias in aliases:
        problems += _alias_problems(alias, location, "aliases", prefix=prefix)
    for first, second in case_clashes([*aliases, "latest"]):
        problems.append(
            f"{location}: {prefix}.aliases: '{first}' and '{second}' differ only in letter "
            "case; W&B keeps one alias per letter case in a collection"
        )
    return problems


def _sdk_kwargs_problems(config: Mapping[str, Any], location: Location) -> list[str]:
    problems = []
    for key, method in _ARTIFACT_ADDERS.items():
        parameters = _sdk_parameters(method)
        for index, kwargs in enumerate(config.get(key, [])):
            prefix = f"{location}: {CONFIG_KEY}.{key}.{index}"
            for arg in kwargs:
                if arg not in parameters:
                    matches = difflib.get_close_matches(arg, sorted(parameters), n=1)
                    hint = f" (did you mean '{matches[0]}'?)" if matches else ""
                    problems.append(
                        f"{prefix}.{arg}: unknown argument of wandb.Artifact.{method}{hint}"
                    )
            missing = [
                name
                for name, parameter in parameters.items()
                if parameter.default is inspect.Parameter.empty and name not in kwargs
            ]
            if missing:
                problems.append(
                    f"{prefix}: missing required argument(s) of wandb.Artifact.{method}: "
                    f"{', '.join(missing)}"
                )
    return problems


_ARTIFACT_ADDERS = {
    "add_files": "add_file",
    "add_dirs": "add_dir",
    "add_references": "add_reference",
}


def _sdk_parameters(method: str) -> dict[str, inspect.Parameter]:
    import wandb

    function: Callable[..., Any] = getattr(wandb.Artifact, method)
    signature = inspect.signature(inspect.unwrap(function))
    return {
        name: parameter
        for name, parameter in signature.parameters.items()
        if name != "self"
        and parameter.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }


def _dump_parameter_problems(
    name: str, parameters: Mapping[str, Any], location: Location
) -> list[str]:
    """Keyword arguments ``<module>.dump`` does not take (its first two are ours)."""
    if not parameters:
        return []
    try:
        signature = inspect.signature(importlib.import_module(name).dump)
    except (ImportError, AttributeError, TypeError, ValueError):
        return []
    accepted = list(signature.parameters.values())[2:]
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in accepted):
        return []  # e.g. dill hands unknown keywords on to its Pickler
    known = sorted(parameter.name for parameter in accepted)
    problems = []
    for arg in parameters:
        if arg not in known:
            matches = difflib.get_close_matches(arg, known, n=1)
            hint = f" (did you mean '{matches[0]}'?)" if matches else ""
            problems.append(
                f"{location}: {CONFIG_KEY}.serialization_module.parameters.{arg}: unknown "
                f"argument of {name}.dump{hint}"
            )
    return problems


def _module_installed_problems(name: str, location: Location) -> list[str]:
    if name == "pickle" or importlib.util.find_spec(name) is not None:
        return []
    return [
        f"{location}: {CONFIG_KEY}.serialization_module.name: module '{name}' is not installed "
        f"(pip install 'dagster-wandb-v2[{name}]' or pip install {name})"
    ]
