"""Bounds on what one client can make the server hold: body sizes, idle time, connections.

The GraphQL document limits (length, tokens, parse cache) are in :mod:`.graphql_api`.

Example::

    from dagster_wandb_v2.testing.server import Limits, LocalWandbServer

    server = LocalWandbServer(limits=Limits(idle_timeout_s=5.0, max_connections=32))
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-server limits; the defaults fit the wandb SDK's own traffic with room to spare.

    - ``max_body_bytes``: largest body of ``/graphql``, ``file_stream`` and
      ``/_local/faults`` requests, both as sent and once gzip-decompressed (HTTP 413
      beyond). The SDK's ``file_stream`` requests stay near 10 MiB (wandb-core's
      ``defaultMaxRequestSizeBytes``). Uploads (``PUT``) stream to disk and have no limit.
    - ``idle_timeout_s``: seconds a connection may send nothing, between requests or in the
      middle of one (headers or body); then the server closes it. The SDK reopens closed
      keep-alive connections by itself, and its long uploads keep sending.
    - ``max_connections``: connections served at once (one thread each); one more is
      answered ``503`` with ``Retry-After`` and closed, which the SDK retries. Every
      ``wandb.Api`` keeps its own idle connections open, so a pipeline run can hold
      several hundred within the idle timeout (the examples reached 256).
    - ``unauthenticated_drain_bytes``: a refused request (no key) whose announced body
      is at most this size is read and dropped so the connection can be reused; a larger
      body is not read at all and the connection is closed.
    """

    max_body_bytes: int = 64 << 20
    idle_timeout_s: float = 60.0
    max_connections: int = 1024
    unauthenticated_drain_bytes: int = 64 << 10
