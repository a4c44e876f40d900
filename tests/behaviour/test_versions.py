"""Versions ``v0, v1, ...`` per collection, and dedupe of identical content (W&B Artifacts)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, cast

import pytest

from dagster_wandb_v2.client import WandbRun
from tests.behaviour.backends import Backend, log


def test_new_content_makes_the_next_version(backend: Backend, run: WandbRun) -> None:
    versions = [log(run, backend.draft("ds", content)).version for content in "ABC"]
    assert versions == ["v0", "v1", "v2"]
    assert sorted(backend.aliases("ds")) == ["v0", "v1", "v2"]


def test_versions_count_per_collection(backend: Backend, run: WandbRun) -> None:
    assert log(run, backend.draft("first", "A")).version == "v0"
    assert log(run, backend.draft("second", "A")).version == "v0"
    assert log(run, backend.draft("first", "B")).version == "v1"


def test_identical_content_returns_the_existing_version(backend: Backend, run: WandbRun) -> None:
    first = log(run, backend.draft("ds", "A"))
    log(run, backend.draft("ds", "B"))
    again = log(run, backend.draft("ds", "A"))
    assert (again.version, again.id, again.digest) == ("v0", first.id, first.digest)
    assert sorted(backend.aliases("ds")) == ["v0", "v1"]


def test_identical_content_from_another_run_is_deduplicated(backend: Backend) -> None:
    writer = backend.start_run()
    first = log(writer, backend.draft("ds", "A"))
    writer.finish()
    other = backend.start_run()
    again = log(other, backend.draft("ds", "A"))
    other.finish()
    assert (again.version, again.id) == ("v0", first.id)


def test_stored_version_describes_what_was_logged(backend: Backend, run: WandbRun) -> None:
    draft = backend.draft("ds", "hello", type="model", **{"notes.txt": "n"})
    draft.metadata = {"rows": 3, "nested": {"source": "unit"}}
    draft.description = "*markdown*"
    digest = draft.manifest.digest()
    stored = log(run, draft)
    assert stored.name == "ds:v0"
    assert (stored.type, stored.version, stored.digest) == ("model", "v0", digest)
    assert stored.size == len("hello") + len("n")
    assert stored.metadata == {"rows": 3, "nested": {"source": "unit"}}
    assert isinstance(stored.id, str) and stored.id
    assert sorted(stored.manifest.entries) == ["data/train.csv", "notes.txt"]
    looked_up = backend.lookup("ds:v0")
    assert looked_up.digest == digest
    assert cast(Any, looked_up).description == "*markdown*"


def test_another_type_in_the_same_collection_is_refused(backend: Backend, run: WandbRun) -> None:
    log(run, backend.draft("ds", "A", type="dataset"))
    with pytest.raises(ValueError, match="already exists with type 'dataset'"):
        log(run, backend.draft("ds", "B", type="model"))
    assert backend.aliases("ds") == {"v0": ["latest"]}


def test_metadata_is_stored_as_json(backend: Backend, run: WandbRun) -> None:
    """W&B keeps metadata as JSON: NaN becomes null, datetimes and tuples JSON values."""
    draft = backend.draft("ds", "A")
    draft.metadata.update(
        {
            "nan": float("nan"),
            "tuple": (1, 2),
            "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            "nested": {"nan": float("nan")},
        }
    )
    log(run, draft)
    assert backend.lookup("ds:v0").metadata == {
        "nan": None,
        "tuple": [1, 2],
        "when": "2024-01-02T03:04:05+00:00",
        "nested": {"nan": None},
    }
