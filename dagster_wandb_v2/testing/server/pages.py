"""Read-only HTML pages at W&B's URL shapes, so links in Dagster open on the local server.

- ``/<entity>/<project>/artifacts/<type>/<name>/<version>``: an artifact version (name,
  type, version, aliases, tags, metadata, files with sizes and download links, producing
  and consuming runs);
- ``/orgs/<org>/registry/<registry>?selectionPath=<entity>/<project>/<collection>&version=vN``:
  the same page for a Registry collection's version (W&B's Registry URL);
- ``/<entity>/<project>/runs/<run id>``: a run (config, summary, logged and used artifacts).

The pages are built from the server's own GraphQL API (the queries the wandb SDK sends), so
they show exactly what a client would read. They need no API key: whoever can connect to the
server can read them (see docs/local-server.md). A window into the local backend, not a W&B
clone: no JavaScript, no editing.

Example::

    page = render(context, "GET", "/me/proj/runs/abc123", "")
    page.status, page.body[:15]       # (200, '<!doctype html>')
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from .graphql_api import run_graphql
from .nodes import Context

_SEGMENT = r"[^/]+"
_ARTIFACT = re.compile(
    rf"^/(?P<entity>{_SEGMENT})/(?P<project>{_SEGMENT})/artifacts/(?P<type>{_SEGMENT})/"
    rf"(?P<name>{_SEGMENT})/(?P<version>{_SEGMENT})/?$"
)
_REGISTRY = re.compile(rf"^/orgs/(?P<org>{_SEGMENT})/registry/(?P<registry>{_SEGMENT})/?$")
_RUN = re.compile(rf"^/(?P<entity>{_SEGMENT})/(?P<project>{_SEGMENT})/runs/(?P<run>{_SEGMENT})/?$")

_RUN_FIELDS = "name displayName project { name entityName }"
_ARTIFACT_FIELDS = """
  id digest description metadata size versionIndex createdAt state
  tags { name }
  aliases { alias artifactCollectionName }
  artifactType { name }
  artifactSequence { name project { name entityName } }
"""
_ARTIFACT_QUERY = f"""
query LocalArtifactPage($entity: String!, $project: String!, $name: String!) {{
  project(name: $project, entityName: $entity) {{
    artifact(name: $name) {{
      {_ARTIFACT_FIELDS}
      createdBy {{ __typename ... on Run {{ {_RUN_FIELDS} }} }}
      usedBy(first: 100) {{ edges {{ node {{ {_RUN_FIELDS} }} }} }}
      files(first: 1000) {{ edges {{ node {{ name sizeBytes directUrl }} }} }}
    }}
  }}
}}"""
_RUN_QUERY = f"""
query LocalRunPage($entity: String!, $project: String!, $run: String!) {{
  project(name: $project, entityName: $entity) {{
    run(name: $run) {{
      {_RUN_FIELDS} state jobType createdAt config summaryMetrics
      outputArtifacts(first: 100) {{ edges {{ node {{ {_ARTIFACT_FIELDS} }} }} }}
      inputArtifacts(first: 100) {{ edges {{ node {{ {_ARTIFACT_FIELDS} }} }} }}
    }}
  }}
}}"""


@dataclass(frozen=True)
class Page:
    """An HTML answer: status and body."""

    status: int
    body: str


def render(context: Context, method: str, path: str, query: str) -> Page | None:
    """The page at ``path`` (GET or HEAD), or ``None`` when ``path`` is not a page URL."""
    if method not in ("GET", "HEAD"):
        return None
    if match := _ARTIFACT.match(path):
        name = f"{match['name']}:{match['version']}"
        return _artifact_page(context, match["entity"], match["project"], name)
    if match := _REGISTRY.match(path):
        params = parse_qs(query)
        selection = params.get("selectionPath", [""])[0].split("/")
        version = params.get("version", ["latest"])[0]
        if len(selection) != 3:
            return _page(404, "Not found", "<p>selectionPath must be entity/project/collection</p>")
        entity, project, collection = selection
        return _artifact_page(context, entity, project, f"{collection}:{version}")
    if match := _RUN.match(path):
        return _run_page(context, match["entity"], match["project"], match["run"])
    return None


def _query(context: Context, query: str, variables: dict[str, str]) -> dict[str, Any] | None:
    result = run_graphql(context, {"query": query, "variables": variables})
    project = (result.get("data") or {}).get("project") or {}
    found = project.get("artifact") or project.get("run")
    return found if isinstance(found, dict) else None


def _artifact_page(context: Context, entity: str, project: str, name: str) -> Page:
    artifact = _query(
        context, _ARTIFACT_QUERY, {"entity": entity, "project": project, "name": name}
    )
    if artifact is None:
        return _page(
            404,
            "Not found",
            f"<p>No artifact version {_e(name)} in {_e(entity)}/{_e(project)}.</p>",
        )
    collection = name.split(":")[0]
    title = f"{collection}:v{artifact['versionIndex']}"
    files = [edge["node"] for edge in artifact["files"]["edges"]]
    creator = artifact.get("createdBy") or {}
    used_by = [edge["node"] for edge in artifact["usedBy"]["edges"]]
    facts = {
        "Name": name.split(":")[0],
        "Type": artifact["artifactType"]["name"],
        "Version": f"v{artifact['versionIndex']}",
        "Aliases": _aliases(artifact["aliases"], collection) or "none",
        "Tags": ", ".join(t["name"] for t in artifact["tags"]) or "none",
        "Digest": artifact["digest"],
        "Size (bytes)": str(artifact["size"]),
        "Created": str(artifact["createdAt"]),
        "Project": f"{entity}/{project}",
    }
    body = _facts(facts)
    if artifact.get("description"):
        body += f"<h2>Description</h2><p>{_e(artifact['description'])}</p>"
    body += _json_section("Metadata", artifact.get("metadata"))
    rows = "".join(
        f"<tr><td><a href='{_e(f.get('directUrl') or '')}'>{_e(f['name'])}</a></td>"
        f"<td class='num'>{_e(str(f.get('sizeBytes')))}</td></tr>"
        for f in files
    )
    body += (
        f"<h2>Files ({len(files)})</h2><table id='files'><tr><th>File</th><th>Size (bytes)</th>"
        f"</tr>{rows}</table>"
    )
    produced = _run_links([creator]) if creator.get("__typename") == "Run" else "<li>none</li>"
    body += f"<h2>Logged by</h2><ul id='logged-by'>{produced}</ul>"
    body += f"<h2>Used by</h2><ul id='used-by'>{_run_links(used_by) or '<li>none</li>'}</ul>"
    return _page(200, f"Artifact {title}", body)


def _run_page(context: Context, entity: str, project: str, run_id: str) -> Page:
    run = _query(context, _RUN_QUERY, {"entity": entity, "project": project, "run": run_id})
    if run is None:
        return _page(404, "Not found", f"<p>No run {_e(run_id)} in {_e(entity)}/{_e(project)}.</p>")
    facts = {
        "Run": run["name"],
        "Name": run.get("displayName") or run["name"],
        "State": str(run.get("state")),
        "Job type": str(run.get("jobType") or ""),
        "Created": str(run.get("createdAt")),
        "Project": f"{entity}/{project}",
    }
    body = _facts(facts)
    body += _json_section("Config", run.get("config"), config=True)
    body += _json_section("Summary", run.get("summaryMetrics"))
    for title, key, element in (
        ("Logged artifacts", "outputArtifacts", "logged"),
        ("Used artifacts", "inputArtifacts", "used"),
    ):
        items = "".join(
            f"<li>{_artifact_link(context, edge['node'])}</li>" for edge in run[key]["edges"]
        )
        body += f"<h2>{title}</h2><ul id='{element}'>{items or '<li>none</li>'}</ul>"
    return _page(200, f"Run {run.get('displayName') or run['name']}", body)


def _artifact_link(context: Context, artifact: dict[str, Any]) -> str:
    sequence = artifact["artifactSequence"]
    owner = sequence["project"]
    label = f"{sequence['name']}:v{artifact['versionIndex']}"
    href = "/" + "/".join(
        quote(part, safe="")
        for part in (
            owner["entityName"],
            owner["name"],
            "artifacts",
            artifact["artifactType"]["name"],
            sequence["name"],
            f"v{artifact['versionIndex']}",
        )
    )
    return f"<a href='{_e(context.base_url + href)}'>{_e(label)}</a>"


def _run_links(runs: list[dict[str, Any]]) -> str:
    links = []
    for run in runs:
        owner = run.get("project") or {}
        href = "/" + "/".join(
            quote(str(part), safe="")
            for part in (owner.get("entityName"), owner.get("name"), "runs", run["name"])
        )
        label = run.get("displayName") or run["name"]
        links.append(f"<li><a href='{_e(href)}'>{_e(label)}</a> ({_e(run['name'])})</li>")
    return "".join(links)


def _aliases(aliases: list[dict[str, Any]], collection: str) -> str:
    """This collection's aliases first, then those of the collections it is linked to."""
    by_collection: dict[str, list[str]] = {}
    for alias in aliases:
        owner = alias.get("artifactCollectionName") or collection
        by_collection.setdefault(owner, []).append(alias["alias"])
    parts = [", ".join(sorted(by_collection.pop(collection, [])))]
    parts += [f"{', '.join(sorted(names))} (in {owner})" for owner, names in by_collection.items()]
    return "; ".join(part for part in parts if part)


def _facts(facts: dict[str, str]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts.items())
    return f"<table id='facts'>{rows}</table>"


def _json_section(title: str, raw: Any, *, config: bool = False) -> str:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        value = raw
    if config and isinstance(value, dict):  # W&B stores config values as {"value": ...}
        value = {
            key: item.get("value", item) if isinstance(item, dict) else item
            for key, item in value.items()
            if key != "_wandb"
        }
    if isinstance(value, dict):
        value = {key: item for key, item in value.items() if not key.startswith("_")}
    text = json.dumps(value or {}, indent=2, sort_keys=True, default=str)
    return f"<h2>{title}</h2><pre id='{title.lower()}'>{_e(text)}</pre>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#1a1a1a}"
    "table{border-collapse:collapse}th,td{text-align:left;padding:.2rem .8rem;"
    "border-bottom:1px solid #ddd}td.num{text-align:right}pre{background:#f6f6f6;"
    "padding:.8rem;overflow:auto}header{color:#666;font-size:.9rem}"
)


def _page(status: int, title: str, body: str) -> Page:
    return Page(
        status,
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        "<header>local W&amp;B-compatible server (read-only)</header>"
        f"<h1>{_e(title)}</h1>{body}</body></html>",
    )
