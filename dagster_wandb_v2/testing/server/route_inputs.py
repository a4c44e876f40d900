"""Client input of the routes other than GraphQL, parsed into typed values.

Every parser returns what the route needs or raises :class:`~.http_errors.BadRequest` /
:class:`~.http_errors.NotFound` naming what is wrong, never a Python error.

Example::

    entity, project, run = file_stream_target("/files/me/proj/abc123/file_stream")
    update = file_stream_update(json_object(body, "file_stream request"))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .http_errors import BadRequest, NotFound
from .validation import natural_number


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """``body`` decoded as a JSON object (an empty body is ``{}``).

    >>> json_object(b'{"a": 1}', "request")
    {'a': 1}
    """
    try:
        value = json.loads(body or b"{}")
    except ValueError as exc:  # also bytes that are not UTF-8
        raise BadRequest(f"{what} body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{what} body must be a JSON object, not {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _segments(path: str) -> list[str]:
    return [unquote(p) for p in path.strip("/").split("/")]


def file_stream_target(path: str) -> tuple[str, str, str]:
    """``(entity, project, run id)`` of ``/files/<entity>/<project>/<run>/file_stream``.

    >>> file_stream_target("/files/me/proj/abc123/file_stream")
    ('me', 'proj', 'abc123')
    """
    parts = _segments(path)
    if len(parts) != 5 or parts[0] != "files" or parts[4] != "file_stream" or not all(parts):
        raise NotFound(
            f"no file_stream route {path[:200]!r}: the path must be "
            "/files/<entity>/<project>/<run>/file_stream"
        )
    return parts[1], parts[2], parts[3]


@dataclass(frozen=True)
class StreamChunk:
    """Lines for one run file (``wandb-history.jsonl``, ``output.log``...) from ``offset``."""

    name: str
    offset: int
    lines: list[str]


@dataclass(frozen=True)
class FileStreamUpdate:
    """One ``file_stream`` request: chunks of files, and whether the run finished."""

    chunks: list[StreamChunk]
    complete: bool
    exitcode: int


def file_stream_update(payload: dict[str, Any]) -> FileStreamUpdate:
    """The update the SDK sends: ``{"files": {name: {"offset": n, "content": [line]}},
    "complete"?: bool, "exitcode"?: int}`` (W&B's file_stream protocol; other fields, such
    as ``uploaded`` or ``preempting``, are ignored).
    """
    files = payload.get("files") or {}
    if not isinstance(files, dict):
        raise BadRequest("file_stream 'files' must be a map of file name to chunk")
    chunks = []
    for name, chunk in files.items():
        where = f"file_stream chunk {name[:100]!r}"
        if not isinstance(chunk, dict):
            raise BadRequest(f"{where} must be an object with 'offset' and 'content'")
        offset = chunk.get("offset") or 0
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < 2**62:
            raise BadRequest(f"{where}: 'offset' must be a line number from 0")
        lines = chunk.get("content") or []
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            raise BadRequest(f"{where}: 'content' must be a list of strings")
        chunks.append(StreamChunk(name, offset, lines))
    complete = payload.get("complete") or False
    if not isinstance(complete, bool):
        raise BadRequest("file_stream 'complete' must be true or false")
    exitcode = payload.get("exitcode") or 0
    if not isinstance(exitcode, int) or isinstance(exitcode, bool) or abs(exitcode) >= 2**31:
        raise BadRequest("file_stream 'exitcode' must be a whole number")
    return FileStreamUpdate(chunks, complete, exitcode)


def run_file_target(path: str) -> tuple[int, str]:
    """``(run row id, file name)`` of an upload to ``/runfiles/<run row id>/<name>``.

    >>> run_file_target("/runfiles/12/media/plot.png")
    (12, 'media/plot.png')
    """
    parts = _segments(path)
    run_pk = natural_number(parts[1]) if len(parts) > 1 else None
    name = "/".join(parts[2:])
    if run_pk is None or not name:
        raise BadRequest(
            f"bad run file upload path {path[:200]!r}: it must be /runfiles/<run number>/<name>"
        )
    return run_pk, name
