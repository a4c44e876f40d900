"""Run and project queries through the real wandb SDK: filters, order, per_page cursors.

What the server supports answers as W&B does; what it does not is refused with an error
naming the key, operator or order (never silently ignored).
"""

from __future__ import annotations

from typing import Any

import pytest
import wandb


def _run(entity: str, project: str, run_id: str, exit_code: int = 0, **init: Any) -> None:
    run = wandb.init(entity=entity, project=project, id=run_id, **init)
    run.log({"loss": float(len(run_id))})
    run.finish(exit_code=exit_code)


def _ids(runs: Any) -> list[str]:
    return [r.id for r in runs]


def test_runs_are_ordered_by_creation_both_ways_and_paged(
    wandb_env: Any, api: Any, project: str
) -> None:
    path = f"{wandb_env.entity}/{project}"
    for run_id in ("first", "second", "third"):
        _run(wandb_env.entity, project, run_id)

    # The SDK's default order is +created_at: oldest first.
    assert _ids(api.runs(path)) == ["first", "second", "third"]
    assert _ids(api.runs(path, order="-created_at")) == ["third", "second", "first"]
    assert _ids(api.runs(path, order="+createdAt")) == ["first", "second", "third"]

    fresh = wandb.Api(api_key=wandb_env.api_key, overrides={"base_url": wandb_env.base_url})
    paged = fresh.runs(path, per_page=2)  # a new client: ``Api.runs`` caches by path
    assert paged[0].id == "first"
    assert len(paged.objects) == 2  # one page of per_page runs, not every run
    assert _ids(paged) == ["first", "second", "third"]  # the next page from the cursor
    assert len(paged) == 3


def test_runs_are_filtered_as_w_and_b_filters_them(wandb_env: Any, api: Any, project: str) -> None:
    entity, path = wandb_env.entity, f"{wandb_env.entity}/{project}"
    _run(entity, project, "r1", name="alpha", tags=["a", "x"], group="g1", config={"lr": 0.1})
    _run(entity, project, "r2", name="beta", tags=["b"], group="g2", config={"lr": 0.2})
    _run(entity, project, "r3", 1, name="gamma", tags=["a"], group="g1", config={"lr": 0.3})

    def ids(filters: dict[str, Any]) -> list[str]:
        return _ids(api.runs(path, filters=filters))

    assert ids({"state": "finished"}) == ["r1", "r2"]
    assert ids({"state": "failed"}) == ["r3"]
    assert ids({"display_name": "beta"}) == ["r2"]
    assert ids({"display_name": {"$regex": "^(al|ga)"}}) == ["r1", "r3"]
    assert ids({"tags": {"$in": ["a"]}}) == ["r1", "r3"]
    assert ids({"tags": "x"}) == ["r1"]
    assert ids({"tags": {"$nin": ["a"]}}) == ["r2"]
    assert ids({"group": "g1"}) == ["r1", "r3"]
    assert ids({"config.lr": 0.2}) == ["r2"]
    assert ids({"config.lr.value": {"$gte": 0.2}}) == ["r2", "r3"]
    assert ids({"summary_metrics.loss": {"$lt": 2.5}}) == ["r1", "r2", "r3"]
    assert ids({"$or": [{"group": "g2"}, {"state": "failed"}]}) == ["r2", "r3"]
    assert ids({"$and": [{"group": "g1"}, {"state": {"$ne": "failed"}}]}) == ["r1"]
    assert ids({"state": "finished", "group": "g1"}) == ["r1"]
    assert len(api.runs(path, filters={"group": "g1"})) == 2  # runCount(filters:)
    assert _ids(api.runs(path, order="-config.lr.value")) == ["r3", "r2", "r1"]


@pytest.mark.parametrize(
    ("filters", "order", "named"),
    [
        ({"sweep_name_x": "s"}, None, "'sweep_name_x'"),
        ({"state": {"$size": 1}}, None, "'$size'"),
        ({"$nor": [{"state": "finished"}]}, None, "'$nor'"),
        (None, "-wandb_score", "'-wandb_score'"),
    ],
)
def test_an_unsupported_run_filter_or_order_is_an_error_naming_it(
    wandb_env: Any, api: Any, project: str, filters: Any, order: Any, named: str
) -> None:
    _run(wandb_env.entity, project, "only")
    runs = api.runs(f"{wandb_env.entity}/{project}", filters=filters, order=order)
    with pytest.raises(Exception, match=named.replace("$", r"\$")):
        list(runs)


def test_backward_run_paging_is_refused(wandb_env: Any, project: str, gql: Any) -> None:
    _run(wandb_env.entity, project, "only")
    _, body = gql(
        "query($e: String!, $p: String!) { project(entityName: $e, name: $p) { "
        "runs(last: 1) { edges { node { name } } } } }",
        {"e": wandb_env.entity, "p": project},
    )
    assert "last" in body["errors"][0]["message"]


def test_projects_are_paged_per_page(wandb_env: Any, api: Any, project: str) -> None:
    mine = [f"{project}-{i}" for i in range(3)]
    for name in mine:
        _run(wandb_env.entity, name, "r")

    projects = api.projects(wandb_env.entity, per_page=2)
    next(iter(projects))
    assert len(projects.objects) == 2  # one page, then the next from the cursor
    names = [p.name for p in projects]
    assert len(names) == len(set(names))
    assert [n for n in names if n in mine] == mine  # oldest first, as created


def test_run_files_are_paged_and_matched_by_pattern(wandb_env: Any, api: Any, project: str) -> None:
    _run(wandb_env.entity, project, "with-files", config={"lr": 0.1})
    run = api.run(f"{wandb_env.entity}/{project}/with-files")

    every = sorted(f.name for f in run.files())
    assert "config.yaml" in every and "wandb-summary.json" in every

    paged = run.files(per_page=1)
    next(iter(paged))
    assert len(paged.objects) == 1
    assert sorted(f.name for f in paged) == every

    assert sorted(f.name for f in run.files(pattern="%.json")) == [
        n for n in every if n.endswith(".json")
    ]
    assert [f.name for f in run.files(names=["config.yaml"])] == ["config.yaml"]


def test_logged_artifacts_are_paged(wandb_env: Any, api: Any, project: str) -> None:
    with wandb.init(entity=wandb_env.entity, project=project, id="logger") as run:
        for name in ("one", "two"):
            art = wandb.Artifact(name, type="dataset")
            with art.new_file("x.txt") as f:
                f.write(name)
            run.log_artifact(art).wait()

    logged = api.run(f"{wandb_env.entity}/{project}/logger").logged_artifacts(per_page=1)
    next(iter(logged))
    assert len(logged.objects) == 1
    assert sorted(a.name.split(":")[0] for a in logged) == ["one", "two"]


def test_aliases_and_users_of_a_version_are_paged(wandb_env: Any, project: str, gql: Any) -> None:
    with wandb.init(entity=wandb_env.entity, project=project) as run:
        art = wandb.Artifact("data", type="dataset")
        with art.new_file("x.txt") as f:
            f.write("x")
        run.log_artifact(art, aliases=["best", "prod"]).wait()
    for _ in range(2):
        with wandb.init(entity=wandb_env.entity, project=project) as run:
            run.use_artifact("data:latest")

    _, body = gql(
        "query($id: ID!) { artifact(id: $id) { "
        "usedBy(first: 1) { edges { node { name } } } "
        "artifactMemberships(first: 1) { edges { node { versionIndex } } } "
        "artifactSequence { aliases(first: 1) { edges { node { alias } } "
        "pageInfo { hasNextPage } } } } }",
        {"id": art.id},
    )
    found = body["data"]["artifact"]
    assert len(found["usedBy"]["edges"]) == 1
    assert len(found["artifactMemberships"]["edges"]) == 1
    aliases = found["artifactSequence"]["aliases"]
    assert len(aliases["edges"]) == 1 and aliases["pageInfo"]["hasNextPage"]
