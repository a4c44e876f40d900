"""Test-only fault injection, consulted once per request at the central dispatch point.

A rule matches a GraphQL operation name (``"CommitArtifact"``) or a route kind
(``"graphql"``, ``"upload"``, ``"download"``, ``"file_stream"``), or ``"*"`` for all. Only
authenticated requests (a valid key or signature) consume rules; ``/healthz``, the
read-only pages and ``/_local/faults`` itself are never faulted.

Example::

    server.faults.fail_next("CommitArtifact", times=2, status=503)
    server.faults.delay("upload", seconds=0.5)
    server.faults.drop_next("upload")       # close the connection mid-body
    server.faults.drop_next("download")     # send half of the file, then close
    server.faults.clear()
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

ROUTE_KINDS = ("graphql", "upload", "download", "file_stream", "other")


_SPEC_FIELDS = frozenset({"operation", "status", "delay_ms", "drop", "times", "latency_ms"})


class FaultSpecError(ValueError):
    """A fault rule given as JSON (``POST /_local/faults``) that is not one."""


def _number(spec: dict[str, Any], name: str) -> float:
    value = spec.get(name, 0)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1e9:
        raise FaultSpecError(f"{name!r} must be a number of milliseconds from 0")
    return float(value)


def _optional_int(spec: dict[str, Any], name: str, low: int, high: int | None) -> int | None:
    value = spec.get(name)
    if value is None:
        return None
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"from {low} to {high}" if high is not None else f"from {low}"
        raise FaultSpecError(f"{name!r} must be a whole number {bounds}")
    return value


@dataclass
class FaultRule:
    """What to do to matching requests, for the next ``times`` of them (``None``: always)."""

    operation: str
    status: int | None = None
    delay_s: float = 0.0
    drop: bool = False
    times: int | None = 1

    def matches(self, route: str, operation: str | None) -> bool:
        return self.operation in ("*", route) or (
            operation is not None and self.operation == operation
        )


@dataclass(frozen=True)
class FaultAction:
    """The combined effect of the rules that matched one request."""

    status: int | None = None
    delay_s: float = 0.0
    drop: bool = False


class Faults:
    """Thread-safe set of fault rules plus a global per-request latency."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.latency_ms = latency_ms
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_next(self, operation: str, times: int = 1, status: int = 503) -> FaultRule:
        """Answer the next ``times`` matching requests with HTTP ``status``."""
        return self.add(FaultRule(operation, status=status, times=times))

    def delay(self, operation: str, seconds: float, times: int | None = None) -> FaultRule:
        """Delay matching requests by ``seconds`` (all of them unless ``times``)."""
        return self.add(FaultRule(operation, delay_s=seconds, times=times))

    def drop_next(self, operation: str, times: int = 1) -> FaultRule:
        """Close the connection of the next ``times`` matching requests without answering
        (an upload after half of its body is read; a download after half of the file is
        sent)."""
        return self.add(FaultRule(operation, drop=True, times=times))

    def clear(self) -> None:
        """Remove every rule (the global latency stays)."""
        with self._lock:
            self._rules.clear()

    def add_from_json(self, spec: dict[str, Any]) -> FaultRule:
        """Add a rule from ``{"operation", "status"?, "delay_ms"?, "drop"?, "times"?}``.

        Raises :class:`FaultSpecError` naming the field that is missing or of a wrong type.
        """
        operation = spec.get("operation", "*")
        if not isinstance(operation, str) or not operation:
            raise FaultSpecError("'operation' must be a non-empty string")
        status = _optional_int(spec, "status", 100, 599)
        times = _optional_int(spec, "times", 1, None)
        drop = spec.get("drop", False)
        if not isinstance(drop, bool):
            raise FaultSpecError("'drop' must be true or false")
        delay_ms = _number(spec, "delay_ms")
        return self.add(
            FaultRule(operation, status=status, delay_s=delay_ms / 1000.0, drop=drop, times=times)
        )

    def configure_from_json(self, spec: object) -> None:
        """Apply ``POST /_local/faults``: ``{"latency_ms"?}`` sets the global latency, a
        rule's fields (with ``"operation"``) add a rule (see :meth:`add_from_json`).

        Raises :class:`FaultSpecError` for anything else (not an object, an unknown field).
        """
        if not isinstance(spec, dict):
            raise FaultSpecError("the fault spec must be a JSON object")
        unknown = sorted(set(spec) - _SPEC_FIELDS)
        if unknown:
            raise FaultSpecError(
                f"unknown fault spec field(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(_SPEC_FIELDS))}"
            )
        latency_ms = _number(spec, "latency_ms") if "latency_ms" in spec else None
        if "operation" in spec:
            self.add_from_json(spec)
        if latency_ms is not None:
            self.latency_ms = latency_ms

    def take(self, route: str, operation: str | None) -> FaultAction:
        """Consume the rules matching one request and return what to do."""
        status: int | None = None
        delay_s = self.latency_ms / 1000.0
        drop = False
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(route, operation):
                    continue
                status = rule.status if rule.status is not None else status
                delay_s += rule.delay_s
                drop = drop or rule.drop
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
        return FaultAction(status=status, delay_s=delay_s, drop=drop)
