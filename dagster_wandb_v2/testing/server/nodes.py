"""Object types of the schema, resolved lazily from :class:`Storage` rows.

graphql-core's default resolver reads an attribute named like the field and calls it
with ``(info, **arguments)`` when it is a method, so each class here is its GraphQL
type: attributes for plain fields, methods for fields with arguments or lookups.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from graphql import GraphQLResolveInfo

from .blobs import hex_to_b64
from .ids import encode_id
from .run_queries import matches, parse_run_filters, run_order_key
from .storage import Identity, Row, Storage
from .validation import UserInputError, natural_number

Info = GraphQLResolveInfo


@dataclass
class Context:
    """Per-request context: the storage, and how to build URLs the client can reach."""

    storage: Storage
    base_url: str
    signer: Any  # callable(method, path) -> absolute URL signed for that method
    user: Identity | None = None  # the caller, when its API key names another user

    @property
    def identity(self) -> Identity:
        return self.user or self.storage.identity

    def download_url(self, path: str) -> str:
        """An absolute URL signed for ``GET`` (and ``HEAD``) of a server path."""
        signed: str = self.signer("GET", path)
        return signed

    def upload_url(self, path: str) -> str:
        """An absolute URL signed for ``PUT`` of a server path."""
        signed: str = self.signer("PUT", path)
        return signed


def iso(ts: float | None) -> str | None:
    """W&B's timestamp format (UTC, seconds, no zone suffix)."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def stable_int(*parts: object) -> int:
    """A number derived from ``parts``, the same in every process."""
    return int(hashlib.md5(repr(parts).encode()).hexdigest()[:12], 16)


def _page_start(after: str | None) -> int:
    """Index of the first node after cursor ``after`` (cursors are node positions)."""
    if after is None or after == "":
        return 0
    position = natural_number(str(after))
    if position is None:
        raise UserInputError(f"invalid pagination cursor {after!r}")
    return position + 1


def page(
    items: list[Any], first: int | None = None, after: str | None = None
) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """One Relay page of ``items``: ``[(cursor, item)]`` and its ``pageInfo``.

    ``first`` items after the cursor ``after`` (a previous page's ``endCursor``), like
    W&B's connections; ``first=None`` returns every remaining item.
    """
    if first is not None and first < 0:
        raise UserInputError(f"'first' must not be negative, got {first}")
    start = _page_start(after)
    end = len(items) if first is None else min(len(items), start + first)
    chosen = [(str(i), items[i]) for i in range(start, end)]
    info = {
        "startCursor": chosen[0][0] if chosen else None,
        "endCursor": chosen[-1][0] if chosen else after,
        "hasNextPage": end < len(items),
        "hasPreviousPage": start > 0,
    }
    return chosen, info


def connection(
    nodes: list[Any], first: int | None = None, after: str | None = None, **edge_extra: Any
) -> dict[str, Any]:
    """A Relay connection over ``nodes``, one page of ``first`` after ``after``."""
    chosen, info = page(nodes, first, after)
    edges = [{"node": n, "cursor": c, **edge_extra} for c, n in chosen]
    return {"edges": edges, "pageInfo": info, "totalCount": len(nodes)}


def ordered(items: list[Any], order: str | None, keys: dict[str, Any]) -> list[Any]:
    """``items`` sorted by ``order`` (``name``, ``+name`` or ``-name``; ``None``: unchanged).

    ``keys`` maps the order names a connection supports to a sort-key function; any
    other name is refused with an error naming it (never silently ignored).
    """
    if order is None:
        return items
    sign, name = (order[0], order[1:]) if order[:1] in "+-" else ("+", order)
    if name not in keys:
        raise UserInputError(
            f"order {order!r} is not supported by the local W&B server "
            f"(supported: {', '.join(sorted(keys))}, each with an optional + or -)"
        )
    return sorted(items, key=keys[name], reverse=sign == "-")


def parse_filters(filters: Any, supported: tuple[str, ...]) -> dict[str, Any]:
    """The ``filters`` argument (JSON) as a dict of equality tests on ``supported`` keys.

    Any other key or operator is refused with an error naming it.
    """
    if filters is None:
        return {}
    parsed = json.loads(filters) if isinstance(filters, str) else filters
    if not isinstance(parsed, dict):
        raise UserInputError(f"filters must be a JSON object, got {filters!r}")
    for key, value in parsed.items():
        if key not in supported or isinstance(value, (dict, list)):
            raise UserInputError(
                f"filter {key!r}: {value!r} is not supported by the local W&B server "
                f"(supported: equality on {', '.join(supported)})"
            )
    return parsed


def split_name(name: str) -> tuple[str, str]:
    """``"coll:alias"`` -> ``("coll", "alias")``; no ``:`` means ``latest``."""
    coll, sep, alias = name.partition(":")
    return coll, (alias if sep else "latest")


def tag_nodes(storage: Storage, target: str, target_id: int) -> list[dict[str, Any]]:
    """The ``Tag`` objects attached to a version or a collection."""
    return [
        {
            "id": encode_id("Tag", r["id"]),
            "name": r["name"],
            "tagCategoryName": None,
            "attributes": None,
        }
        for r in storage.tags_of(target, target_id)
    ]


# ---- identity ------------------------------------------------------------------------
class UserNode:
    def __init__(self, ctx: Context) -> None:
        ident = ctx.identity
        self.ctx = ctx
        self.id = encode_id("User", stable_int(ident.username))
        self.name = ident.username
        self.username = ident.username
        self.email = ident.email
        self.entity = ident.entity
        self.admin = False
        self.flags = "{}"
        self.deletedAt = None
        self.photoUrl = None
        self.accountType = "USER"
        self.apiKeys: dict[str, Any] = {"edges": []}

    def teams(self, info: Info, first: int | None = None) -> dict[str, Any]:
        return connection([EntityNode(self.ctx, self.ctx.identity.org_entity)], first)

    def organizations(self, info: Info) -> list[OrgNode]:
        return [OrgNode(self.ctx)]

    def defaultEntity(self, info: Info) -> EntityNode:
        return EntityNode(self.ctx, self.ctx.identity.entity)

    userEntity = defaultEntity


class OrgNode:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.id = encode_id("Organization", 1)
        self.name = ctx.identity.org_name
        self.advancedRegistryFeatures = {"advancedSearch": False}
        self.coreWeaveOrganizationId = None

    def orgEntity(self, info: Info) -> EntityNode:
        return EntityNode(self.ctx, self.ctx.identity.org_entity)

    def featureFlags(self, info: Info, **_: Any) -> list[dict[str, Any]]:
        return []


class EntityNode:
    def __init__(self, ctx: Context, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.id = encode_id("Entity", stable_int(name))
        self.isTeam = name == ctx.identity.org_entity
        self.entityType = "ORGANIZATION" if self.isTeam else "USER"
        self.available = True
        self.photoUrl = None
        self.readOnly = False
        self.readOnlyAdmin = False
        self.privateOnly = False
        self.storageBytes = 0
        self.codeSavingEnabled = False
        self.defaultAccess = "PRIVATE"
        self.isPaid = False
        self.members: list[Any] = []
        self.xxhashDigestsEnabled = False
        self.defaultFramework = None
        self.settings = None

    def organization(self, info: Info) -> OrgNode:
        return OrgNode(self.ctx)

    def user(self, info: Info) -> UserNode:
        return UserNode(self.ctx)

    def project(self, info: Info, name: str | None = None) -> ProjectNode | None:
        row = self.ctx.storage.project(self.name, name or "")
        return ProjectNode(self.ctx, row) if row else None

    def projects(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        order: str | None = None,
        filters: Any = None,
    ) -> dict[str, Any]:
        """The entity's projects, oldest first unless ``order`` says otherwise."""
        wanted = parse_filters(filters, ("name",))
        rows = self.ctx.storage.all(
            "SELECT * FROM projects WHERE entity=? ORDER BY id", (self.name,)
        )
        rows = [r for r in rows if all(r.get(k) == v for k, v in wanted.items())]
        rows = ordered(rows, order, PROJECT_ORDERS)
        return connection([ProjectNode(self.ctx, r) for r in rows], first, after)


#: Orders of projects (``Entity.projects``, ``Query.projects``/``models``).
PROJECT_ORDERS: dict[str, Any] = {
    "name": lambda r: r["name"],
    "createdAt": lambda r: (r["created_at"], r["id"]),
    "created_at": lambda r: (r["created_at"], r["id"]),
}


# ---- projects and runs ------------------------------------------------------------------
class ProjectNode:
    def __init__(self, ctx: Context, row: Row) -> None:
        self.ctx = ctx
        self.row = row
        self.id = encode_id("Project", row["id"])
        self.internalId = str(row["id"])
        self.name = row["name"]
        self.entityName = row["entity"]
        self.createdAt = iso(row["created_at"])
        self.updatedAt = self.createdAt
        self.description = None
        self.isBenchmark = False
        self.readOnly = False
        self.access = "PRIVATE"
        self.views = "{}"
        self.allowAllArtifactTypesInRegistry = True

    @property
    def _storage(self) -> Storage:
        return self.ctx.storage

    def entity(self, info: Info) -> EntityNode:
        return EntityNode(self.ctx, self.row["entity"])

    def user(self, info: Info) -> UserNode:
        return UserNode(self.ctx)

    def run(self, info: Info, name: str | None = None) -> RunNode | None:
        row = self._storage.run(self.row["id"], name or "")
        return RunNode(self.ctx, row) if row else None

    def bucket(
        self, info: Info, name: str | None = None, missingOk: bool = False
    ) -> RunNode | None:
        return self.run(info, name)

    def _runs(self, filters: Any = None, order: str | None = None) -> list[Row]:
        """The project's runs matching W&B's ``filters``, sorted by ``order``
        (default ``+created_at``, the SDK's), see :mod:`.run_queries`."""
        query = parse_run_filters(filters)
        key, reverse = run_order_key(order)
        rows = self._storage.all("SELECT * FROM runs WHERE project_id=?", (self.row["id"],))
        return sorted((r for r in rows if matches(query, r)), key=key, reverse=reverse)

    def runs(
        self,
        info: Info,
        filters: Any = None,
        after: str | None = None,
        first: int | None = None,
        order: str | None = None,
        before: str | None = None,
        last: int | None = None,
    ) -> dict[str, Any]:
        """One page of runs; backward paging (``before``/``last``) is refused."""
        for name, value in (("before", before), ("last", last)):
            if value is not None:
                raise UserInputError(
                    f"runs({name}:) is not supported by the local W&B server (use first/after)"
                )
        rows = self._runs(filters, order)
        return connection([RunNode(self.ctx, r) for r in rows], first, after)

    def runCount(self, info: Info, filters: Any = None) -> int:
        return len(self._runs(filters))

    def totalRuns(self, info: Info) -> int:
        return len(self._runs())

    def artifactCollection(self, info: Info, name: str | None = None) -> CollectionNode | None:
        row = self._storage.collection(self.row["id"], name or "")
        return CollectionNode(self.ctx, row) if row else None

    def artifactCollections(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        order: str | None = None,
        filters: Any = None,
        collectionTypes: list[str] | None = None,
    ) -> dict[str, Any]:
        rows = self._storage.collections(self.row["id"])
        return collections_connection(self.ctx, rows, first, after, order, filters, collectionTypes)

    def artifactCollectionMembership(self, info: Info, name: str) -> MembershipNode | None:
        coll_name, alias = split_name(name)
        coll = self._storage.collection(self.row["id"], coll_name)
        if coll is None:
            return None
        m = self._storage.resolve_membership(coll["id"], alias)
        return MembershipNode(self.ctx, m, coll) if m else None

    def artifact(self, info: Info, name: str) -> ArtifactNode | None:
        membership = self.artifactCollectionMembership(info, name)
        return membership.artifact(info) if membership else None

    def artifactType(self, info: Info, name: str | None = None) -> ArtifactTypeNode | None:
        row = self._storage.artifact_type(self.row["id"], name or "")
        return ArtifactTypeNode(self.ctx, row) if row else None

    def artifactTypes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        includeAll: bool | None = None,
    ) -> dict[str, Any]:
        rows = self._storage.artifact_types(self.row["id"])
        return connection([ArtifactTypeNode(self.ctx, r) for r in rows], first, after)


class RunNode:
    def __init__(self, ctx: Context, row: Row) -> None:
        self.ctx = ctx
        self.row = row
        self.id = encode_id("Run", row["id"])
        self.name = row["name"]
        self.displayName = row["display_name"] or row["name"]
        self.description = row["description"]
        self.notes = row["notes"]
        self.state = row["state"]
        self.config = row["config"] or "{}"
        self.summaryMetrics = row["summary"] or "{}"
        self.systemMetrics = "{}"
        self.tags = json.loads(row["tags"]) if row["tags"] else []
        self.tagColors = "{}"
        self.group = row["group_name"]
        self.groupName = row["group_name"]
        self.jobType = row["job_type"]
        self.commit = row["git_commit"]
        self.host = row["host"]
        self.program = row["program"]
        self.sweepName = row["sweep"]
        self.readOnly = False
        self.createdAt = iso(row["created_at"])
        self.updatedAt = iso(row["updated_at"])
        self.heartbeatAt = iso(row["heartbeat_at"])
        self.exitcode = row["exitcode"]
        self.projectId = str(row["project_id"])

    def _count(self, file: str) -> int:
        return self.ctx.storage.stream_count(self.row["id"], file)

    def historyLineCount(self, info: Info) -> int:
        return self._count("wandb-history.jsonl")

    def logLineCount(self, info: Info) -> int:
        return self._count("output.log")

    def eventsLineCount(self, info: Info) -> int:
        return self._count("wandb-events.jsonl")

    def historyTail(self, info: Info) -> str:
        return json.dumps(
            self.ctx.storage.stream_lines(self.row["id"], "wandb-history.jsonl")[-10:]
        )

    def eventsTail(self, info: Info) -> str:
        return json.dumps(self.ctx.storage.stream_lines(self.row["id"], "wandb-events.jsonl")[-10:])

    def _rows(self) -> list[dict[str, Any]]:
        rows = []
        for line in self.ctx.storage.stream_lines(self.row["id"], "wandb-history.jsonl"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
        return rows

    def history(
        self, info: Info, minStep: int | None = None, maxStep: int | None = None, **_: Any
    ) -> list[str]:
        """History rows (JSON strings) with ``minStep <= _step < maxStep``."""
        out = []
        for row in self._rows():
            step = row.get("_step", 0)
            if (minStep is None or step >= minStep) and (maxStep is None or step < maxStep):
                out.append(json.dumps(row))
        return out

    def sampledHistory(self, info: Info, specs: list[str]) -> list[list[dict[str, Any]]]:
        """Every row having all of a spec's keys (no sampling), one list per spec."""
        rows = self._rows()
        out = []
        for spec in specs:
            keys = (json.loads(spec) if isinstance(spec, str) else spec).get("keys") or []
            out.append(
                [{k: r[k] for k in keys if k in r} for r in rows if all(k in r for k in keys)]
            )
        return out

    def parquetHistory(self, info: Info, liveKeys: list[str] | None = None) -> dict[str, Any]:
        """No parquet exports: the whole history is returned as live data."""
        return {"parquetUrls": [], "liveData": self._rows()}

    def historyKeys(self, info: Info, **_: Any) -> dict[str, Any]:
        lines = self.history(info)
        keys: dict[str, Any] = {}
        for line in lines:
            try:
                for key in json.loads(line):
                    keys.setdefault(key, {"typeCounts": [{"type": "number", "count": 1}]})
            except ValueError:
                continue
        return {"lastStep": len(lines) - 1, "keys": keys}

    def wandbConfig(self, info: Info, keys: list[str] | None = None) -> str:
        """The SDK's own ``_wandb`` config entries (resume reads ``t`` from it)."""
        config = json.loads(self.config) if self.config else {}
        internal = (config.get("_wandb") or {}).get("value") or {}
        picked = {k: v for k, v in internal.items() if keys is None or k in keys}
        return json.dumps(picked)

    def project(self, info: Info) -> ProjectNode | None:
        row = self.ctx.storage.project_by_id(self.row["project_id"])
        return ProjectNode(self.ctx, row) if row else None

    def user(self, info: Info) -> UserNode:
        return UserNode(self.ctx)

    def inputArtifacts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        rows = self.ctx.storage.used_artifacts(self.row["id"])
        return connection([ArtifactNode(self.ctx, r) for r in rows], first, after)

    def outputArtifacts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        rows = self.ctx.storage.logged_artifacts(self.row["id"])
        return connection([ArtifactNode(self.ctx, r) for r in rows], first, after)

    def fileCount(self, info: Info) -> int:
        return len(self.ctx.storage.run_files(self.row["id"]))

    def files(
        self,
        info: Info,
        names: list[str] | None = None,
        first: int | None = None,
        after: str | None = None,
        pattern: str | None = None,
    ) -> dict[str, Any]:
        """The run's files: those in ``names``, or matching ``pattern`` (MySQL ``LIKE``:
        ``%`` any text, ``_`` one character, as W&B's ``run.files(pattern=...)``)."""
        if names and pattern:
            raise UserInputError("files: give either names or pattern, not both (as W&B)")
        like = (
            re.compile(
                "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern),
                re.DOTALL,
            )
            if pattern is not None
            else None
        )
        rows = self.ctx.storage.run_files(self.row["id"])
        nodes = [
            FileNode.for_run_file(self.ctx, self.row["id"], r)
            for r in rows
            if (not names or r["name"] in names)  # the SDK sends [] for "every file"
            and (like is None or like.fullmatch(r["name"]))
        ]
        return connection(nodes, first, after)


# ---- artifacts ----------------------------------------------------------------------------
class ArtifactTypeNode:
    def __init__(self, ctx: Context, row: Row) -> None:
        self.ctx = ctx
        self.row = row
        self.id = encode_id("ArtifactType", row["id"])
        self.name = row["name"]
        self.description = None
        self.createdAt = iso(row["created_at"])

    def artifactCollection(self, info: Info, name: str | None = None) -> CollectionNode | None:
        row = self.ctx.storage.collection(self.row["project_id"], name or "")
        if row is None or row["type_name"] != self.name:
            return None
        return CollectionNode(self.ctx, row)

    artifactSequence = artifactCollection

    def artifactCollections(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        order: str | None = None,
        filters: Any = None,
    ) -> dict[str, Any]:
        rows = self.ctx.storage.collections(self.row["project_id"], self.name)
        return collections_connection(self.ctx, rows, first, after, order, filters, None)

    def artifact(self, info: Info, name: str | None = None) -> ArtifactNode | None:
        coll_name, alias = split_name(name or "")
        coll = self.artifactCollection(info, coll_name)
        if coll is None:
            return None
        m = self.ctx.storage.resolve_membership(coll.row["id"], alias)
        art = self.ctx.storage.artifact(m["artifact_id"]) if m else None
        return ArtifactNode(self.ctx, art) if art else None


class CollectionNode:
    def __init__(self, ctx: Context, row: Row) -> None:
        self.ctx = ctx
        self.row = row
        self.typename = "ArtifactSequence" if row["kind"] == "SEQUENCE" else "ArtifactPortfolio"
        self.id = encode_id(self.typename, row["id"])
        self.name = row["name"]
        self.description = row["description"]
        self.createdAt = iso(row["created_at"])
        self.updatedAt = iso(row["updated_at"])
        self.state = row.get("state") or "READY"
        self.digestAlgorithm = "MANIFEST_MD5"

    def tags(self, info: Info) -> dict[str, Any]:
        return connection(tag_nodes(self.ctx.storage, "collection", self.row["id"]))

    def project(self, info: Info) -> ProjectNode | None:
        row = self.ctx.storage.project_by_id(self.row["project_id"])
        return ProjectNode(self.ctx, row) if row else None

    def defaultArtifactType(self, info: Info) -> ArtifactTypeNode | None:
        row = self.ctx.storage.artifact_type(self.row["project_id"], self.row["type_name"])
        return ArtifactTypeNode(self.ctx, row) if row else None

    def aliases(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        rows = self.ctx.storage.collection_aliases(self.row["id"])
        return connection(
            [AliasNode(self.ctx, r["alias"], self.row, r["artifact_id"]) for r in rows],
            first,
            after,
        )

    def _memberships(self) -> list[MembershipNode]:
        rows = self.ctx.storage.memberships_of_collection(self.row["id"])
        return [MembershipNode(self.ctx, r, self.row) for r in rows]

    def artifacts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        order: str | None = None,
        filters: Any = None,
    ) -> dict[str, Any]:
        """Versions, newest first unless ``order`` says otherwise."""
        wanted = parse_filters(filters, ("state",))
        members = ordered(self._memberships(), order, VERSION_ORDERS)
        nodes = [(m, m.artifact(info)) for m in members]
        nodes = [
            (m, a)
            for m, a in nodes
            if a is not None and all(a.row.get(k) == v for k, v in wanted.items())
        ]
        chosen, info_ = page(nodes, first, after)
        edges = [{"node": a, "version": f"v{m.versionIndex}", "cursor": c} for c, (m, a) in chosen]
        return {"edges": edges, "pageInfo": info_, "totalCount": len(nodes)}

    def artifactMemberships(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        return connection(self._memberships(), first, after)

    def artifactMembership(self, info: Info, aliasName: str | None = None) -> MembershipNode | None:
        m = self.ctx.storage.resolve_membership(self.row["id"], aliasName or "latest")
        return MembershipNode(self.ctx, m, self.row) if m else None

    def latestArtifact(self, info: Info) -> ArtifactNode | None:
        m = self.ctx.storage.latest_membership(self.row["id"])
        art = self.ctx.storage.artifact(m["artifact_id"]) if m else None
        return ArtifactNode(self.ctx, art) if art else None


#: Orders of versions: ``version_index`` or ``createdAt`` (the SDK's and W&B's names).
VERSION_ORDERS: dict[str, Any] = {
    "version_index": lambda m: m.versionIndex,
    "versionIndex": lambda m: m.versionIndex,
    "createdAt": lambda m: (m.row["created_at"], m.versionIndex),
    "created_at": lambda m: (m.row["created_at"], m.versionIndex),
}

#: Orders of collections (``ARTIFACT_COLLECTIONS_FILTERING_SORTING`` is off, so the SDK
#: sends none; a raw query may).
COLLECTION_ORDERS: dict[str, Any] = {
    "name": lambda r: r["name"],
    "createdAt": lambda r: (r["created_at"], r["id"]),
    "updatedAt": lambda r: (r["updated_at"], r["id"]),
}


def collections_connection(
    ctx: Context,
    rows: list[Row],
    first: int | None,
    after: str | None,
    order: str | None,
    filters: Any,
    kinds: list[str] | None,
) -> dict[str, Any]:
    """Collections, newest first unless ``order`` says otherwise, one page of them."""
    wanted = parse_filters(filters, ("name",))
    rows = [r for r in rows if all(r.get(k) == v for k, v in wanted.items())]
    if kinds is not None:
        names = {"SEQUENCE": "SEQUENCE", "PORTFOLIO": "PORTFOLIO"}
        unknown = [k for k in kinds if k not in names]
        if unknown:
            raise UserInputError(f"unknown collectionTypes {unknown}")
        rows = [r for r in rows if r["kind"] in kinds]
    rows = ordered(sorted(rows, key=lambda r: -r["id"]), order, COLLECTION_ORDERS)
    return connection([CollectionNode(ctx, r) for r in rows], first, after)


class AliasNode:
    def __init__(self, ctx: Context, alias: str, collection: Row, artifact_id: int) -> None:
        self.ctx = ctx
        self.alias = alias
        self.collection = collection
        self.artifact_id = artifact_id
        self.id = encode_id("ArtifactAlias", stable_int(collection["id"], alias))
        self.artifactCollectionName = collection["name"]

    def artifactCollection(self, info: Info) -> CollectionNode:
        return CollectionNode(self.ctx, self.collection)

    def artifact(self, info: Info) -> ArtifactNode | None:
        row = self.ctx.storage.artifact(self.artifact_id)
        return ArtifactNode(self.ctx, row) if row else None


class MembershipNode:
    def __init__(self, ctx: Context, row: Row, collection: Row) -> None:
        self.ctx = ctx
        self.row = row
        self.collection = collection
        self.id = encode_id("ArtifactCollectionMembership", row["id"])
        self.versionIndex = row["version_index"]
        self.createdAt = iso(row["created_at"])

    def aliases(self, info: Info) -> list[AliasNode]:
        names = self.ctx.storage.aliases_of(self.collection["id"], self.row["artifact_id"])
        return [AliasNode(self.ctx, n, self.collection, self.row["artifact_id"]) for n in names]

    def artifactCollection(self, info: Info) -> CollectionNode:
        return CollectionNode(self.ctx, self.collection)

    def artifact(self, info: Info) -> ArtifactNode | None:
        row = self.ctx.storage.artifact(self.row["artifact_id"])
        return ArtifactNode(self.ctx, row) if row else None

    def files(
        self,
        info: Info,
        names: list[str] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        art = self.artifact(info)
        return art.files(info, names, first, after) if art else connection([])


class ArtifactNode:
    def __init__(self, ctx: Context, row: Row) -> None:
        self.ctx = ctx
        self.row = row
        self.id = encode_id("Artifact", row["id"])
        self.digest = row["digest"]
        self.digestAlgorithm = row["digest_algorithm"] or "MANIFEST_MD5"
        self.commitHash = hashlib.md5(f"{row['id']}:{row['digest']}".encode()).hexdigest()[:12]
        self.state = row["state"]
        self.description = row["description"]
        self.metadata = row["metadata"] or "{}"
        self.size = row["size"]
        self.fileCount = row["file_count"]
        self.historyStep = row["history_step"]
        ttl = row["ttl_seconds"]
        self.ttlDurationSeconds = -1 if ttl is None or ttl < 0 else ttl
        self.ttlIsInherited = ttl is None or ttl == -2
        self.createdAt = iso(row["created_at"])
        self.updatedAt = iso(row["updated_at"])
        self.labels = None
        self.storageRegion = "default"

    def tags(self, info: Info) -> list[dict[str, Any]]:
        return tag_nodes(self.ctx.storage, "artifact", self.row["id"])

    @property
    def _seq(self) -> Row:
        row = self.ctx.storage.collection_by_id(self.row["sequence_id"])
        assert row is not None
        return row

    def versionIndex(self, info: Info) -> int | None:
        m = self.ctx.storage.membership(self.row["sequence_id"], self.row["id"])
        return int(m["version_index"]) if m else None

    def artifactType(self, info: Info) -> ArtifactTypeNode:
        seq = self._seq
        row = self.ctx.storage.artifact_type(seq["project_id"], self.row["type_name"])
        assert row is not None
        return ArtifactTypeNode(self.ctx, row)

    def artifactSequence(self, info: Info) -> CollectionNode:
        return CollectionNode(self.ctx, self._seq)

    def aliases(self, info: Info) -> list[AliasNode]:
        out: list[AliasNode] = []
        for m in self.ctx.storage.memberships_of_artifact(self.row["id"]):
            coll = self.ctx.storage.collection_by_id(m["collection_id"])
            if coll is None:
                continue
            for name in self.ctx.storage.aliases_of(coll["id"], self.row["id"]):
                out.append(AliasNode(self.ctx, name, coll, self.row["id"]))
        return out

    def artifactMemberships(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        nodes = []
        for m in self.ctx.storage.memberships_of_artifact(self.row["id"]):
            coll = self.ctx.storage.collection_by_id(m["collection_id"])
            if coll is not None:
                nodes.append(MembershipNode(self.ctx, m, coll))
        return connection(nodes, first, after)

    def artifactMembership(
        self, info: Info, collectionName: str | None = None, aliasName: str | None = None
    ) -> MembershipNode | None:
        for m in self.ctx.storage.memberships_of_artifact(self.row["id"]):
            coll = self.ctx.storage.collection_by_id(m["collection_id"])
            if coll is not None and (collectionName is None or coll["name"] == collectionName):
                return MembershipNode(self.ctx, m, coll)
        return None

    def currentManifest(self, info: Info) -> ManifestNode | None:
        man = self.ctx.storage.current_manifest(self.row["id"])
        return ManifestNode(self.ctx, man) if man else None

    def createdBy(self, info: Info) -> RunNode | UserNode:
        run_id = self.row["run_id"]
        run = self.ctx.storage.run_by_id(run_id) if run_id is not None else None
        return RunNode(self.ctx, run) if run else UserNode(self.ctx)

    def usedBy(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        runs = [RunNode(self.ctx, r) for r in self.ctx.storage.users_of(self.row["id"])]
        return connection(runs, first, after)

    def files(
        self,
        info: Info,
        names: list[str] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        """Every manifest entry, references included: the SDK downloads what this lists
        (a reference through its storage handler, from the entry's ``ref``)."""
        contents = self.ctx.storage.manifest_contents(self.row["id"])
        nodes = [
            FileNode.for_entry(self.ctx, self.row["id"], path, entry)
            for path, entry in contents.items()
            if names is None or path in names
        ]
        return connection(nodes, first, after)

    def filesByManifestEntries(
        self, info: Info, entries: list[dict[str, Any]] | None = None, **_: Any
    ) -> dict[str, Any]:
        nodes = []
        for entry in entries or []:
            path = entry.get("name") or entry.get("path") or ""
            nodes.append(FileNode.for_entry(self.ctx, self.row["id"], path, entry))
        return connection(nodes)


class ManifestNode:
    def __init__(self, ctx: Context, row: Row) -> None:
        self.ctx = ctx
        self.row = row
        self.id = encode_id("ArtifactManifest", row["id"])
        self.type = row["type"]
        self.digest = row["digest"]

    def file(self, info: Info) -> FileNode:
        name = self.row["name"] or "wandb_manifest.json"
        node = FileNode(self.ctx, encode_id("File", self.row["id"]), name)
        node.uploadUrl = self.ctx.upload_url(f"/manifests/{self.row['id']}")
        if self.row["md5"]:
            node.directUrl = self.ctx.download_url(f"/blobs/{self.row['md5']}/{quote(name)}")
            node.url = lambda info, upload=None: node.directUrl
            node.md5 = hex_to_b64(self.row["md5"])
        return node


class FileNode:
    def __init__(self, ctx: Context, id_: str, name: str) -> None:
        self.ctx = ctx
        self.id = id_
        self.name = name
        self.displayName = name
        self.directUrl: str | None = None
        self.uploadUrl: str | None = None
        self.uploadHeaders: list[str] = []
        self.uploadMultipartUrls = None
        self.sizeBytes: int | None = None
        self.storagePath: str | None = None
        self.mimetype: str | None = None
        self.updatedAt: str | None = None
        self.digest: str | None = None
        self.md5: str | None = None
        self.artifact_id: int | None = None
        self.url: Any = lambda info, upload=None: self.directUrl

    def artifact(self, info: Info) -> ArtifactNode | None:
        if self.artifact_id is None:
            return None
        row = self.ctx.storage.artifact(self.artifact_id)
        return ArtifactNode(self.ctx, row) if row else None

    @classmethod
    def for_entry(
        cls, ctx: Context, artifact_id: int, path: str, entry: dict[str, Any]
    ) -> FileNode:
        """A stored file's node, or a reference's (its URL is the ``ref``; its digest is
        whatever the SDK's storage handler recorded, e.g. an ETag, not an MD5)."""
        from .blobs import b64_to_hex

        digest = entry.get("digest") or ""
        node = cls(ctx, encode_id("File", stable_int(artifact_id, path)), path)
        node.artifact_id = artifact_id
        node.digest = digest
        node.sizeBytes = entry.get("size")
        ref = entry.get("ref")
        if ref:
            node.directUrl = str(ref)
            return node
        md5_hex = b64_to_hex(digest) if digest else ""
        node.md5 = digest
        # Artifact files live under W&B's storage prefix, as on W&B's object store.
        node.storagePath = f"wandb_artifacts/{md5_hex}/{path.rsplit('/', 1)[-1]}"
        node.directUrl = ctx.download_url(
            f"/{node.storagePath.rsplit('/', 1)[0]}/{quote(path.rsplit('/', 1)[-1])}"
        )
        return node

    @classmethod
    def for_run_file(cls, ctx: Context, run_id: int, row: Row) -> FileNode:
        node = cls(ctx, encode_id("File", stable_int(run_id, row["name"])), row["name"])
        node.sizeBytes = row["size"]
        node.md5 = hex_to_b64(row["md5"]) if row["md5"] else None
        node.updatedAt = iso(row["updated_at"])
        node.directUrl = ctx.download_url(f"/blobs/{row['md5']}/{quote(row['name'])}")
        return node
