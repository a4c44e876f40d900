"""Why a wandb system test does not pass against the local W&B server.

Every failure or skip falls in one category; :func:`categorize` decides from the test id
and the failure or skip message. A failure not listed in :data:`KNOWN` counts as a gap of
the local server: the conformance run's goal is to have none.
"""

from __future__ import annotations

SERVER_GAP = "server gap (local server)"
SDK_SKEW = "SDK skew (tests from another wandb version)"
INTERNET = "needs internet"
TEAMS = "needs teams/orgs/admin"
SERVER_VERSION = "skipped by the tests for this server's features"

#: Test id fragment -> (category, reason), for failures and skips explained elsewhere.
KNOWN: dict[str, tuple[str, str]] = {}


def categorize(test_id: str, outcome: str, message: str) -> str:
    """The category of a test that did not pass."""
    for fragment, (category, _) in KNOWN.items():
        if fragment in test_id:
            return category
    if "SDK skew" in message or ("collection failure" in message and "wandb" in message):
        return SDK_SKEW
    if message.startswith("needs teams/orgs") or "needs teams/orgs" in message:
        return TEAMS
    if outcome == "skipped":
        return SERVER_VERSION
    return SERVER_GAP
