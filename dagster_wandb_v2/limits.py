"""Limits of the wandb SDK that would silently cut or drop content while an artifact is built.

The SDK keeps going where W&B's limits are reached and only warns (or says nothing), so a
materialization would succeed with less than the asset returned. Each limit is checked
before the artifact is logged, and a breach is an error naming the asset and the limit
(wandb 0.31):

- ``wandb.Table``: ``Artifact.add`` keeps the first ``wandb.Table.MAX_ARTIFACT_ROWS``
  rows (200,000) and logs ``Truncating wandb.Table object`` on the root logger; the same
  holds for the tables of a ``wandb.JoinedTable`` and for tables a returned
  ``wandb.Artifact`` holds (added before the IO manager sees it);
- ``add_reference`` on a bucket prefix (``s3://``, ``gs://``, Azure) lists at most
  ``max_objects`` objects (default 10,000,000) and drops the rest (the SDK's own "exceeded"
  check can never fire); ``file://`` raises. One more object than the limit is asked for,
  so a cut is seen exactly;
- artifact metadata: at most 100 keys (``MAX_ARTIFACT_METADATA_KEYS``), the keys the IO
  manager adds (``source_*``) included; the SDK raises a bare ``ValueError``;
- ``add_files``/``add_dirs``/``add_references`` entries with the path of the output's own
  entry (``output.pickle``, ``Table.table.json``) and ``overwrite``/``merge`` would replace
  the returned value;
- ``Artifact.add`` stores a W&B object read from another artifact (an input's ``get``) as a
  reference to that artifact's entry, so rows added to such a Table since were lost: a
  changed object is stored by content (:func:`with_own_content`). (A returned
  ``wandb.Artifact`` that the user filled this way keeps no trace of the object, so it
  cannot be checked.)

Example::

    >>> import wandb
    >>> table_row_problems(wandb.Table(columns=["x"], data=[[1]]), "the output")
    []
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_wandb_v2._location import Location
from dagster_wandb_v2._sdk_private import added_objects, artifact_links, detached, joined_tables

DEFAULT_MAX_OBJECTS = 10_000_000
"""The wandb SDK's default ``max_objects`` of ``add_reference`` (``storage_handler.py``)."""


def max_table_rows() -> int:
    """The rows ``Artifact.add`` keeps of a ``wandb.Table``: ``wandb.Table.MAX_ARTIFACT_ROWS``
    (200,000 unless the user raised it)."""
    import wandb

    return int(wandb.Table.MAX_ARTIFACT_ROWS)


def max_metadata_keys() -> int:
    """W&B's most metadata keys on one artifact (100), as the installed SDK checks it."""
    try:
        from wandb.sdk.artifacts._validators import MAX_ARTIFACT_METADATA_KEYS
    except ImportError:  # pragma: no cover - an SDK that moved its private constant
        return 100
    return int(MAX_ARTIFACT_METADATA_KEYS)


def table_row_problems(value: object, what: str) -> list[str]:
    """Why ``Artifact.add(value)`` would keep fewer rows than ``value`` has (``what`` names
    the value in the message); ``value`` is any W&B object."""
    import wandb
    from wandb.sdk.data_types.table import JoinedTable

    tables: list[tuple[str, Any]] = []
    if isinstance(value, wandb.Table):
        tables.append((what, value))
    elif isinstance(value, JoinedTable):
        for index, table in enumerate(joined_tables(value), start=1):
            if isinstance(table, wandb.Table):
                tables.append((f"table {index} of {what}", table))
    limit = max_table_rows()
    return [
        f"{name} has {len(table.data):,} rows but wandb.Artifact.add keeps only the first "
        f"{limit:,} (wandb.Table.MAX_ARTIFACT_ROWS); split it into several tables (e.g. a "
        "partitioned asset) or raise wandb.Table.MAX_ARTIFACT_ROWS before the table is added"
        for name, table in tables
        if len(table.data) > limit
    ]


def added_object_problems(artifact: Any) -> list[str]:
    """Rows the SDK already cut from tables added to a user's ``wandb.Artifact``."""
    problems = []
    for obj, entry in added_objects(artifact):
        problems += table_row_problems(obj, f"the returned artifact's entry '{entry.path}'")
    return problems


def _changed_since_read(value: Any) -> bool:
    """Whether a W&B object read from an artifact (``get``) differs from what it holds."""
    source, _ = artifact_links(value)
    if source is None or not source.name:
        return False
    try:
        return bool(source.artifact.get(source.name) != value)
    except Exception:  # cannot read it back: treat as changed, store the content
        return True


def with_own_content(value: Any) -> Any:
    """``value`` as ``Artifact.add`` must receive it to store its current content.

    The SDK stores a W&B object read from another artifact, or already added to one, as a
    reference to that artifact's entry, whatever changed since. An unchanged object read
    from an artifact stays a reference (W&B shows where it came from); any other is a copy
    detached from the other artifact.
    """
    source, target = artifact_links(value)
    if source is None and target is None:
        return value
    if source is not None and target is None and not _changed_since_read(value):
        return value
    return detached(value)


def metadata_problems(user_keys: Mapping[str, Any], added_keys: Mapping[str, Any]) -> list[str]:
    """Why W&B would refuse the artifact's metadata once the integration's keys are added."""
    total = len({**user_keys, **added_keys})
    limit = max_metadata_keys()
    if total <= limit:
        return []
    return [
        f"the artifact's metadata would have {total} keys ({len(user_keys)} of the returned "
        f"artifact, {len(set(added_keys) - set(user_keys))} added by dagster_wandb_v2: "
        f"{', '.join(sorted(set(added_keys) - set(user_keys)))}); W&B allows at most {limit} "
        "(MAX_ARTIFACT_METADATA_KEYS); group values under fewer keys (nested dicts count once)"
    ]


def reference_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """``add_reference`` arguments asking for one object more than the limit, and the limit.

    The SDK stops listing a bucket prefix at ``max_objects`` without an error; with one more
    asked for, more entries than the limit mean that objects would have been left out.
    """
    limit = int(kwargs.get("max_objects") or DEFAULT_MAX_OBJECTS)
    return {**kwargs, "max_objects": limit + 1}, limit


def reference_problem(uri: object, entries: int, limit: int) -> str | None:
    """Why a reference listing ``entries`` objects breaks its ``max_objects`` ``limit``."""
    if entries <= limit:
        return None
    return (
        f"'{uri}' holds more than max_objects={limit:,} objects and the wandb SDK would "
        "silently keep only the first ones; raise 'max_objects' above the number of objects"
    )


def replaced_entry_problems(
    own_entries: Mapping[str, str], entries: Mapping[str, Any], location: Location, key: str
) -> list[str]:
    """Entries of the output itself (path -> digest) that ``key`` replaced in ``entries``."""
    return [
        f"{location}: {key}: replaces the artifact entry '{path}' that holds the output itself; "
        "give the added file or directory another name"
        for path, digest in own_entries.items()
        if path in entries and str(entries[path].digest) != digest
    ]
