"""The pytest plugin works in a user's project: fixtures arrive through the entry point."""

from __future__ import annotations

import pytest


def test_plugin_fixtures_in_a_user_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user_pipeline="""
        from dagster import AssetIn, asset, materialize

        @asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}},
               io_manager_key="wandb_artifacts_manager")
        def raw() -> list:
            return [3, 1, 2]

        @asset(ins={"raw": AssetIn(input_manager_key="wandb_artifacts_manager")},
               metadata={"wandb_artifact_configuration": {"type": "dataset"}},
               io_manager_key="wandb_artifacts_manager")
        def cleaned(raw: list) -> list:
            return sorted(raw)

        def test_pipeline(fake_wandb, fake_wandb_resources):
            assert materialize([raw, cleaned], resources=fake_wandb_resources).success
            assert fake_wandb.artifact("cleaned:latest").version == "v0"
            assert fake_wandb.runs[0].state == "finished"

        def test_isolated(fake_wandb):
            assert fake_wandb.collections() == []
        """
    )
    # A subprocess, so the plugin is loaded from the installed entry point, not from here.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
