"""Looking up what a W&B artifact alias points to now, for sensors and asset checks.

A watched artifact is named ``[entity/][project/]name:alias`` (or ``:v3``), as
``wandb.Api().artifact`` takes it; a W&B Registry collection is
``wandb-registry-<registry>/<collection>:<alias>``. Missing entity and project come from the
``WandbResource``.

Example::

    watched = WatchedArtifact.parse("wandb-registry-model/classifier:production")
    state = look_up(wandb_resource.get_api(), watched)   # one W&B lookup
    state.digest                                         # '6c46b7e0...'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagster import MetadataValue

from dagster_wandb_v2.errors import WandbConfigurationError
from dagster_wandb_v2.read_path import ReadPath, ReadPathError
from dagster_wandb_v2.wandb_rules import VERSION, alias_problem

if TYPE_CHECKING:
    import wandb

DIGEST_KEY = "wandb_artifact_digest"
"""Materialization metadata key holding the artifact's content digest (W&B's manifest digest)."""


@dataclass(frozen=True)
class WatchedArtifact:
    """One ``[entity/][project/]name:alias`` path, checked against W&B's naming rules."""

    path: str
    name: str
    alias: str

    @classmethod
    def parse(cls, path: str) -> WatchedArtifact:
        """Split and check ``path``; raises ``WandbConfigurationError`` naming it and why.

        >>> WatchedArtifact.parse("wandb-registry-model/classifier:production").alias
        'production'
        """
        head, colon, alias = path.rpartition(":")
        prefix, _, name = head.rpartition("/")
        problems: list[str] = []
        if not colon or not head:
            problems.append("expected '[entity/][project/]name:alias', e.g. 'my_model:production'")
        elif prefix.count("/") > 1 or any(not part for part in prefix.split("/") if prefix):
            problems.append("at most 'entity/project/' may come before the name")
        elif ":" in head:
            problems.append("only one ':' may separate the name from the alias")
        else:  # every part by W&B's rules: project or registry, name, alias
            try:
                ReadPath.parse(path)
            except ReadPathError as error:
                problems += error.problems
            if VERSION.match(alias):
                problems += [p for p in (alias_problem(alias),) if p]
        if problems:
            raise WandbConfigurationError(
                [f"watched W&B artifact '{path}': {problem}" for problem in problems]
            )
        return cls(path=path, name=name, alias=alias)


@dataclass(frozen=True)
class ArtifactState:
    """The version a watched alias points to, as W&B reports it."""

    id: str
    digest: str
    version: str
    name: str
    type: str
    size: int
    entity: str
    project: str
    aliases: tuple[str, ...]
    artifact: Any  # the ``wandb.Artifact``, for the lookups only done on a change

    def materialization_metadata(self, watched: WatchedArtifact) -> dict[str, MetadataValue]:
        """Dagster metadata for this version: the IO manager's keys plus digest and aliases.

        Costs a few more W&B requests (the URL and the producing run), so call it only for a
        version not reported yet.
        """
        metadata: dict[str, MetadataValue] = {
            "wandb_artifact_id": MetadataValue.text(self.id),
            "wandb_artifact_name": MetadataValue.text(self.name),
            "wandb_artifact_type": MetadataValue.text(self.type),
            "wandb_artifact_version": MetadataValue.text(self.version),
            "wandb_artifact_size": MetadataValue.int(self.size),
            DIGEST_KEY: MetadataValue.text(self.digest),
            "wandb_artifact_aliases": MetadataValue.json(list(self.aliases)),
            "wandb_watched_artifact": MetadataValue.text(watched.path),
            "wandb_entity": MetadataValue.text(self.entity),
            "wandb_project": MetadataValue.text(self.project),
        }
        url = str(self.artifact.url or "")
        if url:
            metadata["wandb_artifact_url"] = MetadataValue.url(url)
        run = self.artifact.logged_by()
        if run is not None:
            metadata["wandb_run_id"] = MetadataValue.text(str(run.id))
            metadata["wandb_run_name"] = MetadataValue.text(str(run.name))
            path = run.path  # a list of strings on the public API's runs
            metadata["wandb_run_path"] = MetadataValue.text(
                path if isinstance(path, str) else "/".join(path)
            )
            metadata["wandb_run_url"] = MetadataValue.url(str(run.url))
        return metadata


class ArtifactLookupError(Exception):
    """A watched artifact could not be looked up; ``reachable`` says if W&B answered."""

    def __init__(self, watched: str, reason: str, *, reachable: bool) -> None:
        self.watched = watched
        self.reachable = reachable
        super().__init__(f"W&B artifact '{watched}': {reason}")


def look_up(api: wandb.Api, path: str) -> ArtifactState:
    """What ``path`` (``[entity/][project/]name:alias`` or ``:vN``) points to now.

    One ``wandb.Api.artifact`` call (one GraphQL request once the ``Api`` knows the server's
    features). Raises :class:`ArtifactLookupError`: ``reachable=True`` when W&B answered that
    the artifact, alias or project does not exist, ``False`` when it did not answer (network,
    timeout, 5xx after the SDK's retries).
    """
    from wandb.errors import CommError

    try:
        artifact = api.artifact(path)
    except CommError as error:
        cause = getattr(error, "exc", None) or error.__cause__
        answered = isinstance(cause, ValueError) or "not found" in str(error)
        reason = str(cause or error) if answered else f"W&B did not answer: {error}"
        raise ArtifactLookupError(path, reason, reachable=answered) from error
    except ValueError as error:
        raise ArtifactLookupError(path, str(error), reachable=True) from error
    return ArtifactState(
        id=str(artifact.id),
        digest=str(artifact.digest),
        version=str(artifact.version),
        name=str(artifact.name).split(":", 1)[0],
        type=str(artifact.type),
        size=int(artifact.size),
        entity=str(artifact.entity),
        project=str(artifact.project),
        aliases=tuple(str(alias) for alias in artifact.aliases),
        artifact=artifact,
    )
