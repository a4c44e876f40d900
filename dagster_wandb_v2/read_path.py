"""Where an input reads from: the ``name`` of a read configuration, as W&B paths go.

An input's ``name`` takes the forms ``wandb.Api().artifact`` and ``Run.use_artifact`` take
(W&B: "Download and use artifacts", "Use an artifact from a registry"):

- ``my_dataset``: in the ``WandbResource``'s entity and project;
- ``project/my_dataset`` and ``entity/project/my_dataset``: in another project;
- ``wandb-registry-<registry>/<collection>``: a W&B Registry collection, in the
  organization of the API key's user (the wandb SDK looks up its entity); ``<org>/`` before
  it names the organization (its name or its entity).

Each may end in ``:<alias>`` or ``:v<N>``, in place of the ``alias`` or ``version`` key.

Example::

    >>> path = ReadPath.parse("wandb-registry-model/iris:production")
    >>> (path.registry, path.name, path.qualifier)
    ('model', 'iris', 'production')
    >>> path.artifact_path("me", "proj")
    'wandb-registry-model/iris'
    >>> ReadPath.parse("team/other/scores").artifact_path("me", "proj")
    'team/other/scores'
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster_wandb_v2.wandb_rules import (
    VERSION,
    alias_problem,
    artifact_name_problem,
    registry_problem,
)

REGISTRY_PREFIX = "wandb-registry-"
"""W&B's prefix of a registry's project (``wandb.sdk.artifacts._validators``)."""

FORMS = (
    "'name', 'project/name', 'entity/project/name' or a registry path "
    "'wandb-registry-<registry>/<collection>' (optionally '<org>/' before it), each with an "
    "optional ':alias' or ':v<N>'"
)
"""The forms of a read ``name``, for error messages."""


class ReadPathError(ValueError):
    """A read ``name`` W&B would refuse; ``problems`` says why, each on its own."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class ReadPath:
    """A parsed read ``name``: ``[entity/][project/]name[:qualifier]``.

    ``entity`` and ``project`` are ``None`` when the ``WandbResource``'s apply; for a
    registry path ``project`` is ``wandb-registry-<registry>`` and ``entity`` the
    organization, if given.
    """

    name: str
    project: str | None = None
    entity: str | None = None
    qualifier: str | None = None

    @classmethod
    def parse(cls, value: str) -> ReadPath:
        """Split and check ``value``; raises :class:`ReadPathError` listing every problem.

        >>> ReadPath.parse("team/other/scores:v2").version
        'v2'
        """
        path, colon, qualifier = value.partition(":")
        parts = path.split("/")
        if len(parts) > 3 or any(not part for part in parts) or ":" in qualifier:
            shape = f"{len(parts)} parts" if len(parts) > 3 else "an empty part or a second ':'"
            raise ReadPathError([f"'{value}' has {shape}; expected {FORMS}"])
        name = parts[-1]
        project = parts[-2] if len(parts) >= 2 else None
        entity = parts[0] if len(parts) == 3 else None
        read_path = cls(name, project, entity, qualifier if colon else None)
        problems = read_path._problems(value, colon_without_qualifier=bool(colon) and not qualifier)
        if problems:
            raise ReadPathError(problems)
        return read_path

    def _problems(self, value: str, *, colon_without_qualifier: bool) -> list[str]:
        problems = []
        if self.registry is not None:
            registry_reason = registry_problem(self.registry)
            if registry_reason:
                problems.append(registry_reason)
            collection_reason = artifact_name_problem(self.name)
            if collection_reason:
                problems.append(f"registry collection: {collection_reason}")
        else:
            name_reason = artifact_name_problem(self.name)
            if name_reason:
                problems.append(name_reason)
            if self.project is not None:
                problems += _project_problems(self.project)
        if colon_without_qualifier:
            problems.append(f"'{value}' ends in ':'; give an alias or a version after it")
        elif self.qualifier is not None and not VERSION.match(self.qualifier):
            alias_reason = alias_problem(self.qualifier)
            if alias_reason:
                problems.append(alias_reason)
        return problems

    @property
    def registry(self) -> str | None:
        """The registry's name (``model`` of ``wandb-registry-model/...``), else ``None``."""
        if self.project is not None and self.project.startswith(REGISTRY_PREFIX):
            return self.project.removeprefix(REGISTRY_PREFIX)
        return None

    @property
    def elsewhere(self) -> bool:
        """Whether the path names a project (or registry) rather than the resource's."""
        return self.project is not None

    @property
    def version(self) -> str | None:
        """The ``v<N>`` after the ``:``, if that is what it is."""
        return self.qualifier if self.qualifier and VERSION.match(self.qualifier) else None

    @property
    def alias(self) -> str | None:
        """The alias after the ``:``, if that is what it is."""
        return self.qualifier if self.qualifier and not VERSION.match(self.qualifier) else None

    def artifact_path(self, entity: str, project: str, name: str | None = None) -> str:
        """The path ``use_artifact`` takes, without qualifier: ``entity``/``project`` fill
        what the name leaves out; a registry path is left for the SDK to resolve (it knows
        the organization's entity). ``name`` replaces the artifact's name (a partition's).
        """
        name = name or self.name
        if self.registry is not None:
            prefix = f"{self.entity}/" if self.entity else ""
            return f"{prefix}{self.project}/{name}"
        return f"{self.entity or entity}/{self.project or project}/{name}"


def _project_problems(project: str) -> list[str]:
    from wandb.sdk.artifacts._validators import validate_project_name

    try:
        validate_project_name(project)
    except ValueError as error:
        return [str(error)]
    return []
