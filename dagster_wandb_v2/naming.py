"""Artifact names from asset keys, op outputs and partition keys.

Rules (documented in README):

- an asset ``my_asset`` writes the artifact ``my_asset``; a prefixed key
  ``["team", "my_asset"]`` writes ``team__my_asset`` (W&B names cannot hold ``/``);
- an ``@op`` output without an asset key uses ``name`` from its configuration;
- a partition appends ``.<partition key>``; a multi-dimensional key appends one segment per
  dimension, in dimension-name order: ``my_asset.blue.2024-01-01``;
- characters W&B rejects in a partition segment (anything but letters, digits, ``-``,
  ``_``, ``.``) become ``-``, and a short hash of the original segment is appended so that
  two different keys never share a name: ``a/b`` -> ``a-b-3ec69c``.

Example::

    >>> partition_artifact_name("my_asset", "2024-01-01")
    'my_asset.2024-01-01'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from dagster import AssetKey, MultiPartitionKey

_INVALID = re.compile(r"[^a-zA-Z0-9_\-.]")


def asset_artifact_name(asset_key: AssetKey) -> str:
    """The artifact name of an asset: its key path joined with ``__``."""
    return "__".join(asset_key.path)


def sanitize_segment(segment: str) -> str:
    """Make one partition segment a valid part of a W&B artifact name, deterministically.

    >>> sanitize_segment("2024-01-01")
    '2024-01-01'
    >>> sanitize_segment("a b")
    'a-b-7dbde9'
    """
    if not _INVALID.search(segment):
        return segment
    digest = hashlib.sha1(segment.encode()).hexdigest()[:6]
    return f"{_INVALID.sub('-', segment)}-{digest}"


def partition_segments(partition_key: str) -> list[str]:
    """One segment per dimension, in dimension-name order, for (multi-)partition keys."""
    if isinstance(partition_key, MultiPartitionKey):
        by_dimension: Mapping[str, str] = partition_key.keys_by_dimension
        return [by_dimension[dimension] for dimension in sorted(by_dimension)]
    return [partition_key]


def partition_artifact_name(base_name: str, partition_key: str) -> str:
    """``<base_name>.<segment>[.<segment>...]`` for one partition."""
    segments = [sanitize_segment(segment) for segment in partition_segments(partition_key)]
    return ".".join([base_name, *segments])


def legacy_partition_artifact_name(base_name: str, partition_key: str) -> str:
    """The name the legacy ``dagster-wandb`` gave a partition (``|`` replaced by ``-``)."""
    return f"{base_name}.{str(partition_key).replace('|', '-')}"
