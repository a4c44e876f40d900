"""Unknown keys and keyword arguments, named with a did-you-mean.

Pydantic models, and so Dagster's ``ConfigurableResource`` and ``Config``, drop unknown
keyword arguments silently: ``WandbResource(entityy="me")`` would run with no entity at
all. Every resource and configuration class of this package rejects them instead, with
the message the ``wandb_artifact_configuration`` validation gives for unknown keys.

Example::

    >>> did_you_mean("entityy", ["entity", "project"])
    " (did you mean 'entity'?)"
    >>> unknown_field_problems("WandbResource", {"entityy": "me"}, {"entity": None})
    ["WandbResource: unknown field 'entityy' (did you mean 'entity'?)"]

A model rejects them with a ``mode="before"`` validator::

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        return reject_unknown_fields(cls, data)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from dagster_wandb_v2.errors import WandbConfigurationError


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """A hint for an unknown ``key``: the closest known key, else every known key.

    Returns ``" (did you mean 'x'?)"``, ``" (known keys: a, b)"``, or ``""`` when nothing
    is known.
    """
    candidates = sorted(set(known))
    matches = difflib.get_close_matches(key, candidates, n=1)
    if matches:
        return f" (did you mean '{matches[0]}'?)"
    if candidates:
        return f" (known keys: {', '.join(candidates)})"
    return ""


def unknown_field_problems(owner: str, data: object, fields: Mapping[str, Any]) -> list[str]:
    """One line per key of ``data`` (keyword arguments of ``owner``) that is not a field.

    ``fields`` is a pydantic ``model_fields`` mapping; field aliases count as known.
    ``data`` that is not a mapping (a model instance, for example) has no unknown keys.
    """
    if not isinstance(data, Mapping):
        return []
    known = set(fields)
    known |= {alias for field in fields.values() if (alias := getattr(field, "alias", None))}
    public = sorted(name for name in known if not name.startswith("_"))
    return [
        f"{owner}: unknown field '{key}'{did_you_mean(str(key), public)}"
        for key in data
        if key not in known
    ]


def reject_unknown_fields(model: type[BaseModel], data: Any) -> Any:
    """``data`` unchanged if every key is a field of ``model``.

    Raises:
        WandbConfigurationError: one problem per unknown key, each with a did-you-mean.
    """
    problems = unknown_field_problems(model.__name__, data, model.model_fields)
    if problems:
        raise WandbConfigurationError(problems)
    return data
