"""W&B's run filters and orders (``Project.runs(filters:, order:)``), on stored run rows.

The wandb SDK sends ``wandb.Api().runs(path, filters={...}, order="+created_at")`` as a
MongoDB-style JSON filter and an order string (W&B's public API docs,
``wandb/apis/public/runs.py``). This module implements the subset below and refuses
anything else with an error naming the key, operator or order (never silently ignored).

Filter keys: ``state``, ``name`` (the run id), ``display_name``/``displayName``,
``group``, ``job_type``/``jobType``, ``tags``, ``created_at``/``createdAt``,
``heartbeat_at``/``heartbeatAt``, ``config.<key>`` (``config.<key>.value`` too) and
``summary_metrics.<key>``. Operators: ``$and``, ``$or``, ``$eq``, ``$ne``, ``$in``,
``$nin``, ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$exists``, ``$regex`` (W&B's is RE2,
here Python's ``re``: the common syntax reads the same). As in MongoDB, a test on
``tags`` (a list) holds when any tag satisfies it.

Orders: ``created_at``, ``heartbeat_at``, ``updated_at``, ``name``, ``display_name``,
``config.<key>[.value]``, ``summary_metrics.<key>``, each with ``+`` (ascending, the
default) or ``-``.

Example::

    matches({"state": "finished", "tags": {"$in": ["a"]}}, row)   # -> True / False
    run_order_key("-created_at")                                   # -> (key, reverse=True)
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from .storage import Row
from .validation import UserInputError

_MISSING = object()

#: Plain filter/order names and the run row column they read.
_COLUMNS = {
    "state": "state",
    "name": "name",
    "display_name": "display_name",
    "displayName": "display_name",
    "group": "group_name",
    "job_type": "job_type",
    "jobType": "job_type",
    "tags": "tags",
    "created_at": "created_at",
    "createdAt": "created_at",
    "heartbeat_at": "heartbeat_at",
    "heartbeatAt": "heartbeat_at",
    "updated_at": "updated_at",
    "updatedAt": "updated_at",
}
_TIMES = {"created_at", "heartbeat_at", "updated_at"}
_PREFIXES = ("config.", "summary_metrics.")

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: _comparable(a, b) and a > b,
    "$gte": lambda a, b: _comparable(a, b) and a >= b,
    "$lt": lambda a, b: _comparable(a, b) and a < b,
    "$lte": lambda a, b: _comparable(a, b) and a <= b,
    "$regex": lambda a, b: isinstance(a, str) and re.search(b, a) is not None,
}
_SUPPORTED = "$and, $or, " + ", ".join(_COMPARISONS) + ", $in, $nin, $exists"


def parse_run_filters(filters: Any) -> dict[str, Any]:
    """The ``filters`` argument (a JSON string or dict) checked against what is supported.

    Raises :class:`UserInputError` naming the first unsupported key or operator.
    """
    if filters is None or filters == "":
        return {}
    parsed = json.loads(filters) if isinstance(filters, str) else filters
    if not isinstance(parsed, dict):
        raise UserInputError(f"run filters must be a JSON object, got {filters!r}")
    _check(parsed)
    return parsed


def _check(query: dict[str, Any]) -> None:
    for key, test in query.items():
        if key in ("$and", "$or"):
            if not isinstance(test, list) or not all(isinstance(q, dict) for q in test):
                raise UserInputError(f"run filter {key!r} needs a list of filters")
            for sub in test:
                _check(sub)
        elif key.startswith("$"):
            raise _unsupported(f"operator {key!r}")
        elif key not in _COLUMNS and not key.startswith(_PREFIXES):
            raise _unsupported(f"key {key!r}")
        elif isinstance(test, dict):
            for op in test:
                if op not in _COMPARISONS and op not in ("$in", "$nin", "$exists"):
                    raise _unsupported(f"operator {op!r} (on {key!r})")
                if op in ("$in", "$nin") and not isinstance(test[op], list):
                    raise UserInputError(f"run filter {op!r} on {key!r} needs a list")
                if op == "$regex":
                    _check_regex(key, test[op])


def _check_regex(key: str, pattern: Any) -> None:
    """W&B's ``$regex`` is RE2; Python's ``re`` reads the common subset the same way."""
    try:
        re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise UserInputError(f"run filter '$regex' on {key!r}: {pattern!r} is invalid") from exc


def _unsupported(what: str) -> UserInputError:
    return UserInputError(
        f"run filter {what} is not supported by the local W&B server "
        f"(keys: {', '.join(sorted(set(_COLUMNS)))}, config.<key>, summary_metrics.<key>; "
        f"operators: {_SUPPORTED})"
    )


def matches(query: dict[str, Any], row: Row) -> bool:
    """Whether run ``row`` satisfies the (checked) filter ``query``."""
    for key, test in query.items():
        if key == "$and":
            ok = all(matches(q, row) for q in test)
        elif key == "$or":
            ok = any(matches(q, row) for q in test)
        else:
            ok = _holds(value_of(row, key), test)
        if not ok:
            return False
    return True


def _holds(value: Any, test: Any) -> bool:
    if not isinstance(test, dict):
        test = {"$eq": test}
    for op, operand in test.items():
        if op == "$exists":
            ok = (value is not _MISSING and value is not None) == bool(operand)
        elif op in ("$in", "$nin"):
            found = any(_any(value, "$eq", o) for o in operand)
            ok = found if op == "$in" else not found
        elif op == "$ne":
            ok = not _any(value, "$eq", operand)
        else:
            ok = _any(value, op, operand)
        if not ok:
            return False
    return True


def _any(value: Any, op: str, operand: Any) -> bool:
    """``value op operand``, or on any element when ``value`` is a list (MongoDB's arrays)."""
    if value is _MISSING:
        return False
    compare = _COMPARISONS[op]
    if isinstance(value, list):
        return any(compare(v, operand) for v in value) or compare(value, operand)
    return compare(value, operand)


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return not isinstance(a, bool) and not isinstance(b, bool)
    return isinstance(a, str) and isinstance(b, str)


def value_of(row: Row, key: str) -> Any:
    """The run's value for a filter/order ``key`` (``_MISSING`` when it has none).

    Times are W&B's ISO strings (``2026-01-31T12:00:00``), so they compare as text.
    """
    column = _COLUMNS.get(key)
    if column == "tags":
        return json.loads(row["tags"]) if row["tags"] else []
    if column in _TIMES:
        stamp = dt.datetime.fromtimestamp(row[column], tz=dt.timezone.utc)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if column is not None:
        return row[column]
    prefix, _, path = key.partition(".")
    if prefix == "config":
        data = json.loads(row["config"] or "{}")
        parts = path.split(".")
        if parts[-1] == "value" and len(parts) > 1:
            parts = parts[:-1]
        found = _walk(data, parts[:1])
        found = found.get("value", _MISSING) if isinstance(found, dict) else _MISSING
        return _walk(found, parts[1:])
    return _walk(json.loads(row["summary"] or "{}"), path.split("."))


def _walk(data: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def run_order_key(order: str | None) -> tuple[Callable[[Row], Any], bool]:
    """A sort key for run rows and whether it is descending, from W&B's ``order``.

    ``None`` or ``""`` is the SDK's default, ``+created_at``. Raises
    :class:`UserInputError` naming an unsupported order.
    """
    order = order or "+created_at"
    sign, name = (order[0], order[1:]) if order[:1] in "+-" else ("+", order)
    orderable = set(_COLUMNS) - {"tags", "state", "group", "job_type", "jobType"}
    if name not in orderable and not name.startswith(_PREFIXES):
        raise UserInputError(
            f"order {order!r} is not supported by the local W&B server (supported: "
            f"{', '.join(sorted(orderable))}, config.<key>, summary_metrics.<key>, "
            "each with an optional + or -)"
        )

    def key(row: Row) -> Any:
        value = value_of(row, name)
        shown: Any
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rank, shown = 0, value
        elif isinstance(value, str):
            rank, shown = 1, value
        elif value is _MISSING or value is None:
            rank, shown = 3, ""
        else:
            rank, shown = 2, json.dumps(value, sort_keys=True)
        return (rank, shown, row["created_at"], row["id"])

    return key, sign == "-"
