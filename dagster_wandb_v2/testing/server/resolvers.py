"""Root fields: the queries and mutations the wandb SDK sends."""

from __future__ import annotations

import secrets
import string
from typing import Any

from .ids import decode_id
from .launch import request_stop
from .nodes import (
    ArtifactNode,
    CollectionNode,
    Context,
    EntityNode,
    FileNode,
    Info,
    ManifestNode,
    MembershipNode,
    OrgNode,
    ProjectNode,
    RunNode,
    UserNode,
    connection,
    tag_nodes,
)
from .storage import Row, Storage
from .validation import UserInputError, check_entry_path, check_tag

# Optional server features declared to the SDK (``ServerFeaturesQuery``). Few are on,
# which keeps the SDK on its simplest code paths (single PUT uploads, V2 file URLs).
ENABLED_FEATURES: frozenset[str] = frozenset(
    {
        "ARTIFACT_COLLECTION_MEMBERSHIP_FILES",
        "PROJECT_ARTIFACT_COLLECTION_MEMBERSHIP",
        "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE",
        "TOTAL_COUNT_IN_FILE_CONNECTION",
        "USE_ARTIFACT_WITH_ENTITY_AND_PROJECT_INFORMATION",
        "ARTIFACT_DIGEST_ALGORITHM",
        "ARTIFACT_TAGS",
    }
)
#: Storage regions artifacts may ask for (``Artifact(storage_region=...)``): W&B's
#: default one and the one W&B's own local server image declares.
STORAGE_REGIONS: frozenset[str] = frozenset({"default", "minio-local"})
KNOWN_FEATURES: tuple[str, ...] = (
    "LARGE_FILENAMES",
    "ARTIFACT_TAGS",
    "CLIENT_IDS",
    "ARTIFACT_REGISTRY_SEARCH",
    "STRUCTURED_CONSOLE_LOGS",
    "ARTIFACT_COLLECTION_MEMBERSHIP_FILES",
    "ARTIFACT_COLLECTION_MEMBERSHIP_FILE_DOWNLOAD_HANDLER",
    "USE_ARTIFACT_WITH_ENTITY_AND_PROJECT_INFORMATION",
    "INCLUDE_ARTIFACT_TYPES_IN_REGISTRY_CREATION",
    "PROJECT_ARTIFACT_COLLECTION_MEMBERSHIP",
    "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE",
    "TOTAL_COUNT_IN_FILE_CONNECTION",
    "ARTIFACT_COLLECTIONS_FILTERING_SORTING",
    "ARTIFACT_V2_DOWNLOAD_HANDLER_SUPPORTS_ARTIFACT_ID",
    "MARK_RUN_FILES_UPLOADED",
    "FILESTREAM_GZIP",
    "ARTIFACT_DIGEST_ALGORITHM",
)

DEFAULT_PROJECT = "uncategorized"


def _ctx(info: Info) -> Context:
    ctx: Context = info.context
    return ctx


def _new_run_name() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def _artifact_row(storage: Storage, value: Any) -> Row:
    pk = decode_id(value, "Artifact")
    row = storage.artifact(pk) if pk is not None else None
    if row is None:
        raise UserInputError(f"artifact {value!r} not found")
    return row


def _collection_for(storage: Storage, artifact: Row, item: dict[str, Any]) -> Row:
    """The collection an alias input names (default: the artifact's own sequence)."""
    name = item.get("artifactCollectionName")
    seq = storage.collection_by_id(artifact["sequence_id"])
    assert seq is not None
    if not name or name == seq["name"]:
        return seq
    for m in storage.memberships_of_artifact(artifact["id"]):
        coll = storage.collection_by_id(m["collection_id"])
        if coll is not None and coll["name"] == name:
            return coll
    raise UserInputError(f"artifact is not in collection {name!r}")


def _collection_row(storage: Storage, value: Any, kinds: tuple[str, ...]) -> Row:
    """The collection an id names (``kinds``: the id types accepted)."""
    for kind in kinds:
        pk = decode_id(value, kind)
        row = storage.collection_by_id(pk) if pk is not None else None
        if row is not None:
            return row
    raise UserInputError(f"artifact collection {value!r} not found")


def _named_collection(ctx: Context, input: dict[str, Any]) -> Row:
    """The collection ``entityName``/``projectName``/``artifactCollectionName`` names."""
    proj = ctx.storage.project(
        input.get("entityName") or ctx.identity.entity, input.get("projectName") or ""
    )
    coll = ctx.storage.collection(proj["id"], input["artifactCollectionName"]) if proj else None
    if coll is None:
        raise UserInputError(
            f"artifact collection {input.get('artifactCollectionName')!r} not found"
        )
    return coll


_SEQUENCE = ("ArtifactSequence", "ArtifactCollection")
_PORTFOLIO = ("ArtifactPortfolio", "ArtifactCollection")


class Root:
    """Root value for queries and mutations (field name = method name)."""

    # ---- queries --------------------------------------------------------------------
    def viewer(self, info: Info) -> UserNode:
        return UserNode(_ctx(info))

    def serverInfo(self, info: Info) -> dict[str, Any]:
        return {
            "features": [
                {"name": n, "isEnabled": n in ENABLED_FEATURES, "description": None}
                for n in KNOWN_FEATURES
            ],
            "cliVersionInfo": {},
            "latestLocalVersionInfo": None,
            "availableBucketProviders": [],
            "frontendHost": None,
            "defaultCloudRegion": None,
            "isGoogleIap": False,
        }

    def entity(self, info: Info, name: str | None = None) -> EntityNode:
        ctx = _ctx(info)
        return EntityNode(ctx, name or ctx.identity.entity)

    def user(self, info: Info, **_: Any) -> UserNode:
        return UserNode(_ctx(info))

    def project(
        self, info: Info, name: str | None = None, entityName: str | None = None
    ) -> ProjectNode | None:
        ctx = _ctx(info)
        row = ctx.storage.project(entityName or ctx.identity.entity, name or DEFAULT_PROJECT)
        return ProjectNode(ctx, row) if row else None

    model = project

    def projects(
        self,
        info: Info,
        entityName: str | None = None,
        first: int | None = None,
        after: str | None = None,
        order: str | None = None,
    ) -> dict[str, Any]:
        ctx = _ctx(info)
        entity = EntityNode(ctx, entityName or ctx.identity.entity)
        return entity.projects(info, first=first, after=after, order=order)

    models = projects

    def run(self, info: Info, id: str | None = None) -> RunNode | None:
        ctx = _ctx(info)
        pk = decode_id(id, "Run")
        row = ctx.storage.run_by_id(pk) if pk is not None else None
        return RunNode(ctx, row) if row else None

    def artifact(self, info: Info, id: str) -> ArtifactNode | None:
        ctx = _ctx(info)
        pk = decode_id(id, "Artifact")
        row = ctx.storage.artifact(pk) if pk is not None else None
        if row is None or row["state"] == "DELETED":
            return None
        return ArtifactNode(ctx, row)

    def artifactCollection(self, info: Info, id: str) -> CollectionNode | None:
        ctx = _ctx(info)
        pk = None
        for kind in ("ArtifactSequence", "ArtifactPortfolio", "ArtifactCollection"):
            pk = pk if pk is not None else decode_id(id, kind)
        row = ctx.storage.collection_by_id(pk) if pk is not None else None
        return CollectionNode(ctx, row) if row else None

    artifactSequence = artifactCollection
    artifactPortfolio = artifactCollection

    def clientIDMapping(self, info: Info, clientID: str) -> dict[str, Any] | None:
        from .ids import encode_id

        pk = _ctx(info).storage.artifact_by_client_id(clientID)
        return {"serverID": encode_id("Artifact", pk)} if pk is not None else None

    def organization(self, info: Info, name: str | None = None, **_: Any) -> OrgNode | None:
        ctx = _ctx(info)
        if name not in (None, ctx.identity.org_name, ctx.identity.org_entity):
            return None
        return OrgNode(ctx)

    # ---- runs -------------------------------------------------------------------------
    def upsertBucket(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        storage = ctx.storage
        existing: Row | None = None
        if input.get("id") and not input.get("name"):
            pk = decode_id(input["id"], "Run")
            existing = storage.run_by_id(pk) if pk is not None else None
        if existing is not None:
            proj = storage.project_by_id(existing["project_id"])
            assert proj is not None
            entity, project, name = proj["entity"], proj["name"], existing["name"]
        else:
            entity = input.get("entityName") or ctx.identity.entity
            project = input.get("modelName") or DEFAULT_PROJECT
            name = input.get("name") or _new_run_name()
        row = storage.upsert_run(entity, project, name, input, reopen=True)
        proj_row = storage.project_by_id(row["project_id"])
        assert proj_row is not None
        return {
            "bucket": RunNode(ctx, row),
            "project": ProjectNode(ctx, proj_row),
            "inserted": row["inserted"],
        }

    def upsertModel(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        row = ctx.storage.ensure_project(
            input.get("entityName") or ctx.identity.entity, input.get("name") or DEFAULT_PROJECT
        )
        node = ProjectNode(ctx, row)  # ``model`` is W&B's older name of ``project``
        return {"project": node, "model": node, "inserted": True}

    def createRunFiles(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        for name in input.get("files") or []:
            check_entry_path(name, "run file")  # the SDK could not download it
        run = ctx.storage.upsert_run(
            input.get("entityName") or ctx.identity.entity,
            input.get("projectName") or DEFAULT_PROJECT,
            input["runName"],
            {},
        )
        files = []
        for name in input.get("files") or []:
            node = FileNode(ctx, name, name)
            node.uploadUrl = ctx.upload_url(f"/runfiles/{run['id']}/{name}")
            files.append(node)
        return {"runID": RunNode(ctx, run).id, "uploadHeaders": [], "files": files}

    def markRunFilesUploaded(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        return {"success": True}

    def deleteRun(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        pk = decode_id(input.get("id"), "Run")
        if pk is None or ctx.storage.run_by_id(pk) is None:
            raise UserInputError(f"run {input.get('id')!r} not found")
        ctx.storage.delete_run(pk)
        return {"clientMutationId": None}

    def stopRun(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        pk = decode_id(input.get("id"), "Run")
        if pk is None or ctx.storage.run_by_id(pk) is None:
            raise UserInputError(f"run {input.get('id')!r} not found")
        request_stop(ctx.storage, pk)
        return {"success": True}

    # ---- artifacts ------------------------------------------------------------------
    def createArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        storage = ctx.storage
        spec = dict(input)
        spec.setdefault("entityName", ctx.identity.entity)
        spec.setdefault("projectName", DEFAULT_PROJECT)
        region = input.get("storageRegion")
        if region is not None and region not in STORAGE_REGIONS:
            raise UserInputError(
                f"CreateArtifact invalid storageRegion: {region} "
                f"(this server has {', '.join(sorted(STORAGE_REGIONS))})"
            )
        run_id = None
        if input.get("runName"):
            run = storage.find_run(spec["entityName"], spec["projectName"], input["runName"])
            run_id = run["id"] if run else None
        tags = [t["tagName"] for t in input.get("tags") or []]
        for tag in tags:
            check_tag(tag)
        row = storage.create_artifact(spec, run_id)
        storage.update_tags("artifact", row["id"], add=tags)
        return {"artifact": ArtifactNode(ctx, row)}

    def createArtifactFiles(
        self, info: Info, input: dict[str, Any], storageLayout: str | None = None
    ) -> dict[str, Any]:
        ctx = _ctx(info)
        nodes = []
        for spec in input.get("artifactFiles") or []:
            art = _artifact_row(ctx.storage, spec["artifactID"])
            md5_hex = ctx.storage.add_artifact_file(art["id"], spec["name"], spec["md5"])
            node = FileNode.for_entry(ctx, art["id"], spec["name"], {"digest": spec["md5"]})
            # Like W&B: content already stored needs no upload.
            if not ctx.storage.blobs.exists(md5_hex):
                node.uploadUrl = ctx.upload_url(f"/blobs/{md5_hex}")
            nodes.append(node)
        return {"files": connection(nodes)}

    def createArtifactManifest(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        art = _artifact_row(ctx.storage, input["artifactID"])
        base_id = input.get("baseArtifactID")
        base = _artifact_row(ctx.storage, base_id) if base_id else None
        row = ctx.storage.create_manifest(
            art["id"],
            input.get("name"),
            input.get("digest"),
            input.get("type"),
            base["id"] if base is not None else None,
        )
        return {"artifactManifest": ManifestNode(ctx, row)}

    def updateArtifactManifest(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        pk = decode_id(input["artifactManifestID"], "ArtifactManifest")
        row = ctx.storage.manifest(pk) if pk is not None else None
        if row is None:
            raise UserInputError(f"artifact manifest {input['artifactManifestID']!r} not found")
        ctx.storage.update_manifest_digest(row["id"], input.get("digest"))
        row = ctx.storage.manifest(row["id"])
        assert row is not None
        return {"artifactManifest": ManifestNode(ctx, row)}

    def commitArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        art = _artifact_row(ctx.storage, input["artifactID"])
        return {"artifact": ArtifactNode(ctx, ctx.storage.commit_artifact(art["id"]))}

    def useArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        art = _artifact_row(ctx.storage, input["artifactID"])
        run = ctx.storage.upsert_run(
            input.get("entityName") or ctx.identity.entity,
            input.get("projectName") or DEFAULT_PROJECT,
            input["runName"],
            {},
        )
        ctx.storage.use_artifact(run["id"], art["id"], input.get("usedAs"))
        return {"artifact": ArtifactNode(ctx, art)}

    def updateArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        art = _artifact_row(ctx.storage, input["artifactID"])
        ctx.storage.update_artifact(art["id"], input)
        ctx.storage.update_tags(
            "artifact",
            art["id"],
            add=[t["tagName"] for t in input.get("tagsToAdd") or []],
            remove=[t["tagName"] for t in input.get("tagsToDelete") or []],
        )
        if input.get("aliases") is not None:
            seq = ctx.storage.collection_by_id(art["sequence_id"])
            assert seq is not None
            wanted = [a["alias"] for a in input["aliases"] if a.get("alias")]
            current = ctx.storage.aliases_of(seq["id"], art["id"])
            ctx.storage.delete_aliases(
                art["id"], seq["id"], [a for a in current if a not in wanted]
            )
            ctx.storage.add_aliases(art["id"], seq["id"], wanted)
        row = ctx.storage.artifact(art["id"])
        assert row is not None
        return {"artifact": ArtifactNode(ctx, row)}

    def deleteArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        art = _artifact_row(ctx.storage, input["artifactID"])
        aliases = ctx.storage.aliases_of(art["sequence_id"], art["id"])
        if aliases and not input.get("deleteAliases"):
            # W&B refuses too: the SDK's ``artifact.delete(delete_aliases=True)`` says so.
            raise UserInputError(
                f"cannot delete an artifact version that has aliases {aliases}: "
                "delete them first or pass deleteAliases (delete_aliases=True)"
            )
        ctx.storage.delete_artifact(art["id"])
        return {"artifact": ArtifactNode(ctx, art)}

    def addAliases(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        art = _artifact_row(ctx.storage, input["artifactID"])
        for item in input.get("aliases") or []:
            coll = _collection_for(ctx.storage, art, item)
            ctx.storage.add_aliases(art["id"], coll["id"], [item["alias"]])
        return {"success": True}

    def deleteAliases(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        art = _artifact_row(ctx.storage, input["artifactID"])
        for item in input.get("aliases") or []:
            coll = _collection_for(ctx.storage, art, item)
            ctx.storage.delete_aliases(art["id"], coll["id"], [item["alias"]])
        return {"success": True}

    def linkArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        storage = ctx.storage
        art: Row | None = None
        if input.get("artifactID"):
            art = _artifact_row(storage, input["artifactID"])
        elif input.get("clientID"):
            pk = storage.artifact_by_client_id(input["clientID"])
            art = storage.artifact(pk) if pk is not None else None
        if art is None:
            raise UserInputError("linkArtifact: artifact not found")
        aliases = [a["alias"] for a in input.get("aliases") or [] if a.get("alias")]
        membership = storage.link_artifact(
            art["id"],
            input.get("entityName") or ctx.identity.org_entity,
            input.get("projectName") or DEFAULT_PROJECT,
            input["artifactPortfolioName"],
            aliases,
        )
        coll = storage.collection_by_id(membership["collection_id"])
        assert coll is not None
        return {
            "versionIndex": membership["version_index"],
            "artifactCollectionMember": ArtifactNode(ctx, art),
            "artifactMembership": MembershipNode(ctx, membership, coll),
        }

    def unlinkArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        art = _artifact_row(ctx.storage, input["artifactID"])
        pk = None
        for kind in ("ArtifactPortfolio", "ArtifactSequence"):
            pk = pk if pk is not None else decode_id(input.get("artifactPortfolioID"), kind)
        if pk is None:
            raise UserInputError("unlinkArtifact: portfolio not found")
        ctx.storage.unlink_artifact(art["id"], pk)
        return {"success": True}

    # ---- collections ------------------------------------------------------------------
    def createArtifactCollectionTagAssignments(
        self, info: Info, input: dict[str, Any]
    ) -> dict[str, Any]:
        ctx = _ctx(info)
        coll = _named_collection(ctx, input)
        ctx.storage.update_tags("collection", coll["id"], add=[t["tagName"] for t in input["tags"]])
        return {"tags": tag_nodes(ctx.storage, "collection", coll["id"])}

    def deleteArtifactCollectionTagAssignments(
        self, info: Info, input: dict[str, Any]
    ) -> dict[str, Any]:
        ctx = _ctx(info)
        coll = _named_collection(ctx, input)
        ctx.storage.update_tags(
            "collection", coll["id"], remove=[t["tagName"] for t in input["tags"]]
        )
        return {"success": True}

    def _update_collection(self, info: Info, row: Row, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        ctx.storage.update_collection(row["id"], input.get("name"), input.get("description"))
        updated = ctx.storage.collection_by_id(row["id"])
        assert updated is not None
        return {"artifactCollection": CollectionNode(ctx, updated)}

    def updateArtifactSequence(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        row = _collection_row(_ctx(info).storage, input["artifactSequenceID"], _SEQUENCE)
        return self._update_collection(info, row, input)

    def updateArtifactPortfolio(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        row = _collection_row(_ctx(info).storage, input["artifactPortfolioID"], _PORTFOLIO)
        return self._update_collection(info, row, input)

    def moveArtifactSequence(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        row = _collection_row(ctx.storage, input["artifactSequenceID"], _SEQUENCE)
        ctx.storage.change_collection_type(row["id"], input["destinationArtifactTypeName"])
        updated = ctx.storage.collection_by_id(row["id"])
        assert updated is not None
        return {"artifactCollection": CollectionNode(ctx, updated)}

    def deleteArtifactSequence(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        row = _collection_row(ctx.storage, input["artifactSequenceID"], _SEQUENCE)
        ctx.storage.delete_collection(row["id"])
        return {"artifactCollection": CollectionNode(ctx, {**row, "state": "DELETED"})}

    def deleteArtifactPortfolio(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        row = _collection_row(ctx.storage, input["artifactPortfolioID"], _PORTFOLIO)
        ctx.storage.delete_collection(row["id"])
        return {"artifactCollection": CollectionNode(ctx, {**row, "state": "DELETED"})}
