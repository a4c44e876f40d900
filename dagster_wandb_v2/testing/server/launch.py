"""W&B Launch on the local server: run queues, their items, and launch agents.

What the wandb 0.31 SDK and its launch agent send (``wandb/sdk/launch/api.py``,
``wandb/apis/public/jobs.py`` and the Go core's ``CreateRunQueue``,
``CreateDefaultResourceConfig``, ``UpsertRunQueue``), with W&B's semantics:

- a queue lives in a project (W&B's ``model-registry`` for entity-scoped queues) and has a
  default resource configuration: the resource (``local-process``, ``kubernetes``...) and
  its ``resource_args``, where ``{{name}}`` are template variables filled at push time;
- an item is pushed ``PENDING``, popped ``LEASED`` by an agent (highest priority, 1 being
  the highest, then oldest first), acknowledged ``CLAIMED`` with the W&B run id it
  launches, or ``FAILED`` with the agent's message and stage;
- an agent registers with the queues it polls, reports its status (``POLLING``,
  ``RUNNING``, ``KILLED``) and is told to stop through ``stopPolling``
  (``updateLaunchAgent(input: {launchAgentId, stopPolling: true})``, as W&B's UI does).

Not implemented (a clear GraphQL error, or documented in docs/local-server.md): lease
expiry (a ``LEASED`` item stays leased), sweeps' scheduler queues, queue access control.

Example (what ``wandb.Api().create_run_queue("q", "local-process")`` then
``wandb.sdk.launch.launch_add(job=..., queue_name="q")`` leave behind)::

    project(entityName: "me", name: "model-registry") {
      runQueue(name: "q") { runQueueItems { edges { node { id state } } } }
    }
"""

from __future__ import annotations

import json
import re
import secrets
import string
import time
import weakref
from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema

from .ids import decode_id, encode_id
from .inputs import check_input
from .nodes import Context, Info, iso
from .storage import Row, Storage
from .validation import UserInputError

#: The project of entity-scoped queues (``wandb.sdk.launch.utils.LAUNCH_DEFAULT_PROJECT``).
LAUNCH_DEFAULT_PROJECT = "model-registry"

#: Resources W&B Launch knows (``wandb.apis.public.jobs.RunQueueResourceType``).
RESOURCES = ("local-container", "local-process", "kubernetes", "sagemaker", "gcp-vertex")

SDL = """
scalar RunQueueAccessType
scalar RunQueuePrioritizationMode
scalar CreateRunQueueInput
scalar UpsertRunQueueInput
scalar CreateDefaultResourceConfigInput
scalar PushToRunQueueByNameInput
scalar PushToRunQueueInput
scalar PopFromRunQueueInput
scalar AckRunQueueItemInput
scalar FailRunQueueItemInput
scalar UpdateRunQueueItemWarningInput
scalar CreateLaunchAgentInput
scalar UpdateLaunchAgentInput
scalar DeleteFromRunQueueInput
scalar DeleteRunQueuesInput

extend type Query {
  launchAgent(id: ID!): LaunchAgent
}

extend type Mutation {
  createRunQueue(input: CreateRunQueueInput!): CreateRunQueuePayload
  upsertRunQueue(input: UpsertRunQueueInput!): UpsertRunQueuePayload
  createDefaultResourceConfig(
    input: CreateDefaultResourceConfigInput!
  ): CreateDefaultResourceConfigPayload
  pushToRunQueueByName(input: PushToRunQueueByNameInput!): PushToRunQueuePayload
  pushToRunQueue(input: PushToRunQueueInput!): PushToRunQueuePayload
  popFromRunQueue(input: PopFromRunQueueInput!): PopFromRunQueuePayload
  ackRunQueueItem(input: AckRunQueueItemInput!): SuccessPayload
  failRunQueueItem(input: FailRunQueueItemInput!): SuccessPayload
  updateRunQueueItemWarning(input: UpdateRunQueueItemWarningInput!): SuccessPayload
  createLaunchAgent(input: CreateLaunchAgentInput!): CreateLaunchAgentPayload
  updateLaunchAgent(input: UpdateLaunchAgentInput!): SuccessPayload
  deleteFromRunQueue(input: DeleteFromRunQueueInput!): SuccessPayload
  deleteRunQueues(input: DeleteRunQueuesInput!): SuccessPayload
}

extend type Project {
  runQueues: [RunQueue!]!
  runQueue(name: String!): RunQueue
}

extend type Run {
  stopped: Boolean!
}

extend type Entity {
  defaultResourceConfig(id: ID!): DefaultResourceConfig
}

type RunQueue {
  id: ID!
  name: String!
  createdBy: String
  access: String
  prioritizationMode: String
  defaultResourceConfigID: ID
  defaultResourceConfig: DefaultResourceConfig
  externalLinks: JSON
  createdAt: DateTime
  updatedAt: DateTime
  runQueueItems(first: Int, after: String): RunQueueItemConnection!
  runQueueItem(id: ID!): RunQueueItem
}

type RunQueueItemInfo { message: String stage: String filePaths: [String!] }

type RunQueueItem {
  id: ID!
  state: String!
  associatedRunId: String
  runSpec: JSON
  priority: Int
  launchAgentId: ID
  createdAt: DateTime
  updatedAt: DateTime
  error: RunQueueItemInfo
  warnings: [RunQueueItemInfo!]!
}
type RunQueueItemEdge { node: RunQueueItem cursor: String }
type RunQueueItemConnection { edges: [RunQueueItemEdge!]! pageInfo: PageInfo totalCount: Int }

type TemplateVariable { name: String! schema: JSONString }
type DefaultResourceConfig {
  id: ID!
  resource: String!
  config: JSON
  templateVariables: [TemplateVariable!]!
}

type LaunchAgent {
  id: ID!
  name: String!
  runQueues: [ID!]!
  hostname: String
  agentStatus: String
  agentConfig: JSONString
  version: String
  stopPolling: Boolean!
  heartbeatAt: DateTime
  createdAt: DateTime
}

type CreateRunQueuePayload { success: Boolean! queueID: ID }
type UpsertRunQueuePayload { success: Boolean! configSchemaValidationErrors: [String!] }
type CreateDefaultResourceConfigPayload { success: Boolean! defaultResourceConfigID: ID }
type PushToRunQueuePayload { runQueueItemId: ID! runSpec: JSONString }
type PopFromRunQueuePayload { runQueueItemId: ID! runSpec: JSON }
type CreateLaunchAgentPayload { success: Boolean launchAgentId: ID! }
"""

_DDL = """
CREATE TABLE IF NOT EXISTS launch_resource_configs (
  id INTEGER PRIMARY KEY, entity TEXT NOT NULL, resource TEXT NOT NULL,
  config TEXT NOT NULL, template_variables TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS launch_queues (
  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL,
  access TEXT NOT NULL, prioritization_mode TEXT, resource_config_id INTEGER,
  external_links TEXT, created_by TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
  UNIQUE(project_id, name));
CREATE TABLE IF NOT EXISTS launch_queue_items (
  id INTEGER PRIMARY KEY, queue_id INTEGER NOT NULL, state TEXT NOT NULL,
  run_spec TEXT NOT NULL, priority INTEGER NOT NULL, associated_run_id TEXT,
  agent_id INTEGER, error TEXT, warnings TEXT NOT NULL DEFAULT '[]',
  created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS run_stop_requests (
  run_id INTEGER PRIMARY KEY, requested_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS launch_agents (
  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL UNIQUE,
  hostname TEXT, queue_ids TEXT NOT NULL, config TEXT, version TEXT,
  status TEXT NOT NULL, stop_polling INTEGER NOT NULL DEFAULT 0,
  heartbeat_at REAL NOT NULL, created_at REAL NOT NULL);
"""

#: W&B's default priority (``medium``) for items pushed without one; 0 is the highest.
DEFAULT_PRIORITY = 2
_AGENT_STATUSES = ("POLLING", "RUNNING", "KILLED")
_TEMPLATE = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")

_ready: weakref.WeakSet[Storage] = weakref.WeakSet()


def _tables(storage: Storage) -> Storage:
    if storage not in _ready:
        with storage.transaction() as db:
            for statement in filter(str.strip, _DDL.split(";")):
                db.execute(statement)
        _ready.add(storage)
    return storage


def _storage(info: Info) -> Storage:
    ctx: Context = info.context
    return _tables(ctx.storage)


def request_stop(storage: Storage, run_pk: int) -> None:
    """``stopRun``: the run is asked to stop; a Launch agent polling ``Run.stopped`` (W&B's
    "stop run" button) cancels its process."""
    with _tables(storage).transaction() as db:
        db.execute(
            "INSERT OR IGNORE INTO run_stop_requests(run_id, requested_at) VALUES (?,?)",
            (run_pk, time.time()),
        )


def _run_stopped(run: Any, info: Info) -> bool:
    row = _storage(info).one("SELECT 1 FROM run_stop_requests WHERE run_id=?", (run.row["id"],))
    return row is not None


def _ctx(info: Info) -> Context:
    ctx: Context = info.context
    return ctx


def _json(value: Any, what: str) -> Any:
    """A JSONString argument: already decoded JSON, or a string holding JSON."""
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise UserInputError(f"{what} is not valid JSON: {value[:80]!r}") from None


# ---- rows --------------------------------------------------------------------------


def _project(storage: Storage, entity: str, project: str) -> Row:
    row = storage.project(entity, project)
    if row is None:
        raise UserInputError(
            f"project {entity}/{project} not found: no launch queue exists in entity "
            f"{entity!r} (create one with wandb.Api().create_run_queue)"
        )
    return row


def _queue_by_name(storage: Storage, entity: str, project: str, name: str) -> Row:
    proj = _project(storage, entity, project)
    row = storage.one(
        "SELECT * FROM launch_queues WHERE project_id=? AND name=?", (proj["id"], name)
    )
    if row is None:
        names = [
            r["name"]
            for r in storage.all(
                "SELECT name FROM launch_queues WHERE project_id=? ORDER BY name", (proj["id"],)
            )
        ]
        raise UserInputError(
            f"run queue {name!r} not found in {entity}/{project} "
            f"(queues there: {', '.join(names) or 'none'})"
        )
    return row


def _row(storage: Storage, table: str, kind: str, value: Any) -> Row:
    pk = decode_id(value, kind)
    row = storage.one(f"SELECT * FROM {table} WHERE id=?", (pk,)) if pk is not None else None
    if row is None:
        raise UserInputError(f"{kind} {value!r} not found")
    return row


def _resource_config(storage: Storage, pk: int | None) -> Row | None:
    if pk is None:
        return None
    return storage.one("SELECT * FROM launch_resource_configs WHERE id=?", (pk,))


def _new_agent_name() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "launch-agent-" + "".join(secrets.choice(alphabet) for _ in range(8))


# ---- nodes -------------------------------------------------------------------------


def _config_node(row: Row) -> dict[str, Any]:
    variables = json.loads(row["template_variables"])
    return {
        "id": encode_id("DefaultResourceConfig", row["id"]),
        "resource": row["resource"],
        "config": json.loads(row["config"]),
        "templateVariables": [
            {"name": name, "schema": json.dumps(entry.get("schema") or {}, separators=(",", ":"))}
            for name, entry in variables.items()
        ],
    }


def _item_node(row: Row) -> dict[str, Any]:
    error = json.loads(row["error"]) if row["error"] else None
    return {
        "id": encode_id("RunQueueItem", row["id"]),
        "state": row["state"],
        "associatedRunId": row["associated_run_id"],
        "runSpec": json.loads(row["run_spec"]),
        "priority": row["priority"],
        "launchAgentId": (
            encode_id("LaunchAgent", row["agent_id"]) if row["agent_id"] is not None else None
        ),
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
        "error": error,
        "warnings": json.loads(row["warnings"]),
    }


class RunQueueNode:
    """A run queue (``project.runQueue(name:)``)."""

    def __init__(self, storage: Storage, row: Row) -> None:
        self._storage = storage
        self.row = row
        self.id = encode_id("RunQueue", row["id"])
        self.name = row["name"]
        self.createdBy = row["created_by"]
        self.access = row["access"]
        self.prioritizationMode = row["prioritization_mode"]
        pk = row["resource_config_id"]
        self.defaultResourceConfigID = (
            encode_id("DefaultResourceConfig", pk) if pk is not None else None
        )
        self.externalLinks = json.loads(row["external_links"] or '{"links": []}')
        self.createdAt = iso(row["created_at"])
        self.updatedAt = iso(row["updated_at"])

    def defaultResourceConfig(self, info: Info) -> dict[str, Any] | None:
        row = _resource_config(self._storage, self.row["resource_config_id"])
        return _config_node(row) if row else None

    def runQueueItems(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        start = decode_id(after, "RunQueueItemCursor") or 0
        rows = self._storage.all(
            "SELECT * FROM launch_queue_items WHERE queue_id=? AND id>? ORDER BY id LIMIT ?",
            (self.row["id"], start, (first or 100) + 1),
        )
        page = rows[: first or 100]
        return {
            "edges": [
                {"node": _item_node(r), "cursor": encode_id("RunQueueItemCursor", r["id"])}
                for r in page
            ],
            "pageInfo": {
                "hasNextPage": len(rows) > len(page),
                "endCursor": (encode_id("RunQueueItemCursor", page[-1]["id"]) if page else None),
            },
            "totalCount": None,
        }

    def runQueueItem(self, info: Info, id: str) -> dict[str, Any] | None:
        pk = decode_id(id, "RunQueueItem")
        row = self._storage.one(
            "SELECT * FROM launch_queue_items WHERE id=? AND queue_id=?", (pk, self.row["id"])
        )
        return _item_node(row) if row else None


def _agent_node(storage: Storage, row: Row) -> dict[str, Any]:
    return {
        "id": encode_id("LaunchAgent", row["id"]),
        "name": row["name"],
        "runQueues": [encode_id("RunQueue", q) for q in json.loads(row["queue_ids"])],
        "hostname": row["hostname"],
        "agentStatus": row["status"],
        "agentConfig": row["config"],
        "version": row["version"],
        "stopPolling": bool(row["stop_polling"]),
        "heartbeatAt": iso(row["heartbeat_at"]),
        "createdAt": iso(row["created_at"]),
    }


# ---- template variables and the pushed spec ------------------------------------------


def _fill(value: Any, values: dict[str, Any]) -> Any:
    """``{{name}}`` replaced in every string of ``value``; a whole-string placeholder
    takes the value's own type (W&B's handlebars resource configs)."""
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole:
            return values[whole.group(1)]
        return _TEMPLATE.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


_KINDS: dict[str, tuple[type, ...]] = {"integer": (int,), "number": (int, float), "string": (str,)}


def _check_value(name: str, schema: dict[str, Any], value: Any) -> None:
    """A template variable's value against its JSON schema (type, enum, bounds)."""
    kind = schema.get("type")
    expected = _KINDS.get(str(kind))
    if expected is not None and (not isinstance(value, expected) or isinstance(value, bool)):
        raise UserInputError(f"template variable {name!r} must be of type {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise UserInputError(f"template variable {name!r} must be one of {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        raise UserInputError(f"template variable {name!r}: minimum is {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise UserInputError(f"template variable {name!r}: maximum is {schema['maximum']}")


def _merged(base: Any, override: Any) -> Any:
    """``override`` laid over ``base``, dicts merged key by key."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _merged(base.get(k), v) for k, v in override.items()}}
    return override


def _template_values(config: Row | None, given: dict[str, Any] | None) -> dict[str, Any]:
    """The values of a queue's template variables: given ones checked, defaults filled."""
    variables: dict[str, Any] = json.loads(config["template_variables"]) if config else {}
    given = dict(given or {})
    unknown = sorted(set(given) - set(variables))
    if unknown:
        raise UserInputError(
            f"template variables {unknown} are not defined by the queue "
            f"(it defines: {sorted(variables) or 'none'})"
        )
    values: dict[str, Any] = {}
    for name, entry in variables.items():
        schema = (entry or {}).get("schema") or {}  # W&B's {name: {"schema": {...}}}
        if name in given:
            value = given[name]
        elif "default" in schema:
            value = schema["default"]
        else:
            raise UserInputError(f"template variable {name!r} of the queue needs a value")
        _check_value(name, schema, value)
        values[name] = value
    return values


def _queued_spec(storage: Storage, queue: Row, spec: Any, given: Any) -> dict[str, Any]:
    """The run spec as the queue stores it: the queue's resource and resource_args."""
    if not isinstance(spec, dict):
        raise UserInputError("runSpec must be a JSON object (a launch specification)")
    config = _resource_config(storage, queue["resource_config_id"])
    values = _template_values(config, _json(given, "templateVariableValues"))
    queued: dict[str, Any] = dict(spec)
    if config is not None:  # the queue's resource wins; the job's resource_args refine its
        resource_args = _fill(json.loads(config["config"]).get("resource_args") or {}, values)
        queued["resource"] = config["resource"]
        queued["resource_args"] = _merged(resource_args, queued.get("resource_args") or {})
    return queued


# ---- resolvers ---------------------------------------------------------------------


def _project_run_queues(project: Any, info: Info) -> list[RunQueueNode]:
    storage = _storage(info)
    rows = storage.all(
        "SELECT * FROM launch_queues WHERE project_id=? ORDER BY id", (project.row["id"],)
    )
    return [RunQueueNode(storage, r) for r in rows]


def _project_run_queue(project: Any, info: Info, name: str) -> RunQueueNode | None:
    storage = _storage(info)
    row = storage.one(
        "SELECT * FROM launch_queues WHERE project_id=? AND name=?", (project.row["id"], name)
    )
    return RunQueueNode(storage, row) if row else None


def _entity_resource_config(entity: Any, info: Info, id: str) -> dict[str, Any] | None:
    storage = _storage(info)
    row = _resource_config(storage, decode_id(id, "DefaultResourceConfig"))
    return _config_node(row) if row and row["entity"] == entity.name else None


def _launch_agent(_: Any, info: Info, id: str) -> dict[str, Any] | None:
    storage = _storage(info)
    pk = decode_id(id, "LaunchAgent")
    row = storage.one("SELECT * FROM launch_agents WHERE id=?", (pk,)) if pk else None
    return _agent_node(storage, row) if row else None


def _entity(info: Info, input: dict[str, Any]) -> str:
    return str(input.get("entityName") or _ctx(info).identity.entity)


def _create_resource_config(
    storage: Storage, entity: str, resource: str, config: Any, variables: Any
) -> int:
    if resource not in RESOURCES:
        raise UserInputError(f"resource {resource!r} is not one of {', '.join(RESOURCES)}")
    config = _json(config, "config") or {}
    variables = _json(variables, "templateVariables") or {}
    if not isinstance(config, dict) or not isinstance(variables, dict):
        raise UserInputError("config and templateVariables must be JSON objects")
    with storage.transaction() as db:
        cursor = db.execute(
            "INSERT INTO launch_resource_configs(entity, resource, config, template_variables, "
            "created_at) VALUES (?,?,?,?,?)",
            (entity, resource, json.dumps(config), json.dumps(variables), time.time()),
        )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def create_default_resource_config(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    pk = _create_resource_config(
        storage,
        _entity(info, input),
        str(input.get("resource")),
        input.get("config"),
        input.get("templateVariables"),
    )
    return {"success": True, "defaultResourceConfigID": encode_id("DefaultResourceConfig", pk)}


def _insert_queue(
    storage: Storage, info: Info, entity: str, project: str, name: str, **columns: Any
) -> int:
    if not name or len(name) > 64:
        raise UserInputError(f"invalid queue name {name!r}: 1 to 64 characters")
    proj = storage.ensure_project(entity, project)
    now = time.time()
    with storage.transaction() as db:
        existing = db.execute(
            "SELECT id FROM launch_queues WHERE project_id=? AND name=?", (proj["id"], name)
        ).fetchone()
        if existing is not None:
            raise UserInputError(f"run queue {name!r} already exists in {entity}/{project}")
        cursor = db.execute(
            "INSERT INTO launch_queues(project_id, name, access, prioritization_mode, "
            "resource_config_id, external_links, created_by, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (
                proj["id"],
                name,
                columns.get("access") or "PROJECT",
                columns.get("prioritization_mode"),
                columns.get("resource_config_id"),
                json.dumps(columns["external_links"]) if columns.get("external_links") else None,
                _ctx(info).identity.username,
                now,
                now,
            ),
        )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def create_run_queue(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    entity = _entity(info, input)
    config_pk = None
    if input.get("defaultResourceConfigID"):
        config = _row(
            storage,
            "launch_resource_configs",
            "DefaultResourceConfig",
            input["defaultResourceConfigID"],
        )
        config_pk = config["id"]
    pk = _insert_queue(
        storage,
        info,
        entity,
        str(input.get("projectName") or LAUNCH_DEFAULT_PROJECT),
        str(input.get("queueName") or ""),
        access=input.get("access"),
        prioritization_mode=input.get("prioritizationMode"),
        resource_config_id=config_pk,
    )
    return {"success": True, "queueID": encode_id("RunQueue", pk)}


def upsert_run_queue(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    entity = _entity(info, input)
    project = str(input.get("projectName") or LAUNCH_DEFAULT_PROJECT)
    name = str(input.get("queueName") or "")
    links = _json(input.get("externalLinks"), "externalLinks")
    config_pk = _create_resource_config(
        storage,
        entity,
        str(input.get("resourceType")),
        input.get("resourceConfig"),  # {"resource_args": {<resource>: {...}}}
        input.get("templateVariables"),
    )
    proj = storage.ensure_project(entity, project)
    existing = storage.one(
        "SELECT id FROM launch_queues WHERE project_id=? AND name=?", (proj["id"], name)
    )
    if existing is None:
        _insert_queue(
            storage,
            info,
            entity,
            project,
            name,
            prioritization_mode=input.get("prioritizationMode"),
            resource_config_id=config_pk,
            external_links=links,
        )
    else:
        with storage.transaction() as db:
            db.execute(
                "UPDATE launch_queues SET resource_config_id=?, prioritization_mode="
                "COALESCE(?, prioritization_mode), external_links=?, updated_at=? WHERE id=?",
                (
                    config_pk,
                    input.get("prioritizationMode"),
                    json.dumps(links) if links is not None else None,
                    time.time(),
                    existing["id"],
                ),
            )
    return {"success": True, "configSchemaValidationErrors": []}


def _push(storage: Storage, queue: Row, input: dict[str, Any]) -> dict[str, Any]:
    spec = _queued_spec(
        storage, queue, _json(input.get("runSpec"), "runSpec"), input.get("templateVariableValues")
    )
    priority = input.get("priority")
    if priority is None:
        priority = DEFAULT_PRIORITY
    if not isinstance(priority, int) or not 0 <= priority <= 4:
        raise UserInputError(f"priority must be an integer from 0 (highest) to 4, got {priority!r}")
    now = time.time()
    with storage.transaction() as db:
        cursor = db.execute(
            "INSERT INTO launch_queue_items(queue_id, state, run_spec, priority, created_at, "
            "updated_at) VALUES (?,?,?,?,?,?)",
            (queue["id"], "PENDING", json.dumps(spec), priority, now, now),
        )
    assert cursor.lastrowid is not None
    item_id = encode_id("RunQueueItem", cursor.lastrowid)
    return {"runQueueItemId": item_id, "runSpec": json.dumps(spec)}


def push_to_run_queue_by_name(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    queue = _queue_by_name(
        storage,
        _entity(info, input),
        str(input.get("projectName") or LAUNCH_DEFAULT_PROJECT),
        str(input.get("queueName")),
    )
    return _push(storage, queue, input)


def push_to_run_queue(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    queue = _row(storage, "launch_queues", "RunQueue", input.get("queueID"))
    return _push(storage, queue, input)


def pop_from_run_queue(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any] | None:
    storage = _storage(info)
    queue = _queue_by_name(
        storage,
        _entity(info, input),
        str(input.get("projectName") or LAUNCH_DEFAULT_PROJECT),
        str(input.get("queueName")),
    )
    agent_pk = None
    if input.get("launchAgentId"):
        agent_pk = _row(storage, "launch_agents", "LaunchAgent", input["launchAgentId"])["id"]
    order = "priority, id" if queue["prioritization_mode"] == "V0" else "id"
    with storage.transaction() as db:
        row = db.execute(
            f"SELECT * FROM launch_queue_items WHERE queue_id=? AND state='PENDING' "
            f"ORDER BY {order} LIMIT 1",
            (queue["id"],),
        ).fetchone()
        if row is None:
            return None
        db.execute(
            "UPDATE launch_queue_items SET state='LEASED', agent_id=?, updated_at=? WHERE id=?",
            (agent_pk, time.time(), row["id"]),
        )
    # an object here (W&B's ``JSON``), a string in the push payload (``JSONString``)
    spec = json.loads(row["run_spec"])
    return {"runQueueItemId": encode_id("RunQueueItem", row["id"]), "runSpec": spec}


def ack_run_queue_item(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    item = _row(storage, "launch_queue_items", "RunQueueItem", input.get("runQueueItemId"))
    with storage.transaction() as db:
        changed = db.execute(
            "UPDATE launch_queue_items SET state='CLAIMED', associated_run_id=?, updated_at=? "
            "WHERE id=? AND state='LEASED'",
            (input.get("runName"), time.time(), item["id"]),
        ).rowcount
    return {"success": changed == 1}


def fail_run_queue_item(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    item = _row(storage, "launch_queue_items", "RunQueueItem", input.get("runQueueItemId"))
    error = {
        "message": input.get("message"),
        "stage": input.get("stage"),
        "filePaths": list(input.get("filePaths") or []),
    }
    with storage.transaction() as db:
        db.execute(
            "UPDATE launch_queue_items SET state='FAILED', error=?, updated_at=? WHERE id=?",
            (json.dumps(error), time.time(), item["id"]),
        )
    return {"success": True}


def update_run_queue_item_warning(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    item = _row(storage, "launch_queue_items", "RunQueueItem", input.get("runQueueItemId"))
    warnings = json.loads(item["warnings"])
    warnings.append(
        {
            "message": input.get("message"),
            "stage": input.get("stage"),
            "filePaths": list(input.get("filePaths") or []),
        }
    )
    with storage.transaction() as db:
        db.execute(
            "UPDATE launch_queue_items SET warnings=?, updated_at=? WHERE id=?",
            (json.dumps(warnings), time.time(), item["id"]),
        )
    return {"success": True}


def delete_from_run_queue(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    queue = _row(storage, "launch_queues", "RunQueue", input.get("queueID"))
    item = _row(storage, "launch_queue_items", "RunQueueItem", input.get("runQueueItemId"))
    with storage.transaction() as db:
        deleted = db.execute(
            "DELETE FROM launch_queue_items WHERE id=? AND queue_id=?", (item["id"], queue["id"])
        ).rowcount
    return {"success": deleted == 1}


def delete_run_queues(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    rows = [_row(storage, "launch_queues", "RunQueue", q) for q in input.get("queueIDs") or []]
    with storage.transaction() as db:
        for row in rows:
            db.execute("DELETE FROM launch_queue_items WHERE queue_id=?", (row["id"],))
            db.execute("DELETE FROM launch_queues WHERE id=?", (row["id"],))
    return {"success": True}


def create_launch_agent(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    entity = _entity(info, input)
    proj = _project(storage, entity, str(input.get("projectName") or LAUNCH_DEFAULT_PROJECT))
    queue_ids = [
        _row(storage, "launch_queues", "RunQueue", q)["id"] for q in input.get("runQueues") or []
    ]
    if not queue_ids:
        raise UserInputError("createLaunchAgent: runQueues is empty; an agent polls queues")
    now = time.time()
    with storage.transaction() as db:
        cursor = db.execute(
            "INSERT INTO launch_agents(project_id, name, hostname, queue_ids, config, version, "
            "status, heartbeat_at, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                proj["id"],
                _new_agent_name(),
                input.get("hostname"),
                json.dumps(queue_ids),
                input.get("agentConfig"),
                input.get("version"),
                "POLLING",
                now,
                now,
            ),
        )
    assert cursor.lastrowid is not None
    return {"success": True, "launchAgentId": encode_id("LaunchAgent", cursor.lastrowid)}


def update_launch_agent(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    storage = _storage(info)
    agent = _row(storage, "launch_agents", "LaunchAgent", input.get("launchAgentId"))
    status = input.get("agentStatus")
    if status is not None and status not in _AGENT_STATUSES:
        raise UserInputError(f"agentStatus must be one of {', '.join(_AGENT_STATUSES)}")
    with storage.transaction() as db:
        db.execute(
            "UPDATE launch_agents SET status=COALESCE(?, status), "
            "stop_polling=MAX(stop_polling, ?), heartbeat_at=? WHERE id=?",
            (status, 1 if input.get("stopPolling") else 0, time.time(), agent["id"]),
        )
    return {"success": True}


_MUTATIONS: dict[str, Callable[..., Any]] = {
    "createRunQueue": create_run_queue,
    "upsertRunQueue": upsert_run_queue,
    "createDefaultResourceConfig": create_default_resource_config,
    "pushToRunQueueByName": push_to_run_queue_by_name,
    "pushToRunQueue": push_to_run_queue,
    "popFromRunQueue": pop_from_run_queue,
    "ackRunQueueItem": ack_run_queue_item,
    "failRunQueueItem": fail_run_queue_item,
    "updateRunQueueItemWarning": update_run_queue_item_warning,
    "createLaunchAgent": create_launch_agent,
    "updateLaunchAgent": update_launch_agent,
    "deleteFromRunQueue": delete_from_run_queue,
    "deleteRunQueues": delete_run_queues,
}


def _checked(name: str, resolve: Callable[..., Any]) -> Callable[..., Any]:
    def resolver(source: Any, info: Info, input: dict[str, Any]) -> Any:
        check_input(name, input)
        return resolve(source, info, input)

    return resolver


def install(schema: GraphQLSchema) -> None:
    """Attach the Launch resolvers to ``schema`` (built with :data:`SDL`)."""
    mutation = schema.mutation_type
    assert mutation is not None
    for name, resolve in _MUTATIONS.items():
        mutation.fields[name].resolve = _checked(name, resolve)
    query = schema.query_type
    assert query is not None
    query.fields["launchAgent"].resolve = _launch_agent
    project = schema.get_type("Project")
    entity = schema.get_type("Entity")
    assert isinstance(project, GraphQLObjectType) and isinstance(entity, GraphQLObjectType)
    project.fields["runQueues"].resolve = _project_run_queues
    project.fields["runQueue"].resolve = _project_run_queue
    entity.fields["defaultResourceConfig"].resolve = _entity_resource_config
    run = schema.get_type("Run")
    assert isinstance(run, GraphQLObjectType)
    run.fields["stopped"].resolve = _run_stopped
