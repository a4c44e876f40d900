"""Persistent state: SQLite for metadata, a :class:`BlobStore` for file contents.

Everything lives under one data directory, so a server restarted on the same directory
sees the same projects, runs and artifacts. Each thread has its own SQLite connection;
writes run in ``BEGIN IMMEDIATE`` transactions, so several threads (or processes sharing
the directory) never interleave a read-modify-write.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .blobs import BlobStore, b64_to_hex
from .validation import (
    UserInputError,
    check_alias,
    check_artifact_name,
    check_entry_path,
    check_manifest_entry,
    check_tag,
    check_type_name,
    is_version_alias,
    natural_number,
)

Row = dict[str, Any]

_DDL = """
CREATE TABLE IF NOT EXISTS projects (
  id INTEGER PRIMARY KEY, entity TEXT NOT NULL, name TEXT NOT NULL,
  created_at REAL NOT NULL, UNIQUE(entity, name));
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL,
  display_name TEXT, description TEXT, notes TEXT, state TEXT NOT NULL DEFAULT 'running',
  config TEXT, summary TEXT, tags TEXT, group_name TEXT, job_type TEXT, host TEXT,
  program TEXT, git_commit TEXT, sweep TEXT, exitcode INTEGER,
  created_at REAL NOT NULL, updated_at REAL NOT NULL, heartbeat_at REAL NOT NULL,
  UNIQUE(project_id, name));
CREATE TABLE IF NOT EXISTS run_stream (
  run_id INTEGER NOT NULL, file TEXT NOT NULL, line INTEGER NOT NULL, content TEXT NOT NULL,
  PRIMARY KEY(run_id, file, line));
CREATE TABLE IF NOT EXISTS run_files (
  run_id INTEGER NOT NULL, name TEXT NOT NULL, md5 TEXT, size INTEGER,
  updated_at REAL NOT NULL, PRIMARY KEY(run_id, name));
CREATE TABLE IF NOT EXISTS collections (
  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL,
  kind TEXT NOT NULL, type_name TEXT NOT NULL, description TEXT,
  created_at REAL NOT NULL, updated_at REAL NOT NULL,
  next_version_index INTEGER NOT NULL DEFAULT 0, UNIQUE(project_id, name));
CREATE TABLE IF NOT EXISTS artifact_types (
  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, name TEXT NOT NULL,
  created_at REAL NOT NULL, UNIQUE(project_id, name));
CREATE TABLE IF NOT EXISTS artifacts (
  id INTEGER PRIMARY KEY, sequence_id INTEGER NOT NULL, type_name TEXT NOT NULL,
  state TEXT NOT NULL, digest TEXT NOT NULL, digest_algorithm TEXT,
  description TEXT, metadata TEXT, size INTEGER NOT NULL DEFAULT 0,
  file_count INTEGER NOT NULL DEFAULT 0, history_step INTEGER, ttl_seconds INTEGER,
  client_id TEXT, sequence_client_id TEXT, run_id INTEGER, pending_aliases TEXT,
  manifest_md5 TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
  distributed_id TEXT);
CREATE INDEX IF NOT EXISTS artifacts_seq_digest ON artifacts(sequence_id, digest);
CREATE TABLE IF NOT EXISTS memberships (
  id INTEGER PRIMARY KEY, collection_id INTEGER NOT NULL, artifact_id INTEGER NOT NULL,
  version_index INTEGER NOT NULL, created_at REAL NOT NULL,
  UNIQUE(collection_id, artifact_id), UNIQUE(collection_id, version_index));
CREATE TABLE IF NOT EXISTS aliases (
  id INTEGER PRIMARY KEY, collection_id INTEGER NOT NULL, alias TEXT NOT NULL,
  artifact_id INTEGER NOT NULL, UNIQUE(collection_id, alias));
CREATE TABLE IF NOT EXISTS artifact_files (
  id INTEGER PRIMARY KEY, artifact_id INTEGER NOT NULL, name TEXT NOT NULL,
  md5 TEXT NOT NULL, UNIQUE(artifact_id, name));
CREATE TABLE IF NOT EXISTS manifests (
  id INTEGER PRIMARY KEY, artifact_id INTEGER NOT NULL, name TEXT, digest TEXT,
  type TEXT, md5 TEXT, base_artifact_id INTEGER, uploaded_seq INTEGER);
CREATE TABLE IF NOT EXISTS artifact_usage (
  run_id INTEGER NOT NULL, artifact_id INTEGER NOT NULL, used_as TEXT,
  created_at REAL NOT NULL, PRIMARY KEY(run_id, artifact_id));
CREATE TABLE IF NOT EXISTS client_ids (
  client_id TEXT PRIMARY KEY, artifact_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS artifact_loggers (
  run_id INTEGER NOT NULL, artifact_id INTEGER NOT NULL, created_at REAL NOT NULL,
  PRIMARY KEY(run_id, artifact_id));
CREATE TABLE IF NOT EXISTS tags (
  id INTEGER PRIMARY KEY, target TEXT NOT NULL, target_id INTEGER NOT NULL,
  name TEXT NOT NULL, UNIQUE(target, target_id, name));
"""

#: Columns added after the first release: ``(table, column, type)``, added on open to a
#: data directory made by an older version.
_ADDED_COLUMNS = (
    ("artifacts", "distributed_id", "TEXT"),
    ("manifests", "base_artifact_id", "INTEGER"),
    ("manifests", "uploaded_seq", "INTEGER"),
    ("collections", "next_version_index", "INTEGER NOT NULL DEFAULT 0"),
)

#: W&B's manifest types (``ArtifactManifestType``): a FULL manifest lists the whole
#: version; an INCREMENTAL one (``wandb.Artifact(..., incremental=True)``) adds to the
#: base version's entries; a PATCH (``upsert_artifact`` of a distributed artifact) adds
#: to the entries the version collected so far.
MERGED_MANIFEST_TYPES = ("INCREMENTAL", "PATCH")

LATEST = "latest"


@dataclass(frozen=True)
class Identity:
    """Who the server says the caller is."""

    username: str = "local-user"
    entity: str = "local-user"
    email: str = "local-user@localhost"
    org_name: str = "local-org"
    org_entity: str = "local-org"


def manifest_digest(contents: dict[str, Any]) -> str:
    """An artifact's digest from its manifest entries, as the wandb SDK computes it
    (``ArtifactManifestV1.digest``, MD5): hex MD5 of a header and ``path:digest`` lines.

    >>> manifest_digest({})
    '64e7c61456b10382e2f3b571ac24b659'
    """
    md5 = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path in sorted(contents):
        md5.update(f"{path}:{contents[path].get('digest')}\n".encode())
    return md5.hexdigest()


class Storage:
    """All reads and writes of the server's state."""

    def __init__(self, data_dir: Path, identity: Identity | None = None) -> None:
        self.data_dir = data_dir
        self.identity = identity or Identity()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(data_dir / "blobs")
        self.db_path = data_dir / "wandb-local.sqlite3"
        self._local = threading.local()
        self._conn().executescript(_DDL)
        self._add_missing_columns()
        self._migrate()

    #: ``PRAGMA user_version`` of the current layout. 1: ``latest`` is a stored alias.
    SCHEMA_VERSION: ClassVar[int] = 1

    def _migrate(self) -> None:
        """Bring a data dir written by an older server up to :attr:`SCHEMA_VERSION`."""
        row = self.one("PRAGMA user_version")
        version = int(next(iter(row.values()))) if row else 0
        if version >= self.SCHEMA_VERSION:
            return
        with self.transaction() as db:
            if version < 1:  # ``latest`` was computed: store it on each highest version
                db.execute(
                    "INSERT OR IGNORE INTO aliases(collection_id, alias, artifact_id) "
                    "SELECT m.collection_id, ?, m.artifact_id FROM memberships m "
                    "WHERE m.version_index = (SELECT MAX(version_index) FROM memberships "
                    "WHERE collection_id = m.collection_id)",
                    (LATEST,),
                )
            db.execute(f"PRAGMA user_version={self.SCHEMA_VERSION}")

    # ---- connections -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, isolation_level=None, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def _add_missing_columns(self) -> None:
        conn = self._conn()
        for table, column, kind in _ADDED_COLUMNS:
            present = {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                try:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError:  # another process added it meanwhile
                    if "duplicate column" not in str(sys.exc_info()[1]):
                        raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed unless it raises."""
        conn = self._conn()
        if conn.in_transaction:  # nested use: join the outer transaction
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        """First row of a query, as a dict."""
        row = self._conn().execute(sql, tuple(params)).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """All rows of a query, as dicts."""
        return [dict(r) for r in self._conn().execute(sql, tuple(params)).fetchall()]

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- projects and runs -------------------------------------------------------
    def project(self, entity: str, name: str) -> Row | None:
        return self.one("SELECT * FROM projects WHERE entity=? AND name=?", (entity, name))

    def project_by_id(self, pk: int) -> Row | None:
        return self.one("SELECT * FROM projects WHERE id=?", (pk,))

    def ensure_project(self, entity: str, name: str) -> Row:
        """The project, created if missing."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO projects(entity, name, created_at) VALUES (?,?,?)",
                (entity, name, time.time()),
            )
        row = self.project(entity, name)
        assert row is not None
        return row

    def run(self, project_id: int, name: str) -> Row | None:
        return self.one("SELECT * FROM runs WHERE project_id=? AND name=?", (project_id, name))

    def run_by_id(self, pk: int) -> Row | None:
        return self.one("SELECT * FROM runs WHERE id=?", (pk,))

    def find_run(self, entity: str, project: str, name: str) -> Row | None:
        return self.one(
            "SELECT r.* FROM runs r JOIN projects p ON p.id=r.project_id "
            "WHERE p.entity=? AND p.name=? AND r.name=?",
            (entity, project, name),
        )

    _RUN_FIELDS: ClassVar[dict[str, str]] = {
        "displayName": "display_name",
        "description": "description",
        "notes": "notes",
        "config": "config",
        "summaryMetrics": "summary",
        "groupName": "group_name",
        "jobType": "job_type",
        "host": "host",
        "jobProgram": "program",
        "commit": "git_commit",
        "sweep": "sweep",
        "state": "state",
    }

    def upsert_run(
        self,
        entity: str,
        project: str,
        name: str,
        fields: dict[str, Any],
        reopen: bool = False,
    ) -> Row:
        """Create or update a run; returns the row plus ``inserted``.

        ``reopen`` (``UpsertBucket``): a finished run being upserted again is resumed.
        """
        proj = self.ensure_project(entity, project)
        now = time.time()
        with self.transaction() as db:
            existing = self.run(proj["id"], name)
            inserted = existing is None
            if existing is None:
                db.execute(
                    "INSERT INTO runs(project_id, name, created_at, updated_at, heartbeat_at) "
                    "VALUES (?,?,?,?,?)",
                    (proj["id"], name, now, now, now),
                )
            sets: dict[str, Any] = {}
            for key, column in self._RUN_FIELDS.items():
                if fields.get(key) is not None:
                    sets[column] = fields[key]
            if fields.get("tags") is not None:
                sets["tags"] = json.dumps(list(fields["tags"]))
            if (
                reopen
                and existing is not None
                and fields.get("state") is None
                and existing["state"] in ("finished", "failed", "crashed")
            ):  # a resumed run is running again
                sets["state"] = "running"
                sets["exitcode"] = None
            sets["updated_at"] = now
            sets["heartbeat_at"] = now
            assignments = ", ".join(f"{c}=?" for c in sets)
            db.execute(
                f"UPDATE runs SET {assignments} WHERE project_id=? AND name=?",
                (*sets.values(), proj["id"], name),
            )
        row = self.run(proj["id"], name)
        assert row is not None
        row["inserted"] = inserted
        return row

    def write_stream(self, run_id: int, file: str, offset: int, lines: list[str]) -> None:
        """Store lines a run streamed for ``file`` from line ``offset`` on."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO run_stream(run_id, file, line, content) VALUES (?,?,?,?)",
                [(run_id, file, offset + i, line) for i, line in enumerate(lines)],
            )
            if file == "wandb-summary.json" and lines:
                db.execute("UPDATE runs SET summary=? WHERE id=?", (lines[-1], run_id))
            db.execute("UPDATE runs SET heartbeat_at=? WHERE id=?", (time.time(), run_id))

    def finish_run(self, run_id: int, exitcode: int) -> None:
        """Mark a run finished (exit code 0) or failed."""
        state = "finished" if exitcode == 0 else "failed"
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET state=?, exitcode=?, updated_at=? WHERE id=?",
                (state, exitcode, time.time(), run_id),
            )

    def delete_run(self, run_id: int) -> None:
        """Delete a run and what only it holds (its streams, files, usage records); the
        artifacts it logged stay, their creator becomes unknown (W&B's default)."""
        with self.transaction() as db:
            for table in ("run_stream", "run_files", "artifact_usage", "artifact_loggers"):
                db.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,))
            db.execute("UPDATE artifacts SET run_id=NULL WHERE run_id=?", (run_id,))
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))

    def stream_lines(self, run_id: int, file: str) -> list[str]:
        rows = self.all(
            "SELECT content FROM run_stream WHERE run_id=? AND file=? ORDER BY line",
            (run_id, file),
        )
        return [r["content"] for r in rows]

    def stream_count(self, run_id: int, file: str) -> int:
        row = self.one(
            "SELECT COALESCE(MAX(line)+1, 0) AS n FROM run_stream WHERE run_id=? AND file=?",
            (run_id, file),
        )
        return int(row["n"]) if row else 0

    def record_run_file(self, run_id: int, name: str, md5_hex: str, size: int) -> None:
        """Record an uploaded run file; raises ``UserInputError`` for a path the SDK
        could not download to (see :func:`check_entry_path`)."""
        check_entry_path(name, "run file")
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO run_files(run_id, name, md5, size, updated_at) "
                "VALUES (?,?,?,?,?)",
                (run_id, name, md5_hex, size, time.time()),
            )

    def run_files(self, run_id: int) -> list[Row]:
        return self.all("SELECT * FROM run_files WHERE run_id=? ORDER BY name", (run_id,))

    # ---- collections and types ---------------------------------------------------
    def collection(self, project_id: int, name: str) -> Row | None:
        return self.one(
            "SELECT * FROM collections WHERE project_id=? AND name=?", (project_id, name)
        )

    def collection_by_id(self, pk: int) -> Row | None:
        return self.one("SELECT * FROM collections WHERE id=?", (pk,))

    def collections(self, project_id: int, type_name: str | None = None) -> list[Row]:
        if type_name is None:
            return self.all(
                "SELECT * FROM collections WHERE project_id=? ORDER BY id", (project_id,)
            )
        return self.all(
            "SELECT * FROM collections WHERE project_id=? AND type_name=? ORDER BY id",
            (project_id, type_name),
        )

    def _ensure_type(self, db: sqlite3.Connection, project_id: int, type_name: str) -> None:
        db.execute(
            "INSERT OR IGNORE INTO artifact_types(project_id, name, created_at) VALUES (?,?,?)",
            (project_id, type_name, time.time()),
        )

    def artifact_type(self, project_id: int, name: str) -> Row | None:
        return self.one(
            "SELECT * FROM artifact_types WHERE project_id=? AND name=?", (project_id, name)
        )

    def artifact_type_by_id(self, pk: int) -> Row | None:
        return self.one("SELECT * FROM artifact_types WHERE id=?", (pk,))

    def artifact_types(self, project_id: int) -> list[Row]:
        return self.all(
            "SELECT * FROM artifact_types WHERE project_id=? ORDER BY id", (project_id,)
        )

    def _ensure_collection(
        self, db: sqlite3.Connection, project_id: int, name: str, kind: str, type_name: str
    ) -> Row:
        coll = self.collection(project_id, name)
        if coll is None:
            now = time.time()
            db.execute(
                "INSERT INTO collections(project_id, name, kind, type_name, created_at, "
                "updated_at) VALUES (?,?,?,?,?,?)",
                (project_id, name, kind, type_name, now, now),
            )
            coll = self.collection(project_id, name)
            assert coll is not None
        elif coll["type_name"] != type_name:
            raise UserInputError(
                f"artifact collection {name!r} already exists with type "
                f"{coll['type_name']!r}, cannot use it with type {type_name!r}"
            )
        self._ensure_type(db, project_id, type_name)
        return coll

    # ---- artifacts ---------------------------------------------------------------
    def artifact(self, pk: int) -> Row | None:
        return self.one("SELECT * FROM artifacts WHERE id=?", (pk,))

    def create_artifact(self, spec: dict[str, Any], run_id: int | None) -> Row:
        """``CreateArtifact``: a new pending version, or the version with that digest.

        Like W&B, content the collection already has (same digest) makes no new version:
        the committed version with it is returned (``state`` COMMITTED: the SDK uploads
        nothing), or else the pending one another client is uploading, so that two
        uploads of the same content racing before either commits become one version.
        The lookup and the insert are one write transaction, so no two callers can both
        miss each other. The caller's aliases are added to the version either way.

        With a ``distributedID`` (``run.upsert_artifact`` / ``run.finish_artifact``), the
        pending version of the collection with that id is returned to every run sharing
        it, so their manifest patches build one version; there is no dedupe by digest then
        (each run only knows its own part). Once committed, the id starts a new version.
        """
        entity = spec["entityName"]
        project = spec["projectName"]
        type_name = spec["artifactTypeName"]
        names = spec.get("artifactCollectionNames") or []
        if spec.get("artifactCollectionName"):
            names = [spec["artifactCollectionName"], *names]
        if not names:
            raise UserInputError("createArtifact needs artifactCollectionNames")
        name = names[0]
        check_artifact_name(name)
        check_type_name(type_name)
        aliases = [a["alias"] for a in spec.get("aliases") or [] if a.get("alias")]
        for alias in aliases:
            check_alias(alias)
        proj = self.ensure_project(entity, project)
        now = time.time()
        distributed_id = spec.get("distributedID") or None
        with self.transaction() as db:
            seq = self._ensure_collection(db, proj["id"], name, "SEQUENCE", type_name)
            if distributed_id is not None:
                shared = self._join_distributed(db, seq["id"], distributed_id, spec, aliases)
                if shared is not None:
                    return shared
            existing = self.one(
                "SELECT * FROM artifacts WHERE sequence_id=? AND digest=? AND state='COMMITTED' "
                "ORDER BY id LIMIT 1",
                (seq["id"], spec["digest"]),
            )
            if existing is None and distributed_id is None:
                uploading = self._pending_with_digest(db, seq["id"], spec["digest"])
                if uploading is not None:
                    return self._share_pending(db, uploading, spec, aliases, run_id, now)
            if existing is not None and distributed_id is None:
                # Like W&B: a re-log of existing content moves ``latest`` and the
                # requested aliases to the version that has it.
                self._set_aliases(db, seq["id"], existing["id"], [*aliases, LATEST])
                # The run logged it too: W&B lists it in the run's logged artifacts.
                self._record_another_logger(db, existing, spec, run_id, now)
                return existing
            if spec.get("clientID") and distributed_id is None:
                # Like W&B: creating the same client artifact again (``wandb job create``
                # creates it, then logs it) returns the version already being written.
                pending = self.one(
                    "SELECT * FROM artifacts WHERE sequence_id=? AND client_id=? "
                    "AND state='PENDING' ORDER BY id LIMIT 1",
                    (seq["id"], spec["clientID"]),
                )
                if pending is not None:
                    return pending
            metadata = spec.get("metadata")
            if isinstance(metadata, dict):
                metadata = json.dumps(metadata)
            cur = db.execute(
                "INSERT INTO artifacts(sequence_id, type_name, state, digest, digest_algorithm, "
                "description, metadata, history_step, ttl_seconds, client_id, "
                "sequence_client_id, run_id, pending_aliases, created_at, updated_at, "
                "distributed_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    seq["id"],
                    type_name,
                    "PENDING",
                    spec["digest"],
                    spec.get("digestAlgorithm"),
                    spec.get("description"),
                    metadata,
                    spec.get("historyStep"),
                    spec.get("ttlDurationSeconds"),
                    spec.get("clientID"),
                    spec.get("sequenceClientID"),
                    run_id,
                    json.dumps(aliases),
                    now,
                    now,
                    distributed_id,
                ),
            )
            pk = cur.lastrowid
            assert pk is not None
            if spec.get("clientID"):
                db.execute(
                    "INSERT OR REPLACE INTO client_ids(client_id, artifact_id) VALUES (?,?)",
                    (spec["clientID"], pk),
                )
        row = self.artifact(pk)
        assert row is not None
        return row

    def _pending_with_digest(
        self, db: sqlite3.Connection, sequence_id: int, digest: str
    ) -> Row | None:
        """The pending version (not a distributed one) uploading content with ``digest``."""
        row = db.execute(
            "SELECT * FROM artifacts WHERE sequence_id=? AND digest=? AND state='PENDING' "
            "AND distributed_id IS NULL ORDER BY id LIMIT 1",
            (sequence_id, digest),
        ).fetchone()
        return dict(row) if row is not None else None

    def _share_pending(
        self,
        db: sqlite3.Connection,
        pending: Row,
        spec: dict[str, Any],
        aliases: list[str],
        run_id: int | None,
        now: float,
    ) -> Row:
        """Hand a pending version to one more client logging the same content: its
        aliases are applied at commit, its run is one of the version's loggers."""
        known = json.loads(pending["pending_aliases"] or "[]")
        db.execute(
            "UPDATE artifacts SET pending_aliases=? WHERE id=?",
            (json.dumps(known + [a for a in aliases if a not in known]), pending["id"]),
        )
        self._record_another_logger(db, pending, spec, run_id, now)
        row = self.artifact(pending["id"])
        assert row is not None
        return row

    @staticmethod
    def _record_another_logger(
        db: sqlite3.Connection,
        version: Row,
        spec: dict[str, Any],
        run_id: int | None,
        now: float,
    ) -> None:
        """``CreateArtifact`` of content ``version`` already has: the calling run becomes
        one of its loggers, and the caller's client id (``spec["clientID"]``) names it."""
        if run_id is not None and run_id != version["run_id"]:
            db.execute(
                "INSERT OR IGNORE INTO artifact_loggers(run_id, artifact_id, created_at) "
                "VALUES (?,?,?)",
                (run_id, version["id"], now),
            )
        if spec.get("clientID"):
            db.execute(
                "INSERT OR REPLACE INTO client_ids(client_id, artifact_id) VALUES (?,?)",
                (spec["clientID"], version["id"]),
            )

    def _join_distributed(
        self,
        db: sqlite3.Connection,
        sequence_id: int,
        distributed_id: str,
        spec: dict[str, Any],
        aliases: list[str],
    ) -> Row | None:
        """The pending version a distributed id builds, updated by one more run's call."""
        pending = self.one(
            "SELECT * FROM artifacts WHERE sequence_id=? AND distributed_id=? "
            "AND state='PENDING' ORDER BY id LIMIT 1",
            (sequence_id, distributed_id),
        )
        if pending is None:
            return None
        sets: dict[str, Any] = {"updated_at": time.time()}
        known = json.loads(pending["pending_aliases"] or "[]")
        sets["pending_aliases"] = json.dumps(known + [a for a in aliases if a not in known])
        if spec.get("description") is not None:
            sets["description"] = spec["description"]
        added = spec.get("metadata")
        added = json.loads(added) if isinstance(added, str) else added
        if added:  # each run's keys are added to the version's metadata
            sets["metadata"] = json.dumps({**json.loads(pending["metadata"] or "{}"), **added})
        db.execute(
            f"UPDATE artifacts SET {', '.join(f'{c}=?' for c in sets)} WHERE id=?",
            (*sets.values(), pending["id"]),
        )
        if spec.get("clientID"):
            db.execute(
                "INSERT OR REPLACE INTO client_ids(client_id, artifact_id) VALUES (?,?)",
                (spec["clientID"], pending["id"]),
            )
        row = self.artifact(pending["id"])
        assert row is not None
        return row

    def add_artifact_file(self, artifact_id: int, name: str, md5_b64: str) -> str:
        """Register a file of a pending artifact; returns its MD5 hex. Raises
        ``UserInputError`` for a path the SDK refuses (see :func:`check_entry_path`)."""
        check_entry_path(name)
        md5_hex = b64_to_hex(md5_b64)
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO artifact_files(artifact_id, name, md5) VALUES (?,?,?)",
                (artifact_id, name, md5_hex),
            )
        return md5_hex

    def create_manifest(
        self,
        artifact_id: int,
        name: str | None,
        digest: str | None,
        kind: str | None,
        base_artifact_id: int | None = None,
    ) -> Row:
        """``CreateArtifactManifest``: a manifest row waiting for its upload.

        ``kind`` is W&B's manifest type (``FULL``, ``INCREMENTAL``, ``PATCH``);
        ``base_artifact_id`` the version an INCREMENTAL manifest adds to.
        """
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO manifests(artifact_id, name, digest, type, base_artifact_id) "
                "VALUES (?,?,?,?,?)",
                (artifact_id, name, digest, kind, base_artifact_id),
            )
            pk = cur.lastrowid
        assert pk is not None
        row = self.manifest(pk)
        assert row is not None
        return row

    def update_manifest_digest(self, manifest_id: int, digest: str | None) -> None:
        if digest is None:
            return
        with self.transaction() as db:
            db.execute("UPDATE manifests SET digest=? WHERE id=?", (digest, manifest_id))

    def manifest(self, pk: int) -> Row | None:
        return self.one("SELECT * FROM manifests WHERE id=?", (pk,))

    def manifest_uploaded(self, manifest_id: int, md5_hex: str) -> None:
        """Record the uploaded manifest body (blob ``md5_hex``) of a manifest row.

        An INCREMENTAL or PATCH manifest is merged (its entries win) over the base
        version's or the version's current entries, and the merged manifest becomes the
        version's. Raises ``UserInputError`` if the body is not a W&B manifest or lists a
        path the SDK refuses (then nothing changes), or the version is already committed
        with other content. The same content again (a second client that logged it while
        the first was uploading, see :meth:`create_artifact`) changes nothing.
        """
        uploaded = self._read_manifest(md5_hex)
        with self.transaction() as db:
            man = self.manifest(manifest_id)
            if man is None:
                raise UserInputError(f"artifact manifest {manifest_id} not found")
            art = self.artifact(man["artifact_id"])
            if (
                art is not None
                and art["state"] == "COMMITTED"
                and (man["type"] or "FULL").upper() == "FULL"
                and manifest_digest(uploaded["contents"]) == art["digest"]
            ):
                return
            if art is None or art["state"] != "PENDING":
                raise UserInputError("the artifact of this manifest is already committed")
            kind = (man["type"] or "FULL").upper()
            if kind in MERGED_MANIFEST_TYPES:
                if kind == "PATCH":
                    base = self.manifest_contents(man["artifact_id"])
                elif man["base_artifact_id"] is not None:
                    base = self.manifest_contents(man["base_artifact_id"])
                else:
                    base = {}
                merged = {**uploaded, "contents": {**base, **uploaded["contents"]}}
                md5_hex = self.blobs.put_bytes(json.dumps(merged, sort_keys=True).encode())
            seq = self.one("SELECT COALESCE(MAX(uploaded_seq), 0) + 1 AS n FROM manifests")
            assert seq is not None
            db.execute(
                "UPDATE manifests SET md5=?, uploaded_seq=? WHERE id=?",
                (md5_hex, seq["n"], manifest_id),
            )

    def _read_manifest(self, md5_hex: str) -> dict[str, Any]:
        """A stored manifest body, checked to be a W&B manifest (``contents`` a map)."""
        try:
            data = json.loads(self.blobs.path(md5_hex).read_bytes())
        except (OSError, ValueError) as exc:
            raise UserInputError(f"the uploaded artifact manifest is not JSON: {exc}") from exc
        contents = data.get("contents") if isinstance(data, dict) else None
        if not isinstance(contents, dict):
            raise UserInputError("the uploaded artifact manifest has no 'contents' map of entries")
        for path, entry in contents.items():
            check_entry_path(path)
            check_manifest_entry(path, entry)
        return dict(data)

    def current_manifest(self, artifact_id: int) -> Row | None:
        """The artifact's last uploaded manifest (merged, for INCREMENTAL and PATCH)."""
        return self.one(
            "SELECT * FROM manifests WHERE artifact_id=? AND md5 IS NOT NULL "
            "ORDER BY uploaded_seq DESC, id DESC LIMIT 1",
            (artifact_id,),
        )

    def manifest_contents(self, artifact_id: int) -> dict[str, Any]:
        """The ``contents`` map of the artifact's uploaded manifest (empty if none)."""
        man = self.current_manifest(artifact_id)
        if man is None or not self.blobs.exists(man["md5"]):
            return {}
        data = json.loads(self.blobs.path(man["md5"]).read_bytes())
        contents = data.get("contents") or {}
        return contents if isinstance(contents, dict) else {}

    def commit_artifact(self, artifact_id: int) -> Row:
        """``CommitArtifact``: check every file arrived, then publish the next version."""
        art = self.artifact(artifact_id)
        if art is None:
            raise UserInputError(f"artifact {artifact_id} not found")
        if art["state"] == "COMMITTED":
            return art
        man = self.current_manifest(artifact_id)
        if man is None or not self.blobs.exists(man["md5"]):
            raise UserInputError("cannot commit artifact: its manifest was never uploaded")
        contents = self.manifest_contents(artifact_id)
        for path in contents:  # also a manifest stored before paths were checked
            check_entry_path(path)
        size = 0
        missing: list[str] = []
        for path, entry in contents.items():
            size += int(entry.get("size") or 0)
            if entry.get("ref"):
                continue
            digest = entry.get("digest")
            if not digest or not self.blobs.exists(b64_to_hex(digest)):
                missing.append(path)
        if missing:
            raise UserInputError(
                f"cannot commit artifact: {len(missing)} file(s) were not uploaded: "
                + ", ".join(sorted(missing)[:5])
            )
        digest = art["digest"]
        if (man["type"] or "FULL").upper() in MERGED_MANIFEST_TYPES:
            digest = manifest_digest(contents)  # the merged version's, as the SDK computes
        now = time.time()
        with self.transaction() as db:
            art = self.artifact(artifact_id)
            assert art is not None
            if art["state"] == "COMMITTED":
                return art
            seq_id = art["sequence_id"]
            self._add_membership(db, seq_id, artifact_id, now)
            db.execute(
                "UPDATE artifacts SET state='COMMITTED', size=?, file_count=?, digest=?, "
                "updated_at=? WHERE id=?",
                (size, len(contents), digest, now, artifact_id),
            )
            pending = json.loads(art["pending_aliases"] or "[]")
            self._set_aliases(db, seq_id, artifact_id, [*pending, LATEST])
            db.execute("UPDATE collections SET updated_at=? WHERE id=?", (now, seq_id))
        row = self.artifact(artifact_id)
        assert row is not None
        return row

    def _add_membership(
        self, db: sqlite3.Connection, collection_id: int, artifact_id: int, now: float
    ) -> int:
        existing = self.one(
            "SELECT version_index FROM memberships WHERE collection_id=? AND artifact_id=?",
            (collection_id, artifact_id),
        )
        if existing is not None:
            return int(existing["version_index"])
        # W&B never gives a version number twice, not even that of a deleted version
        # (wandb/wandb#2828: v2 deleted, the next version is v3): each collection counts.
        # A data dir from before the count (0) continues after its highest version.
        row = self.one(
            "SELECT MAX(c.next_version_index, COALESCE((SELECT MAX(version_index) + 1 "
            "FROM memberships WHERE collection_id = c.id), 0)) AS v "
            "FROM collections c WHERE c.id=?",
            (collection_id,),
        )
        version = int(row["v"]) if row else 0
        db.execute(
            "INSERT INTO memberships(collection_id, artifact_id, version_index, created_at) "
            "VALUES (?,?,?,?)",
            (collection_id, artifact_id, version, now),
        )
        db.execute(
            "UPDATE collections SET next_version_index=? WHERE id=?", (version + 1, collection_id)
        )
        return version

    def _set_aliases(
        self, db: sqlite3.Connection, collection_id: int, artifact_id: int, aliases: list[str]
    ) -> None:
        for alias in dict.fromkeys(aliases):
            check_alias(alias)
            if is_version_alias(alias):  # W&B ignores it: versions are named by W&B
                continue
            db.execute(
                "INSERT INTO aliases(collection_id, alias, artifact_id) VALUES (?,?,?) "
                "ON CONFLICT(collection_id, alias) DO UPDATE SET artifact_id=excluded.artifact_id",
                (collection_id, alias, artifact_id),
            )

    def add_aliases(self, artifact_id: int, collection_id: int, aliases: list[str]) -> None:
        for alias in aliases:
            check_alias(alias)
        with self.transaction() as db:
            self._set_aliases(db, collection_id, artifact_id, aliases)

    def delete_aliases(self, artifact_id: int, collection_id: int, aliases: list[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM aliases WHERE collection_id=? AND artifact_id=? AND alias=?",
                [(collection_id, artifact_id, a) for a in aliases],
            )

    def update_artifact(self, artifact_id: int, fields: dict[str, Any]) -> None:
        sets: dict[str, Any] = {}
        if "description" in fields:
            sets["description"] = fields["description"]
        if fields.get("metadata") is not None:
            md = fields["metadata"]
            sets["metadata"] = md if isinstance(md, str) else json.dumps(md)
        if "ttlDurationSeconds" in fields:
            sets["ttl_seconds"] = fields["ttlDurationSeconds"]
        if not sets:
            return
        sets["updated_at"] = time.time()
        with self.transaction() as db:
            db.execute(
                f"UPDATE artifacts SET {', '.join(f'{c}=?' for c in sets)} WHERE id=?",
                (*sets.values(), artifact_id),
            )

    def delete_artifact(self, artifact_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM aliases WHERE artifact_id=?", (artifact_id,))
            db.execute("DELETE FROM memberships WHERE artifact_id=?", (artifact_id,))
            db.execute("UPDATE artifacts SET state='DELETED' WHERE id=?", (artifact_id,))

    # ---- memberships and aliases --------------------------------------------------
    def membership(self, collection_id: int, artifact_id: int) -> Row | None:
        return self.one(
            "SELECT * FROM memberships WHERE collection_id=? AND artifact_id=?",
            (collection_id, artifact_id),
        )

    def memberships_of_collection(self, collection_id: int) -> list[Row]:
        return self.all(
            "SELECT * FROM memberships WHERE collection_id=? ORDER BY version_index DESC",
            (collection_id,),
        )

    def memberships_of_artifact(self, artifact_id: int) -> list[Row]:
        return self.all("SELECT * FROM memberships WHERE artifact_id=? ORDER BY id", (artifact_id,))

    def latest_membership(self, collection_id: int) -> Row | None:
        """The version ``latest`` names, else the highest one (``latestArtifact``)."""
        return self.resolve_membership(collection_id, LATEST) or self.one(
            "SELECT * FROM memberships WHERE collection_id=? ORDER BY version_index DESC LIMIT 1",
            (collection_id,),
        )

    def resolve_membership(self, collection_id: int, alias_or_version: str) -> Row | None:
        """The membership named by ``latest``, ``v<N>``, another alias or a digest."""
        key = alias_or_version
        if key.startswith("v") and (index := natural_number(key[1:])) is not None:
            return self.one(
                "SELECT * FROM memberships WHERE collection_id=? AND version_index=?",
                (collection_id, index),
            )
        alias = self.one(
            "SELECT artifact_id FROM aliases WHERE collection_id=? AND alias=?",
            (collection_id, key),
        )
        if alias is not None:
            return self.membership(collection_id, int(alias["artifact_id"]))
        return self.one(
            "SELECT m.* FROM memberships m JOIN artifacts a ON a.id=m.artifact_id "
            "WHERE m.collection_id=? AND a.digest=?",
            (collection_id, key),
        )

    def aliases_of(self, collection_id: int, artifact_id: int) -> list[str]:
        """Aliases of a version within a collection (``latest`` is one like any other)."""
        rows = self.all(
            "SELECT alias FROM aliases WHERE collection_id=? AND artifact_id=? ORDER BY id",
            (collection_id, artifact_id),
        )
        return [r["alias"] for r in rows]

    def collection_aliases(self, collection_id: int) -> list[Row]:
        return self.all("SELECT * FROM aliases WHERE collection_id=? ORDER BY id", (collection_id,))

    def artifact_by_client_id(self, client_id: str) -> int | None:
        row = self.one("SELECT artifact_id FROM client_ids WHERE client_id=?", (client_id,))
        return int(row["artifact_id"]) if row else None

    # ---- lineage and links --------------------------------------------------------
    def use_artifact(self, run_id: int, artifact_id: int, used_as: str | None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO artifact_usage(run_id, artifact_id, used_as, created_at) "
                "VALUES (?,?,?,?)",
                (run_id, artifact_id, used_as, time.time()),
            )

    def used_artifacts(self, run_id: int) -> list[Row]:
        return self.all(
            "SELECT a.* FROM artifact_usage u JOIN artifacts a ON a.id=u.artifact_id "
            "WHERE u.run_id=? AND a.state!='DELETED' ORDER BY u.created_at",
            (run_id,),
        )

    def logged_artifacts(self, run_id: int) -> list[Row]:
        """Versions the run created, and those it logged again (deduplicated to them)."""
        return self.all(
            "SELECT * FROM artifacts WHERE state='COMMITTED' AND (run_id=? OR id IN "
            "(SELECT artifact_id FROM artifact_loggers WHERE run_id=?)) ORDER BY id",
            (run_id, run_id),
        )

    def users_of(self, artifact_id: int) -> list[Row]:
        return self.all(
            "SELECT r.* FROM artifact_usage u JOIN runs r ON r.id=u.run_id "
            "WHERE u.artifact_id=? ORDER BY u.created_at",
            (artifact_id,),
        )

    def link_artifact(
        self,
        artifact_id: int,
        entity: str,
        project: str,
        portfolio: str,
        aliases: list[str],
    ) -> Row:
        """``LinkArtifact``: add a committed version to a portfolio (e.g. a registry)."""
        check_artifact_name(portfolio)
        for alias in aliases:
            check_alias(alias)
        art = self.artifact(artifact_id)
        if art is None or art["state"] != "COMMITTED":
            raise UserInputError(f"artifact {artifact_id} not found or not committed")
        proj = self.ensure_project(entity, project)
        now = time.time()
        with self.transaction() as db:
            coll = self._ensure_collection(db, proj["id"], portfolio, "PORTFOLIO", art["type_name"])
            if coll["kind"] != "PORTFOLIO":
                raise UserInputError(
                    f"{portfolio!r} is an artifact sequence, not a portfolio: cannot link to it"
                )
            self._add_membership(db, coll["id"], artifact_id, now)
            self._set_aliases(db, coll["id"], artifact_id, [*aliases, LATEST])
            db.execute("UPDATE collections SET updated_at=? WHERE id=?", (now, coll["id"]))
        membership = self.membership(coll["id"], artifact_id)
        assert membership is not None
        return membership

    def unlink_artifact(self, artifact_id: int, collection_id: int) -> None:
        with self.transaction() as db:
            db.execute(
                "DELETE FROM aliases WHERE collection_id=? AND artifact_id=?",
                (collection_id, artifact_id),
            )
            db.execute(
                "DELETE FROM memberships WHERE collection_id=? AND artifact_id=?",
                (collection_id, artifact_id),
            )

    # ---- collection-level operations ------------------------------------------------
    def update_collection(
        self, collection_id: int, name: str | None, description: str | None
    ) -> None:
        """Rename a collection and/or set its description (``None``: unchanged)."""
        coll = self.collection_by_id(collection_id)
        if coll is None:
            raise UserInputError(f"artifact collection {collection_id} not found")
        sets: dict[str, Any] = {"updated_at": time.time()}
        if name is not None and name != coll["name"]:
            check_artifact_name(name)
            if self.collection(coll["project_id"], name) is not None:
                raise UserInputError(f"artifact collection {name!r} already exists")
            sets["name"] = name
        if description is not None:
            sets["description"] = description
        with self.transaction() as db:
            db.execute(
                f"UPDATE collections SET {', '.join(f'{c}=?' for c in sets)} WHERE id=?",
                (*sets.values(), collection_id),
            )

    def change_collection_type(self, collection_id: int, type_name: str) -> None:
        """Give an artifact sequence (and so each of its versions) another type."""
        check_type_name(type_name)
        coll = self.collection_by_id(collection_id)
        if coll is None or coll["kind"] != "SEQUENCE":
            raise UserInputError("only an artifact sequence can change its type")
        with self.transaction() as db:
            self._ensure_type(db, coll["project_id"], type_name)
            db.execute(
                "UPDATE collections SET type_name=?, updated_at=? WHERE id=?",
                (type_name, time.time(), collection_id),
            )
            db.execute(
                "UPDATE artifacts SET type_name=? WHERE sequence_id=?", (type_name, collection_id)
            )

    def delete_collection(self, collection_id: int) -> None:
        """Delete a collection: a sequence with its versions (and their links), a
        portfolio with its links only (the linked versions stay in their sequences)."""
        coll = self.collection_by_id(collection_id)
        if coll is None:
            raise UserInputError(f"artifact collection {collection_id} not found")
        with self.transaction() as db:
            if coll["kind"] == "SEQUENCE":
                ids = [
                    (r["id"],)
                    for r in self.all(
                        "SELECT id FROM artifacts WHERE sequence_id=?", (collection_id,)
                    )
                ]
                db.executemany("DELETE FROM aliases WHERE artifact_id=?", ids)
                db.executemany("DELETE FROM memberships WHERE artifact_id=?", ids)
                db.executemany("UPDATE artifacts SET state='DELETED' WHERE id=?", ids)
            db.execute("DELETE FROM aliases WHERE collection_id=?", (collection_id,))
            db.execute("DELETE FROM memberships WHERE collection_id=?", (collection_id,))
            db.execute(
                "DELETE FROM tags WHERE target='collection' AND target_id=?", (collection_id,)
            )
            db.execute("DELETE FROM collections WHERE id=?", (collection_id,))

    # ---- tags (of versions and of collections) -------------------------------------
    #: What a tag can be attached to: ``artifact`` (a version) or ``collection``.
    TAG_TARGETS: ClassVar[tuple[str, ...]] = ("artifact", "collection")

    def update_tags(
        self, target: str, target_id: int, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> None:
        """Attach the tags ``add`` and detach ``remove`` (each checked like W&B)."""
        assert target in self.TAG_TARGETS
        add, remove = list(add), list(remove)
        for tag in [*add, *remove]:
            check_tag(tag)
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM tags WHERE target=? AND target_id=? AND name=?",
                [(target, target_id, t) for t in remove],
            )
            db.executemany(
                "INSERT OR IGNORE INTO tags(target, target_id, name) VALUES (?,?,?)",
                [(target, target_id, t) for t in add],
            )

    def tags_of(self, target: str, target_id: int) -> list[Row]:
        """Tag rows (``id``, ``name``) in the order they were attached."""
        return self.all(
            "SELECT id, name FROM tags WHERE target=? AND target_id=? ORDER BY id",
            (target, target_id),
        )
