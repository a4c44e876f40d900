"""The wandb SDK's private attributes this package uses, where the SDK has no public API.

Everything else goes through the SDK's public API. Each function here reads one private
attribute and raises :class:`WandbSdkChangedError`, naming the attribute and the installed
wandb version, when the SDK no longer has it: an SDK upgrade that changes one fails
loudly, and ``tests/integration/test_sdk_private_sdk.py`` checks every one against the
installed SDK and the local server.

- :func:`draft_version_id`: ``Artifact.id`` is ``None`` while a version is a draft (the
  ``upsert_artifact`` of a distributed artifact), and the SDK keeps the id in ``_id``;
- :func:`execute_graphql`: the public API (wandb 0.31) sends GraphQL through wandb-core
  (``Api._service_api``) and has no public call for it (``Api.client`` and ``wandb_gql``
  were removed); W&B's queries for draft versions, ``CommitArtifact`` and launch queue
  items have no public wrapper;
- :func:`run_is_finished`: ``wandb.Run`` has no public "finished" flag;
- :func:`rename_artifact`: ``Artifact.name`` has no setter, and a returned artifact is
  logged under the asset's name;
- :func:`joined_tables`: ``JoinedTable`` does not expose its two tables;
- :func:`added_objects`: the W&B objects added to an artifact (``Artifact.add``), whose
  tables the SDK may have cut;
- :func:`add_file_with_digest`: ``Artifact.add_file`` takes no digest and hashes the file
  again (an ``mmap`` of all of it); ``_add_local_file``, which it calls once it has hashed
  the file, takes one. Without it the caller falls back to ``add_file``;
- :func:`artifact_links` and :func:`detached`: the artifact a W&B object was read from or
  added to, which makes ``Artifact.add`` store a reference instead of its content.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any, cast


class WandbSdkChangedError(RuntimeError):
    """The installed wandb SDK no longer has a private attribute this package relies on."""


def _missing(attribute: str, needed_for: str) -> WandbSdkChangedError:
    import wandb

    return WandbSdkChangedError(
        f"wandb {wandb.__version__} has no {attribute}, which dagster_wandb_v2 needs for "
        f"{needed_for}; install a wandb version this package supports (see its "
        "pyproject.toml)"
    )


def draft_version_id(artifact: Any) -> str:
    """The W&B id of a draft version (an ``upsert_artifact`` once ``wait()`` returned).

    Raises :class:`WandbSdkChangedError` if the SDK keeps no ``Artifact._id``, and
    ``RuntimeError`` if it holds none (the upsert did not reach W&B).

    >>> draft_version_id(type("A", (), {"_id": "QXJ0aWZhY3Q6MQ=="})())
    'QXJ0aWZhY3Q6MQ=='
    """
    if not hasattr(artifact, "_id"):
        raise _missing("Artifact._id", "the id of a distributed artifact's draft version")
    draft_id = artifact._id
    if not draft_id:
        raise RuntimeError("the wandb SDK did not report the draft version's id")
    return str(draft_id)


def execute_graphql(api: Any, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run one GraphQL operation on W&B through ``api`` (a ``wandb.Api``); its ``data``.

    Raises :class:`WandbSdkChangedError` if the SDK has no ``Api._service_api`` with
    ``execute_graphql``; W&B's errors as the SDK raises them (``WandbApiFailedError``).
    """
    service = getattr(api, "_service_api", None)
    if service is None or not callable(getattr(service, "execute_graphql", None)):
        raise _missing("wandb.Api()._service_api.execute_graphql", "W&B GraphQL operations")
    return cast(dict[str, Any], service.execute_graphql(query, variables))


def run_is_finished(run: Any) -> bool:
    """Whether ``run`` (a ``wandb.Run``) was finished.

    Raises :class:`WandbSdkChangedError` if the SDK keeps no ``Run._is_finished``.
    """
    if not hasattr(run, "_is_finished"):
        raise _missing("wandb.Run._is_finished", "telling a finished W&B run from an open one")
    return bool(run._is_finished)


def rename_artifact(artifact: Any, name: str) -> None:
    """Give a draft ``wandb.Artifact`` the name ``name`` (it is logged under it).

    Raises :class:`WandbSdkChangedError` if the SDK keeps no ``Artifact._name``.
    """
    if not hasattr(artifact, "_name"):
        raise _missing("Artifact._name", "logging a returned artifact under its asset's name")
    artifact._name = name
    if hasattr(artifact, "_source_name"):
        artifact._source_name = name


def joined_tables(joined: Any) -> tuple[Any, Any]:
    """The two tables of a ``wandb.JoinedTable`` (each a ``wandb.Table`` or a path).

    Raises :class:`WandbSdkChangedError` if the SDK keeps no ``_table1``/``_table2``.
    """
    if not hasattr(joined, "_table1") or not hasattr(joined, "_table2"):
        raise _missing("JoinedTable._table1/_table2", "checking the rows of joined tables")
    return joined._table1, joined._table2


def added_objects(artifact: Any) -> list[tuple[Any, Any]]:
    """``(W&B object, manifest entry)`` of every object ``Artifact.add`` added.

    Raises :class:`WandbSdkChangedError` if the SDK keeps no ``Artifact._added_objs``.
    """
    if not hasattr(artifact, "_added_objs"):
        raise _missing("Artifact._added_objs", "checking the tables added to an artifact")
    added: Mapping[int, tuple[Any, Any]] = artifact._added_objs
    return list(added.values())


def artifact_links(value: Any) -> tuple[Any, Any]:
    """``(source, target)``: where a W&B object was read from (``Artifact.get``; its
    ``.artifact`` and ``.name``) and the artifact it was added to; ``None`` when not.
    ``(None, None)`` for objects that are no W&B value."""
    return getattr(value, "_artifact_source", None), getattr(value, "_artifact_target", None)


def detached(value: Any) -> Any:
    """A shallow copy of a W&B object linked to no artifact, so that ``Artifact.add``
    stores its content (the SDK stores a linked one as a reference to the other entry)."""
    copied = copy.copy(value)
    copied._artifact_source = None
    copied._artifact_target = None
    return copied


def add_file_with_digest(artifact: Any, name: str, path: str, md5: str) -> Any | None:
    """``artifact.add_file(path, name=name, policy="immutable", skip_cache=True)`` with the
    base64 MD5 ``md5`` already known, through ``Artifact._add_local_file`` (wandb
    0.29-0.31, ``wandb/sdk/artifacts/artifact.py``); returns the manifest entry, or
    ``None`` when the SDK has no such method or another signature (then call ``add_file``).
    """
    add_local_file = getattr(artifact, "_add_local_file", None)
    if add_local_file is None:
        return None
    try:
        return add_local_file(name, path, digest=md5, skip_cache=True, policy="immutable")
    except TypeError:
        return None


_PRUNE_LOCK = threading.Lock()


def make_artifact_caches_thread_safe() -> None:
    """Let several threads create ``wandb.Artifact`` objects at once (concurrent reads).

    The SDK keeps every ``Artifact`` it creates in process-wide ``CappedDict``s
    (``wandb.sdk.artifacts.artifact_instance_cache``, 100 entries); once full, each new
    artifact prunes the oldest, and two threads pruning at once delete the same key, so one
    of them fails with ``KeyError`` (``use_artifact`` then raises ``CommError``). Pruning
    is made atomic and tolerant of a key already gone. Idempotent; without ``CappedDict``
    (another SDK version), nothing is changed.
    """
    try:
        from wandb.sdk.lib.capped_dict import CappedDict
    except ImportError:
        return
    if getattr(CappedDict._prune_dict, "_thread_safe", False):
        return

    def _prune_dict(self: Any, max_size: int) -> None:
        with _PRUNE_LOCK:
            for key in list(self.keys())[: max(len(self) - max_size, 0)]:
                self.pop(key, None)

    _prune_dict._thread_safe = True  # type: ignore[attr-defined]
    CappedDict._prune_dict = _prune_dict  # type: ignore[method-assign]
