"""Executes GraphQL requests against the schema, with clear errors for the unsupported."""

from __future__ import annotations

import logging
import traceback
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


@lru_cache(maxsize=512)
def parse_document(query: str) -> DocumentNode | GraphQLError:
    """Parse (cached: the SDK sends the same few documents again and again)."""
    try:
        return parse(query)
    except GraphQLError as exc:
        return exc


@lru_cache(maxsize=512)
def _validation_errors(query: str) -> tuple[GraphQLError, ...]:
    doc = parse_document(query)
    if isinstance(doc, GraphQLError):
        return (doc,)
    return tuple(validate(get_schema(), doc))


def operation_name(body: dict[str, Any]) -> str | None:
    """The operation a request runs: its ``operationName`` or the one in its document."""
    if body.get("operationName"):
        return str(body["operationName"])
    query = body.get("query")
    if not isinstance(query, str):
        return None
    doc = parse_document(query)
    if isinstance(doc, GraphQLError):
        return None
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
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


def run_graphql(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    """Run one request body ``{query, variables, operationName}``; returns the response."""
    query = body.get("query")
    if not isinstance(query, str):
        return {"errors": [_error("request has no GraphQL 'query'")]}
    name = operation_name(body) or "<anonymous>"
    errors = _validation_errors(query)
    if errors:
        log.warning("unsupported GraphQL operation %s: %s", name, [e.message for e in errors])
        return {
            "data": None,
            "errors": [
                _error(f"local W&B server does not support operation {name!r}: {e.message}")
                for e in errors
            ],
        }
    doc = parse_document(query)
    assert not isinstance(doc, GraphQLError)
    variables = body.get("variables") or {}
    result = execute(
        get_schema(),
        doc,
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
        return {"message": f"{operation}: internal error: {original!r}", "path": error.path}
    return {"message": error.message, "path": error.path}
