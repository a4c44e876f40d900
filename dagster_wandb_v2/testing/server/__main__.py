"""Command line: ``python -m dagster_wandb_v2.testing.server --port N --data-dir DIR``.

Prints ``WANDB_BASE_URL=...`` and ``WANDB_API_KEY=...`` once listening, then serves
until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading
from types import FrameType

from .server import LocalWandbServer


def public_key_warning(host: str, api_key: str | None) -> str | None:
    """The warning for serving beyond loopback with the default (published) API key.

    >>> public_key_warning("127.0.0.1", None) is None
    True
    """
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        loopback = False
    if loopback or api_key is not None:
        return None
    return (
        f"warning: listening on {host} with the default API key, which is public (it is in "
        "this package's source): anyone who can reach this address can read and write its "
        "data; pass --api-key with a secret key"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_wandb_v2.testing.server",
        description="Local W&B-compatible server for tests (GraphQL, files, file_stream).",
    )
    parser.add_argument("--port", type=int, default=0, help="port (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--data-dir", required=True, help="directory for SQLite and files")
    parser.add_argument("--api-key", default=None, help="API key to accept (default: fixed key)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every request")
    parser.add_argument("--request-log", default=None, help="append one JSON line per request")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server = LocalWandbServer(
        data_dir=args.data_dir,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        request_log=args.request_log,
    )
    try:
        server.start()
    except OSError as error:  # e.g. EADDRINUSE: say what to do instead of a traceback
        print(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}; "
            "choose another --port (0 picks a free one)",
            file=sys.stderr,
        )
        return 2
    if warning := public_key_warning(args.host, args.api_key):
        print(warning, file=sys.stderr)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"WANDB_BASE_URL={server.base_url}", flush=True)
    print(f"WANDB_API_KEY={server.api_key}", flush=True)
    print(f"data dir: {server.data_dir}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
