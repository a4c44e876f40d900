"""Which fields of each mutation's ``input`` the server acts on: nothing is dropped silently.

The schema declares input objects as free-form JSON scalars (see :mod:`.schema`), so any
field an SDK version sends reaches the resolvers. :func:`check_input` runs before every
mutation and refuses a field the resolver would not act on, naming it, unless its value is
empty (``null``, ``[]``, ``{}``: what SDKs send for an unset field) or the default the
server implements. A mutation missing from :data:`HANDLED_FIELDS` accepts nothing but
empty fields.

Example: ``updateArtifact(input: {artifactID: "...", labels: {"a": 1}})`` answers
``updateArtifact: input field 'labels' is not supported by the local W&B server``.
"""

from __future__ import annotations

from typing import Any

from .validation import UserInputError

#: Mutation field -> input fields its resolver reads (the identifying ones included).
HANDLED_FIELDS: dict[str, frozenset[str]] = {
    "upsertBucket": frozenset(
        {
            "id",
            "name",
            "entityName",
            "modelName",
            "displayName",
            "description",
            "notes",
            "config",
            "summaryMetrics",
            "groupName",
            "jobType",
            "host",
            "jobProgram",
            "commit",
            "sweep",
            "state",
            "tags",
        }
    ),
    "upsertModel": frozenset({"entityName", "name"}),
    "createRunFiles": frozenset({"entityName", "projectName", "runName", "files"}),
    "markRunFilesUploaded": frozenset({"entityName", "projectName", "runName", "files"}),
    "stopRun": frozenset({"id"}),
    "deleteRun": frozenset({"id"}),  # deleteArtifacts (true) is refused: artifacts stay
    "createArtifact": frozenset(
        {
            "entityName",
            "projectName",
            "runName",
            "artifactTypeName",
            "artifactCollectionName",
            "artifactCollectionNames",
            "aliases",
            "digest",
            "digestAlgorithm",
            "description",
            "metadata",
            "historyStep",
            "ttlDurationSeconds",
            "clientID",
            "sequenceClientID",
            "storageRegion",
            "tags",
            "enableDigestDeduplication",
            "distributedID",  # distributed artifacts: runs sharing it build one version
        }
    ),
    "createArtifactFiles": frozenset({"artifactFiles", "digestAlgorithm", "storageLayout"}),
    "createArtifactManifest": frozenset(
        {"artifactID", "name", "digest", "type", "entityName", "projectName", "runName"}
        | {"baseArtifactID"}  # the previous version: informational for a FULL manifest
    ),
    "updateArtifactManifest": frozenset({"artifactManifestID", "digest"}),
    "commitArtifact": frozenset({"artifactID"}),
    "useArtifact": frozenset(
        {
            "artifactID",
            "entityName",
            "projectName",
            "runName",
            "usedAs",
            "artifactEntityName",
            "artifactProjectName",
        }
    ),
    "updateArtifact": frozenset(
        {"artifactID", "description", "metadata", "ttlDurationSeconds", "aliases"}
        | {"tagsToAdd", "tagsToDelete"}
    ),
    "deleteArtifact": frozenset({"artifactID", "deleteAliases"}),
    "linkArtifact": frozenset(
        {"artifactID", "clientID", "entityName", "projectName", "artifactPortfolioName", "aliases"}
    ),
    "unlinkArtifact": frozenset({"artifactID", "artifactPortfolioID"}),
    "addAliases": frozenset({"artifactID", "aliases"}),
    "deleteAliases": frozenset({"artifactID", "aliases"}),
    "createArtifactCollectionTagAssignments": frozenset(
        {"entityName", "projectName", "artifactCollectionName", "tags"}
    ),
    "deleteArtifactCollectionTagAssignments": frozenset(
        {"entityName", "projectName", "artifactCollectionName", "tags"}
    ),
    "updateArtifactSequence": frozenset({"artifactSequenceID", "name", "description"}),
    "updateArtifactPortfolio": frozenset({"artifactPortfolioID", "name", "description"}),
    "moveArtifactSequence": frozenset({"artifactSequenceID", "destinationArtifactTypeName"}),
    "deleteArtifactSequence": frozenset({"artifactSequenceID"}),
    "deleteArtifactPortfolio": frozenset({"artifactPortfolioID"}),
    # W&B Launch (launch.py): run queues, their items, launch agents
    "createRunQueue": frozenset(
        {"entityName", "projectName", "queueName", "access", "prioritizationMode"}
        | {"defaultResourceConfigID"}
    ),
    "upsertRunQueue": frozenset(
        {"entityName", "projectName", "queueName", "resourceType", "resourceConfig"}
        | {"templateVariables", "prioritizationMode", "externalLinks"}
    ),
    "createDefaultResourceConfig": frozenset(
        {"entityName", "resource", "config", "templateVariables"}
    ),
    "pushToRunQueueByName": frozenset(
        {"entityName", "projectName", "queueName", "runSpec", "priority"}
        | {"templateVariableValues"}
    ),
    "pushToRunQueue": frozenset({"queueID", "runSpec", "priority", "templateVariableValues"}),
    "popFromRunQueue": frozenset({"entityName", "projectName", "queueName", "launchAgentId"}),
    "ackRunQueueItem": frozenset({"runQueueItemId", "runName"}),
    "failRunQueueItem": frozenset({"runQueueItemId", "message", "stage", "filePaths"}),
    "updateRunQueueItemWarning": frozenset({"runQueueItemId", "message", "stage", "filePaths"}),
    "createLaunchAgent": frozenset(
        {"entityName", "projectName", "runQueues", "hostname", "agentConfig", "version"}
    ),
    "updateLaunchAgent": frozenset({"launchAgentId", "agentStatus", "stopPolling"}),
    "deleteFromRunQueue": frozenset({"queueID", "runQueueItemId"}),
    "deleteRunQueues": frozenset({"queueIDs"}),
}

#: Fields accepted only with the values the server implements (mutation, field) -> values.
ONLY_VALUES: dict[tuple[str, str], tuple[Any, ...]] = {
    ("createArtifact", "enableDigestDeduplication"): (True,),  # the server always dedupes
    ("createArtifactFiles", "digestAlgorithm"): ("MANIFEST_MD5",),  # file digests are MD5
    # W&B's ArtifactManifestType: FULL, INCREMENTAL (incremental=True), PATCH (upsert)
    ("createArtifactManifest", "type"): ("FULL", "INCREMENTAL", "PATCH"),
    # W&B's RunQueueAccessType (one local user: access is recorded, not enforced) and
    # RunQueuePrioritizationMode (V0: pops by priority, then age)
    ("createRunQueue", "access"): ("PROJECT", "USER"),
    ("createRunQueue", "prioritizationMode"): ("V0", "DISABLED"),
    ("upsertRunQueue", "prioritizationMode"): ("V0", "DISABLED"),
}

#: Fields every mutation may carry: they ask nothing of the server.
#: ``debug`` and ``jobRepo`` (``upsertBucket``): a client flag, and the git remote, which
#: this server's ``Run`` type does not expose (docs/local-server.md says so).
IGNORED_FIELDS: frozenset[str] = frozenset(
    {"clientMutationId", "clientMutationID", "debug", "jobRepo"}
)


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


def check_input(mutation: str, value: Any) -> None:
    """Refuse an ``input`` field of ``mutation`` that its resolver would not act on."""
    if not isinstance(value, dict):
        return
    handled = HANDLED_FIELDS.get(mutation, frozenset())
    for field, item in value.items():
        if field in IGNORED_FIELDS or _empty(item):
            continue
        if field not in handled:
            raise UserInputError(
                f"{mutation}: input field {field!r} is not supported by the local W&B server"
            )
        allowed = ONLY_VALUES.get((mutation, field), (item,))
        if item not in allowed:
            choices = " or ".join(repr(value) for value in allowed)
            raise UserInputError(
                f"{mutation}: input field {field!r} can only be {choices} on the local "
                f"W&B server, got {item!r}"
            )
