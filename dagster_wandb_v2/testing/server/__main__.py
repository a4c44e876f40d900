"""Command line: ``python -m dagster_wandb_v2.testing.server --port N --data-dir DIR``.

Prints ``WANDB_BASE_URL=...`` once listening, and ``WANDB_API_KEY=...`` when the key was
generated (one given in ``DAGSTER_WANDB_LOCAL_SERVER_API_KEY`` or ``--api-key`` is not
echoed), then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
from types import FrameType

from .credentials import API_KEY_VARIABLE
from .server import LocalWandbServer
from .signed_urls import DEFAULT_TTL_SECONDS


def beyond_loopback_warning(host: str) -> str | None:
    """The warning for serving on an address other machines may reach (see the security
    model in ``docs/local-server.md``).

    >>> beyond_loopback_warning("127.0.0.1") is None
    True
    """
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        loopback = False
    if loopback:
        return None
    return (
        f"warning: listening on {host}: anyone who can reach this address can read every "
        "project, run, artifact and file through the pages (they need no API key), and "
        "all traffic, the API key included, is plain HTTP"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_wandb_v2.testing.server",
        description="Local W&B-compatible server for tests (GraphQL, files, file_stream).",
    )
    parser.add_argument("--port", type=int, default=0, help="port (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--data-dir", required=True, help="directory for SQLite and files")
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"API key to accept; visible to every user in the process list, prefer "
        f"${API_KEY_VARIABLE} (default: a key generated for the data dir and kept there)",
    )
    parser.add_argument(
        "--signed-url-ttl",
        type=float,
        default=DEFAULT_TTL_SECONDS,
        help="seconds a signed upload/download URL works after it is handed out "
        f"(default {DEFAULT_TTL_SECONDS}: one day)",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="base of the URLs handed out, when clients reach the server by another "
        "address (e.g. a port mapping); default: the address they connected to",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every request")
    parser.add_argument("--request-log", default=None, help="append one JSON line per request")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    given_key = args.api_key or os.environ.get(API_KEY_VARIABLE) or None
    server = LocalWandbServer(
        data_dir=args.data_dir,
        api_key=given_key,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        request_log=args.request_log,
        signed_url_ttl_seconds=args.signed_url_ttl,
        public_url=args.public_url,
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
    if warning := beyond_loopback_warning(args.host):
        print(warning, file=sys.stderr)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"WANDB_BASE_URL={server.base_url}", flush=True)
    if given_key is None:  # a key given by the user is not echoed into logs
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
