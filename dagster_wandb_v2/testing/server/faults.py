"""Test-only fault injection, consulted once per request at the central dispatch point.

A rule matches a GraphQL operation name (``"CommitArtifact"``) or a route kind
(``"graphql"``, ``"upload"``, ``"download"``, ``"file_stream"``), or ``"*"`` for all.

Example::

    server.faults.fail_next("CommitArtifact", times=2, status=503)
    server.faults.delay("upload", seconds=0.5)
    server.faults.drop_next("upload")       # close the connection mid-body
    server.faults.clear()
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

ROUTE_KINDS = ("graphql", "upload", "download", "file_stream", "other")


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
        """Close the connection of the next ``times`` matching requests without answering."""
        return self.add(FaultRule(operation, drop=True, times=times))

    def clear(self) -> None:
        """Remove every rule (the global latency stays)."""
        with self._lock:
            self._rules.clear()

    def add_from_json(self, spec: dict[str, Any]) -> FaultRule:
        """Add a rule from ``{"operation", "status"?, "delay_ms"?, "drop"?, "times"?}``."""
        return self.add(
            FaultRule(
                operation=str(spec.get("operation", "*")),
                status=int(spec["status"]) if spec.get("status") is not None else None,
                delay_s=float(spec.get("delay_ms", 0)) / 1000.0,
                drop=bool(spec.get("drop", False)),
                times=int(spec["times"]) if spec.get("times") is not None else None,
            )
        )

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
