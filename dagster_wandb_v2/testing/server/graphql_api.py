"""Executes GraphQL requests against the schema, with clear errors for the unsupported."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    default_field_resolver,
    execute,
    parse,
    validate,
)

from .inputs import check_input
from .nodes import Context, Info
from .resolvers import Root
from .schema import get_schema
from .validation import UserInputError

log = logging.getLogger(__name__)

_ROOT = Root()


def _install_type_resolvers() -> None:
    schema = get_schema()
    coll = schema.get_type("ArtifactCollection")
    initiator = schema.get_type("Initiator")

    def by_typename(value: Any, *_: Any) -> str:
        name: str = value.typename
        return name

    def run_or_user(value: Any, *_: Any) -> str:
        return "Run" if type(value).__name__ == "RunNode" else "User"

    coll.resolve_type = by_typename  # type: ignore[union-attr]
    initiator.resolve_type = run_or_user  # type: ignore[union-attr]


_install_type_resolvers()


#: Longest ``query`` document accepted, in characters (the wandb SDK's longest is a few KiB).
MAX_QUERY_LENGTH = 128 << 10
#: Most lexical tokens a document may have; parsing stops at the next one (graphql-core's
#: ``max_tokens``), so a hostile document costs bounded time and memory.
MAX_QUERY_TOKENS = 10_000
#: Documents up to this many characters are kept, parsed and validated, in an LRU cache of
#: ``PARSE_CACHE_SIZE`` entries (the SDK sends the same few documents again and again);
#: longer ones are parsed for each request and dropped.
CACHED_QUERY_LENGTH = 16 << 10
PARSE_CACHE_SIZE = 256


@dataclass(frozen=True)
class PreparedQuery:
    """A parsed and validated ``query`` document.

    ``syntax_error`` is set when the text is no GraphQL document (or is above the size or
    token limits); ``validation_errors`` lists what this server's schema does not support.
    """

    document: DocumentNode | None
    syntax_error: GraphQLError | None = None
    validation_errors: tuple[GraphQLError, ...] = ()


def _prepare(query: str) -> PreparedQuery:
    if len(query) > MAX_QUERY_LENGTH:
        error = GraphQLError(
            f"query of {len(query)} characters exceeds the limit of {MAX_QUERY_LENGTH}"
        )
        return PreparedQuery(None, error)
    try:
        document = parse(query, max_tokens=MAX_QUERY_TOKENS)
    except GraphQLError as exc:
        return PreparedQuery(None, exc)
    return PreparedQuery(document, None, tuple(validate(get_schema(), document)))


_prepare_cached = lru_cache(maxsize=PARSE_CACHE_SIZE)(_prepare)


def prepare_query(query: str) -> PreparedQuery:
    """Parse and validate ``query``: cached when short, bounded in size and tokens.

    >>> prepare_query("query V { viewer { id } }").syntax_error is None
    True
    >>> prepare_query("query V {").syntax_error.message
    'Syntax Error: Expected Name, found <EOF>.'
    """
    if len(query) <= CACHED_QUERY_LENGTH:
        return _prepare_cached(query)
    return _prepare(query)


def operation_name(body: dict[str, Any], prepared: PreparedQuery | None = None) -> str | None:
    """The operation a request runs: its ``operationName`` or the one in its document."""
    if body.get("operationName"):
        return str(body["operationName"])
    query = body.get("query")
    if prepared is None:
        if not isinstance(query, str):
            return None
        prepared = prepare_query(query)
    if prepared.document is None:
        return None
    ops = [d for d in prepared.document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) == 1 and ops[0].name is not None:
        return ops[0].name.value
    return None


def _resolve_field(source: Any, info: Info, **args: Any) -> Any:
    """The default resolver, after refusing mutation input fields no resolver acts on."""
    if info.parent_type is get_schema().mutation_type and "input" in args:
        check_input(info.field_name, args["input"])
    return default_field_resolver(source, info, **args)


def _error(message: str) -> dict[str, Any]:
    return {"message": message}


def run_graphql(
    ctx: Context, body: dict[str, Any], prepared: PreparedQuery | None = None
) -> dict[str, Any]:
    """Run one request body ``{query, variables, operationName}``; returns the response.

    ``prepared`` is the body's ``query`` as :func:`prepare_query` returned it, if the
    caller has it already.
    """
    query = body.get("query")
    if not isinstance(query, str):
        return {"errors": [_error("request has no GraphQL 'query'")]}
    if prepared is None:
        prepared = prepare_query(query)
    name = operation_name(body, prepared) or "<anonymous>"
    if prepared.syntax_error is not None:
        return {"data": None, "errors": [_error(prepared.syntax_error.message)]}
    errors = prepared.validation_errors
    if errors:
        log.warning("unsupported GraphQL operation %s: %s", name, [e.message for e in errors])
        return {
            "data": None,
            "errors": [
                _error(f"local W&B server does not support operation {name!r}: {e.message}")
                for e in errors
            ],
        }
    assert prepared.document is not None
    variables = body.get("variables") or {}
    result = execute(
        get_schema(),
        prepared.document,
        root_value=_ROOT,
        context_value=ctx,
        variable_values=variables,
        operation_name=body.get("operationName") or None,
        field_resolver=_resolve_field,
    )
    assert isinstance(result, ExecutionResult)  # every resolver is synchronous
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        log.warning("GraphQL %s errors: %s", name, [e.message for e in result.errors])
        out["errors"] = [_format_error(name, e) for e in result.errors]
    return out


def _format_error(operation: str, error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if isinstance(original, UserInputError):
        return {
            "message": str(original),
            "path": error.path,
            "extensions": {"code": "BAD_USER_INPUT"},
        }
    if original is not None:
        log.error(
            "operation %s failed: %s",
            operation,
            "".join(traceback.format_exception(original)),
        )
        message = (
            f"{operation}: internal error of the local W&B server "
            f"({type(original).__name__}); the traceback is in the server's log"
        )
        return {"message": message, "path": error.path}
    return {"message": error.message, "path": error.path}
