"""What an output returns, as its annotation says: a ``wandb.Artifact``, something else, or
unknown, and the write rules that depend on it (checked at load time).

The IO manager needs ``type`` for every value but a ``wandb.Artifact`` (which has its own
type), and refuses ``type`` for a ``wandb.Artifact``. At run time it sees the value; at load
time the return annotation (``-> wandb.Artifact``, ``-> list[int]``, Dagster's
``dagster_type``) tells the same when it names the value: no annotation, ``Any``,
``object``, ``None`` and unions mixing artifacts and other values are unknown and left to
run time. A partitioned output annotated ``dict[str, wandb.Artifact]`` may be one value per
partition (a single-run backfill), so it is unknown too.

Example::

    >>> from dagster import asset
    >>> @asset
    ... def numbers() -> list[int]:
    ...     return [1]
    >>> returned_kind(numbers.node_def.output_defs[0], partitioned=False)
    'other'
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from dagster_wandb_v2._location import Location
from dagster_wandb_v2.config import CONFIG_KEY

ReturnedKind = Literal["artifact", "other", "unknown"]
_Kind = Literal["artifact", "other", "unknown", "none"]


def returned_kind(output_def: Any, *, partitioned: bool) -> ReturnedKind:
    """Whether ``output_def`` (a Dagster ``OutputDefinition``) is annotated as returning a
    ``wandb.Artifact`` (``"artifact"``), another value (``"other"``) or either
    (``"unknown"``)."""
    dagster_type = output_def.dagster_type
    if dagster_type.is_nothing:
        return "unknown"
    kind = _kind_of(getattr(dagster_type, "typing_type", Any), partitioned)
    return "unknown" if kind == "none" else kind


def _kind_of(hint: Any, partitioned: bool) -> _Kind:
    import wandb
    from dagster import MaterializeResult, Output

    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = {_kind_of(arg, partitioned) for arg in typing.get_args(hint)} - {"none"}
        return kinds.pop() if len(kinds) == 1 else "unknown"
    if hint is type(None) or hint is None:
        return "none"
    if hint is Any or isinstance(hint, (typing.TypeVar, str, typing.ForwardRef)):
        return "unknown"
    if origin is Output:
        args = typing.get_args(hint)
        return _kind_of(args[0], partitioned) if args else "unknown"
    cls = origin or hint
    if not isinstance(cls, type) or cls is object or issubclass(cls, (MaterializeResult, Output)):
        return "unknown"
    if issubclass(cls, wandb.Artifact):
        return "artifact"
    if partitioned and issubclass(cls, Mapping):
        values = typing.get_args(hint)[1:] or (Any,)
        return "other" if _kind_of(values[0], False) == "other" else "unknown"
    return "other"


def type_rule_problems(
    raw: object, kind: ReturnedKind, location: Location, annotation: str
) -> list[str]:
    """The run-time ``type`` rules, from the annotation: required unless a
    ``wandb.Artifact`` is returned, refused when one is."""
    if raw is not None and not isinstance(raw, Mapping):
        return []  # not a configuration at all: reported by its shape check
    config = raw or {}
    if kind == "other" and config.get("type") is None:
        return [
            f"{location}: {CONFIG_KEY}.type: required when the output is not a wandb.Artifact "
            f"(it is annotated as {annotation}); give e.g. 'dataset' or 'model'"
        ]
    if kind == "artifact" and config.get("type") is not None:
        return [
            f"{location}: {CONFIG_KEY}.type: not allowed when the output is a wandb.Artifact "
            "(annotated as returning one, which has its own type); remove 'type'"
        ]
    return []


def annotation_text(output_def: Any) -> str:
    """The output's annotation as a user wrote it (``list[int]``, ``wandb.Table``)."""
    return f"'{_render(getattr(output_def.dagster_type, 'typing_type', None))}'"


def _render(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is not None and args and isinstance(origin, type):
        return f"{origin.__name__}[{', '.join(_render(arg) for arg in args)}]"
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")
