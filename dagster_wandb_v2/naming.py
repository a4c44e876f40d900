"""Artifact names from asset keys, op outputs and partition keys: always valid W&B names.

W&B accepts artifact names of at most 128 characters made of letters, digits, ``-``, ``_``
and ``.`` (the length comes from the wandb SDK, the characters from the W&B server). The
rule (documented in README, "Partitions"):

- an asset ``my_asset`` writes the artifact ``my_asset``; a prefixed key
  ``["team", "my_asset"]`` writes ``team__my_asset`` (W&B names cannot hold ``/``);
- an ``@op`` output without an asset key uses ``name`` from its configuration;
- a partition appends ``.<partition key>``; a multi-dimensional key appends one segment per
  dimension, in dimension-name order: ``my_asset.blue.2024-01-01``;
- a part that W&B would refuse (an asset key component, a partition key, one dimension of a
  multi-dimensional key) has each refused character replaced by ``-`` and the first 6 hex
  digits of the SHA-1 of the original part appended, so that two different keys never
  share a name: ``a/b`` -> ``a-b-3ec69c``. In one dimension of a multi-dimensional key a
  ``.`` counts as refused too, so ``("a.b", "c")`` and ``("a", "b.c")`` stay apart;
- a name longer than 128 characters keeps its first 64 and last 50 characters, joined by
  ``-<first 12 hex digits of the SHA-1 of the whole name>-`` (exactly 128 characters);
- a name that is already valid is kept unchanged (the names of the legacy integration).

Writers and readers derive names with the same functions, so they always agree.

Example::

    >>> partition_artifact_name("my_asset", "2024-01-01")
    'my_asset.2024-01-01'
    >>> len(partition_artifact_name("my_asset", "s3://bucket/" + "folder/" * 30 + "x.csv"))
    128
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from dagster import AssetKey, MultiPartitionKey

from dagster_wandb_v2.wandb_rules import max_name_length

_REFUSED = re.compile(r"[^a-zA-Z0-9_\-.]")
_REFUSED_IN_DIMENSION = re.compile(r"[^a-zA-Z0-9_\-]")
_SEGMENT_HASH_LENGTH = 6
_NAME_HASH_LENGTH = 12
_HEAD_LENGTH = 64


def asset_artifact_name(asset_key: AssetKey) -> str:
    """The artifact name of an asset: its key path joined with ``__``.

    >>> asset_artifact_name(AssetKey(["team", "my_asset"]))
    'team__my_asset'
    >>> asset_artifact_name(AssetKey(["s3://bucket", "raw"]))
    's3---bucket-e2efa5__raw'
    """
    return shorten("__".join(sanitize_segment(part) for part in asset_key.path))


def sanitize_segment(segment: str, *, dots_allowed: bool = True) -> str:
    """Make one part of a name valid for W&B, deterministically (valid parts are kept).

    >>> sanitize_segment("2024-01-01")
    '2024-01-01'
    >>> sanitize_segment("a b")
    'a-b-7dbde9'
    >>> sanitize_segment("1.2", dots_allowed=False)
    '1-2-8114b9'
    """
    refused = _REFUSED if dots_allowed else _REFUSED_IN_DIMENSION
    if segment and not refused.search(segment):
        return segment
    digest = hashlib.sha1(segment.encode()).hexdigest()[:_SEGMENT_HASH_LENGTH]
    return f"{refused.sub('-', segment)}-{digest}"


def shorten(name: str) -> str:
    """``name`` if it fits W&B's length limit, else its head and tail joined by a hash.

    The hash is of the whole name, so two long names that share their head and tail still
    differ.

    >>> shorten("my_asset")
    'my_asset'
    >>> shorten("a" * 200)[60:82]
    'aaaa-e61cfffe0d91-aaaa'
    """
    limit = max_name_length()
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:_NAME_HASH_LENGTH]
    tail_length = limit - _HEAD_LENGTH - _NAME_HASH_LENGTH - 2
    return f"{name[:_HEAD_LENGTH]}-{digest}-{name[-tail_length:]}"


def partition_segments(partition_key: str) -> list[str]:
    """One segment per dimension, in dimension-name order, for (multi-)partition keys."""
    if isinstance(partition_key, MultiPartitionKey):
        by_dimension: Mapping[str, str] = partition_key.keys_by_dimension
        return [by_dimension[dimension] for dimension in sorted(by_dimension)]
    return [partition_key]


def partition_artifact_name(base_name: str, partition_key: str) -> str:
    """``<base_name>.<segment>[.<segment>...]`` for one partition, valid for W&B.

    >>> partition_artifact_name("x", MultiPartitionKey({"color": "blue", "date": "2024-01-01"}))
    'x.blue.2024-01-01'
    """
    dots_allowed = not isinstance(partition_key, MultiPartitionKey)
    segments = [
        sanitize_segment(segment, dots_allowed=dots_allowed)
        for segment in partition_segments(partition_key)
    ]
    return shorten(".".join([base_name, *segments]))


def legacy_partition_artifact_name(base_name: str, partition_key: str) -> str:
    """The name the legacy ``dagster-wandb`` gave a partition (``|`` replaced by ``-``).

    The legacy package could only write valid names, which are returned unchanged; any
    other key gets a valid name that no legacy artifact has (so a read reports it missing).
    """
    return shorten(f"{base_name}.{sanitize_segment(str(partition_key).replace('|', '-'))}")
