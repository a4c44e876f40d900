"""Is the W&B host reachable? A bounded, logged check before the wandb SDK talks to it.

The wandb SDK retries an unreachable host in silence (with its defaults, about 90 s until
``wandb.init`` gives up with ``context deadline exceeded``) and has no hook to report each
retry. So before a run starts or an API is built, one HTTP request goes to the host,
retried with the resource's retry settings; each wait is logged as a warning naming the
host, and the final error names the settings that bound the retries. Any HTTP answer, an
error status included, means reachable: the SDK handles the rest.

Example::

    check_reachable("http://127.0.0.1:8080", RetryPolicy(max_retries=2, wait_max_seconds=1))
"""

from __future__ import annotations

import logging
import os
import time

from dagster_wandb_v2.client import RetryPolicy
from dagster_wandb_v2.errors import WandbHostUnreachableError

DEFAULT_RETRIES = 7
"""Retries when ``WandbResource.max_retries`` is unset: with the default waits (1, 2, 4, 8,
16, 16, 16 s) about a minute, within the 90 s the SDK's ``wandb.init`` waits."""
DEFAULT_WAIT_MAX_SECONDS = 16
DEFAULT_TIMEOUT_SECONDS = 10

_OFFLINE_MODES = ("offline", "dryrun", "disabled")


def retry_settings(policy: RetryPolicy) -> str:
    """The ``WandbResource`` settings bounding retries, with their values, for messages.

    >>> retry_settings(RetryPolicy(max_retries=2))
    'WandbResource.max_retries=2, retry_wait_max_seconds=unset, request_timeout_seconds=unset'
    """
    values = {
        "max_retries": policy.max_retries,
        "retry_wait_max_seconds": policy.wait_max_seconds,
        "request_timeout_seconds": policy.timeout_seconds,
    }
    return "WandbResource." + ", ".join(
        f"{name}={'unset' if value is None else value}" for name, value in values.items()
    )


def check_reachable(host: str, policy: RetryPolicy, log: logging.Logger | None = None) -> None:
    """Return once ``host`` answers an HTTP request; retry with ``policy``, logging waits.

    Skipped when ``WANDB_MODE`` is offline or disabled (the SDK then sends nothing).

    Raises:
        WandbHostUnreachableError: no answer after ``max_retries`` retries (default
            :data:`DEFAULT_RETRIES`); names the host, the last error and the settings.
    """
    import requests

    if os.environ.get("WANDB_MODE", "").lower() in _OFFLINE_MODES:
        return
    log = log or _dagster_logger()
    retries = DEFAULT_RETRIES if policy.max_retries is None else policy.max_retries
    wait_max = policy.wait_max_seconds or DEFAULT_WAIT_MAX_SECONDS
    timeout = policy.timeout_seconds or DEFAULT_TIMEOUT_SECONDS
    started = time.monotonic()
    for attempt in range(retries + 1):
        try:
            requests.get(host, timeout=timeout, allow_redirects=False)
            return
        except requests.exceptions.SSLError:
            return  # it answered; certificates are the SDK's business (REQUESTS_CA_BUNDLE)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            reason = _short_reason(error)
        if attempt < retries:
            wait = min(2**attempt, wait_max)
            log.warning(
                f"W&B host {host} is not reachable ({reason}); retry {attempt + 1} of "
                f"{retries} in {wait} s (bounded by {retry_settings(policy)})"
            )
            time.sleep(wait)
    raise WandbHostUnreachableError(
        f"W&B host {host} is not reachable after {retries + 1} attempt(s) in "
        f"{time.monotonic() - started:.0f} s: {reason}. Check WandbResource.host (or the "
        f"WANDB_BASE_URL environment variable) and the network; retries are bounded by "
        f"{retry_settings(policy)}"
    )


def _short_reason(error: Exception) -> str:
    """'connection refused', 'timed out'... rather than urllib3's nested reprs."""
    text = str(error)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "Temporary failure in name resolution",
        "Network is unreachable",
        "No route to host",
        "timed out",
    ):
        if marker.lower() in text.lower():
            return marker.lower()
    return type(error).__name__


def _dagster_logger() -> logging.Logger:
    from dagster import get_dagster_logger

    return get_dagster_logger("dagster_wandb_v2")
