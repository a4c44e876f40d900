"""Why a wandb system test does not pass against the local W&B server.

Every failure or skip falls in one category; :func:`categorize` decides from the test id
and the failure or skip message. A failure that no rule here explains counts as a gap of
the local server: the conformance run's goal is to have none outside the categories below.
"""

from __future__ import annotations

SERVER_GAP = "server gap (local server)"
PARALLEL_WORK = "server gap: references, incremental or distributed artifacts (separate work)"
SDK_SKEW = "SDK skew (tests from another wandb version)"
INTERNET = "needs internet"
TEAMS = "needs teams/orgs/admin"
SERVER_FEATURE = "skipped by the tests themselves (flaky, or a feature the server lacks)"

#: Tests that reach public buckets or web sites; the plugin skips them before they run
#: (the conformance run never leaves 127.0.0.1).
NEEDS_INTERNET_TESTS: dict[str, str] = {
    "::test_reference_download": "downloads an https reference from a public S3 bucket",
    "test_wandb_artifact_config_set_item": "adds an https reference (HEAD on a public bucket)",
    "test_wandb_artifact_config_update": "adds an https reference (HEAD on a public bucket)",
    "test_wandb_artifact_init_config": "adds an https reference (HEAD on a public bucket)",
    "[audio_ref_https]": "adds an https reference (HEAD on a public bucket)",
    "[audio_ref_s3]": "reads a public S3 bucket",
    "[audio_ref_gs]": "reads a public GCS bucket",
}

#: Test id fragment -> (category, reason), for outcomes explained outside the server.
KNOWN: dict[str, tuple[str, str]] = {
    "test_deduplicate_wbimage_from_array": (
        SDK_SKEW,
        "no server involved: wandb 0.31 stores the two images' entries differently",
    ),
    "test_fetch_registry_artifact": (
        SDK_SKEW,
        "the test's mocked ArtifactMembershipFragment lacks createdAt, required in 0.31",
    ),
    "test_fetch_migrated_registry_artifact": (
        SDK_SKEW,
        "the test's mocked ArtifactMembershipFragment lacks createdAt, required in 0.31",
    ),
    "test_distributed_artifact_simple": (PARALLEL_WORK, "distributed artifacts"),
    "test_add_file_respects_incremental": (PARALLEL_WORK, "incremental artifacts"),
    "test_resumed_run_incremental_table_ordering": (PARALLEL_WORK, "incremental artifacts"),
    "test_using_incrementally_logged_table": (PARALLEL_WORK, "incremental artifacts"),
    "test_s3_storage_handler_load_path_missing_reference": (PARALLEL_WORK, "references"),
    "test_artifact_add_reference_via_url": (PARALLEL_WORK, "references between artifacts"),
    "test_add_reference_via_artifact_entry": (PARALLEL_WORK, "references between artifacts"),
    "test_incr_logging": (PARALLEL_WORK, "incremental artifacts (incremental tables)"),
    "test_resumed_run_": (PARALLEL_WORK, "incremental artifacts (incremental tables)"),
    "test_table_incremental_logging": (PARALLEL_WORK, "incremental artifacts (incremental tables)"),
}

#: Message fragment -> category, for failures whose message says why.
BY_MESSAGE: dict[str, str] = {
    "SDK skew": SDK_SKEW,
    "has no attribute 'check_md5_obj_path'": SDK_SKEW,  # a cache method 0.31 removed
    "requires a `format` argument": SDK_SKEW,  # wandb.Video's 0.31 signature
    "needs internet": INTERNET,
    "needs teams/orgs": TEAMS,
    "Cannot create a test registry on this server version": TEAMS,
}


def categorize(test_id: str, outcome: str, message: str) -> str:
    """The category of a test that did not pass."""
    for fragment, (category, _) in KNOWN.items():
        if fragment in test_id:
            return category
    for fragment, category in BY_MESSAGE.items():
        if fragment in message:
            return category
    if "collection failure" in message and "wandb" in message:
        return SDK_SKEW  # a test module importing what the installed SDK no longer has
    if outcome == "skipped":
        return SERVER_FEATURE
    return SERVER_GAP
