"""W&B's rules for the names users choose: artifact names, aliases, types, registry paths.

Where the wandb SDK has a validator (``wandb.sdk.artifacts._validators``: name length and
``/``, alias characters, reserved types, registry names), it decides, so these checks
cannot drift from the SDK's. The other rules are written here, as W&B applies them:

- artifact names and types: letters, digits, ``-``, ``_`` and ``.`` only (checked inline by
  ``wandb.Artifact.__init__`` for names, and by the W&B server);
- aliases: 1 to 128 characters; ``latest`` and ``v<number>`` are managed by W&B (a
  ``v3`` alias is refused or ignored, never set); two aliases of one collection cannot
  differ only in letter case.

Each check returns ``None`` when the value is valid, else the reason, e.g.::

    >>> alias_problem("best")
    >>> alias_problem("v2")[:50]
    "invalid alias 'v2': W&B reserves 'v<number>' for t"
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterable

VALID_NAME = re.compile(r"^[a-zA-Z0-9_\-.]+$")
"""The characters the W&B server accepts in an artifact (collection) name or type."""

VERSION = re.compile(r"^v\d+$")
"""What W&B versions look like (``v0``, ``v3``)."""

MAX_ALIAS_LENGTH = 128
"""W&B's longest alias (documented: "an alias can be 1 to 128 characters long")."""

_CHARACTERS = "W&B allows only letters, digits, '-', '_' and '.'"


@functools.cache
def max_name_length() -> int:
    """W&B's longest artifact name (128), as the installed wandb SDK checks it."""
    try:
        from wandb.sdk.artifacts._validators import NAME_MAXLEN
    except ImportError:  # pragma: no cover - an SDK that moved its private constant
        return 128
    return int(NAME_MAXLEN)


def artifact_name_problem(name: str) -> str | None:
    """Why W&B refuses ``name`` as an artifact (or registry collection) name.

    >>> artifact_name_problem("my-model_1.0")
    >>> artifact_name_problem("my model")
    "invalid artifact name 'my model': W&B allows only letters, digits, '-', '_' and '.'"
    """
    if not name:
        return "artifact name must not be empty"
    if not VALID_NAME.match(name):
        return f"invalid artifact name '{name}': {_CHARACTERS}"
    from wandb.sdk.artifacts._validators import validate_artifact_name

    try:
        validate_artifact_name(name)
    except ValueError as error:
        if len(name) > max_name_length():
            return f"artifact name '{name}' is longer than {max_name_length()} characters"
        return str(error)
    return None


def alias_problem(alias: str) -> str | None:
    """Why W&B refuses (or silently ignores) ``alias``; ``latest`` is allowed."""
    if not alias:
        return "an alias must not be empty"
    from wandb.sdk.artifacts._validators import validate_aliases

    try:
        validate_aliases([alias])
    except ValueError as error:
        refused = [char for char in ("/", ":") if char in alias]
        if not refused:
            return f"invalid alias '{alias}': {error}"
        return (
            f"invalid alias '{alias}': W&B aliases cannot contain "
            f"{' or '.join(repr(char) for char in refused)}"
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        return f"alias '{alias[:20]}...' is longer than {MAX_ALIAS_LENGTH} characters"
    if VERSION.match(alias):
        return (
            f"invalid alias '{alias}': W&B reserves 'v<number>' for the version numbers it "
            "gives itself (v0, v1, ...)"
        )
    return None


def case_clashes(aliases: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of aliases that differ only in letter case (W&B keeps one per collection).

    >>> case_clashes(["best", "Best", "latest"])
    [('best', 'Best')]
    """
    seen: dict[str, str] = {}
    clashes = []
    for alias in dict.fromkeys(aliases):
        first = seen.setdefault(alias.lower(), alias)
        if first != alias:
            clashes.append((first, alias))
    return clashes


def type_problem(artifact_type: str) -> str | None:
    """Why W&B refuses ``artifact_type`` (reserved ``wandb-`` types, length, characters)."""
    if not artifact_type:
        return "an artifact type must not be empty"
    if not VALID_NAME.match(artifact_type):
        return f"invalid artifact type '{artifact_type}': {_CHARACTERS}"
    from wandb.sdk.artifacts._validators import validate_artifact_type, validate_artifact_types

    try:
        validate_artifact_types([artifact_type])
        # "job" reserves every name; checking with a neutral name keeps the type rule only.
        validate_artifact_type(artifact_type, "dagster")
    except ValueError as error:
        return str(error)
    return None


def registry_problem(registry: str) -> str | None:
    """Why W&B refuses ``registry`` (the part after ``wandb-registry-``) as a registry name."""
    from wandb.sdk.artifacts._validators import REGISTRY_PREFIX, validate_project_name

    try:
        validate_project_name(f"{REGISTRY_PREFIX}{registry}")
    except ValueError as error:
        return str(error)
    return None


RUN_SETTINGS = ("project", "run_id", "run_tags", "base_url", "api_key")
"""The ``wandb.Settings`` the IO manager and the resource pass to ``wandb.init``."""


def run_setting_problem(setting: str, value: object) -> str | None:
    """Why ``wandb.init`` refuses ``value`` for ``setting`` (one of :data:`RUN_SETTINGS`),
    by the wandb SDK's own validator (``wandb.Settings.validate_<setting>``): a project
    without ``/\\#?%:`` and at most 128 characters, a run id without ``:;,#?/'``, tags of 1
    to 64 characters, a W&B host URL, an API key without surrounding spaces.

    >>> run_setting_problem("run_tags", ["x" * 65])[:40]
    "Tag 'xxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxx"
    """
    from wandb.sdk.wandb_settings import Settings

    validator = getattr(Settings, f"validate_{setting}")
    takes_other_settings = len(inspect.signature(validator).parameters) > 1
    try:
        validator(value, None) if takes_other_settings else validator(value)
    except Exception as error:
        return str(error)
    return None
